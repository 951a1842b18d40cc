"""The training stages of a run: source-only (stage 1), FADA adaptation (stage 2), and
optionally self-distillation (stage 3).

After each stage the segmentor is checkpointed and, when the target domain has a labelled
validation split, evaluated on it; ``metrics.json`` collects the results.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from fada_tf.adaptation import FADAModel, SourceOnlyModel, encoding_channels
from fada_tf.adaptation.pseudo_labels import (pseudo_labelled_pairs, read_pseudo_label_statistics,
                                              write_pseudo_labels)
from fada_tf.config import Config
from fada_tf.config.recipe import checkpoint_stage, eval_size, stage_model
from fada_tf.data.classes import ClassTable, class_table
from fada_tf.data.datasets import check_data, split_pairs, stage_batches
from fada_tf.data.pipeline import evaluation_dataset, training_dataset
from fada_tf.errors import FadaError
from fada_tf.evaluation import evaluate
from fada_tf.evaluation.evaluate import predict_labels
from fada_tf.models import build_discriminator, build_segmentor, feature_channels
from fada_tf.training.checkpoints import load_segmentor_weights, restore_segmentor
from fada_tf.training.distribution import make_strategy
from fada_tf.training.loop import LoopSettings, train_loop
from fada_tf.training.optimizers import discriminator_optimizer, segmentor_optimizer
from fada_tf.training.precision import set_precision, with_loss_scaling
from fada_tf.training.run_dir import RunDir
from fada_tf.training.state import ResumePoint, TrainingState, latest_state
from fada_tf.visualize import colorize, save_grid

# Seed offsets keep the source and target streams' shuffles and augmentations independent.
_SOURCE_STREAM, _TARGET_STREAM = 0, 1000


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
    context = _Context(config, run, strategy, table, verbose)
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
                _initialise_adaptation(config, segmentor)
            train_adapt(context, segmentor, resume_at)
        else:
            teacher = _distillation_teacher(config, segmentor, table, metrics, verbose)
            segmentor, metrics["pseudo_labels"] = train_distill(context, teacher, resume_at)
        result = evaluate_target(config, segmentor, table, verbose, stage=stage)
        if result is not None:
            metrics["stages"][stage] = result
            save_target_examples(config, segmentor, table, run.path / f"{stage}_target_examples.png",
                                 stage=stage)
        run.write_metrics(metrics)
    return metrics


@dataclass
class _Context:
    """What every stage needs besides its networks."""
    config: Config
    run: RunDir
    strategy: tf.distribute.Strategy
    table: ClassTable
    verbose: int


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


def _initialise_adaptation(config: Config, segmentor) -> None:
    """Adaptation starts from ``adapt.init_checkpoint`` or from this run's source stage."""
    if config.adapt.init_checkpoint:
        load_segmentor_weights(segmentor, config.adapt.init_checkpoint)
    elif "source" not in config.run.stages:
        raise FadaError("run.stages has adapt without source: set adapt.init_checkpoint to the "
                        "source-stage weights (RUN/checkpoints/source-*.weights.h5)")


def _distillation_teacher(config: Config, segmentor, table: ClassTable, metrics: dict, verbose: int):
    """The teacher is ``distill.teacher_checkpoint`` (evaluated into ``metrics["teacher"]``;
    a network of the BatchNorm kind it was written with) or the model of this run's previous
    stage."""
    checkpoint = config.distill.teacher_checkpoint
    if checkpoint:
        segmentor = restore_segmentor(config, checkpoint)
        result = evaluate_target(config, segmentor, table, verbose,
                                 stage=checkpoint_stage(checkpoint) or "adapt")
        if result is not None:
            metrics["teacher"] = result | {"checkpoint": checkpoint}
    elif config.run.stages[0] == "distill":
        raise FadaError("run.stages has distill without an earlier stage: set "
                        "distill.teacher_checkpoint, or use `fada-tf distill --teacher RUN`")
    return segmentor


def train_source(context: _Context, segmentor, resume: ResumePoint | None = None) -> None:
    """Stage 1: L_seg on the labelled source domain."""
    config = context.config
    if config.source.init_checkpoint and resume is None:
        load_segmentor_weights(segmentor, config.source.init_checkpoint)
    stage = config.source
    data = stage_batches(config, "source", "source", seed=config.run.seed + _SOURCE_STREAM)
    with context.strategy.scope():
        model = SourceOnlyModel(segmentor)
        model.compile(optimizer=_segmentor_optimizer(config, stage))
    _train(context, model, data, "source", resume, segmentor=segmentor, optimizer=model.optimizer)


