"""Evaluation of a segmentor over a whole labelled split, single scale or multi-scale + flip.

Multi-scale testing (paper section 4.6, Table 4 "MST"), as the reference implementation
does it: the (already resized) input image is rescaled by each factor ``s`` to
``floor(s·h) × floor(s·w)`` (bilinear, corners aligned); each scaled image — and, with
``flip``, its mirror image — goes through the segmentor; every output's logits are upsampled
to the label's resolution and turned into softmax probabilities (a mirrored output is
mirrored back first); the prediction is the argmax of their mean. The reference's factors
are 0.7, 1.0 and 1.3 with flips (``fada-tf eval --mst``).
"""

from __future__ import annotations

from typing import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from fada_tf.data.classes import IGNORE_LABEL, ClassTable
from fada_tf.evaluation.metrics import summarize
from fada_tf.models.resize import resize_bilinear, upsample_logits
from fada_tf.progress import Progress


def predict_probabilities(segmentor: keras.Model, images, size, scales: Sequence[float] = (1.0,),
                          flip: bool = False):
    """Softmax probabilities (N, *size, K) averaged over ``scales`` and, with ``flip``, mirrors.

    ``images`` are normalised NHWC batches; ``size`` is the (height, width) to predict at.
    """
    image_size = tf.cast(tf.shape(images)[1:3], tf.float64)
    total, count = 0.0, 0
    for scale in scales:
        scaled = images if scale == 1.0 else resize_bilinear(
            images, tf.cast(tf.floor(image_size * scale), tf.int32))
        batch = tf.concat([scaled, tf.reverse(scaled, [2])], 0) if flip else scaled
        logits = upsample_logits(segmentor(batch, training=False)["logits"], size)
        probabilities = tf.nn.softmax(logits, axis=-1)
        if flip:
            direct, mirrored = tf.split(probabilities, 2)
            probabilities = direct + tf.reverse(mirrored, [2])
        total += probabilities
        count += 2 if flip else 1
    return total / count


def predict_labels(segmentor: keras.Model, images, size, scales: Sequence[float] = (1.0,),
                   flip: bool = False):
    """Train IDs (N, *size) int32: the argmax of the (multi-scale) prediction at ``size``.

    Single scale without flip, this is the argmax of the logits upsampled to ``size``
    (bilinear, corners aligned) — the same pixels as the argmax of their softmax.
    """
    if tuple(scales) == (1.0,) and not flip:
        logits = segmentor(images, training=False)["logits"]
        return tf.argmax(upsample_logits(logits, size), axis=-1, output_type=tf.int32)
    probabilities = predict_probabilities(segmentor, images, size, scales, flip)
    return tf.argmax(probabilities, axis=-1, output_type=tf.int32)


def evaluate(segmentor: keras.Model, dataset: tf.data.Dataset, table: ClassTable,
             num_batches: int | None = None, verbose: int = 1, scales: Sequence[float] = (1.0,),
             flip: bool = False, on_predictions: Callable[[np.ndarray], None] | None = None) -> dict:
    """mIoU of ``segmentor`` on ``(image, full-resolution label)`` batches.

    Predictions are made at the label's resolution (``predict_labels``, multi-scale with
    ``scales``/``flip``); the confusion matrix is accumulated over the whole split, so memory
    does not grow with the split's size. ``on_predictions`` receives each batch's predicted
    train IDs (e.g. to save them). Returns ``summarize(...)`` plus ``num_images`` and
    ``confusion``, the (K, K) pixel counts as lists (row: label, column: prediction).
    ``verbose``: 1 a live progress bar, 2 periodic lines, 0 nothing (``fada_tf.progress``).
    """
    k = table.num_classes
    scales = tuple(float(s) for s in scales)

    @tf.function(reduce_retracing=True)
    def batch_confusion(images, labels):
        predictions = predict_labels(segmentor, images, tf.shape(labels)[1:3], scales, flip)
        keep = labels != IGNORE_LABEL
        index = tf.boolean_mask(labels * k + predictions, keep)
        counts = tf.math.bincount(index, minlength=k * k, maxlength=k * k, dtype=tf.int64)
        return counts, predictions

    confusion = np.zeros(k * k, np.int64)
    num_images = 0
    with Progress(num_batches, "evaluate", "batch", verbose) as progress:
        for images, labels in dataset:
            counts, predictions = batch_confusion(images, labels)
            confusion += counts.numpy()
            if on_predictions is not None:
                on_predictions(predictions.numpy())
            num_images += int(images.shape[0])
            progress.update()
    result = summarize(confusion.reshape(k, k), table)
    result["num_images"] = num_images
    result["confusion"] = confusion.reshape(k, k).tolist()
    return result
