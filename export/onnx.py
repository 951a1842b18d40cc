"""Export the segmentor to ONNX with tf2onnx, verify it with ONNX Runtime, then write it.

The model takes ``image`` (NHWC RGB; dynamic batch, height and width unless a size is fixed)
and returns one output named after the output mode at the input's size; with a working size
(``resize_to``) it resizes the image to it inside (``fada_tf.export.graph``). Metadata
(``metadata_props``, see ``fada_tf.export.metadata``) describes classes, palette and
normalisation. Nothing is written unless the ONNX checker passes and ONNX Runtime agrees with
Keras; the file appears under its name only then (a temporary file, then a rename).
"""

from __future__ import annotations

from pathlib import Path

import onnx
import tf2onnx

from fada_tf.errors import FadaError
from fada_tf.export import DEFAULT_OPSET, DILATIONS, check_opset
from fada_tf.export.dilations import native_dilations
from fada_tf.export.graph import INPUT_NAME, deployable_function
from fada_tf.export.metadata import check_resize_metadata
from fada_tf.export.runtime import create_session
from fada_tf.export.verify import check_parity
from fada_tf.files import atomic_output
from fada_tf.progress import Progress

DIM_NAMES = ("batch", "height", "width")


def convert(segmentor, normalization, *, output: str = "probs", input_mode: str = "uint8", size=None,
            resize_to=None, opset: int = DEFAULT_OPSET, dilations: str = "native",
            metadata: dict[str, str] | None = None) -> onnx.ModelProto:
    """The deployable function as an ONNX model (in memory).

    ``dilations="native"`` folds dilated convolutions into ``Conv(dilations=...)`` also for a
    dynamic size (``fada_tf.export.dilations``); ``"space-to-depth"`` keeps tf2onnx's own output.
    """
    check_opset(opset)
    if dilations not in DILATIONS:
        raise FadaError(f"dilations must be one of {', '.join(DILATIONS)}, got {dilations!r}")
    function = deployable_function(segmentor, normalization, output, input_mode, size, resize_to)
    model, _ = tf2onnx.convert.from_function(
        function, input_signature=function.input_signature, opset=opset,
        custom_rewriter=[native_dilations] if dilations == "native" else None)
    _softmax_on_last_axis(model)
    _name_dynamic_dims(model)
    inside = ("" if resize_to is None
              else ", resized to {}x{} inside (PIL bicubic)".format(*resize_to))
    model.doc_string = ("FADA (Wang et al., ECCV 2020) segmentor exported by fada-tf: "
                        f"image ({input_mode}, NHWC RGB, any size{inside}) -> {output} at the input size")
    if metadata:
        onnx.helper.set_model_props(model, metadata)
    return model


def _softmax_on_last_axis(model: onnx.ModelProto) -> None:
    """Swap ``Softmax(axis=1) -> Transpose(NCHW->NHWC)`` into ``Transpose -> Softmax(axis=-1)``.

    tf2onnx moves the layout transpose after the softmax, where ONNX Runtime computes the
    softmax over a strided axis: for the tiny model at 512x1024 that one node took longer than
    the whole network. Over the contiguous last axis it is fast.
    """
    nodes = list(model.graph.node)
    consumers = {}
    for node in nodes:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    for softmax in [n for n in nodes if n.op_type == "Softmax"]:
        axis = next((a for a in softmax.attribute if a.name == "axis"), None)
        following = consumers.get(softmax.output[0], [])
        if axis is None or axis.i != 1 or len(following) != 1 or following[0].op_type != "Transpose":
            continue
        transpose = following[0]
        if list(next(a for a in transpose.attribute if a.name == "perm").ints) != [0, 2, 3, 1]:
            continue
        moved = f"{transpose.output[0]}__nhwc_logits"
        transpose.input[0], transpose.output[0], softmax.input[0], softmax.output[0] = (
            softmax.input[0], moved, moved, transpose.output[0])
        axis.i = 3
        position = min(nodes.index(softmax), nodes.index(transpose))
        nodes.remove(transpose)
        nodes.insert(position, transpose)
    del model.graph.node[:]
    model.graph.node.extend(nodes)


def _name_dynamic_dims(model: onnx.ModelProto) -> None:
    """Call the dynamic dimensions batch, height, width in the input and the output alike."""
    for value in (*model.graph.input, *model.graph.output):
        for dim, name in zip(value.type.tensor_type.shape.dim, DIM_NAMES):
            if not dim.HasField("dim_value"):
                dim.dim_param = name


def export_onnx(segmentor, normalization, path: str | Path, *, sizes, output: str = "probs",
                input_mode: str = "uint8", size=None, resize_to=None, opset: int = DEFAULT_OPSET,
                dilations: str = "native", metadata: dict[str, str] | None = None,
                progress: Progress | None = None, **tolerances) -> dict:
    """Convert, check, verify against Keras at ``sizes``, then write ``path`` atomically.

    ``progress`` (1 + ``len(sizes)`` steps) is updated after the conversion and per size.
    ``resize_to``: the working size the graph resizes its input to (None: the network runs at
    the input's size); ``metadata`` should say the same (``export_metadata(resize_to=...)``).

    ``tolerances``: ``tolerance`` and ``min_agreement`` of ``check_parity``. Returns a report
    with the verification numbers; raises ``FadaError`` (and writes nothing) on failure.
    """
    path = Path(path)
    if path.is_dir():
        raise FadaError(f"--out {path} is a directory; give a file name such as model.onnx")
    if not path.parent.is_dir():
        raise FadaError(f"--out {path}: folder {path.parent} does not exist")
    check_resize_metadata(metadata, resize_to)
    model = convert(segmentor, normalization, output=output, input_mode=input_mode, size=size,
                    resize_to=resize_to, opset=opset, dilations=dilations, metadata=metadata)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as err:
        raise FadaError(f"the ONNX checker rejects the exported model: {str(err).splitlines()[0]}") from None
    if progress is not None:
        progress.update()
    with atomic_output(path) as partial:
        partial.write_bytes(model.SerializeToString())
        session = create_session(str(partial))
        parity = check_parity(lambda images: session.run(None, {INPUT_NAME: images})[0], segmentor,
                              normalization, output=output, input_mode=input_mode, sizes=sizes,
                              resize_to=resize_to, what="ONNX Runtime", progress=progress,
                              **tolerances)
    return {"format": "onnx", "path": str(path), "bytes": path.stat().st_size, "opset": opset,
            "output": output, "input": input_mode, "size": list(size) if size else None,
            "resize_to": list(resize_to) if resize_to is not None else None, "dilations": dilations,
            "checker": "passed", "providers": session.get_providers(),
            "verification": parity}
