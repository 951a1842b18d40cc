"""``SourceOnlyModel``: stage 1, supervised training of the segmentor on labelled images (eq. 3).

Also the student of self-distillation, trained the same way on pseudo labels.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from fada_tf.adaptation.losses import segmentation_loss
from fada_tf.models.resize import resize_bilinear


class SourceOnlyModel(keras.Model):
    """Cross-entropy on logits upsampled to the label size; batches are ``(images, labels)``.

    As in the reference's source-only stage, the logits are not divided by a temperature.
    """

    def __init__(self, segmentor, **kwargs):
        super().__init__(**kwargs)
        self.segmentor = segmentor
        self.seg_loss_tracker = keras.metrics.Mean(name="seg_loss")

    def compile(self, optimizer, **kwargs):
        super().compile(optimizer=optimizer, **kwargs)
        optimizer.build(self.segmentor.trainable_variables)

    @property
    def metrics(self):
        return [self.seg_loss_tracker]

    def call(self, images, training=False):
        return self.segmentor(images, training=training)

    def train_step(self, data):
        images, labels = data
        variables = self.segmentor.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.segmentor(images, training=True)["logits"]
            loss = segmentation_loss(resize_bilinear(logits, tf.shape(labels)[1:3]), labels)
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        self.seg_loss_tracker.update_state(loss)
        return {"seg_loss": self.seg_loss_tracker.result()}
