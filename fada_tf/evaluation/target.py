"""The target domain's labelled validation split: its mIoU and a picture of example predictions,
at the evaluation size of the stage that produced the model (``fada_tf.config.recipe``)."""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

from fada_tf.config import Config
from fada_tf.config.recipe import eval_size
from fada_tf.data.classes import ClassTable
from fada_tf.data.datasets import split_pairs
from fada_tf.data.pipeline import evaluation_dataset
from fada_tf.evaluation.evaluate import evaluate, predict_labels
from fada_tf.visualize import colorize, save_grid


def evaluate_target(config: Config, segmentor, table: ClassTable, verbose: int = 1,
                    split: str | None = None, stage: str | None = None, **options) -> dict | None:
    """Target-domain mIoU on ``split`` (default ``data.target.val_split``) at the evaluation
    size of ``stage``'s model (default: the run's final stage); None when there is no such
    split. ``options`` go to ``evaluate`` (``scales``, ``flip``, ``on_predictions``)."""
    split = split or config.data.target.val_split
    if not split:
        return None
    data = evaluation_dataset(split_pairs(config.data, "target", split), eval_size(config, stage),
                              config.model.normalization, config.data.eval_batch_size)
    batches = int(data.cardinality())
    return evaluate(segmentor, data, table, num_batches=batches if batches > 0 else None,
                    verbose=verbose, **options)


def save_target_examples(config: Config, segmentor, table: ClassTable, path: str | Path,
                         count: int = 4, stage: str | None = None) -> Path:
    """A PNG of the first ``count`` target val images: image | ground truth | prediction."""
    pairs = split_pairs(config.data, "target", config.data.target.val_split).take(count)
    raw = list(pairs.as_numpy_iterator())
    images, labels = next(iter(evaluation_dataset(pairs, eval_size(config, stage),
                                                  config.model.normalization, count)))
    predictions = predict_labels(segmentor, images, tf.shape(labels)[1:3]).numpy()
    rows = [[image, colorize(label, table), colorize(prediction, table)]
            for (image, label), prediction in zip(raw, predictions)]
    return save_grid(rows, path, scale=2)
