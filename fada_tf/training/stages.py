"""The training stages of a run: source-only (stage 1), FADA adaptation (stage 2), and
optionally self-distillation (stage 3).

After each stage the segmentor is checkpointed and, when the target domain has a labelled
validation split, evaluated on it; ``metrics.json`` collects the results.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from fada_tf.adaptation import FADAModel, SourceOnlyModel, encoding_channels
from fada_tf.adaptation.pseudo_labels import pseudo_labelled_pairs, write_pseudo_labels
from fada_tf.config import Config
from fada_tf.data.classes import ClassTable, class_table
from fada_tf.data.datasets import SYNTHETIC_SHUFFLE_BUFFER, check_data, split_pairs, training_batches
from fada_tf.data.pipeline import evaluation_dataset, training_dataset
from fada_tf.errors import FadaError
from fada_tf.evaluation import evaluate
from fada_tf.evaluation.evaluate import predict_labels
from fada_tf.models import build_discriminator, build_segmentor, feature_channels
from fada_tf.training.callbacks import PeriodicCheckpoint
from fada_tf.training.checkpoints import load_segmentor_weights
from fada_tf.training.optimizers import discriminator_optimizer, segmentor_optimizer
from fada_tf.training.run_dir import RunDir
from fada_tf.visualize import colorize, save_grid

# Pseudo-labelled full-resolution images held in the distillation stage's shuffle buffer.
PSEUDO_LABEL_BUFFER = 64
# Seed offsets keep the source and target streams' shuffles and augmentations independent.
_SOURCE_STREAM, _TARGET_STREAM = 0, 1000


def run_training(config: Config, run: RunDir, verbose: int = 1) -> dict:
    """Run the configured stages in order; returns ``{"stages": {stage: evaluation}}``.

    ``verbose`` is Keras' fit verbosity: 1 a live progress bar, 2 one line per report.
    """
    check_data(config.data)
    keras.utils.set_random_seed(config.run.seed)
    table = class_table(config.data.classes)
    segmentor = build_segmentor(config.model, table.num_classes, seed=config.run.seed)
    metrics = {"stages": {}}
    for stage in config.run.stages:
        if stage == "source":
            train_source(config, segmentor, run, verbose)
        elif stage == "adapt":
            _initialise_adaptation(config, segmentor)
            train_adapt(config, segmentor, run, table, verbose)
        else:
            teacher = _distillation_teacher(config, segmentor, table, metrics, verbose)
            segmentor, metrics["pseudo_labels"] = train_distill(config, teacher, run, table, verbose)
        result = evaluate_target(config, segmentor, table, verbose)
        if result is not None:
            metrics["stages"][stage] = result
            save_target_examples(config, segmentor, table, run.path / f"{stage}_target_examples.png")
        run.write_metrics(metrics)
    return metrics


def _initialise_adaptation(config: Config, segmentor) -> None:
    """Adaptation starts from ``adapt.init_checkpoint`` or from this run's source stage."""
    if config.adapt.init_checkpoint:
        load_segmentor_weights(segmentor, config.adapt.init_checkpoint)
    elif "source" not in config.run.stages:
        raise FadaError("run.stages has adapt without source: set adapt.init_checkpoint to the "
                        "source-stage weights (RUN/checkpoints/source-*.weights.h5)")


def _distillation_teacher(config: Config, segmentor, table: ClassTable, metrics: dict, verbose: int):
    """The teacher is ``distill.teacher_checkpoint`` (evaluated into ``metrics["teacher"]``) or
    the model of this run's previous stage."""
    if config.distill.teacher_checkpoint:
        load_segmentor_weights(segmentor, config.distill.teacher_checkpoint)
        result = evaluate_target(config, segmentor, table, verbose)
        if result is not None:
            metrics["teacher"] = result | {"checkpoint": config.distill.teacher_checkpoint}
    elif config.run.stages[0] == "distill":
        raise FadaError("run.stages has distill without an earlier stage: set "
                        "distill.teacher_checkpoint, or use `fada-tf distill --teacher RUN`")
    return segmentor


def train_source(config: Config, segmentor, run: RunDir, verbose: int = 1) -> None:
    """Stage 1: L_seg on the labelled source domain."""
    if config.source.init_checkpoint:
        load_segmentor_weights(segmentor, config.source.init_checkpoint)
    stage = config.source
    data = training_batches(config.data, "source", stage.batch_size,
                            seed=config.run.seed + _SOURCE_STREAM, labelled=True)
    model = SourceOnlyModel(segmentor)
    model.compile(optimizer=segmentor_optimizer(stage.optimizer, stage.steps))
    _fit(model, data, stage.steps, "source", config, segmentor, run, verbose)


