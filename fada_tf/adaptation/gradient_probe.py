"""A diagnostic of the class-level study (docs/class_study.md): does the fine-grained
discriminator push the segmentor another way than a global one?

``GradientProbe`` trains a second discriminator, with its own domain encoding (e.g. binary
beside a soft run), on the same detached features and encodings' logits as the run's
discriminator, with the same optimiser settings, and never updates the segmentor with it.
Every step it reports ``adv_cosine``: the cosine between the segmentor's gradients of L_adv
(eq. 6) under the run's discriminator and under the probe's — the same batch, the same
weights. With ideal discriminators and encodings that are a function of the discriminator's
input, soft and binary encodings give the same gradient direction (the study's derivation),
so the cosine measures how far training is from that case.

The probe is not part of the model's saved config; its discriminator and optimiser state are
in the run's state checkpoints, so a resumed run continues it.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from fada_tf.adaptation.encodings import domain_encoding
from fada_tf.adaptation.losses import adversarial_loss, discriminator_loss
from fada_tf.models.discriminator import discriminator_logits


class GradientProbe:
    """A shadow discriminator for ``FADAModel(probe=...)``.

    Args:
        discriminator: a discriminator with ``encoding_channels(encoding, K)`` outputs per domain.
        optimizer: its optimiser (built here on its variables).
        encoding, temperature, clip, hard_threshold: its domain encoding (``domain_encoding``).
    """

    def __init__(self, discriminator: keras.Model, optimizer, encoding: str, temperature: float = 1.8,
                 clip: float = 0.9, hard_threshold: float = 0.9):
        self.discriminator = discriminator
        self.optimizer = optimizer
        self.encoding = encoding
        self.temperature, self.clip, self.hard_threshold = temperature, clip, hard_threshold
        optimizer.build(discriminator.trainable_variables)

    def losses(self, source_features, target_features, source_logits, target_logits, scale_adversarial):
        """Inside the step's target tape: ``(L_adv, L_D)`` under the probe's discriminator
        (eq. 6 and 5 with its encoding; logits at the image size), L_adv scaled by
        ``scale_adversarial`` (the segmentor optimiser's ``scale_loss``) and L_D by the
        probe's optimiser, so that mixed float16 gradients do not underflow."""
        source_code, target_code = (domain_encoding(logits, self.encoding, self.temperature, self.clip,
                                                    self.hard_threshold)
                                    for logits in (source_logits, target_logits))
        d_target = discriminator_logits(self.discriminator, target_features, tf.shape(target_logits)[1:3])
        d_source = discriminator_logits(self.discriminator, source_features, tf.shape(source_logits)[1:3])
        return (scale_adversarial(adversarial_loss(d_target, target_code)),
                self.optimizer.scale_loss(discriminator_loss(d_source, d_target, source_code, target_code)))

    def step(self, tape, losses, adversarial_gradients, segmentor_variables) -> dict:
        """After the tape: the cosine between ``adversarial_gradients`` (the run's L_adv, any
        positive scale) and the probe's L_adv gradients, then one update of the probe's
        discriminator. Returns ``{"adv_cosine": cosine}``: 0 where a gradient is zero or not
        finite (a float16 loss-scale overflow, a step the optimisers skip)."""
        adv_loss, d_loss = losses
        probe_gradients = tape.gradient(adv_loss, segmentor_variables)
        pairs = [(a, b) for a, b in zip(adversarial_gradients, probe_gradients)
                 if a is not None and b is not None]
        dot = tf.add_n([tf.reduce_sum(a * b) for a, b in pairs])
        norms = tf.sqrt(tf.add_n([tf.reduce_sum(a * a) for a, _ in pairs]) *
                        tf.add_n([tf.reduce_sum(b * b) for _, b in pairs]))
        cosine = tf.math.divide_no_nan(dot, norms)
        cosine = tf.where(tf.math.is_finite(cosine), cosine, tf.zeros_like(cosine))
        variables = self.discriminator.trainable_variables
        self.optimizer.apply(tape.gradient(d_loss, variables), variables)
        return {"adv_cosine": cosine}
