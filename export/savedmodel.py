"""Export the segmentor as a TensorFlow SavedModel (TensorFlow Serving), verified before it is kept.

The SavedModel has one endpoint, ``serve``, which is also the ``serving_default`` signature:
input ``image`` (NHWC RGB; with a working size, any height and width: the graph resizes it),
output named after the output mode at the input's size (the same graph as the ONNX export,
``fada_tf.export.graph``). The export metadata is ``assets.extra/fada_tf.json`` inside the
directory (TensorFlow Serving ignores ``assets.extra``). The directory is written under a
temporary name, loaded back with ``tf.saved_model.load`` and compared with Keras, and renamed to
its final name only when that passes.
"""

from __future__ import annotations

from pathlib import Path

import keras
import tensorflow as tf

from fada_tf.errors import FadaError
from fada_tf.export.graph import deployable_function
from fada_tf.export.metadata import check_resize_metadata
from fada_tf.export.verify import check_parity
from fada_tf.files import atomic_output, write_json
from fada_tf.progress import Progress

ENDPOINT = "serve"
METADATA_FILE = Path("assets.extra") / "fada_tf.json"


def export_savedmodel(segmentor, normalization, directory: str | Path, *, sizes, output: str = "probs",
                      input_mode: str = "uint8", size=None, resize_to=None,
                      metadata: dict[str, str] | None = None, progress: Progress | None = None,
                      **tolerances) -> dict:
    """Write ``directory`` (which must not exist yet or be empty) and verify it against Keras.

    ``progress`` (1 + ``len(sizes)`` steps) is updated after writing and per size.
    ``resize_to``: the working size the graph resizes its input to (None: the network runs at
    the input's size). ``tolerances``: ``tolerance`` and ``min_agreement`` of ``check_parity``.
    """
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise FadaError(f"--out {directory} already exists; a SavedModel is a new directory, "
                        "remove it or choose another --out")
    if not directory.parent.is_dir():
        raise FadaError(f"--out {directory}: folder {directory.parent} does not exist")
    check_resize_metadata(metadata, resize_to)
    function = deployable_function(segmentor, normalization, output, input_mode, size, resize_to)
    # The endpoint tracks the variables it uses; tracking the model as well stores every
    # variable twice (measured: a SavedModel twice the size of the weights).
    archive = keras.export.ExportArchive()
    archive.add_endpoint(ENDPOINT, function, input_signature=function.input_signature)
    with atomic_output(directory) as partial:
        archive.write_out(str(partial), verbose=False)
        write_json(partial / METADATA_FILE, metadata or {})
        serve = tf.saved_model.load(str(partial)).signatures["serving_default"]
        if progress is not None:
            progress.update()
        parity = check_parity(lambda images: serve(image=tf.constant(images))[output].numpy(),
                              segmentor, normalization, output=output, input_mode=input_mode, sizes=sizes,
                              resize_to=resize_to, what="the SavedModel", progress=progress,
                              **tolerances)
    return {"format": "savedmodel", "path": str(directory), "bytes": _size(directory),
            "signature": "serving_default", "output": output, "input": input_mode,
            "size": list(size) if size else None,
            "resize_to": list(resize_to) if resize_to is not None else None, "verification": parity}


def _size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
