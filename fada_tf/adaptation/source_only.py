"""``SourceOnlyModel``: stage 1, supervised training of the segmentor on labelled images (eq. 3).

Also the student of self-distillation, trained the same way on pseudo labels. Like
``FADAModel`` it trains with ``fit`` (a ``seg_loss`` tracker in ``metrics``: each epoch's mean
of the per-step losses) or with the run's loop (``train_step_losses``: this step's loss), and
it is a registered Keras serialisable (``.keras`` files, optimiser state included).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from fada_tf.adaptation.fada_model import _reject_foreign_compile_arguments
from fada_tf.adaptation.losses import segmentation_loss_terms
from fada_tf.adaptation.replicas import share_of_ratio, track_losses
from fada_tf.models.recompute import training_forward
from fada_tf.models.resize import upsample_logits


@keras.saving.register_keras_serializable(package="fada_tf")
class SourceOnlyModel(keras.Model):
    """Cross-entropy on logits upsampled to the label size; batches are ``(images, labels)``.

    As in the reference's source-only stage, the logits are not divided by a temperature.
    ``train_step_losses`` returns this step's loss (a replica's share of it under a strategy,
    see ``fada_tf.adaptation.replicas``) and scales it for mixed float16
    (``optimizer.scale_loss``); ``train_step``, which ``fit`` runs, also accumulates it in
    the ``seg_loss`` tracker and returns the tracker's mean. ``recompute``: as ``FADAModel``'s.
    """

    def __init__(self, segmentor, recompute=False, **kwargs):
        super().__init__(**kwargs)
        self.segmentor = segmentor
        self.recompute = recompute
        self._forward = training_forward(segmentor, recompute)
        self.seg_loss_tracker = keras.metrics.Mean(name="seg_loss")
        self.built = segmentor.built

    @property
    def metrics(self):
        return [self.seg_loss_tracker]

    def compile(self, optimizer, **kwargs):
        """``optimizer`` of the segmentor; ``kwargs`` are Keras' ``compile`` options other
        than losses and metrics."""
        _reject_foreign_compile_arguments(self, kwargs)
        super().compile(optimizer=optimizer, **kwargs)
        optimizer.build(self.segmentor.trainable_variables)

    def call(self, images, training=False):
        return self.segmentor(images, training=training)

    def train_step(self, data):
        """One step (``train_step_losses``); returns the ``seg_loss`` tracker's mean."""
        return track_losses(self.metrics, self.train_step_losses(data))

    def train_step_losses(self, data):
        """One optimisation step on ``(images, labels)``; returns ``{"seg_loss": ...}``."""
        images, labels = data
        variables = self.segmentor.trainable_variables
        with tf.GradientTape() as tape:
            logits = self._forward(images)["logits"]
            logits = upsample_logits(logits, tf.shape(labels)[1:3])
            loss = share_of_ratio(*segmentation_loss_terms(logits, labels))
            scaled = self.optimizer.scale_loss(loss)  # inside the tape: differentiated too
        self.optimizer.apply(tape.gradient(scaled, variables), variables)
        return {"seg_loss": loss}

    def get_config(self):
        return {**super().get_config(),
                "segmentor": keras.saving.serialize_keras_object(self.segmentor),
                "recompute": self.recompute}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        segmentor = keras.saving.deserialize_keras_object(config.pop("segmentor"),
                                                          custom_objects=custom_objects)
        return cls(segmentor, **config)

    def compile_from_config(self, config):
        self.compile(**keras.saving.deserialize_keras_object(config))
