"""Cityscapes (Cordts et al., CVPR 2016): ``leftImg8bit/<split>/<city>/*_leftImg8bit.png`` and
``gtFine/<split>/<city>/*_gtFine_labelIds.png``.

Label IDs become the 19 official train IDs (``fada_tf.data.classes.CITYSCAPES_LABELS``); a
16- or 13-class experiment drops the classes it lacks when it reads the prepared dataset.
Splits train and val (the test split's labels are not public).
"""

from __future__ import annotations

from pathlib import Path

from fada_tf.data.classes import CITYSCAPES_EVALUATED_IDS, class_table, names_to_train_ids
from fada_tf.data.raw.common import RawFormat, RawPair, defined_values, read_index_png, require_folder

LAYOUT = "leftImg8bit/<split>/<city>/*_leftImg8bit.png, gtFine/<split>/<city>/*_gtFine_labelIds.png"
IMAGE_SUFFIX, LABEL_SUFFIX = "_leftImg8bit.png", "_gtFine_labelIds.png"


def list_pairs(root: Path, split: str) -> list[RawPair]:
    """Every ``<city>_<seq>_<frame>`` found on either side; a missing file is kept to be reported."""
    images_dir, labels_dir = root / "leftImg8bit" / split, root / "gtFine" / split
    for folder in (images_dir, labels_dir):
        require_folder(folder, "Cityscapes", LAYOUT)
    found = {(p.parent.name, p.name[: -len(IMAGE_SUFFIX)]) for p in images_dir.glob(f"*/*{IMAGE_SUFFIX}")}
    found |= {(p.parent.name, p.name[: -len(LABEL_SUFFIX)]) for p in labels_dir.glob(f"*/*{LABEL_SUFFIX}")}
    return [RawPair(stem, images_dir / city / f"{stem}{IMAGE_SUFFIX}", labels_dir / city / f"{stem}{LABEL_SUFFIX}")
            for city, stem in sorted(found, key=lambda cs: cs[1])]


FORMAT = RawFormat(
    name="cityscapes", classes="cityscapes19", splits=("train", "val"),
    list_pairs=list_pairs, read_label=read_index_png,
    lookup=names_to_train_ids(CITYSCAPES_EVALUATED_IDS, class_table("cityscapes19")),
    known=defined_values(range(34), 256), markers=("leftImg8bit", "gtFine"), layout=LAYOUT)
