"""Cross-City / NTHU (Chen et al., ICCV 2017), one city per folder (Rome, Rio, Tokyo, Taipei):
``Images/{Train,Test}/*.jpg``, ``Labels/Test/*_eval.png``, ``List/{train,test}.txt``.

Train images are unlabelled; test images are labelled for 13 classes (``crosscity13``). The
encoding of ``*_eval.png`` is not documented with the release and we have no copy to look at;
``labelid`` (the default) assumes Cityscapes label IDs (7 road, 8 sidewalk, 11 building, ...),
``trainid`` Cityscapes train IDs (0 road, 1 sidewalk, ...), ``crosscity13`` indices of the 13
classes. ``fada-tf data check --dataset crosscity`` prints per-class pixel counts and unknown
values, which tell a wrong choice at once. A list file, when present, defines its split;
otherwise every image in the split's folder is used.
"""

from __future__ import annotations

from pathlib import Path

from fada_tf.data.classes import CITYSCAPES_EVALUATED_IDS, class_table, names_to_train_ids
from fada_tf.data.raw import CROSSCITY_LABEL_ENCODINGS
from fada_tf.data.raw.common import (RawFormat, RawPair, defined_values, files_by_stem,
                                     read_index_png, require_folder)

LAYOUT = "Images/{Train,Test}/*.jpg, Labels/Test/*_eval.png, List/{train,test}.txt"
_FOLDERS = {"train": "Train", "test": "Test"}
_LABEL_SUFFIX = "_eval.png"
_CROSSCITY13 = class_table("crosscity13")
_CITYSCAPES19 = class_table("cityscapes19")
# encoding -> (raw value -> class name, values the encoding defines)
_ENCODINGS = dict(zip(CROSSCITY_LABEL_ENCODINGS, (
    (CITYSCAPES_EVALUATED_IDS, range(34)),
    (dict(enumerate(_CITYSCAPES19.names)), [*range(_CITYSCAPES19.num_classes), 255]),
    (dict(enumerate(_CROSSCITY13.names)), [*range(_CROSSCITY13.num_classes), 255]),
)))


def list_pairs(root: Path, split: str) -> list[RawPair]:
    """The split's images (from its list file, else its folder) and, for test, their labels."""
    images_dir = root / "Images" / _FOLDERS[split]
    require_folder(images_dir, "Cross-City city", LAYOUT)
    images = {**files_by_stem(images_dir, ".png"), **files_by_stem(images_dir, ".jpg")}
    list_file = root / "List" / f"{split}.txt"
    if list_file.is_file():
        names = {Path(line.strip()).stem for line in list_file.read_text().splitlines() if line.strip()}
    else:
        names = set(images)
    if split == "train":
        return [RawPair(n, images.get(n, images_dir / f"{n}.jpg"), None) for n in sorted(names)]
    labels_dir = root / "Labels" / _FOLDERS[split]
    require_folder(labels_dir, "Cross-City city", LAYOUT)
    names |= files_by_stem(labels_dir, _LABEL_SUFFIX).keys()
    return [RawPair(n, images.get(n, images_dir / f"{n}.jpg"), labels_dir / f"{n}{_LABEL_SUFFIX}")
            for n in sorted(names)]


def raw_format(encoding: str) -> RawFormat:
    names, defined = _ENCODINGS[encoding]
    return RawFormat(
        name="crosscity", classes="crosscity13", splits=("train", "test"), list_pairs=list_pairs,
        read_label=read_index_png, lookup=names_to_train_ids(names, _CROSSCITY13),
        known=defined_values(defined, 256), markers=("Images",), layout=LAYOUT)
