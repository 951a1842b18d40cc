"""Single-scale evaluation of a segmentor over a whole labelled split."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from fada_tf.data.classes import IGNORE_LABEL, ClassTable
from fada_tf.evaluation.metrics import summarize
from fada_tf.models.resize import resize_bilinear


def predict_labels(segmentor: keras.Model, images, size):
    """Train IDs at ``size``: logits upsampled (bilinear, corners aligned), then argmax."""
    logits = segmentor(images, training=False)["logits"]
    return tf.argmax(resize_bilinear(logits, size), axis=-1, output_type=tf.int32)


def evaluate(segmentor: keras.Model, dataset: tf.data.Dataset, table: ClassTable,
             num_batches: int | None = None, verbose: int = 1) -> dict:
    """mIoU of ``segmentor`` on ``(image, full-resolution label)`` batches.

    Logits are upsampled to the label's resolution (bilinear, corners aligned) before the
    argmax; the confusion matrix is accumulated over the whole split. Returns
    ``summarize(...)`` plus ``num_images``. Memory does not grow with the split's size.
    ``verbose``: 1 a live progress bar, 2 a line at the end, 0 nothing.
    """
    k = table.num_classes

    @tf.function(reduce_retracing=True)
    def batch_confusion(images, labels):
        predictions = predict_labels(segmentor, images, tf.shape(labels)[1:3])
        keep = labels != IGNORE_LABEL
        index = tf.boolean_mask(labels * k + predictions, keep)
        return tf.math.bincount(index, minlength=k * k, maxlength=k * k, dtype=tf.int64)

    confusion = np.zeros(k * k, np.int64)
    progress = keras.utils.Progbar(num_batches, unit_name="batch", verbose=verbose)
    num_images = 0
    for images, labels in dataset:
        confusion += batch_confusion(images, labels).numpy()
        num_images += int(images.shape[0])
        progress.add(1)
    result = summarize(confusion.reshape(k, k), table)
    result["num_images"] = num_images
    return result
