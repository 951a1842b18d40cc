"""Self-distillation's pseudo labels (paper section 4.6, Table 4 "SD"): the teacher's hard
predictions, where a pixel whose confidence (its highest softmax probability) is below the
threshold gets 255 and is ignored by the student's cross-entropy.

The stage that writes and trains on them is ``fada_tf.training.stages.distill``.
"""

from __future__ import annotations

import tensorflow as tf

from fada_tf.data.classes import IGNORE_LABEL


def hard_pseudo_labels(probabilities, threshold: float):
    """(..., K) probabilities → (...) uint8 argmax, 255 where the maximum is below ``threshold``."""
    labels = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
    labels = tf.where(tf.reduce_max(probabilities, axis=-1) < threshold, IGNORE_LABEL, labels)
    return tf.cast(labels, tf.uint8)
