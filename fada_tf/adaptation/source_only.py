"""``SourceOnlyModel``: stage 1, supervised training of the segmentor on labelled images (eq. 3).

Also the student of self-distillation, trained the same way on pseudo labels.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from fada_tf.adaptation.losses import segmentation_loss_terms
from fada_tf.adaptation.replicas import share_of_ratio
from fada_tf.models.resize import resize_bilinear


class SourceOnlyModel(keras.Model):
    """Cross-entropy on logits upsampled to the label size; batches are ``(images, labels)``.

    As in the reference's source-only stage, the logits are not divided by a temperature.
    ``train_step`` returns this step's loss (a replica's share of it under a strategy, see
    ``fada_tf.adaptation.replicas``) and scales it for mixed float16 (``optimizer.scale_loss``).
    """

    def __init__(self, segmentor, **kwargs):
        super().__init__(**kwargs)
        self.segmentor = segmentor

    def compile(self, optimizer, **kwargs):
        super().compile(optimizer=optimizer, **kwargs)
        optimizer.build(self.segmentor.trainable_variables)

    def call(self, images, training=False):
        return self.segmentor(images, training=training)

    def train_step(self, data):
        images, labels = data
        variables = self.segmentor.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.segmentor(images, training=True)["logits"]
            logits = tf.cast(resize_bilinear(logits, tf.shape(labels)[1:3]), tf.float32)
            loss = share_of_ratio(*segmentation_loss_terms(logits, labels))
            scaled = self.optimizer.scale_loss(loss)  # inside the tape: differentiated too
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        return {"seg_loss": loss}
