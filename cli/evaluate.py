"""``fada-tf eval``: mIoU of a trained segmentor on the target domain's labelled split."""

from __future__ import annotations

import sys

import click

from fada_tf.cli.common import emit, json_option, set_option, work_on_stderr
from fada_tf.cli.trained_model import load_trained_segmentor, resolve_trained_model, trained_model_options
from fada_tf.errors import FadaError


@click.command("eval")
@trained_model_options
@set_option
@json_option
def eval_command(run_path, config_path, checkpoint, overrides, as_json):
    """Evaluate per-class IoU and mIoU on the target validation split (single scale).

    \b
    Examples:
        fada-tf eval --run runs/demo
        fada-tf eval --config configs/synthetic.yaml --checkpoint runs/demo/checkpoints/adapt-002000.weights.h5 --json
    """
    config, checkpoint = resolve_trained_model(run_path, config_path, checkpoint, overrides, "evaluate")
    if not config.data.target.val_split:
        raise FadaError("data.target.val_split is empty: the target domain has no labelled split")

    with work_on_stderr():
        from fada_tf.data.classes import class_table
        from fada_tf.training.stages import evaluate_target

        table = class_table(config.data.classes)
        segmentor = load_trained_segmentor(config, checkpoint)
        result = evaluate_target(config, segmentor, table, verbose=1 if sys.stderr.isatty() else 2)
    result.update(checkpoint=checkpoint, scales=[1.0], flip=False)
    from fada_tf.evaluation.report import iou_table

    emit(result, as_json, f"{checkpoint} on target {config.data.target.val_split}:\n"
         + iou_table({"IoU (%)": result}))
