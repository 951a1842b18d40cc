"""``FADAModel``: one training step of fine-grained adversarial adaptation (paper section 3).

Each ``train_step`` on a batch ``((source_images, source_labels), target_images)`` does what
the reference implementation does, in its order:

1. **Segmentor step** (eq. 2): ``L_seg + λ_adv · L_adv`` with L_seg the cross-entropy of the
   source logits divided by the temperature T (eq. 3) and L_adv the cross-entropy of the
   discriminator on *target* features against ``[a_t; 0]`` (eq. 6, "look like source").
   The gradient reaches the whole segmentor, but L_adv reaches only the feature extractor F:
   the classifier C enters L_adv through the domain encodings, which carry no gradient.
   The discriminator's own gradient of L_adv is never computed.
2. **Discriminator step** (eq. 5): ``0.5 · CE(D(f_s), [a_s; 0]) + 0.5 · CE(D(f_t), [0; a_t])``
   on the same step's features, detached, with the discriminator's optimiser.

How the step is computed (same maths, measured faster and smaller: docs/performance.md, "Training
speed and memory"): the source image goes through the segmentor and is differentiated (L_seg)
before the target image goes through it, so only one domain's activations are alive at a time;
the segmentor's gradient is the sum of the two passes' gradients. D runs once on the target
features: one persistent tape gives L_adv's gradient for the segmentor's variables only and
L_D's for D's variables only (``D(f_t)`` is the same tensor in both, as D is updated after the
segmentor and the segmentor's update does not change it). Both updates use this step's
features and weights, as in the reference.

Discriminator outputs and segmentor logits are taken to float32 and upsampled to the image
size (bilinear, corners aligned, as in the reference) before the encodings and the losses, so
under mixed precision every loss and encoding is computed from float32 inputs
(``fada_tf.models.resize.upsample_logits``). Under a
``tf.distribute`` strategy each replica differentiates its share of the global batch's losses
(``fada_tf.adaptation.replicas``), and each optimiser scales its loss for mixed float16
(``optimizer.scale_loss``; identity unless it is a ``keras.optimizers.LossScaleOptimizer``)
inside the tape, so that the scaling is differentiated too.

Two ways to train it:

* ``model.fit(tf.data.Dataset.zip((source_batches, target_batches)), ...)``: ``train_step``
  updates one ``keras.metrics.Mean`` per loss (``model.metrics``: ``seg_loss``, ``adv_loss``,
  ``d_loss``) and returns their results, so ``fit`` reports, and ``History`` records, each
  epoch's mean of the per-step losses (and resets them every epoch); also under a
  ``MirroredStrategy``'s scope, where the trackers add up the replicas' shares
  (``fada_tf.adaptation.replicas.track_losses``);
* the run's own loop (``fada_tf.training.steps.compiled_step``, under any ``tf.distribute``
  strategy) calls ``train_step_losses``: the same step, returning this step's losses (a
  replica's shares of them) and touching no tracker.

The model is a registered Keras serialisable (``get_config`` holds the segmentor, the
discriminator and the hyper-parameters; ``get_compile_config`` both optimisers), so
``model.save("fada.keras")`` / ``keras.saving.load_model`` round-trips it, optimiser states
included, and the loaded model continues ``fit``.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from fada_tf.adaptation.encodings import domain_encoding
from fada_tf.adaptation.losses import adversarial_loss, discriminator_loss, segmentation_loss_terms
from fada_tf.adaptation.replicas import share_of_mean, share_of_ratio, track_losses
from fada_tf.models.discriminator import discriminator_logits
from fada_tf.models.recompute import training_forward
from fada_tf.models.resize import upsample_logits


LOSS_NAMES = ("seg_loss", "adv_loss", "d_loss")
# Keras compile() arguments that would add losses or metrics FADAModel does not compute.
_FOREIGN_COMPILE_ARGUMENTS = ("loss", "loss_weights", "metrics", "weighted_metrics")


@keras.saving.register_keras_serializable(package="fada_tf")
class FADAModel(keras.Model):
    """Segmentor + fine-grained discriminator trained with alternating updates.

    Args:
        segmentor: model mapping images to ``{"features", "logits"}`` (stride-8 maps).
        discriminator: model mapping features to 2K logits (K = 1 for ``encoding="binary"``).
        encoding: ``"soft"``, ``"hard"`` or ``"binary"`` (``fada_tf.adaptation.domain_encoding``).
        lambda_adv: weight of L_adv in eq. 2.
        temperature, clip, hard_threshold: see ``domain_encoding``.
        recompute: recompute the backbone's residual blocks in the backward pass instead of
            keeping their activations (``fada_tf.models.recompute``; same gradients, less
            memory, about one more forward pass of the backbone).
        probe: an optional ``GradientProbe`` (a diagnostic, one replica only): a second
            discriminator trained alongside; ``train_step_losses`` then also returns
            ``adv_cosine`` (``train_step``, for ``fit``, tracks the losses only).

    Compile with ``compile(segmentor_optimizer=..., discriminator_optimizer=...)``; each is
    built on exactly the variables it updates. Batches are
    ``((source_images, source_labels), target_images)``. ``train_step_losses`` returns this
    step's losses (a replica's shares of them under a strategy; the shares add up to the
    losses); ``train_step``, which ``fit`` runs, also accumulates them in ``metrics`` and
    returns the trackers' means.
    """

    def __init__(self, segmentor, discriminator, encoding="soft", lambda_adv=0.001,
                 temperature=1.8, clip=0.9, hard_threshold=0.9, recompute=False, probe=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.segmentor = segmentor
        self.discriminator = discriminator
        self.encoding = encoding
        self.lambda_adv = lambda_adv
        self.temperature = temperature
        self.clip = clip
        self.hard_threshold = hard_threshold
        self.recompute = recompute
        self.probe = probe
        self._forward = training_forward(segmentor, recompute)
        self.seg_loss_tracker = keras.metrics.Mean(name="seg_loss")
        self.adv_loss_tracker = keras.metrics.Mean(name="adv_loss")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        # The networks are built already: fit() need not trace the model to build it.
        self.built = segmentor.built and discriminator.built

    @property
    def metrics(self):
        """The loss trackers, in ``LOSS_NAMES`` order; ``fit`` resets them every epoch."""
        return [self.seg_loss_tracker, self.adv_loss_tracker, self.d_loss_tracker]

    def compile(self, segmentor_optimizer, discriminator_optimizer, **kwargs):
        """``segmentor_optimizer`` (``model.optimizer``) and ``discriminator_optimizer``;
        ``kwargs`` are Keras' ``compile`` options (``jit_compile``, ``steps_per_execution``,
        ``run_eagerly``); the losses are FADA's own, so no ``loss`` or ``metrics``."""
        _reject_foreign_compile_arguments(self, kwargs)
        super().compile(optimizer=segmentor_optimizer, **kwargs)
        self.discriminator_optimizer = discriminator_optimizer
        segmentor_optimizer.build(self.segmentor.trainable_variables)
        discriminator_optimizer.build(self.discriminator.trainable_variables)

    def call(self, images, training=False):
        return self.segmentor(images, training=training)

    def _encode(self, logits):
        return domain_encoding(logits, self.encoding, self.temperature, self.clip, self.hard_threshold)

    def train_step(self, data):
        """One step (``train_step_losses``); returns each loss tracker's mean (``fit``'s logs)."""
        return track_losses(self.metrics, self.train_step_losses(data))

    def train_step_losses(self, data):
        """One optimisation step of both networks on ``data``; returns this step's
        ``{"seg_loss", "adv_loss", "d_loss"}`` (a replica's shares of them under a strategy)."""
        (source_images, source_labels), target_images = data
        source_size = tf.shape(source_images)[1:3]
        target_size = tf.shape(target_images)[1:3]
        segmentor_vars = self.segmentor.trainable_variables
        discriminator_vars = self.discriminator.trainable_variables

        # Source pass: L_seg and its gradient, before the target pass starts, so that the
        # source activations are freed before the target's are made (as the reference's
        # separate backward() calls do).
        with tf.GradientTape() as tape:
            source = self._forward(source_images)
            source_logits = upsample_logits(source["logits"], source_size)
            seg_loss = share_of_ratio(*segmentation_loss_terms(source_logits / self.temperature,
                                                               source_labels))
            scaled = self.optimizer.scale_loss(seg_loss)
        source_gradients = tape.gradient(scaled, segmentor_vars)
        source_code = self._encode(source_logits)
        source_features = tf.stop_gradient(source["features"])
        with tf.control_dependencies([g for g in source_gradients if g is not None]):
            target_images = tf.identity(target_images)

        # Target pass: D runs once on the target features for both L_adv (its gradient taken
        # for the segmentor only) and L_D (its gradient taken for D only).
        with tf.GradientTape(persistent=True) as tape:
            target = self._forward(target_images)
            target_logits = upsample_logits(target["logits"], target_size)
            target_code = self._encode(target_logits)
            d_target = discriminator_logits(self.discriminator, target["features"], target_size)
            adv_loss = share_of_mean(adversarial_loss(d_target, target_code))
            d_source = discriminator_logits(self.discriminator, source_features, source_size)
            d_loss = share_of_mean(discriminator_loss(d_source, d_target, source_code, target_code))
            scaled_adv = self.optimizer.scale_loss(self.lambda_adv * adv_loss)
            scaled_d = self.discriminator_optimizer.scale_loss(d_loss)
            if self.probe is not None:
                probe_losses = self.probe.losses(source_features, target["features"], source_logits,
                                                 target_logits, self.optimizer.scale_loss)
        target_gradients = tape.gradient(scaled_adv, segmentor_vars)
        discriminator_gradients = tape.gradient(scaled_d, discriminator_vars)
        probed = (self.probe.step(tape, probe_losses, target_gradients, segmentor_vars)
                  if self.probe is not None else {})
        del tape

        # ∇(L_seg + λ·L_adv) = ∇L_seg + ∇(λ·L_adv); the head has no L_adv gradient (None).
        gradients = [s if t is None else t if s is None else s + t
                     for s, t in zip(source_gradients, target_gradients)]
        self.optimizer.apply(gradients, segmentor_vars)
        self.discriminator_optimizer.apply(discriminator_gradients, discriminator_vars)
        return {"seg_loss": seg_loss, "adv_loss": adv_loss, "d_loss": d_loss, **probed}

    def get_config(self):
        return {**super().get_config(),
                "segmentor": keras.saving.serialize_keras_object(self.segmentor),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "encoding": self.encoding, "lambda_adv": self.lambda_adv,
                "temperature": self.temperature, "clip": self.clip,
                "hard_threshold": self.hard_threshold, "recompute": self.recompute}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        networks = {key: keras.saving.deserialize_keras_object(config.pop(key),
                                                               custom_objects=custom_objects)
                    for key in ("segmentor", "discriminator")}
        return cls(**networks, **config)

    def get_compile_config(self):
        """Keras' compile config (``optimizer``: the segmentor's) plus ``discriminator_optimizer``."""
        config = super().get_compile_config()
        if config:
            config["discriminator_optimizer"] = keras.saving.serialize_keras_object(
                self.discriminator_optimizer)
        return config

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        self.compile(segmentor_optimizer=config.pop("optimizer"),
                     discriminator_optimizer=config.pop("discriminator_optimizer"), **config)


def _reject_foreign_compile_arguments(model, kwargs) -> None:
    given = [key for key in _FOREIGN_COMPILE_ARGUMENTS if kwargs.get(key) is not None]
    if given:
        raise ValueError(f"{type(model).__name__} computes its own losses: compile() takes no "
                         f"{', '.join(given)}")
