"""``fada-tf eval``: mIoU of a trained segmentor (or of saved predictions) on a labelled split."""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path

import click

from fada_tf.cli.common import (emit, json_option, model_options, resolve_model, set_option,
                                work_on_stderr)
from fada_tf.cli.scales import resolve_scales, scale_options
from fada_tf.errors import FadaError
from fada_tf.progress import default_verbosity


@click.command("eval")
@model_options
@click.option("--split", default=None,
              help="Labelled target split to evaluate (default: data.target.val_split).")
@scale_options
@click.option("--save-predictions", type=click.Path(file_okay=False), default=None,
              help="Write the predictions to DIR/labels/*.png (train IDs) and DIR/color/*.png.")
@click.option("--checkpoints", "checkpoint_dir", type=click.Path(file_okay=False), default=None,
              help="Evaluate every *.weights.h5 in this folder (config from --run or --config), "
                   "write a CSV and name the best.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None,
              help="CSV of --checkpoints (default: eval.csv in that folder).")
@click.option("--predictions", type=click.Path(file_okay=False), default=None,
              help="Evaluate saved prediction PNGs (train IDs, 255 = no class) against --labels.")
@click.option("--labels", type=click.Path(file_okay=False), default=None,
              help="Label PNGs (train IDs, 255 = ignore) with the same relative paths as --predictions.")
@set_option
@json_option
def eval_command(run_path, config_path, checkpoint, split, mst, scales_text, flip, save_predictions,
                 checkpoint_dir, csv_path, predictions, labels, overrides, as_json):
    """Per-class IoU, mIoU and pixel accuracy on a labelled target split.

    The confusion matrix is accumulated over the whole split at full label resolution
    (16-class runs also report mIoU over 13 classes). --mst averages softmax probabilities
    over scales 0.7, 1.0, 1.3 and their horizontal flips (paper Table 4).

    \b
    Examples:
        fada-tf eval --run runs/demo
        fada-tf eval --run runs/demo --mst --json
        fada-tf eval --config configs/synthetic.yaml --checkpoint runs/demo/checkpoints/adapt-002000.weights.h5
        fada-tf eval --run runs/demo --checkpoints runs/demo/checkpoints --csv sweep.csv
        fada-tf eval --run runs/demo --save-predictions preds
        fada-tf eval --predictions preds/labels --labels my_labels --set data.classes=synthetic
    """
    if predictions or labels:
        unused = checkpoint or checkpoint_dir or csv_path or split or mst or scales_text \
            or flip is not None or save_predictions
        _evaluate_files(run_path, config_path, predictions, labels, overrides, as_json, unused)
        return
    scales, flip = resolve_scales(mst, scales_text, flip)
    if checkpoint_dir:
        if checkpoint or save_predictions:
            raise FadaError("--checkpoints evaluates a folder: give no --checkpoint or --save-predictions")
        _evaluate_folder(_config(run_path, config_path, overrides), checkpoint_dir, csv_path, split,
                         scales, flip, as_json)
    else:
        if csv_path:
            raise FadaError("--csv is the table of --checkpoints FOLDER")
        config, checkpoint = resolve_model(run_path, config_path, checkpoint, overrides)
        _evaluate_one(config, checkpoint, split, scales, flip, save_predictions, as_json)


def _config(run_path, config_path, overrides):
    """The config of --run or --config (the built-in default when neither is given)."""
    from fada_tf.config import load_config
    from fada_tf.training.run_dir import RunDir

    if run_path and config_path:
        raise FadaError("give either --run or --config, not both")
    return load_config(RunDir.open(run_path).config_path if run_path else config_path, overrides)


def _split(config, split):
    split = split or config.data.target.val_split
    if not split:
        raise FadaError("data.target.val_split is empty: the target domain has no labelled split; "
                        "name one with --split")
    return split


