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


def adaptation_discriminator(config: Config, num_classes: int) -> keras.Model:
    """A fresh fine-grained discriminator (``model.discriminator_channels``) on the backbone's
    features, with one output per channel of ``adapt.encoding`` and domain (eq. 4)."""
    return build_discriminator(
        feature_channels(config.model.backbone, config.model.tiny_width),
        encoding_channels(config.adapt.encoding, num_classes),
        channels=tuple(config.model.discriminator_channels), seed=config.run.seed + 1)


def build_adaptation_model(config: Config, segmentor, num_classes: int) -> FADAModel:
    """``segmentor`` with a fresh ``adaptation_discriminator``, compiled with the adapt stage's
    SGD and Adam (poly decay over their horizons; loss scaling under mixed float16). Call it
    inside the strategy's scope."""
    stage = config.adapt
    fada = FADAModel(segmentor, adaptation_discriminator(config, num_classes), encoding=stage.encoding, lambda_adv=stage.lambda_adv,
                     temperature=stage.temperature, clip=stage.clip,
                     hard_threshold=stage.hard_threshold, recompute=config.run.recompute)
    fada.compile(
        segmentor_optimizer=stage_segmentor_optimizer(config, stage),
        discriminator_optimizer=with_loss_scaling(
            discriminator_optimizer(stage.discriminator_optimizer, stage.steps),
            config.run.precision))
    return fada


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
    with context.strategy.scope():
        model = build_adaptation_model(config, segmentor, context.table.num_classes)
    train_stage(context, model, tf.data.Dataset.zip((source, target)), "adapt", resume,
                segmentor=segmentor, discriminator=model.discriminator, optimizer=model.optimizer,
                discriminator_optimizer=model.discriminator_optimizer)
