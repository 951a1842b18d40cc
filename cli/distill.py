"""``fada-tf distill``: self-distillation of an adapted run (paper section 4.6, Table 4 "SD")."""

from __future__ import annotations

import time

import click

from fada_tf.cli.common import (emit, json_option, runtime_options, runtime_overrides, set_option,
                                work_on_stderr)
from fada_tf.progress import default_verbosity


@click.command()
@click.option("--teacher", "teacher_path", required=True, type=click.Path(file_okay=False),
              help="Run directory of the adapted model; its latest checkpoint is the teacher.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Config of the student run (default: the teacher run's config.yaml).")
@set_option
@click.option("--output", type=click.Path(file_okay=False), default=None,
              help="Run directory to create (default: runs/distill-<date-time>).")
@runtime_options
@json_option
def distill(teacher_path, config_path, overrides, output, strategy, precision, jit, recompute,
            as_json):
    """Train a student on the teacher's hard pseudo labels of the target training split.

    The teacher labels every target training image (distill.scales / distill.flip for
    multi-scale pseudo labels; pixels below distill.confidence_threshold are ignored); the
    labels are saved in RUN/pseudo_labels/. A student with the config's architecture
    (distill.student_init: a fresh "model", or a copy of the "teacher") is trained on them with
    cross-entropy for distill.steps and evaluated on the target validation split. The run
    directory is like train's, with run.stages = [distill]; an interrupted one continues with
    `fada-tf train --resume RUN`.

    \b
    Examples:
        fada-tf distill --teacher runs/demo --output runs/demo-distill
        fada-tf distill --teacher runs/demo --set distill.confidence_threshold=0.9 \\
            --set "distill.scales=[0.7,1.0,1.3]" --set distill.flip=true --json
    """
    from fada_tf.config import load_config
    from fada_tf.training.run_dir import RunDir

    teacher = RunDir.open(teacher_path)
    checkpoint = teacher.latest_checkpoint()
    config = load_config(config_path or teacher.config_path,
                         list(overrides) + runtime_overrides(strategy, precision, jit, recompute))
    config.run.stages = ["distill"]
    config.distill.teacher_checkpoint = str(checkpoint)
    output = output or time.strftime("runs/distill-%Y%m%d-%H%M%S")
    with work_on_stderr():
        from fada_tf.training.distribution import make_strategy, worker_path

        distribution = make_strategy(config.run.strategy)   # before any other TensorFlow work
        from fada_tf.training.run import run_training

        run = RunDir.create(worker_path(distribution, output), config)
        metrics = run_training(config, run, distribution, verbose=default_verbosity())
    result = {"run_dir": str(run.path), **metrics}
    emit(result, as_json, _report(result))


def _report(result: dict) -> str:
    from fada_tf.evaluation.report import iou_table

    pseudo = result["pseudo_labels"]
    lines = [f"Self-distillation, run {result['run_dir']}: {pseudo['num_images']} pseudo-labelled "
             f"target images, {100 * pseudo['ignored_fraction']:.1f} % of pixels ignored"]
    if pseudo["quality"]:
        lines[0] += f", pseudo-label mIoU {100 * pseudo['quality']['miou']:.1f}"
    columns = {"teacher": result.get("teacher"), "student": result["stages"].get("distill")}
    columns = {title: c for title, c in columns.items() if c}
    lines.append(iou_table(columns) if columns else "(the target domain has no labelled split: nothing evaluated)")
    return "\n".join(lines)
