"""Class Center Distance (paper section 4.5, eq. 9): how tightly each class's features cluster
relative to the distance between class centres::

    CCD(i) = 1/(K−1) · Σ_{j≠i} [ 1/|S_i| · Σ_{x∈S_i} ‖x − μ_i‖² ] / ‖μ_i − μ_j‖²

``S_i`` holds the backbone features ("features", stride 8) of every pixel of class ``i`` in
the source *and* the target images together — the paper measures the joint distribution of
the two domains (Figure 4), so a class whose source and target features sit apart has a large
spread around its common centre. Labels are brought to the feature resolution by nearest
neighbour with corners aligned: feature cell (r, c) takes the label of the pixel the segmentor
maps it to when it upsamples its logits (``resize_bilinear``), so every feature keeps a real
pixel's label; 255 is ignored.

As in the paper ("we randomly pick 2,000 source samples and 2,000 target samples"), the
images are a seeded random subset of each domain's split (``ccd_datasets``), resized as the
adaptation stage resizes the domain's training images (``adapt.<domain>_images.resize``; the
evaluation size when that is empty), no crop.

The statistics are streamed — per class the sum of features, the sum of squared norms and the
count, in float64 — so memory does not grow with the number of images, and the mean squared
distance to the centre is ``Σ‖x‖²/n − ‖μ‖²``. A class absent from the images has no CCD; the
sum over ``j`` runs over the other classes that are present (all K−1 when every class is).
"""

from __future__ import annotations

from typing import Iterable

import keras
import numpy as np
import tensorflow as tf

from fada_tf.config import Config
from fada_tf.data.classes import ClassTable
from fada_tf.data.datasets import split_pairs
from fada_tf.data.pipeline import evaluation_dataset
from fada_tf.progress import Progress


