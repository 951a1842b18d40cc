"""GTA5 (Richter et al., ECCV 2016): ``images/NNNNN.png`` and ``labels/NNNNN.png``.

Labels are palette PNGs whose *indices* are Cityscapes label IDs; the palette draws them in
Cityscapes colours, which is what ``tf.io.decode_png`` would return, so they are read with
PIL (``read_index_png``) and mapped to the 19 Cityscapes train IDs (IDs 7, 8, 11, 12, 13, 17,
19-28, 31, 32, 33 → 0..18). FADA trains on the whole release, so every pair is in ``train``.
Many copies have a few missing files and pairs whose sizes differ by a few pixels; the
caller reports both (and resizes such labels only when asked).
"""

from __future__ import annotations

from pathlib import Path

from fada_tf.data.classes import CITYSCAPES_EVALUATED_IDS, class_table, names_to_train_ids
from fada_tf.data.raw.common import (RawFormat, RawPair, defined_values, files_by_stem,
                                     read_index_png, require_folder)

LAYOUT = "images/*.png, labels/*.png"


def list_pairs(root: Path, split: str) -> list[RawPair]:
    """Every name found in images/ or labels/; a file missing on either side is kept to be reported."""
    for folder in ("images", "labels"):
        require_folder(root / folder, "GTA5", LAYOUT)
    names = sorted(files_by_stem(root / "images", ".png").keys() | files_by_stem(root / "labels", ".png").keys())
    return [RawPair(n, root / "images" / f"{n}.png", root / "labels" / f"{n}.png") for n in names]


FORMAT = RawFormat(
    name="gta5", classes="cityscapes19", splits=("train",), list_pairs=list_pairs,
    read_label=read_index_png,
    lookup=names_to_train_ids(CITYSCAPES_EVALUATED_IDS, class_table("cityscapes19")),
    known=defined_values(range(34), 256), markers=("images", "labels"), layout=LAYOUT)
