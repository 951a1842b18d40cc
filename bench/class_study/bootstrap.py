"""Intervals for mIoU, per-class IoU and their paired differences: a two-level bootstrap over
seeds and the validation images (docs/class_study.md, the protocol).

Input: per-image confusion matrices ``(S seeds, N images, K, K)`` of a method on the same N
images for every seed: seeds and images are crossed, not nested. A resample draws S seeds
and N images, each with replacement; a drawn seed's metric is that of the drawn images' summed
confusion, and the statistic is the mean over the drawn seeds (a seed drawn twice counts
twice; for a class's IoU, a seed where the class is absent from the drawn images' labels and
predictions does not count). For a paired difference both methods use the same drawn seeds
and images. With 3 seeds the seed level has only 10 distinct resamples; the images carry
most of the interval.
"""

from __future__ import annotations

import warnings

import numpy as np

from fada_tf.evaluation.metrics import iou_per_class
from fada_tf.evaluation.metrics import mean_iou as miou

RESAMPLES = 2000


def paired_interval(a, b=None, resamples: int = RESAMPLES, seed: int = 0, level: float = 0.95) -> dict:
    """``{"mean", "low", "high"}``: the mean mIoU of ``a`` (or of ``a`` − ``b``) over seeds and
    its percentile interval from ``resamples`` bootstrap resamples."""
    return {key: float(value) for key, value in _bootstrap(miou, a, b, resamples, seed, level).items()}


def per_class_interval(a, b=None, resamples: int = RESAMPLES, seed: int = 0, level: float = 0.95) -> dict:
    """``paired_interval`` of each class's IoU: ``{"mean", "low", "high"}``, (K,) arrays; the
    mean over the seeds where the class has an IoU (NaN where it has none in any seed)."""
    return _bootstrap(iou_per_class, a, b, resamples, seed, level)


def interval_text(interval: dict, signed: bool = False) -> str:
    """``mean [low, high]`` in percent, one decimal (a value that rounds to zero is +0.0)."""
    mean, low, high = (f"{round(100 * interval[key], 1) + 0.0:{'+' if signed else ''}.1f}"
                       for key in ("mean", "low", "high"))
    return f"{mean} [{low}, {high}]"


def _bootstrap(metric, a, b, resamples: int, seed: int, level: float) -> dict:
    """``{"mean", "low", "high"}`` of ``metric`` (of summed confusions, over a stack of them)
    for ``a`` or ``a`` − ``b``. Each resample is a count per seed and per image; a seed's
    confusion is the image-count-weighted sum, so all resamples are computed at once."""
    a = np.asarray(a)
    b = None if b is None else np.asarray(b)
    if b is not None and a.shape != b.shape:
        raise ValueError(f"paired confusions must have one shape, got {a.shape} and {b.shape}")
    rng = np.random.default_rng(seed)
    seeds, images = a.shape[:2]
    seed_counts, image_counts = (_counts(rng.integers(0, n, (resamples, n)), n) for n in (seeds, images))

    def statistic(seed_counts, image_counts):
        """(R, ...): per resample, the seed-count-weighted mean of the seeds' non-NaN metrics."""
        per_seed = metric(np.einsum("rn,snij->rsij", image_counts, a.astype(np.float64)))
        if b is not None:
            per_seed = per_seed - metric(np.einsum("rn,snij->rsij", image_counts, b.astype(np.float64)))
        weights = np.broadcast_to(seed_counts.reshape(seed_counts.shape + (1,) * (per_seed.ndim - 2)),
                                  per_seed.shape)
        weights = np.where(np.isnan(per_seed), 0.0, weights)  # and undrawn seeds weigh 0: no NaN
        total, count = np.where(weights > 0, weights * per_seed, 0.0).sum(1), weights.sum(1)
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    draws = statistic(seed_counts, image_counts)
    point = statistic(np.ones((1, seeds)), np.ones((1, images)))[0]
    tail = 100 * (1 - level) / 2
    with warnings.catch_warnings():  # a class with no IoU in any resample: NaN, said above
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = np.nanpercentile(draws, [tail, 100 - tail], axis=0)
    return {"mean": point, "low": low, "high": high}


def _counts(draws: np.ndarray, n: int) -> np.ndarray:
    """(R, n) float: how often each of 0..n-1 occurs in each row of ``draws``."""
    rows = np.arange(len(draws))[:, None] * n
    return np.bincount((rows + draws).ravel(), minlength=len(draws) * n).reshape(len(draws), n).astype(np.float64)
