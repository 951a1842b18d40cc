"""``fada-tf export onnx|savedmodel``: ship the discriminator-free segmentor, verified.

Both commands build the same deployable graph (``fada_tf.export.graph``), check it against the
Keras segmentor on random images and only then write the output (under a temporary name,
renamed at the end), so a failed export leaves nothing behind.

By default (``--resize graph``) the graph takes an image of any size, resizes it to the
checkpoint's evaluation size itself (Pillow's bicubic, bit-exact) and answers at the image's
size: the computation of ``fada-tf predict --run``, so that an exported model gives the same
masks as the run it came from, whatever the image size, without the caller having to
reproduce the preprocessing. ``--resize caller`` keeps the network at the input's size (the
export of fada-tf 0.2), for callers that resize themselves.
"""

from __future__ import annotations

import re

import click

from fada_tf.cli.common import (emit, json_option, model_options, resolve_model, set_option,
                                work_on_stderr)
from fada_tf.errors import FadaError
from fada_tf.export import (DEFAULT_MIN_AGREEMENT, DEFAULT_OPSET, DEFAULT_TOLERANCE, DILATIONS, INPUT_MODES,
                            OUTPUT_MODES, RESIZE_MODES, SUPPORTED_OPSETS, check_opset)


def _export_options(command):
    """Options shared by both formats: what to export, where, and in which form."""
    options = [
        model_options,
        set_option,
        click.option("--out", "out_path", type=click.Path(), required=True,
                     help="Output file (onnx) or new directory (savedmodel)."),
        click.option("--output", "output", type=click.Choice(OUTPUT_MODES), default="probs",
                     show_default=True,
                     help="logits (N,H,W,K), their softmax probs, or labels (N,H,W int32)."),
        click.option("--input", "input_mode", type=click.Choice(INPUT_MODES), default="uint8",
                     show_default=True,
                     help="uint8: RGB bytes, normalised inside the graph; float: already normalised "
                          "as model.normalization says (the graph then resizes the normalised floats)."),
        click.option("--resize", "resize", type=click.Choice(RESIZE_MODES), default="graph",
                     show_default=True,
                     help="graph: the graph resizes any image to the evaluation size (PIL bicubic) "
                          "and answers at the image's size, as predict --run; caller: the network "
                          "runs at the input's size, the caller resizes."),
        click.option("--size", default=None, metavar="HxW",
                     help="Fix the input's height and width (e.g. 512x1024); default: dynamic. "
                          "The batch stays dynamic."),
        click.option("--tolerance", type=float, default=DEFAULT_TOLERANCE, show_default=True,
                     help="Largest allowed probability difference to Keras."),
        click.option("--min-agreement", type=float, default=DEFAULT_MIN_AGREEMENT, show_default=True,
                     help="Smallest allowed fraction of pixels with the same label as Keras."),
        json_option,
    ]
    for option in reversed(options):
        command = option(command)
    return command


def parse_size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match or min(int(match[1]), int(match[2])) < 1:
        raise FadaError(f"--size {text!r} must be HEIGHTxWIDTH with positive integers, e.g. 512x1024")
    return int(match[1]), int(match[2])


def _check_tolerances(tolerance: float, min_agreement: float) -> dict:
    if tolerance < 0:
        raise FadaError(f"--tolerance {tolerance} must not be negative")
    if not 0 <= min_agreement <= 1:
        raise FadaError(f"--min-agreement {min_agreement} must be in [0, 1]")
    return {"tolerance": tolerance, "min_agreement": min_agreement}


@click.group("export")
def export():
    """Export the adapted segmentor (no discriminator) to ONNX or a SavedModel.

    The graph takes NHWC RGB images of any size, resizes them to the evaluation size itself
    (--resize graph, PIL bicubic) and returns logits, probabilities or labels at the input
    size, as predict --run segments them. Before writing, the export is compared with Keras on
    random images at three sizes (two with --resize caller, one with --size).

    \b
    Examples:
        fada-tf export onnx --run runs/demo --out demo.onnx
        fada-tf export savedmodel --run runs/demo --out demo_savedmodel --output labels
    """


@export.command("onnx")
@_export_options
@click.option("--opset", type=int, default=DEFAULT_OPSET, show_default=True,
              help=f"ONNX opset ({SUPPORTED_OPSETS.start} to {SUPPORTED_OPSETS.stop - 1}).")
