"""Class tables: names, colours and the ignore label of every label space fada-tf knows.

Train IDs index ``names``; 255 is ignored everywhere. The Cityscapes table is the official
one (label IDs, 19 train IDs and palette of cityscapesScripts' ``labels.py``); SYNTHIA's 16
and Cross-City's 13 classes are subsets of it, kept in Cityscapes order. Raw datasets map
their label values to these train IDs once, in ``fada-tf data prepare``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

IGNORE_LABEL = 255

# The official Cityscapes label definition (cityscapesScripts, helpers/labels.py): name, label
# ID (the value in ``*_gtFine_labelIds.png`` and in GTA5's palette indices), train ID (255 =
# not evaluated) and colour. License plate (ID -1) never occurs in label images.
CITYSCAPES_LABELS = (
    ("unlabeled", 0, 255, (0, 0, 0)),
    ("ego vehicle", 1, 255, (0, 0, 0)),
    ("rectification border", 2, 255, (0, 0, 0)),
    ("out of roi", 3, 255, (0, 0, 0)),
    ("static", 4, 255, (0, 0, 0)),
    ("dynamic", 5, 255, (111, 74, 0)),
    ("ground", 6, 255, (81, 0, 81)),
    ("road", 7, 0, (128, 64, 128)),
    ("sidewalk", 8, 1, (244, 35, 232)),
    ("parking", 9, 255, (250, 170, 160)),
    ("rail track", 10, 255, (230, 150, 140)),
    ("building", 11, 2, (70, 70, 70)),
    ("wall", 12, 3, (102, 102, 156)),
    ("fence", 13, 4, (190, 153, 153)),
    ("guard rail", 14, 255, (180, 165, 180)),
    ("bridge", 15, 255, (150, 100, 100)),
    ("tunnel", 16, 255, (150, 120, 90)),
    ("pole", 17, 5, (153, 153, 153)),
    ("polegroup", 18, 255, (153, 153, 153)),
    ("traffic light", 19, 6, (250, 170, 30)),
    ("traffic sign", 20, 7, (220, 220, 0)),
    ("vegetation", 21, 8, (107, 142, 35)),
    ("terrain", 22, 9, (152, 251, 152)),
    ("sky", 23, 10, (70, 130, 180)),
    ("person", 24, 11, (220, 20, 60)),
    ("rider", 25, 12, (255, 0, 0)),
    ("car", 26, 13, (0, 0, 142)),
    ("truck", 27, 14, (0, 0, 70)),
    ("bus", 28, 15, (0, 60, 100)),
    ("caravan", 29, 255, (0, 0, 90)),
    ("trailer", 30, 255, (0, 0, 110)),
    ("train", 31, 16, (0, 80, 100)),
    ("motorcycle", 32, 17, (0, 0, 230)),
    ("bicycle", 33, 18, (119, 11, 32)),
)
_CITYSCAPES = tuple((name, colour) for name, _, train_id, colour in
                    sorted(CITYSCAPES_LABELS, key=lambda label: label[2]) if train_id != IGNORE_LABEL)
# Label ID → class name of the 19 evaluated classes (what GTA5 and Cityscapes label files hold).
CITYSCAPES_EVALUATED_IDS = {label_id: name for name, label_id, train_id, _ in CITYSCAPES_LABELS
                            if train_id != IGNORE_LABEL}
_COLOURS = dict(_CITYSCAPES)

# SYNTHIA-RAND-CITYSCAPES shares 16 of the 19 classes; the paper's mIoU* drops 3 more.
_SYNTHIA16 = ("road", "sidewalk", "building", "wall", "fence", "pole", "traffic light",
              "traffic sign", "vegetation", "sky", "person", "rider", "car", "bus",
              "motorcycle", "bicycle")
SYNTHIA_EXCLUDED_FOR_MIOU13 = ("wall", "fence", "pole")
_CROSSCITY13 = ("road", "sidewalk", "building", "traffic light", "traffic sign", "vegetation",
                "sky", "person", "rider", "car", "bus", "motorcycle", "bicycle")
# The built-in synthetic domain shift (fada_tf.data.synthetic) draws these street classes.
_SYNTHETIC = ("road", "sidewalk", "building", "vegetation", "sky", "pole", "traffic sign",
              "person", "car")


@dataclass(frozen=True)
class ClassTable:
    """An ordered label space: train ID i is ``names[i]`` drawn in ``colours[i]``."""

    key: str
    names: tuple[str, ...]
    colours: tuple[tuple[int, int, int], ...]

    @property
    def num_classes(self) -> int:
        return len(self.names)


def _table(key: str, names: tuple[str, ...]) -> ClassTable:
    return ClassTable(key, names, tuple(_COLOURS[n] for n in names))


CLASS_TABLES = {
    "cityscapes19": _table("cityscapes19", tuple(n for n, _ in _CITYSCAPES)),
    "synthia16": _table("synthia16", _SYNTHIA16),
    "crosscity13": _table("crosscity13", _CROSSCITY13),
    "synthetic": _table("synthetic", _SYNTHETIC),
}


def class_table(key: str) -> ClassTable:
    return CLASS_TABLES[key]


def names_to_train_ids(names_by_value: dict[int, str], table: ClassTable, size: int = 256) -> np.ndarray:
    """A ``size``-entry lookup from raw values to train IDs of ``table``, matched by class name.

    Values absent from ``names_by_value`` and classes ``table`` does not have map to 255.
    """
    lookup = np.full(size, IGNORE_LABEL, np.uint8)
    for value, name in names_by_value.items():
        if name in table.names:
            lookup[value] = table.names.index(name)
    return lookup


def remap_lookup(source: ClassTable, target: ClassTable) -> np.ndarray:
    """A 256-entry lookup from train IDs of ``source`` to those of ``target`` (by class name).

    Classes of ``source`` that ``target`` lacks become 255 (ignored), as the reference does
    when it evaluates 16 of Cityscapes' 19 classes; 255 stays 255.
    """
    return names_to_train_ids(dict(enumerate(source.names)), target)
