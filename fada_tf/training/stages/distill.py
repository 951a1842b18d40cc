"""Stage 3, self-distillation (paper section 4.6, Table 4 "SD"): the teacher (the adapted
model, or ``distill.teacher_checkpoint``) labels the target training split, and a student
learns from those pseudo labels with cross-entropy (eq. 3).

Pseudo labels are the teacher's hard predictions (``fada_tf.adaptation.pseudo_labels``),
averaged over ``distill.scales`` and flips when configured, saved as train-ID PNGs, one per
image, in ``RUN/pseudo_labels/`` with their statistics; a resumed stage reuses them. The
student reads them through ``distill.target_images`` and is a fresh network
(``distill.student_init: model``, from ``model.pretrained``) or a copy of the teacher.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from fada_tf.adaptation import SourceOnlyModel
from fada_tf.adaptation.pseudo_labels import hard_pseudo_labels
from fada_tf.config import Config
from fada_tf.config.recipe import checkpoint_stage, eval_size, stage_model
from fada_tf.data.classes import IGNORE_LABEL, ClassTable
from fada_tf.data.datasets import pair_reader, split_pairs
from fada_tf.data.pipeline import evaluation_dataset, training_dataset
from fada_tf.errors import FadaError
from fada_tf.evaluation.evaluate import predict_probabilities
from fada_tf.evaluation.label_files import write_label_png
from fada_tf.evaluation.metrics import confusion_matrix, summarize
from fada_tf.evaluation.target import evaluate_target
from fada_tf.files import atomic_output, read_json, write_json
from fada_tf.models import build_segmentor
from fada_tf.progress import Progress
from fada_tf.training.checkpoints import restore_segmentor
from fada_tf.training.stages.common import (TARGET_STREAM, StageContext, stage_segmentor_optimizer,
                                            train_stage)
from fada_tf.training.state import ResumePoint

STATISTICS = "statistics.json"


def distillation_teacher(config: Config, segmentor, table: ClassTable, metrics: dict, verbose: int):
    """The teacher: ``distill.teacher_checkpoint`` (evaluated into ``metrics["teacher"]``; a
    network of the BatchNorm kind it was written with) or ``segmentor``, the model of this
    run's previous stage."""
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


def train_distill(context: StageContext, teacher, resume: ResumePoint | None = None):
    """Pseudo labels into ``RUN/pseudo_labels/`` (reused when resuming), then the student
    trained on them for ``distill.steps``.

    Returns the student and the pseudo labels' statistics (``write_pseudo_labels``).
    """
    config, stage = context.config, context.config.distill
    folder = context.run.path / "pseudo_labels"
    statistics = (read_pseudo_label_statistics(folder) if resume and folder.is_dir() else
                  write_pseudo_labels(teacher, config, context.table, folder, context.verbose))
    fresh = stage.student_init == "model" and resume is None   # else its weights are replaced
    with context.strategy.scope():
        student = build_segmentor(stage_model(config, "distill", pretrained=fresh),
                                  context.table.num_classes, seed=config.run.seed)
    if stage.student_init == "teacher":
        student.set_weights(teacher.get_weights())
    seed = config.run.seed + TARGET_STREAM + 1
    data = training_dataset(pseudo_labelled_pairs(config, folder, seed), stage.target_images,
                            config.model.normalization, stage.batch_size, seed=seed, labelled=True)
    with context.strategy.scope():
        model = SourceOnlyModel(student, recompute=config.run.recompute)
        model.compile(optimizer=stage_segmentor_optimizer(config, stage))
    train_stage(context, model, data, "distill", resume, segmentor=student, optimizer=model.optimizer)
    return student, statistics


def write_pseudo_labels(teacher: keras.Model, config: Config, table: ClassTable, folder: str | Path,
                        verbose: int = 1) -> dict:
    """Label ``data.target.train_split`` with ``teacher`` into ``folder/00000.png``, … (split order).

    Images are resized to the adaptation's evaluation size as for evaluating the teacher (the
    original runs test.py with the adaptation config: 1024×512) and the teacher's logits are
    upsampled to the resolution of the split's label maps before the argmax, so pseudo labels
    have full resolution (train_with_sd.sh, test.py ``inference``). Returns ``{"num_images",
    "ignored_fraction", "quality"}``; ``quality`` is the mIoU of the pseudo labels against the
    split's own labels where the split has any (a diagnostic: the student never sees those
    labels; an ignored pseudo label counts as a miss).
    """
    cfg = config.distill
    data = evaluation_dataset(split_pairs(config.data, "target", config.data.target.train_split,
                                          labelled=False),
                              eval_size(config, "adapt"), config.model.normalization,
                              config.data.eval_batch_size)
    scales = tuple(cfg.scales)

    @tf.function(reduce_retracing=True)
    def label(images, size):
        probabilities = predict_probabilities(teacher, images, size, scales, cfg.flip)
        return hard_pseudo_labels(probabilities, cfg.confidence_threshold)

    k = table.num_classes
    confusion = np.zeros((k, k + 1), np.int64)
    batches = int(data.cardinality())
    count, ignored, pixels = 0, 0, 0
    with (atomic_output(Path(folder)) as partial,
          Progress(batches if batches > 0 else None, "pseudo labels", "batch", verbose) as progress):
        partial.mkdir(parents=True)
        for images, labels in data:
            pseudo = label(images, tf.shape(labels)[1:3]).numpy()
            for one in pseudo:
                write_label_png(partial / f"{count:05d}.png", one)
                count += 1
            ignored += int(np.sum(pseudo == IGNORE_LABEL))
            pixels += pseudo.size
            confusion += confusion_matrix(labels.numpy(), pseudo, k, count_misses=True)
            progress.update()
        statistics = {"num_images": count, "ignored_fraction": ignored / pixels if pixels else 0.0,
                      "quality": summarize(confusion, table) if confusion.sum() else None}
        write_json(partial / STATISTICS, statistics)
    return statistics


def read_pseudo_label_statistics(folder: str | Path) -> dict:
    """The statistics ``write_pseudo_labels`` returned when it wrote ``folder``."""
    return read_json(Path(folder) / STATISTICS)


def pseudo_labelled_pairs(config: Config, folder: str | Path, seed: int | None = None) -> tf.data.Dataset:
    """The target training images paired with the pseudo labels in ``folder``: once in split
    order, or with ``seed`` endlessly, reshuffled every pass (indices are shuffled, then read)."""
    paths = tf.constant(sorted(str(p) for p in Path(folder).glob("*.png")))
    read = pair_reader(config.data, "target", config.data.target.train_split, labelled=False)

    def pair(index):
        image, _ = read(index)
        return image, tf.io.decode_png(tf.io.read_file(paths[index]), channels=1)[..., 0]

    indices = tf.data.Dataset.range(int(paths.shape[0]))
    if seed is not None:
        indices = indices.shuffle(int(paths.shape[0]), seed=seed, reshuffle_each_iteration=True).repeat()
    return indices.map(pair, num_parallel_calls=tf.data.AUTOTUNE)
