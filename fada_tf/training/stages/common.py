"""What every stage shares: its context, the seeds of its data streams, the segmentor's
optimiser and the training of its model by the run's loop."""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from fada_tf.config import Config
from fada_tf.data.classes import ClassTable
from fada_tf.errors import FadaError
from fada_tf.training.loop import LoopSettings, train_loop
from fada_tf.training.optimizers import segmentor_optimizer
from fada_tf.training.precision import with_loss_scaling
from fada_tf.training.run_dir import RunDir
from fada_tf.training.state import ResumePoint, TrainingState

# Seed offsets keep the source and target streams' shuffles and augmentations independent.
SOURCE_STREAM, TARGET_STREAM = 0, 1000


@dataclass
class StageContext:
    """What every stage needs besides its networks."""
    config: Config
    run: RunDir
    strategy: tf.distribute.Strategy
    table: ClassTable
    verbose: int


def stage_segmentor_optimizer(config: Config, stage):
    """The segmentor's SGD of ``stage`` (its ``optimizer`` section and ``steps``), with loss
    scaling under mixed float16."""
    return with_loss_scaling(segmentor_optimizer(stage.optimizer, stage.steps), config.run.precision)


def train_stage(context: StageContext, model, data: tf.data.Dataset, stage: str,
                resume: ResumePoint | None, **objects) -> None:
    """Train the compiled ``model`` for the stage's steps on ``data`` (global batches), from
    ``resume``; ``objects`` are what its state checkpoints hold (``segmentor`` among them)."""
    config, strategy = context.config, context.strategy
    batch = getattr(config, stage).batch_size
    if batch % strategy.num_replicas_in_sync:
        raise FadaError(f"{stage}.batch_size = {batch} must be divisible by the "
                        f"{strategy.num_replicas_in_sync} replicas of the strategy (global batch)")
    iterator = iter(data)
    state = TrainingState(context.run.checkpoints, stage, config.run.keep_checkpoints,
                          data=iterator, **objects)
    start = state.restore(resume) if resume else 0
    settings = LoopSettings(stage, getattr(config, stage).steps, config.run.checkpoint_every,
                            config.run.log_every, config.run.jit, context.verbose)
    train_loop(strategy, model, iterator, state, context.run, objects["segmentor"], settings, start)
