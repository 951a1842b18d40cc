"""``fada-tf eval``: mIoU of a trained segmentor on the target domain's labelled split."""

from __future__ import annotations

import sys

import click

from fada_tf.cli.common import emit, json_option, set_option, work_on_stderr
from fada_tf.errors import FadaError


@click.command("eval")
@click.option("--run", "run_path", type=click.Path(file_okay=False), default=None,
              help="Run directory: its config and latest checkpoint.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Config file (with --checkpoint, instead of --run).")
@click.option("--checkpoint", type=click.Path(dir_okay=False), default=None,
              help="Segmentor weights (.weights.h5), with --config.")
@set_option
@json_option
def eval_command(run_path, config_path, checkpoint, overrides, as_json):
    """Evaluate per-class IoU and mIoU on the target validation split (single scale).

    \b
    Examples:
        fada-tf eval --run runs/demo
        fada-tf eval --config configs/synthetic.yaml --checkpoint runs/demo/checkpoints/adapt-002000.weights.h5 --json
    """
    from fada_tf.config import load_config
    from fada_tf.training.run_dir import RunDir

    if run_path and (config_path or checkpoint):
        raise FadaError("give either --run or --config with --checkpoint, not both")
    if run_path:
        run = RunDir.open(run_path)
        config, checkpoint = load_config(run.config_path, overrides), str(run.latest_checkpoint())
    elif config_path and checkpoint:
        config = load_config(config_path, overrides)
    else:
        raise FadaError("say what to evaluate: --run RUN, or --config FILE --checkpoint WEIGHTS")
    if not config.data.target.val_split:
        raise FadaError("data.target.val_split is empty: the target domain has no labelled split")

    with work_on_stderr():
        from fada_tf.data.classes import class_table
        from fada_tf.models import build_segmentor
        from fada_tf.training.stages import evaluate_target, load_segmentor_weights

        table = class_table(config.data.classes)
        segmentor = build_segmentor(config.model, table.num_classes, seed=config.run.seed)
        load_segmentor_weights(segmentor, checkpoint)
        result = evaluate_target(config, segmentor, table, verbose=1 if sys.stderr.isatty() else 2)
    result.update(checkpoint=checkpoint, scales=[1.0], flip=False)
    from fada_tf.evaluation.report import iou_table

    emit(result, as_json, f"{checkpoint} on target {config.data.target.val_split}:\n"
         + iou_table({"IoU (%)": result}))
