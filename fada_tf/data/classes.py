"""Class tables: names, colours and the ignore label of every label space fada-tf knows.

Train IDs index ``names``; 255 is ignored everywhere. The Cityscapes table is the official
one (19 evaluated classes, palette of cityscapesScripts' ``labels.py``); SYNTHIA's 16 and
Cross-City's 13 classes are subsets of it, kept in Cityscapes order.
"""

from __future__ import annotations

from dataclasses import dataclass

IGNORE_LABEL = 255

_CITYSCAPES = (
    ("road", (128, 64, 128)),
    ("sidewalk", (244, 35, 232)),
    ("building", (70, 70, 70)),
    ("wall", (102, 102, 156)),
    ("fence", (190, 153, 153)),
    ("pole", (153, 153, 153)),
    ("traffic light", (250, 170, 30)),
    ("traffic sign", (220, 220, 0)),
    ("vegetation", (107, 142, 35)),
    ("terrain", (152, 251, 152)),
    ("sky", (70, 130, 180)),
    ("person", (220, 20, 60)),
    ("rider", (255, 0, 0)),
    ("car", (0, 0, 142)),
    ("truck", (0, 0, 70)),
    ("bus", (0, 60, 100)),
    ("train", (0, 80, 100)),
    ("motorcycle", (0, 0, 230)),
    ("bicycle", (119, 11, 32)),
)
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
