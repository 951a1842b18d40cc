"""Intervals for mIoU and paired mIoU differences: a two-level bootstrap over seeds and the
validation images (docs/class_study.md, the protocol).

Input: per-image confusion matrices ``(S seeds, N images, K, K)`` of a method on the same N
images for every seed: seeds and images are crossed, not nested. A resample draws S seeds
and N images, each with replacement; a drawn seed's mIoU is that of the drawn images' summed
confusion, and the statistic is the mean over the drawn seeds. For a paired difference both
methods use the same drawn seeds and images. With 3 seeds the seed level has only 10
distinct resamples; the images carry most of the interval.
"""

from __future__ import annotations

import numpy as np

from fada_tf.evaluation.metrics import mean_iou as miou

RESAMPLES = 2000


def paired_interval(a, b=None, resamples: int = RESAMPLES, seed: int = 0, level: float = 0.95) -> dict:
    """``{"mean", "low", "high"}``: the mean mIoU of ``a`` (or of ``a`` − ``b``) over seeds and
    its percentile interval from ``resamples`` bootstrap resamples."""
    a = np.asarray(a)
    b = None if b is None else np.asarray(b)
    if b is not None and a.shape != b.shape:
        raise ValueError(f"paired confusions must have one shape, got {a.shape} and {b.shape}")
    rng = np.random.default_rng(seed)
    seeds, images = a.shape[:2]

    def statistic(chosen_seeds, chosen_images):
        values = [miou(a[s, chosen_images].sum(0)) - (0.0 if b is None else miou(b[s, chosen_images].sum(0)))
                  for s in chosen_seeds]
        return float(np.mean(values))

    draws = [statistic(rng.integers(0, seeds, seeds), rng.integers(0, images, images))
             for _ in range(resamples)]
    point = statistic(range(seeds), np.arange(images))
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(draws, [tail, 100 - tail])
    return {"mean": point, "low": float(low), "high": float(high)}
