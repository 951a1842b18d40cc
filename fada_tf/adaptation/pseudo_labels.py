"""Self-distillation's pseudo labels (paper section 4.6, Table 4 "SD"): the teacher's hard
predictions on the target training split, saved as train-ID PNGs, one per image.

A pixel whose teacher confidence (its highest softmax probability, averaged over scales and
flips when those are configured) is below the threshold gets 255 and is ignored by the
student's cross-entropy.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from fada_tf.config import Config
from fada_tf.config.recipe import eval_size
from fada_tf.data.classes import IGNORE_LABEL, ClassTable
from fada_tf.data.datasets import pair_reader, split_pairs
from fada_tf.data.pipeline import evaluation_dataset
from fada_tf.evaluation.evaluate import predict_probabilities
from fada_tf.evaluation.label_files import write_label_png
from fada_tf.evaluation.metrics import confusion_matrix, summarize
from fada_tf.progress import Progress

STATISTICS = "statistics.json"


def hard_pseudo_labels(probabilities, threshold: float):
    """(..., K) probabilities → (...) uint8 argmax, 255 where the maximum is below ``threshold``."""
    labels = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
    labels = tf.where(tf.reduce_max(probabilities, axis=-1) < threshold, IGNORE_LABEL, labels)
    return tf.cast(labels, tf.uint8)


def write_pseudo_labels(teacher: keras.Model, config: Config, table: ClassTable, folder: str | Path,
                        verbose: int = 1) -> dict:
    """Label ``data.target.train_split`` with ``teacher`` into ``folder/00000.png``, … (split order).

    Images are resized to ``data.eval_size`` as for evaluating the teacher (the original runs
    test.py with the adaptation config: 1024×512) and the teacher's logits are upsampled to
    the resolution of the split's label maps before the argmax, so pseudo labels have full
    resolution (train_with_sd.sh, test.py ``inference``). Returns ``{"num_images", "ignored_fraction",
    "quality"}``; ``quality`` is the mIoU of the pseudo labels against the split's own labels
    where the split has any (a diagnostic: the student never sees those labels; an ignored
    pseudo label counts as a miss).
    """
    cfg = config.distill
    split = config.data.target.train_split
    data = evaluation_dataset(split_pairs(config.data, "target", split, labelled=False),
                              eval_size(config, "adapt"), config.model.normalization,
                              config.data.eval_batch_size)
    scales = tuple(cfg.scales)

    @tf.function(reduce_retracing=True)
    def label(images, size):
        probabilities = predict_probabilities(teacher, images, size, scales, cfg.flip)
        return hard_pseudo_labels(probabilities, cfg.confidence_threshold)

    folder = Path(folder)
    partial = folder.with_name(folder.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    k = table.num_classes
    confusion = np.zeros((k, k + 1), np.int64)
    batches = int(data.cardinality())
    count, ignored, pixels = 0, 0, 0
    with Progress(batches if batches > 0 else None, "pseudo labels", "batch", verbose) as progress:
        for images, labels in data:
            pseudo = label(images, tf.shape(labels)[1:3]).numpy()
            for one in pseudo:
                write_label_png(partial / f"{count:05d}.png", one)
                count += 1
            ignored += int(np.sum(pseudo == IGNORE_LABEL))
            pixels += pseudo.size
            confusion += confusion_matrix(labels.numpy(), pseudo, k, count_misses=True)
            progress.update()
    quality = summarize(confusion, table) if confusion.sum() else None
    statistics = {"num_images": count, "ignored_fraction": ignored / pixels if pixels else 0.0,
                  "quality": quality}
    (partial / STATISTICS).write_text(json.dumps(statistics, indent=2) + "\n")
    os.replace(partial, folder)
    return statistics


def pseudo_labelled_pairs(config: Config, folder: str | Path, seed: int | None = None) -> tf.data.Dataset:
    """The target training images paired with the pseudo labels in ``folder``: once in split
    order, or with ``seed`` endlessly, reshuffled every pass (indices are shuffled, then read)."""
    paths = tf.constant(sorted(str(p) for p in Path(folder).glob("*.png")))
    read = pair_reader(config.data, "target", config.data.target.train_split, labelled=False)

    def pair(index):
        image, _ = read(index)
        return image, tf.io.decode_png(tf.io.read_file(paths[index]), channels=1)[..., 0]

    indices = tf.data.Dataset.range(int(paths.shape[0]))
    if seed is not None:
        indices = indices.shuffle(int(paths.shape[0]), seed=seed, reshuffle_each_iteration=True).repeat()
    return indices.map(pair, num_parallel_calls=tf.data.AUTOTUNE)


def read_pseudo_label_statistics(folder: str | Path) -> dict:
    """The statistics ``write_pseudo_labels`` returned when it wrote ``folder``."""
    return json.loads((Path(folder) / STATISTICS).read_text())
