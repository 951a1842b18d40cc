"""What an exported model carries about itself, so it can be used without fada-tf.

Every value is a string (ONNX ``metadata_props`` holds strings); structured values are JSON.
The same dictionary goes into the ONNX model and, as one JSON file, beside the SavedModel.

``resize`` says where the image is brought to the size the network runs at:

* ``{"inside_graph": true, "size": [h, w], "method": "pil_bicubic_uint8", "equals_evaluation":
  true, "output_size": "input"}`` (``fada-tf export``'s default): feed the image as it is, at
  any size; the graph resizes the RGB bytes to ``size`` with Pillow's bicubic (bit-exact),
  normalises, runs the network and returns its output at the input's size (logits upsampled
  bilinearly, corners aligned, before the softmax or argmax) — evaluation and ``fada-tf
  predict --run``, step for step.
* the same with ``"method": "pil_bicubic_float32", "equals_evaluation": false`` for a float
  input: the caller normalises the full-size image and the graph resizes the normalised
  floats (Pillow's bicubic of 32-bit float images, no 8-bit rounding), where evaluation
  resizes the bytes before normalising: nearly, not exactly, the same masks (measured
  99.77-99.90 % of pixels on target-style synthetic scenes at odd sizes, two tiny models).
* ``{"inside_graph": false, "size": [h, w], "method": "pil_bicubic_uint8", "equals_evaluation":
  false, ...}`` (``--resize caller``): the network runs at the size it is fed; resize the RGB
  bytes to ``size`` with Pillow's bicubic first, as evaluation does, and the output comes at
  that size, for the caller to bring back to the image's. Exports of fada-tf 0.2 have no
  ``resize`` and behave so, with ``size`` or else ``eval_size`` as the size to feed.

``size`` (the top-level key) is the input height and width fixed by ``--size``, or null.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

import fada_tf
from fada_tf.config import Config, to_dict
from fada_tf.config.recipe import checkpoint_stage, eval_size, final_stage, stage_streams
from fada_tf.data.classes import IGNORE_LABEL, class_table

RESIZE_METHODS = {"uint8": "pil_bicubic_uint8", "float": "pil_bicubic_float32"}


def resize_description(input_mode: str, resize_to, working_size) -> dict:
    """The ``resize`` entry: inside the graph to ``resize_to``, or (None) by the caller to
    ``working_size``."""
    inside = resize_to is not None
    return {"inside_graph": inside, "size": list(resize_to if inside else working_size),
            "method": RESIZE_METHODS[input_mode] if inside else RESIZE_METHODS["uint8"],
            "equals_evaluation": inside and input_mode == "uint8", "output_size": "input"}


def export_metadata(config: Config, checkpoint: str | Path, output: str, input_mode: str,
                    size: tuple[int, int] | None, resize_to: tuple[int, int] | None = None) -> dict[str, str]:
    """Class names and palette, normalisation, sizes, the modes and the source config.

    ``resize_to``: the working size the graph resizes its input to (what ``fada-tf export``
    does by default: the checkpoint's ``eval_size``), None when the caller resizes.
    """
    table = class_table(config.data.classes)
    norm = config.model.normalization
    # x = (image[..., channels] * scale - mean) / std, image being NHWC RGB bytes.
    normalization = {"layout": "NHWC RGB", "channels": [2, 1, 0] if norm.to_bgr255 else [0, 1, 2],
                     "scale": 1.0 if norm.to_bgr255 else 1 / 255, "mean": list(norm.mean),
                     "std": list(norm.std), "inside_graph": input_mode == "uint8"}
    stage = checkpoint_stage(checkpoint) or final_stage(config)
    stream = next(iter(stage_streams(config, stage).values()))   # the labelled images
    evaluated_at = eval_size(config, stage)
    return {
        "class_names": json.dumps(list(table.names)),
        "palette": json.dumps([list(c) for c in table.colours]),
        "ignore_label": str(IGNORE_LABEL),
        "normalization": json.dumps(normalization),
        "input": input_mode,
        "output": output,
        "size": json.dumps(list(size) if size is not None else None),
        "resize": json.dumps(resize_description(input_mode, resize_to, size or evaluated_at)),
        "training_size": json.dumps(list(stream.crop or stream.resize)),
        "eval_size": json.dumps(evaluated_at),
        "backbone": config.model.backbone,
        "checkpoint": Path(checkpoint).name,
        "config": yaml.safe_dump(to_dict(config), sort_keys=False),
        "fada_tf_version": fada_tf.__version__,
    }


def check_resize_metadata(metadata: dict[str, str] | None, resize_to) -> None:
    """A ``resize`` entry in ``metadata`` must describe the graph being exported (a bug otherwise)."""
    if not metadata or "resize" not in metadata:
        return
    described = json.loads(metadata["resize"])
    inside = resize_to is not None
    if described["inside_graph"] != inside or (inside and described["size"] != list(resize_to)):
        raise ValueError(f"metadata resize {metadata['resize']} does not describe the graph "
                         f"(resize_to={resize_to})")