def train_adapt(context: _Context, segmentor, resume: ResumePoint | None = None) -> None:
    """Stage 2: alternate segmentor (eq. 2) and fine-grained discriminator (eq. 5) updates."""
    config, stage = context.config, context.config.adapt
    source = stage_batches(config, "adapt", "source", seed=config.run.seed + _SOURCE_STREAM + 1)
    target = stage_batches(config, "adapt", "target", seed=config.run.seed + _TARGET_STREAM)
    with context.strategy.scope():
        discriminator = build_discriminator(
            feature_channels(config.model.backbone, config.model.tiny_width),
            encoding_channels(stage.encoding, context.table.num_classes),
            channels=tuple(config.model.discriminator_channels), seed=config.run.seed + 1)
        model = FADAModel(segmentor, discriminator, encoding=stage.encoding,
                          lambda_adv=stage.lambda_adv, temperature=stage.temperature,
                          clip=stage.clip, hard_threshold=stage.hard_threshold)
        model.compile(
            segmentor_optimizer=_segmentor_optimizer(config, stage),
            discriminator_optimizer=with_loss_scaling(
                discriminator_optimizer(stage.discriminator_optimizer, stage.steps), config.run.precision))
    _train(context, model, tf.data.Dataset.zip((source, target)), "adapt", resume,
           segmentor=segmentor, discriminator=discriminator, optimizer=model.optimizer,
           discriminator_optimizer=model.discriminator_optimizer)


def train_distill(context: _Context, teacher, resume: ResumePoint | None = None):
    """Stage 3: the teacher's hard pseudo labels on the target training split (saved in
    ``RUN/pseudo_labels/``, reused when resuming), then a student trained on them with
    cross-entropy (eq. 3).

    Returns the student and the pseudo labels' statistics (``write_pseudo_labels``).
    """
    config, run = context.config, context.run
    stage = config.distill
    folder = run.path / "pseudo_labels"
    statistics = (read_pseudo_label_statistics(folder) if resume and folder.is_dir() else
                  write_pseudo_labels(teacher, config, context.table, folder, context.verbose))
    fresh = stage.student_init == "model" and resume is None   # else its weights are replaced
    with context.strategy.scope():
        student = build_segmentor(stage_model(config, "distill", pretrained=fresh),
                                  context.table.num_classes, seed=config.run.seed)
    if stage.student_init == "teacher":
        student.set_weights(teacher.get_weights())
    seed = config.run.seed + _TARGET_STREAM + 1
    data = training_dataset(pseudo_labelled_pairs(config, folder, seed), stage.target_images,
                            config.model.normalization, stage.batch_size, seed=seed, labelled=True)
    with context.strategy.scope():
        model = SourceOnlyModel(student)
        model.compile(optimizer=_segmentor_optimizer(config, stage))
    _train(context, model, data, "distill", resume, segmentor=student, optimizer=model.optimizer)
    return student, statistics


def _segmentor_optimizer(config: Config, stage):
    return with_loss_scaling(segmentor_optimizer(stage.optimizer, stage.steps), config.run.precision)


def _train(context: _Context, model, data: tf.data.Dataset, stage: str, resume: ResumePoint | None,
           **objects) -> None:
    """Train ``model`` for the stage's steps on ``data`` (global batches), from ``resume``."""
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


def evaluate_target(config: Config, segmentor, table: ClassTable, verbose: int = 1,
                    split: str | None = None, stage: str | None = None, **options) -> dict | None:
    """Target-domain mIoU on ``split`` (default ``data.target.val_split``) at the evaluation
    size of ``stage``'s model (default: the run's final stage; ``fada_tf.config.recipe``);
    None when there is no such split. ``options`` go to ``evaluate`` (``scales``, ``flip``,
    ``on_predictions``)."""
    split = split or config.data.target.val_split
    if not split:
        return None
    data = evaluation_dataset(split_pairs(config.data, "target", split), eval_size(config, stage),
                              config.model.normalization, config.data.eval_batch_size)
    batches = int(data.cardinality())
    return evaluate(segmentor, data, table, num_batches=batches if batches > 0 else None,
                    verbose=verbose, **options)


def save_target_examples(config: Config, segmentor, table: ClassTable, path, count: int = 4,
                         stage: str | None = None):
    """A PNG of the first ``count`` target val images: image | ground truth | prediction."""
    pairs = split_pairs(config.data, "target", config.data.target.val_split).take(count)
    raw = list(pairs.as_numpy_iterator())
    images, labels = next(iter(evaluation_dataset(pairs, eval_size(config, stage),
                                                  config.model.normalization, count)))
    predictions = predict_labels(segmentor, images, tf.shape(labels)[1:3]).numpy()
    rows = [[image, colorize(label, table), colorize(prediction, table)]
            for (image, label), prediction in zip(raw, predictions)]
    return save_grid(rows, path, scale=2)