def _evaluate_one(config, checkpoint, split, scales, flip, save_predictions, as_json):
    split = _split(config, split)
    with work_on_stderr():
        from fada_tf.config.recipe import checkpoint_stage
        from fada_tf.data.classes import class_table
        from fada_tf.evaluation.label_files import PredictionWriter
        from fada_tf.evaluation.target import evaluate_target
        from fada_tf.training.checkpoints import restore_segmentor

        table = class_table(config.data.classes)
        writer = PredictionWriter(save_predictions, table) if save_predictions else None
        stage = checkpoint_stage(checkpoint)
        segmentor = restore_segmentor(config, checkpoint)
        with writer or contextlib.nullcontext():
            result = evaluate_target(config, segmentor, table, default_verbosity(), split=split,
                                     stage=stage, scales=scales, flip=flip, on_predictions=writer)
    result.update(checkpoint=str(checkpoint), split=split, scales=scales, flip=flip)
    if save_predictions:
        result["predictions"] = save_predictions
    from fada_tf.evaluation.report import iou_table

    emit(result, as_json, f"{checkpoint} on target {split} ({_how(scales, flip)}):\n"
         + iou_table({"IoU (%)": result}))


def _evaluate_folder(config, folder, csv_path, split, scales, flip, as_json):
    split = _split(config, split)
    paths = sorted(p for p in Path(folder).glob("*.weights.h5") if not p.name.startswith("."))
    if not paths:
        raise FadaError(f"{folder} holds no *.weights.h5 checkpoints")
    csv_path = Path(csv_path or Path(folder) / "eval.csv")
    with work_on_stderr():
        from fada_tf.config.recipe import checkpoint_stage
        from fada_tf.data.classes import class_table
        from fada_tf.evaluation.target import evaluate_target
        from fada_tf.training.checkpoints import restore_segmentor

        table = class_table(config.data.classes)
        rows = []
        for path in paths:
            print(f"{path}:")
            stage = checkpoint_stage(path)
            segmentor = restore_segmentor(config, str(path))
            rows.append({"checkpoint": str(path)} | evaluate_target(
                config, segmentor, table, default_verbosity(), split=split, stage=stage, scales=scales,
                flip=flip))
    _write_csv(rows, csv_path)
    best = max(rows, key=lambda r: r["miou"])
    result = {"checkpoints": rows, "best": {"checkpoint": best["checkpoint"], "miou": best["miou"]},
              "csv": str(csv_path), "split": split, "scales": scales, "flip": flip}
    width = max(len(Path(r["checkpoint"]).name) for r in rows) + 2
    lines = [f"target {split} ({_how(scales, flip)}):", "checkpoint".ljust(width) + "mIoU (%)"]
    lines += [Path(r["checkpoint"]).name.ljust(width) + f"{100 * r['miou']:.1f}" for r in rows]
    lines.append(f"best: {best['checkpoint']} ({100 * best['miou']:.1f} mIoU); all in {csv_path}")
    emit(result, as_json, "\n".join(lines))


def _write_csv(rows: list[dict], path: Path) -> None:
    """One row per checkpoint: mIoU, pixel accuracy, (mIoU over 13), per-class IoU (fractions)."""
    from fada_tf.files import atomic_output

    extra = ["miou_13"] if "miou_13" in rows[0] else []
    names = list(rows[0]["per_class_iou"])
    with atomic_output(path) as partial, open(partial, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["checkpoint", "miou", "pixel_acc", *extra, *names])
        for r in rows:
            values = [r["miou"], r["pixel_acc"], *(r[e] for e in extra), *r["per_class_iou"].values()]
            writer.writerow([r["checkpoint"], *("" if v is None else f"{v:.6f}" for v in values)])


def _evaluate_files(run_path, config_path, predictions, labels, overrides, as_json, unused):
    if not (predictions and labels):
        raise FadaError("give both --predictions DIR and --labels DIR")
    if unused:
        raise FadaError("--predictions evaluates saved files: give no --checkpoint(s), --csv, "
                        "--split, --mst, --scales, --flip or --save-predictions")
    config = _config(run_path, config_path, overrides)
    with work_on_stderr():
        from fada_tf.data.classes import class_table
        from fada_tf.evaluation.label_files import evaluate_label_files

        result = evaluate_label_files(predictions, labels, class_table(config.data.classes), default_verbosity())
    result.update(predictions=predictions, labels=labels)
    from fada_tf.evaluation.report import iou_table

    emit(result, as_json, f"{predictions} against {labels} ({result['num_images']} images):\n"
         + iou_table({"IoU (%)": result}))


def _how(scales, flip) -> str:
    text = "single scale" if scales == [1.0] else "scales " + ", ".join(f"{s:g}" for s in scales)
    return text + (" + flips" if flip else "")