def train_adapt(config: Config, segmentor, run: RunDir, table: ClassTable, verbose: int = 1) -> None:
    """Stage 2: alternate segmentor (eq. 2) and fine-grained discriminator (eq. 5) updates."""
    stage = config.adapt
    source = training_batches(config.data, "source", stage.batch_size,
                              seed=config.run.seed + _SOURCE_STREAM + 1, labelled=True)
    target = training_batches(config.data, "target", stage.batch_size,
                              seed=config.run.seed + _TARGET_STREAM, labelled=False)
    discriminator = build_discriminator(
        feature_channels(config.model.backbone, config.model.tiny_width),
        encoding_channels(stage.encoding, table.num_classes),
        channels=tuple(config.model.discriminator_channels), seed=config.run.seed + 1)
    model = FADAModel(segmentor, discriminator, encoding=stage.encoding, lambda_adv=stage.lambda_adv,
                      temperature=stage.temperature, clip=stage.clip, hard_threshold=stage.hard_threshold)
    model.compile(segmentor_optimizer=segmentor_optimizer(stage.optimizer, stage.steps),
                  discriminator_optimizer=discriminator_optimizer(stage.discriminator_optimizer, stage.steps))
    _fit(model, tf.data.Dataset.zip((source, target)), stage.steps, "adapt", config, segmentor,
         run, verbose)


def train_distill(config: Config, teacher, run: RunDir, table: ClassTable, verbose: int = 1):
    """Stage 3: the teacher's hard pseudo labels on the target training split (saved in
    ``RUN/pseudo_labels/``), then a student trained on them with cross-entropy (eq. 3).

    Returns the student and the pseudo labels' statistics (``write_pseudo_labels``).
    """
    stage = config.distill
    folder = run.path / "pseudo_labels"
    statistics = write_pseudo_labels(teacher, config, table, folder, verbose)
    student = build_segmentor(config.model, table.num_classes, seed=config.run.seed)
    if stage.student_init == "teacher":
        student.set_weights(teacher.get_weights())
    seed = config.run.seed + _TARGET_STREAM + 1
    # Decoded pairs are shuffled in a buffer: all of an in-memory synthetic split, a bounded
    # window of a prepared dataset's full-resolution images.
    buffer = SYNTHETIC_SHUFFLE_BUFFER if config.data.target.dataset == "synthetic" else PSEUDO_LABEL_BUFFER
    pairs = pseudo_labelled_pairs(config, folder).shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    data = training_dataset(pairs.repeat(), config.data.target, stage.batch_size, seed=seed, labelled=True)
    model = SourceOnlyModel(student)
    model.compile(optimizer=segmentor_optimizer(stage.optimizer, stage.steps))
    _fit(model, data, stage.steps, "distill", config, student, run, verbose)
    return student, statistics


def _fit(model, data, steps: int, stage: str, config: Config, segmentor, run: RunDir, verbose: int):
    """``fit`` for exactly ``steps`` steps, reporting every ``run.log_every`` steps."""
    per_epoch = min(config.run.log_every, steps)
    callbacks = [PeriodicCheckpoint(run, segmentor, stage, config.run.checkpoint_every),
                 keras.callbacks.TensorBoard(log_dir=str(run.logs / stage), write_graph=False)]
    full, rest = divmod(steps, per_epoch)
    model.fit(data, epochs=full, steps_per_epoch=per_epoch, callbacks=callbacks, verbose=verbose,
              shuffle=False)
    if rest:
        model.fit(data, epochs=full + 1, initial_epoch=full, steps_per_epoch=rest,
                  callbacks=callbacks, verbose=verbose, shuffle=False)
    run.save_segmentor(segmentor, stage, steps)


def evaluate_target(config: Config, segmentor, table: ClassTable, verbose: int = 1,
                    split: str | None = None, **options) -> dict | None:
    """Target-domain mIoU on ``split`` (default ``data.target.val_split``); None when there is
    no such split. ``options`` go to ``evaluate`` (``scales``, ``flip``, ``on_predictions``)."""
    split = split or config.data.target.val_split
    if not split:
        return None
    data = evaluation_dataset(split_pairs(config.data, "target", split), config.data.eval_size,
                              config.data.eval_batch_size)
    batches = int(data.cardinality())
    return evaluate(segmentor, data, table, num_batches=batches if batches > 0 else None,
                    verbose=verbose, **options)


def save_target_examples(config: Config, segmentor, table: ClassTable, path, count: int = 4):
    """A PNG of the first ``count`` target val images: image | ground truth | prediction."""
    pairs = split_pairs(config.data, "target", config.data.target.val_split).take(count)
    raw = list(pairs.as_numpy_iterator())
    images, labels = next(iter(evaluation_dataset(pairs, config.data.eval_size, count)))
    predictions = predict_labels(segmentor, images, tf.shape(labels)[1:3]).numpy()
    rows = [[image, colorize(label, table), colorize(prediction, table)]
            for (image, label), prediction in zip(raw, predictions)]
    return save_grid(rows, path, scale=2)
