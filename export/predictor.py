"""Segment images with an exported ONNX model, guided only by the metadata it carries.

The image is resized (PIL bicubic, as evaluation resizes) to the model's working size — its fixed ``size``, else the
``eval_size`` it was evaluated at — and normalised as the metadata says when the graph does
not do it; the model's output is brought back to the image's resolution (probabilities and
logits bilinearly, labels by nearest neighbour) before the argmax.
"""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from fada_tf.errors import FadaError
from fada_tf.export.runtime import create_session

REQUIRED_KEYS = ("class_names", "palette", "normalization", "input", "output", "eval_size")


class OnnxSegmenter:
    """An ONNX Runtime session on a fada-tf export, with its class names and palette."""

    def __init__(self, path: str, device: str = "auto"):
        self.session = create_session(path, device)
        meta = self.session.get_modelmeta().custom_metadata_map
        missing = [k for k in REQUIRED_KEYS if k not in meta]
        if missing:
            raise FadaError(f"{path} is not a fada-tf export (metadata lacks {', '.join(missing)}); "
                            "export it with `fada-tf export onnx`")
        self.class_names = tuple(json.loads(meta["class_names"]))
        self.palette = np.asarray(json.loads(meta["palette"]), np.uint8)
        self.normalization = json.loads(meta["normalization"])
        self.input_mode, self.output = meta["input"], meta["output"]
        fixed = json.loads(meta.get("size", "null"))
        self.size = tuple(fixed or json.loads(meta["eval_size"]))
        self.input_name = self.session.get_inputs()[0].name

    def predict(self, image: np.ndarray) -> np.ndarray:
        """(H, W) int train IDs of an (H, W, 3) uint8 RGB image."""
        height, width = image.shape[:2]
        resized = np.asarray(Image.fromarray(image).resize(self.size[::-1], Image.BICUBIC))
        batch = resized[None]
        if self.input_mode == "float":
            n = self.normalization
            channels = n.get("channels", [0, 1, 2])
            batch = ((batch[..., channels] * n["scale"] - np.asarray(n["mean"])) / np.asarray(n["std"]))
            batch = batch.astype(np.float32)
        out = self.session.run(None, {self.input_name: batch})[0][0]
        if self.output == "labels":
            return np.asarray(Image.fromarray(out.astype(np.uint8)).resize((width, height), Image.NEAREST))
        channels = [np.asarray(Image.fromarray(out[..., k].astype(np.float32)).resize((width, height), Image.BILINEAR))
                    for k in range(out.shape[-1])]
        return np.argmax(np.stack(channels, -1), axis=-1)
