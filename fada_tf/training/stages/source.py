"""Stage 1, source only: the segmentor learns L_seg (eq. 3) on the labelled source domain,
reading ``source.source_images``; it starts from ``model.pretrained`` (ImageNet) or
``source.init_checkpoint``."""

from __future__ import annotations

from fada_tf.adaptation import SourceOnlyModel
from fada_tf.data.datasets import stage_batches
from fada_tf.training.checkpoints import load_segmentor_weights
from fada_tf.training.stages.common import (SOURCE_STREAM, StageContext, stage_segmentor_optimizer,
                                            train_stage)
from fada_tf.training.state import ResumePoint


def train_source(context: StageContext, segmentor, resume: ResumePoint | None = None) -> None:
    """Train ``segmentor`` for ``source.steps`` (from ``resume`` when given)."""
    config = context.config
    if config.source.init_checkpoint and resume is None:
        load_segmentor_weights(segmentor, config.source.init_checkpoint)
    data = stage_batches(config, "source", "source", seed=config.run.seed + SOURCE_STREAM)
    with context.strategy.scope():
        model = SourceOnlyModel(segmentor, recompute=config.run.recompute)
        model.compile(optimizer=stage_segmentor_optimizer(config, config.source))
    train_stage(context, model, data, "source", resume, segmentor=segmentor,
                optimizer=model.optimizer)
