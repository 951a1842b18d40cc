"""Stage 2, FADA adaptation: segmentor updates (L_seg + λ_adv L_adv, eq. 2 with eq. 6) alternate
with fine-grained discriminator updates (eq. 5), on ``adapt.source_images`` and
``adapt.target_images``; the segmentor starts from the source stage (or
``adapt.init_checkpoint``).

``build_adaptation_model`` is the one place a ``FADAModel`` is assembled from a config (the
benchmarks use it too), ``adaptation_discriminator`` the one place its discriminator is
(the converter uses it too).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from fada_tf.adaptation import FADAModel, encoding_channels
from fada_tf.adaptation.gradient_probe import GradientProbe
from fada_tf.config import Config
from fada_tf.data.datasets import stage_batches
from fada_tf.errors import FadaError
from fada_tf.models import build_discriminator, feature_channels
from fada_tf.training.checkpoints import load_segmentor_weights
from fada_tf.training.optimizers import discriminator_optimizer
from fada_tf.training.precision import with_loss_scaling
from fada_tf.training.stages.common import (SOURCE_STREAM, TARGET_STREAM, StageContext,
                                            stage_segmentor_optimizer, train_stage)
from fada_tf.training.state import ResumePoint


def adaptation_discriminator(config: Config, num_classes: int, encoding: str | None = None,
                             seed_offset: int = 1) -> keras.Model:
    """A fresh fine-grained discriminator (``model.discriminator_channels``) on the backbone's
    features, with one output per channel of ``encoding`` (default ``adapt.encoding``) and
    domain (eq. 4)."""
    return build_discriminator(
        feature_channels(config.model.backbone, config.model.tiny_width),
        encoding_channels(encoding or config.adapt.encoding, num_classes),
        channels=tuple(config.model.discriminator_channels), seed=config.run.seed + seed_offset)


def build_adaptation_model(config: Config, segmentor, num_classes: int) -> FADAModel:
    """``segmentor`` with a fresh ``adaptation_discriminator``, compiled with the adapt stage's
    SGD and Adam (poly decay over their horizons; loss scaling under mixed float16). Call it
    inside the strategy's scope. With ``adapt.probe_encoding``, a ``GradientProbe`` with its
    own discriminator and Adam rides along."""
    stage = config.adapt
    encodings = dict(temperature=stage.temperature, clip=stage.clip, hard_threshold=stage.hard_threshold)
    probe = (GradientProbe(adaptation_discriminator(config, num_classes, stage.probe_encoding, seed_offset=2),
                           discriminator_adam(config), stage.probe_encoding, **encodings)
             if stage.probe_encoding else None)
    fada = FADAModel(segmentor, adaptation_discriminator(config, num_classes), encoding=stage.encoding,
                     lambda_adv=stage.lambda_adv, recompute=config.run.recompute, probe=probe, **encodings)
    fada.compile(segmentor_optimizer=stage_segmentor_optimizer(config, stage),
                 discriminator_optimizer=discriminator_adam(config))
    return fada


def discriminator_adam(config: Config):
    """The adapt stage's discriminator optimiser (poly decay; loss scaling under mixed float16)."""
    return with_loss_scaling(discriminator_optimizer(config.adapt.discriminator_optimizer, config.adapt.steps),
                             config.run.precision)


def initialise_adaptation(config: Config, segmentor) -> None:
    """Adaptation starts from ``adapt.init_checkpoint`` or from this run's source stage."""
    if config.adapt.init_checkpoint:
        load_segmentor_weights(segmentor, config.adapt.init_checkpoint)
    elif "source" not in config.run.stages:
        raise FadaError("run.stages has adapt without source: set adapt.init_checkpoint to the "
                        "source-stage weights (RUN/checkpoints/source-*.weights.h5)")


def train_adapt(context: StageContext, segmentor, resume: ResumePoint | None = None) -> None:
    """Adapt ``segmentor`` for ``adapt.steps`` (from ``resume`` when given)."""
    config = context.config
    source = stage_batches(config, "adapt", "source", seed=config.run.seed + SOURCE_STREAM + 1)
    target = stage_batches(config, "adapt", "target", seed=config.run.seed + TARGET_STREAM)
    if config.adapt.probe_encoding and context.strategy.num_replicas_in_sync > 1:
        raise FadaError(f"adapt.probe_encoding runs on one replica, not the "
                        f"{context.strategy.num_replicas_in_sync} of run.strategy = {config.run.strategy}")
    with context.strategy.scope():
        model = build_adaptation_model(config, segmentor, context.table.num_classes)
    probe = ({"probe_discriminator": model.probe.discriminator, "probe_optimizer": model.probe.optimizer}
             if model.probe is not None else {})
    train_stage(context, model, tf.data.Dataset.zip((source, target)), "adapt", resume,
                segmentor=segmentor, discriminator=model.discriminator, optimizer=model.optimizer,
                discriminator_optimizer=model.discriminator_optimizer, **probe)
