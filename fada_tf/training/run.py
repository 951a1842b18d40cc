"""A training run: the configured stages in order (``fada_tf.training.stages``), each followed by
a checkpoint and, when the target domain has a labelled validation split, its evaluation and
a picture of example predictions; ``metrics.json`` collects the results. A resumed run skips
the stages that finished and continues the interrupted one at its step.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from fada_tf.config import Config
from fada_tf.config.recipe import stage_model
from fada_tf.data.classes import class_table
from fada_tf.data.datasets import check_data
from fada_tf.errors import FadaError
from fada_tf.evaluation.target import evaluate_target, save_target_examples
from fada_tf.models import build_segmentor
from fada_tf.training.checkpoints import load_segmentor_weights
from fada_tf.training.distribution import make_strategy
from fada_tf.training.precision import set_precision
from fada_tf.training.run_dir import RunDir
from fada_tf.training.stages.adapt import initialise_adaptation, train_adapt
from fada_tf.training.stages.common import StageContext
from fada_tf.training.stages.distill import distillation_teacher, train_distill
from fada_tf.training.stages.source import train_source
from fada_tf.training.state import ResumePoint, latest_state


def run_training(config: Config, run: RunDir, strategy: tf.distribute.Strategy | None = None,
                 verbose: int = 1, resume: bool = False) -> dict:
    """Run the configured stages in order; returns ``{"stages": {stage: evaluation}}``.

    ``strategy`` defaults to ``run.strategy`` (make it first in a fresh process for
    multi-worker). ``resume`` continues from the run's newest state checkpoint: stages that
    finished are skipped, the interrupted one continues at its step. ``verbose``: 1 a live
    progress bar, 2 one line per report, 0 silent.
    """
    check_data(config)
    strategy = strategy or make_strategy(config.run.strategy)
    keras.utils.set_random_seed(config.run.seed)
    set_precision(config.run.precision)
    table = class_table(config.data.classes)
    point = _resume_point(run, config) if resume else None
    # The ImageNet initialisation is read only for a source stage that starts from it.
    initialise = (config.run.stages[0] == "source" and not config.source.init_checkpoint
                  and point is None)
    with strategy.scope():
        segmentor = build_segmentor(stage_model(config, "source", pretrained=initialise),
                                    table.num_classes, seed=config.run.seed)
    context = StageContext(config, run, strategy, table, verbose)
    metrics = {"stages": {}} | (run.read_metrics() if point else {})
    for stage in config.run.stages:
        if point and config.run.stages.index(stage) < config.run.stages.index(point.stage):
            # Finished before the interruption (and evaluated): continue from its final weights.
            load_segmentor_weights(segmentor, str(run.checkpoints / _final_weights(config, stage)))
            continue
        resume_at = point if point and point.stage == stage else None
        if stage == "source":
            train_source(context, segmentor, resume_at)
        elif stage == "adapt":
            if resume_at is None:
                initialise_adaptation(config, segmentor)
            train_adapt(context, segmentor, resume_at)
        else:
            teacher = distillation_teacher(config, segmentor, table, metrics, verbose)
            segmentor, metrics["pseudo_labels"] = train_distill(context, teacher, resume_at)
        result = evaluate_target(config, segmentor, table, verbose, stage=stage)
        if result is not None:
            metrics["stages"][stage] = result
            save_target_examples(config, segmentor, table, run.path / f"{stage}_target_examples.png",
                                 stage=stage)
        run.write_metrics(metrics)
    return metrics


def _resume_point(run: RunDir, config: Config) -> ResumePoint:
    point = latest_state(run.checkpoints)
    if point is None:
        raise FadaError(f"{run.path} has no training-state checkpoint to resume from "
                        f"({run.checkpoints / 'state'} is empty); start it again without --resume")
    if point.stage not in config.run.stages:
        raise FadaError(f"{run.path} stopped in stage {point.stage}, which run.stages "
                        f"({', '.join(config.run.stages)}) no longer has")
    return point


def _final_weights(config: Config, stage: str) -> str:
    return f"{stage}-{getattr(config, stage).steps:06d}.weights.h5"
