"""Segment images with an exported ONNX model, guided only by the metadata it carries.

An export whose graph resizes (metadata ``resize.inside_graph``, the default of ``fada-tf
export``) gets the image as it is, at its size, and answers at that size: labels, or the
argmax of probabilities or logits — the masks of ``fada-tf predict --run``. A float-input
export gets the image normalised here (as the metadata's ``normalization`` says) first.

An export that does not resize (``--resize caller``, or fada-tf 0.2's, whose metadata has no
``resize``) gets the image resized here to the size it runs at (Pillow's bicubic, as
evaluation resizes: its fixed ``size``, else ``resize.size``, else ``eval_size``), and its
output is brought back to the image's resolution (probabilities and logits bilinearly, labels
by nearest neighbour) before the argmax: close to ``predict --run`` but not equal (measured
on target-style synthetic scenes at odd sizes: 97.9-98.7 % of pixels for a labels export,
98.5-99.8 % for probabilities). So is an export with a fixed ``--size`` given an image of
another size (resized to ``size`` here).
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
        self.resize = json.loads(meta.get("resize", "null")) or {}   # {} for exports of fada-tf 0.2
        self.fixed_size = tuple(fixed) if fixed else None
        self.resizes_itself = bool(self.resize.get("inside_graph"))
        # The size images are resized to here when the graph does not take them as they are.
        self.size = self.fixed_size or tuple(self.resize.get("size") or json.loads(meta["eval_size"]))
        self.input_name = self.session.get_inputs()[0].name

    def takes_as_is(self, height: int, width: int) -> bool:
        """Whether an image of this size goes into the graph unchanged (and the masks are
        those of ``predict --run``)."""
        return self.resizes_itself and self.fixed_size in (None, (height, width))

    def predict(self, image: np.ndarray) -> np.ndarray:
        """(H, W) int train IDs of an (H, W, 3) uint8 RGB image."""
        height, width = image.shape[:2]
        if self.takes_as_is(height, width):
            out = self.run(image[None])[0]
            return out if self.output == "labels" else np.argmax(out, axis=-1)
        resized = np.asarray(Image.fromarray(image).resize(self.size[::-1], Image.BICUBIC))
        out = self.run(resized[None])[0]
        if self.output == "labels":
            return np.asarray(Image.fromarray(out.astype(np.uint8)).resize((width, height), Image.NEAREST))
        channels = [np.asarray(Image.fromarray(out[..., k].astype(np.float32)).resize((width, height), Image.BILINEAR))
                    for k in range(out.shape[-1])]
        return np.argmax(np.stack(channels, -1), axis=-1)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The graph's output for an (N, H, W, 3) uint8 batch (normalised here for a float input)."""
        if self.input_mode == "float":
            n = self.normalization
            x = batch.astype(np.float32)[..., n.get("channels", [0, 1, 2])] * np.float32(n["scale"])
            batch = (x - np.float32(n["mean"])) / np.float32(n["std"])
        return self.session.run(None, {self.input_name: batch})[0]
