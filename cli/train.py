"""``fada-tf train``: source-only stage, then FADA adaptation, evaluated on the target."""

from __future__ import annotations

import sys
import time

import click

from fada_tf.cli.common import config_option, emit, json_option, set_option, work_on_stderr
from fada_tf.config import load_config

STAGE_TITLES = {"source": "source-only", "adapt": "FADA", "distill": "self-distilled"}


@click.command()
@config_option
@set_option
@click.option("--output", type=click.Path(file_okay=False), default=None,
              help="Run directory to create (default: runs/<date-time>).")
@json_option
def train(config_path, overrides, output, as_json):
    """Train on the labelled source domain, then adapt to the target domain with FADA.

    Runs the stages in run.stages (source, adapt), evaluates target-domain mIoU after each
    when the target has a labelled validation split, and writes the run directory:
    config.yaml, checkpoints/, logs/ (TensorBoard) and metrics.json.

    \b
    Examples:
        fada-tf train --output runs/demo
        fada-tf train --set adapt.encoding=hard --set run.seed=1 --output runs/hard
        fada-tf train --config configs/gta5_to_cityscapes_r101.yaml --json
    """
    config = load_config(config_path, overrides)
    output = output or time.strftime("runs/%Y%m%d-%H%M%S")
    with work_on_stderr():
        from fada_tf.data.datasets import check_data
        from fada_tf.training.run_dir import RunDir
        from fada_tf.training.stages import run_training

        check_data(config.data)
        run = RunDir.create(output, config)
        # A live progress bar on a terminal, one line per report in logs and pipes.
        metrics = run_training(config, run, verbose=1 if sys.stderr.isatty() else 2)
    result = {"run_dir": str(run.path), "stages": metrics["stages"]}
    emit(result, as_json, _report(result))


def _report(result: dict) -> str:
    from fada_tf.evaluation.report import iou_table

    columns = {STAGE_TITLES[s]: r for s, r in result["stages"].items()}
    table = iou_table(columns) if columns else "(the target domain has no labelled split: nothing evaluated)"
    return f"Target-domain IoU (%), run {result['run_dir']}:\n{table}"