class ClassCenterStats:
    """Streaming per-class feature statistics: ``update`` with batches, then ``ccd()``."""

    def __init__(self, num_classes: int, channels: int):
        self.sums = np.zeros((num_classes, channels), np.float64)
        self.squared_norms = np.zeros(num_classes, np.float64)
        self.counts = np.zeros(num_classes, np.int64)

    def add(self, sums, squared_norms, counts) -> None:
        """Add one batch's per-class sums (K, C), squared-norm sums (K,) and counts (K,)."""
        self.sums += np.asarray(sums, np.float64)
        self.squared_norms += np.asarray(squared_norms, np.float64)
        self.counts += np.asarray(counts, np.int64)

    def update(self, features, labels) -> None:
        """Add features (..., C) whose labels (...) are train IDs; other values are ignored."""
        self.add(*(t.numpy() for t in class_sums(features, labels, len(self.counts))))

    def centres(self) -> np.ndarray:
        """(K, C) class centres μ_i; rows of absent classes are NaN."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sums / self.counts[:, None]

    def ccd(self) -> np.ndarray:
        """(K,) CCD of every class (eq. 9); NaN for a class absent or alone."""
        present = self.counts > 0
        centres = self.centres()
        ccd = np.full(len(self.counts), np.nan)
        for i in np.flatnonzero(present):
            spread = max(self.squared_norms[i] / self.counts[i] - centres[i] @ centres[i], 0.0)
            others = [j for j in np.flatnonzero(present) if j != i]
            if others:
                gaps = np.sum((centres[others] - centres[i]) ** 2, axis=1)
                with np.errstate(divide="ignore"):
                    ccd[i] = np.mean(spread / gaps)
        return ccd


@tf.function(reduce_retracing=True)
def class_sums(features, labels, num_classes):
    """Per class: the sum of ``features`` (K, C), of their squared norms (K,), and the count (K,)."""
    features = tf.reshape(tf.cast(features, tf.float64), [-1, tf.shape(features)[-1]])
    labels = tf.reshape(tf.cast(labels, tf.int32), [-1])
    keep = (labels >= 0) & (labels < num_classes)
    features, labels = tf.boolean_mask(features, keep), tf.boolean_mask(labels, keep)
    sums = tf.math.unsorted_segment_sum(features, labels, num_classes)
    squared = tf.math.unsorted_segment_sum(tf.reduce_sum(features * features, -1), labels, num_classes)
    counts = tf.math.bincount(labels, minlength=num_classes, maxlength=num_classes, dtype=tf.int64)
    return sums, squared, counts


def labels_at(labels, size):
    """(N, H, W) labels → (N, *size): nearest neighbour with corners aligned (module docstring)."""
    resized = tf.compat.v1.image.resize(labels[..., None], size, align_corners=True,
                                        method=tf.image.ResizeMethod.NEAREST_NEIGHBOR)
    return resized[..., 0]


def class_center_distance(segmentor: keras.Model, datasets: Iterable[tf.data.Dataset],
                          table: ClassTable, num_batches: int | None = None,
                          verbose: int = 1) -> dict:
    """CCD (eq. 9) of ``segmentor``'s backbone features over all ``(image, label)`` batches of
    ``datasets`` (e.g. a source and a target split) pooled together.

    Returns ``{"mean_ccd", "per_class_ccd": {name: value or None}, "num_images"}``; the mean
    runs over the classes that have a value.
    """
    stats, num_images = class_feature_stats(segmentor, datasets, table.num_classes, num_batches, verbose)
    return summarize_ccd(stats.ccd(), table) | {"num_images": num_images}


def class_feature_stats(segmentor: keras.Model, datasets: Iterable[tf.data.Dataset], num_classes: int,
                        num_batches: int | None = None, verbose: int = 1) -> tuple[ClassCenterStats, int]:
    """Per-class statistics of ``segmentor``'s backbone features over all ``(image, label)``
    batches of ``datasets`` pooled, and the number of images."""
    stats = ClassCenterStats(num_classes, segmentor.output["features"].shape[-1])

    @tf.function(reduce_retracing=True)
    def batch_sums(images, labels):
        features = segmentor(images, training=False)["features"]
        return class_sums(features, labels_at(labels, tf.shape(features)[1:3]), num_classes)

    num_images = 0
    with Progress(num_batches, "class centres", "batch", verbose) as progress:
        for dataset in datasets:
            for images, labels in dataset:
                stats.add(*(t.numpy() for t in batch_sums(images, labels)))
                num_images += int(images.shape[0])
                progress.update()
    return stats, num_images


def summarize_ccd(ccd: np.ndarray, table: ClassTable) -> dict:
    """``{"mean_ccd", "per_class_ccd": {name: value}}``; classes without a value are None."""
    finite = np.isfinite(ccd)
    return {"mean_ccd": float(np.mean(ccd[finite])) if finite.any() else None,
            "per_class_ccd": {name: (float(v) if ok else None)
                              for name, v, ok in zip(table.names, ccd, finite)}}


def random_subset(pairs: tf.data.Dataset, count: int, seed: int) -> tuple[tf.data.Dataset, int | None]:
    """``count`` elements of ``pairs`` drawn at random without replacement (kept in split order),
    and how many there are; the first ``count`` when the split's size is unknown."""
    size = int(pairs.cardinality())
    if size < 0:
        return pairs.take(count), None
    if count >= size:
        return pairs, size
    chosen = np.zeros(size, bool)
    chosen[np.random.default_rng(seed).choice(size, count, replace=False)] = True
    chosen = tf.constant(chosen)
    subset = pairs.enumerate().filter(lambda index, pair: chosen[index]).map(lambda index, pair: pair)
    return subset, count


def ccd_size(config: Config, domain: str) -> list[int]:
    """The size CCD resizes ``domain``'s images to: the adaptation stage's resize of them, else
    the evaluation size."""
    return getattr(config.adapt, f"{domain}_images").resize or list(config.data.eval_size)


def ccd_datasets(config: Config, num_images: int, seed: int = 0, source_split: str | None = None,
                 target_split: str | None = None) -> tuple[list[tf.data.Dataset], int | None]:
    """``(image, label)`` batches of ``num_images`` random images of each domain (default: the
    training splits) and their number of batches (None when a split's size is unknown)."""
    datasets, batches = [], 0
    splits = {"source": source_split or config.data.source.train_split,
              "target": target_split or config.data.target.train_split}
    for domain, split in splits.items():
        pairs, count = random_subset(split_pairs(config.data, domain, split), num_images, seed)
        datasets.append(evaluation_dataset(pairs, ccd_size(config, domain), config.model.normalization,
                                           config.data.eval_batch_size))
        batches = None if count is None or batches is None else batches + -(-count // config.data.eval_batch_size)
    return datasets, batches