@click.option("--dilations", type=click.Choice(DILATIONS), default="native",
              show_default=True,
              help="native: dilated convs as Conv(dilations); space-to-depth: tf2onnx's own pattern.")
def onnx_command(run_path, config_path, checkpoint, overrides, out_path, output, input_mode, resize, size,
                 tolerance, min_agreement, as_json, opset, dilations):
    """Export to ONNX (tf2onnx), check it, verify it with ONNX Runtime, then write it.

    Metadata in the model (metadata_props): class_names, palette, normalization, input,
    output, size, resize, training_size, eval_size, checkpoint and the source config.

    \b
    Examples:
        fada-tf export onnx --run runs/demo --out demo.onnx
        fada-tf export onnx --run runs/demo --out demo_unresized.onnx --resize caller
        fada-tf export onnx --config configs/synthetic.yaml --checkpoint runs/demo/checkpoints/adapt-002000.weights.h5 --out demo.onnx --output labels --size 64x128 --json
    """
    check_opset(opset)
    report = _export("onnx", run_path, config_path, checkpoint, overrides, out_path, output,
                     input_mode, resize, size, tolerance, min_agreement, opset=opset,
                     dilations=dilations)
    emit(report, as_json, _describe(report, f"opset {opset}, ONNX Runtime on "
                                            f"{', '.join(report['providers'])}"))


@export.command("savedmodel")
@_export_options
def savedmodel_command(run_path, config_path, checkpoint, overrides, out_path, output, input_mode,
                       resize, size, tolerance, min_agreement, as_json):
    """Export a TensorFlow SavedModel with a serving_default signature, verified after loading.

    Signature: input "image" (any height and width with --resize graph), output named like
    --output, at the input's size. The export metadata is OUT/assets.extra/fada_tf.json.

    \b
    Examples:
        fada-tf export savedmodel --run runs/demo --out demo_savedmodel
        fada-tf export savedmodel --run runs/demo --out demo_labels --output labels --input float --json
    """
    report = _export("savedmodel", run_path, config_path, checkpoint, overrides, out_path, output,
                     input_mode, resize, size, tolerance, min_agreement)
    emit(report, as_json, _describe(report, "signature serving_default, tf.saved_model.load"))


def _export(fmt: str, run_path, config_path, checkpoint, overrides, out_path, output, input_mode,
            resize, size, tolerance, min_agreement, **format_options) -> dict:
    """Restore the segmentor, export it in ``fmt`` with its metadata, verified; the report."""
    size = parse_size(size)
    tolerances = _check_tolerances(tolerance, min_agreement)
    config, checkpoint = resolve_model(run_path, config_path, checkpoint, overrides)
    with work_on_stderr():
        from fada_tf.config.recipe import checkpoint_eval_size
        from fada_tf.export.metadata import export_metadata
        from fada_tf.export.verify import verification_sizes
        from fada_tf.training.checkpoints import restore_segmentor

        if fmt == "onnx":
            from fada_tf.export.onnx import export_onnx as write
        else:
            from fada_tf.export.savedmodel import export_savedmodel as write
        segmentor = restore_segmentor(config, checkpoint)
        evaluated_at = checkpoint_eval_size(config, checkpoint)
        resize_to = tuple(evaluated_at) if resize == "graph" else None
        sizes = verification_sizes(evaluated_at, size, resize_to is not None)
        with _progress(f"export {fmt}", sizes) as progress:
            report = write(segmentor, config.model.normalization, out_path, sizes=sizes,
                           output=output, input_mode=input_mode, size=size, resize_to=resize_to,
                           progress=progress, **tolerances, **format_options,
                           metadata=export_metadata(config, checkpoint, output, input_mode, size,
                                                    resize_to))
    return report | {"checkpoint": checkpoint}


def _progress(label: str, sizes):
    """Steps of an export: the conversion (or writing), then the check at each size."""
    from fada_tf.progress import Progress, default_verbosity

    return Progress(1 + len(sizes), label, "step", default_verbosity())


def _describe(report: dict, runtime: str) -> str:
    from fada_tf.export.verify import describe

    shape = ("batch x {}x{}".format(*report["size"]) if report["size"]
             else "dynamic batch, height and width")
    if report["resize_to"]:
        shape += "; resized to {}x{} in the graph".format(*report["resize_to"])
    return (f"wrote {report['path']} ({report['bytes'] / 1e6:.1f} MB; input {report['input']}, "
            f"output {report['output']}; {shape}; {runtime})\n{describe(report['verification'])}")
