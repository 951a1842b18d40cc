"""SYNTHIA-RAND-CITYSCAPES (Ros et al., CVPR 2016): ``RGB/*.png`` and ``GT/LABELS/*.png``.

Labels are 16-bit, 3-channel PNGs with the class ID in the *red* channel (green holds
instance IDs). PIL reads 16-bit RGB as 8 bits and OpenCV returns BGR, both silently wrong;
here ``tf.io.decode_png(dtype=tf.uint16)`` decodes them and channel 0 (red) is kept. The 16
classes SYNTHIA shares with Cityscapes become the ``synthia16`` train IDs (Cityscapes train
IDs 0-8, 10-13, 15, 17, 18); terrain, truck, train, void, parking slots, road works and lane
markings are ignored (255), as in the reference.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import tensorflow as tf

from fada_tf.data.classes import class_table, names_to_train_ids
from fada_tf.data.raw.common import RawFormat, RawPair, defined_values, files_by_stem, require_folder
from fada_tf.errors import FadaError

LAYOUT = "RGB/*.png, GT/LABELS/*.png"
# SYNTHIA's class IDs (the release's README), under Cityscapes' names where they match.
SYNTHIA_IDS = {
    0: "void", 1: "sky", 2: "building", 3: "road", 4: "sidewalk", 5: "fence", 6: "vegetation",
    7: "pole", 8: "car", 9: "traffic sign", 10: "person", 11: "bicycle", 12: "motorcycle",
    13: "parking-slot", 14: "road-work", 15: "traffic light", 16: "terrain", 17: "rider",
    18: "truck", 19: "bus", 20: "train", 21: "wall", 22: "lanemarking",
}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PALETTE = 3


def list_pairs(root: Path, split: str) -> list[RawPair]:
    """Every name found in RGB/ or GT/LABELS/; a file missing on either side is kept to be reported."""
    for folder in ("RGB", "GT/LABELS"):
        require_folder(root / folder, "SYNTHIA-RAND-CITYSCAPES", LAYOUT)
    names = sorted(files_by_stem(root / "RGB", ".png").keys() | files_by_stem(root / "GT" / "LABELS", ".png").keys())
    return [RawPair(n, root / "RGB" / f"{n}.png", root / "GT" / "LABELS" / f"{n}.png") for n in names]


def read_label(path: Path) -> np.ndarray:
    """Class IDs from the red channel, at the file's own bit depth (16 in the release)."""
    data = path.read_bytes()
    if len(data) < 29 or not data.startswith(_PNG_SIGNATURE):
        raise FadaError(f"{path}: cannot read label: not a PNG file")
    bit_depth, colour_type = struct.unpack(">BB", data[24:26])
    if colour_type == _PALETTE:
        raise FadaError(f"{path}: expected a 16-bit RGB label PNG, got a palette PNG")
    try:
        decoded = tf.io.decode_png(data, dtype=tf.uint16 if bit_depth == 16 else tf.uint8)
    except tf.errors.OpError as err:
        raise FadaError(f"{path}: cannot read label: {err.message}") from None
    return decoded.numpy()[..., 0]


FORMAT = RawFormat(
    name="synthia", classes="synthia16", splits=("train",), list_pairs=list_pairs,
    read_label=read_label, lookup=names_to_train_ids(SYNTHIA_IDS, class_table("synthia16")),
    known=defined_values(SYNTHIA_IDS, 256), markers=("RGB", "GT/LABELS"), layout=LAYOUT)
