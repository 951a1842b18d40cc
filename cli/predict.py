"""``fada-tf predict``: colour-coded segmentation masks and overlays for image files."""

from __future__ import annotations

from pathlib import Path

import click

from fada_tf.cli.common import (emit, json_option, model_options, resolve_model, set_option,
                                work_on_stderr)
from fada_tf.cli.scales import resolve_scales, scale_options
from fada_tf.errors import FadaError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


@click.command("predict")
@click.argument("inputs", nargs=-1, required=True, metavar="IMAGES_OR_DIR...")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for NAME_color.png, NAME_overlay.png and NAME_labels.png (train IDs).")
@model_options
@click.option("--onnx", "onnx_path", type=click.Path(dir_okay=False), default=None,
              help="An exported model (fada-tf export onnx) run with ONNX Runtime, instead of --run.")
@scale_options
@set_option
@json_option
def predict(inputs, out_dir, run_path, config_path, checkpoint, onnx_path, mst, scales_text, flip,
            overrides, as_json):
    """Segment images: colour-coded masks in the dataset's palette, overlays and train-ID maps.

    Each image is resized to the evaluation size like an evaluation image and predicted at its
    own resolution. A folder stands for the .png/.jpg images directly inside it. With --onnx the
    exported model's metadata gives the classes, palette, sizes and normalisation (single
    scale only); an export that resizes inside its graph (the default of fada-tf export) gets
    each image as it is and gives the masks --run gives.

    \b
    Examples:
        fada-tf predict street.png --out masks --run runs/demo
        fada-tf predict photos/ --out masks --run runs/demo --mst --json
        fada-tf predict photos/ --out masks --onnx demo.onnx
    """
    scales, flip = resolve_scales(mst, scales_text, flip)
    if onnx_path and (run_path or config_path or checkpoint or overrides):
        raise FadaError("--onnx runs an exported model: drop --run, --config, --checkpoint and --set")
    if onnx_path and (scales != [1.0] or flip):
        raise FadaError("--onnx predicts at a single scale without flip: drop --mst, --scales and --flip")
    if onnx_path and not Path(onnx_path).is_file():
        raise FadaError(f"ONNX model not found: {onnx_path}")
    model = None if onnx_path else resolve_model(run_path, config_path, checkpoint, overrides)
    images = _image_files(inputs)
    out = Path(out_dir)
    with work_on_stderr():
        import numpy as np

        from fada_tf.evaluation.label_files import write_label_png
        from fada_tf.visualize import colorize, overlay

        table, segment = _onnx_segmenter(onnx_path) if onnx_path else _keras_segmenter(*model, scales, flip)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for number, path in enumerate(images, 1):
            image = _read_rgb(path)
            labels = segment(image)
            colours = colorize(labels, table)
            files = {kind: str(out / f"{path.stem}_{kind}.png") for kind in ("color", "overlay", "labels")}
            _save_rgb(colours, files["color"])
            _save_rgb(overlay(image, colours), files["overlay"])
            write_label_png(files["labels"], labels)
            counts = np.bincount(labels.ravel(), minlength=table.num_classes)
            written.append({"image": str(path), **files,
                            "class_fractions": {n: float(c / labels.size) for n, c in zip(table.names, counts) if c}})
            print(f"[{number}/{len(images)}] {path} -> {files['color']}")
    emit({"out": str(out), "scales": scales, "flip": flip, "images": written}, as_json,
         f"{len(written)} image(s) segmented into {out}/ (NAME_color.png, NAME_overlay.png, NAME_labels.png)")


def _keras_segmenter(config, checkpoint, scales, flip):
    """(class table, image -> labels) of a trained segmentor, as in evaluation."""
    from fada_tf.config.recipe import checkpoint_eval_size
    from fada_tf.data.classes import class_table
    from fada_tf.data.pipeline import evaluation_image
    from fada_tf.evaluation.evaluate import predict_labels
    from fada_tf.training.checkpoints import restore_segmentor

    segmentor = restore_segmentor(config, checkpoint)
    size = checkpoint_eval_size(config, checkpoint)

    def segment(image):
        batch = evaluation_image(image, size, config.model.normalization)[None]
        return predict_labels(segmentor, batch, image.shape[:2], scales, flip)[0].numpy()

    return class_table(config.data.classes), segment


def _onnx_segmenter(path):
    """(class table from the model's metadata, image -> labels) of an exported ONNX model."""
    from fada_tf.data.classes import ClassTable
    from fada_tf.export.predictor import OnnxSegmenter
    from fada_tf.export.runtime import warn

    model = OnnxSegmenter(path)
    size = "{}x{}".format(*model.size)
    if not model.resizes_itself:
        warn(f"{path} does not resize inside its graph (exported with --resize caller or by fada-tf 0.2): "
             f"images are resized to {size} here and the masks brought back to their size, which differs "
             "from predict --run on a few % of pixels; re-export with `fada-tf export onnx` for the same masks")
    elif model.fixed_size:
        warn(f"{path} takes {size} images only (exported with --size): other sizes are resized to it here "
             "and the masks brought back, which differs slightly from predict --run")
    table = ClassTable("onnx", model.class_names, tuple(map(tuple, model.palette.tolist())))
    return table, model.predict


def _image_files(inputs) -> list[Path]:
    """The image files named on the command line (a folder: the images directly inside it)."""
    files = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise FadaError(f"{item} holds no .png or .jpg images")
            files += found
        elif item.is_file():
            files.append(item)
        else:
            raise FadaError(f"no such image or folder: {item}")
    stems = [p.stem for p in files]
    repeated = next((s for s in stems if stems.count(s) > 1), None)
    if repeated:
        raise FadaError(f"two inputs are named {repeated}: their outputs would overwrite each other")
    for path in files:
        _read_rgb(path, check_only=True)
    return files


def _read_rgb(path: Path, check_only: bool = False):
    """(H, W, 3) uint8 RGB of an image file; an unreadable file is a FadaError."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
                raise FadaError(f"{path}: {image.mode} pixels (16/32-bit) are not an 8-bit RGB "
                                "photo; convert it to 8-bit RGB first")
            return None if check_only else np.asarray(image.convert("RGB"))
    except (OSError, UnidentifiedImageError) as err:
        raise FadaError(f"{path}: not a readable image ({err})") from None


def _save_rgb(array, path: str) -> None:
    from PIL import Image

    from fada_tf.files import atomic_output

    with atomic_output(path) as partial:
        Image.fromarray(array).save(partial, format="PNG")
