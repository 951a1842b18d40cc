"""``fada-tf data check``: verify a prepared dataset or a raw release; count pixels per class.

Checks that every image has its label, that the files decode, that sizes agree and that label
values are known (raw: defined by the release; prepared: a train ID or 255). A prepared
dataset is decoded with TensorFlow, as training reads it, and compared with its manifest and
class statistics. Problems are collected and returned, one line each, naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Iterator

import numpy as np
import tensorflow as tf

from fada_tf import files
from fada_tf.data import canonical
from fada_tf.data.classes import IGNORE_LABEL, class_table
from fada_tf.data.parallel import ordered_map
from fada_tf.data.raw import RAW_DATASETS
from fada_tf.data.raw.common import RawFormat, RawPair, find_release_root
from fada_tf.data.raw.pairs import BadPair, read_pair
from fada_tf.data.raw.registry import raw_format
from fada_tf.data.tfrecord import read_records
from fada_tf.errors import FadaError
from fada_tf.progress import Progress

_CHUNK = 64  # TFRecord items decoded in parallel at a time


@dataclass
class _Tally:
    num_classes: int
    num_images: int = 0
    unknown_pixels: int = 0
    problems: list[str] = field(default_factory=list)
    splits: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        self.class_pixels = np.zeros(self.num_classes, np.int64)

    def add(self, counts, problems: list[str], unknown: int) -> None:
        self.num_images += 1
        self.problems += problems
        self.unknown_pixels += unknown
        if counts is not None:
            self.class_pixels += counts

    def result(self, **info) -> dict:
        return {**info, "splits": self.splits, "num_images": self.num_images,
                "class_pixels": dict(zip(info["class_names"], self.class_pixels.tolist())),
                "unknown_label_pixels": self.unknown_pixels, "problems": self.problems}


def check(path: str, dataset: str | None = None, crosscity_labels: str = "labelid",
          splits: tuple[str, ...] = (), workers: int | None = None,
          verbose: int = 0) -> dict:
    """``{"num_images", "class_pixels": {name: pixels}, "problems": [...], ...}`` of ``path``.

    A folder with a manifest is checked as a prepared dataset; any other needs ``dataset``,
    the raw release it holds.
    """
    if canonical.is_prepared(path):
        return check_prepared(path, splits, workers, verbose)
    if dataset is None:
        raise FadaError(f"{path} is not a prepared dataset (no {canonical.MANIFEST}); to check a raw "
                        f"release, say which: --dataset {'|'.join(RAW_DATASETS)}")
    fmt = raw_format(dataset, crosscity_labels)
    return check_raw(str(find_release_root(fmt, Path(path))), fmt, splits, workers, verbose)


def check_raw(root: str, fmt: RawFormat, splits: tuple[str, ...] = (), workers=None,
              verbose: int = 0) -> dict:
    """Read every pair of a raw release the way ``prepare`` does, without writing anything."""
    table = class_table(fmt.classes)
    tally = _Tally(table.num_classes)
    for split in splits or fmt.splits:
        if split not in fmt.splits:
            raise FadaError(f"{fmt.name} has splits {', '.join(fmt.splits)}, not {split}")
        try:
            pairs = fmt.list_pairs(Path(root), split)
        except FadaError as err:
            tally.problems.append(f"split {split}: {err}")
            continue
        tally.splits[split] = len(pairs)
        with Progress(len(pairs), f"{fmt.name} {split}", "pair", verbose) as progress:
            for result in ordered_map(lambda pair: _check_raw_pair(fmt, pair, table.num_classes),
                                      pairs, workers, progress):
                tally.add(*result)
    return tally.result(path=root, kind="raw", dataset=fmt.name, classes=table.key,
                        class_names=list(table.names))


def _check_raw_pair(fmt: RawFormat, pair: RawPair, num_classes: int):
    try:
        data = read_pair(fmt, pair)
    except BadPair as err:
        return None, [str(err)], 0
    if data.train_ids is None:
        return None, [], 0
    unknown = sum(data.unknown.values())
    problems = [f"{pair.label}: {unknown} pixels with unknown label values "
                f"{', '.join(map(str, sorted(data.unknown)))} (ignored as {IGNORE_LABEL})"] if unknown else []
    return np.bincount(data.train_ids.ravel(), minlength=256)[:num_classes], problems, unknown


def check_prepared(root: str, splits: tuple[str, ...] = (), workers=None,
                   verbose: int = 0) -> dict:
    """Decode every stored pair with TensorFlow and compare it with the manifest and statistics."""
    manifest = canonical.read_manifest(root)
    stats = canonical.read_class_stats(root)["splits"]
    table = class_table(manifest["classes"])
    tally = _Tally(table.num_classes)
    for split in splits or tuple(manifest["splits"]):
        if split not in manifest["splits"]:
            raise FadaError(f"{root} has splits {', '.join(manifest['splits'])}, not {split}")
        entry = manifest["splits"][split]
        tally.splits[split] = len(entry["items"])
        expected = stats.get(split) or [None] * len(entry["items"])
        stored = _stored_pairs(root, manifest["storage"], split, entry, tally.problems)
        with Progress(len(entry["items"]), split, "pair", verbose) as progress:
            for chunk in iter(lambda: list(islice(stored, _CHUNK)), []):
                for result in ordered_map(lambda args: _check_stored(*args, table.num_classes),
                                          [(*s[1:], expected[s[0]]) for s in chunk], workers, progress):
                    tally.add(*result)
    return tally.result(path=root, kind="prepared", dataset=manifest["dataset"], classes=table.key,
                        class_names=list(table.names))


def _stored_pairs(root: str, storage: str, split: str, entry: dict, problems: list[str]) -> Iterator:
    """``(index, item, (image name, label name), image bytes, label bytes | None)``, in order.

    Missing files are added to ``problems`` and their items left out.
    """
    items = entry["items"]
    if storage == "png":
        for index, item in enumerate(items):
            image = files.join(root, item["image"])
            label = files.join(root, item["label"]) if item["label"] else None
            missing = [p for p in (image, label) if p is not None and not files.exists(p)]
            problems += [f"{p}: missing" for p in missing]
            if not missing:
                yield (index, item, (image, label or image), files.read_bytes(image),
                       files.read_bytes(label) if label else None)
        return
    missing = [s for s in entry["shards"] if not files.exists(files.join(root, s))]
    if missing:
        problems += [f"{files.join(root, s)}: missing" for s in missing]
        return
    count = 0
    for index, (name, image, label) in enumerate(read_records(root, entry["shards"])):
        count += 1
        if index >= len(items) or items[index]["name"] != name:
            problems.append(f"{root}: record {index} of split {split} is {name}, the manifest does not list it there")
            return
        where = f"{root} {split}/{name}"
        yield index, items[index], (where, where), image, label if entry["labelled"] else None
    if count != len(items):
        problems.append(f"{root}: split {split} has {count} records, the manifest lists {len(items)}")


def _check_stored(item, names, image_bytes, label_bytes, expected, num_classes):
    """Decode one stored pair as training does; ``(class pixels | None, problems, unknown pixels)``."""
    image_name, label_name = names
    try:
        image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
    except tf.errors.OpError as err:
        return None, [f"{image_name}: cannot decode the image: {err.message}"], 0
    try:
        label = tf.io.decode_png(label_bytes, channels=1)[..., 0].numpy() if label_bytes is not None else None
    except tf.errors.OpError as err:
        return None, [f"{label_name}: cannot decode the label: {err.message}"], 0
    problems = []
    if tuple(image.shape[:2]) != (item["height"], item["width"]):
        problems.append(f"{image_name}: image is {image.shape[1]}x{image.shape[0]}, the manifest says "
                        f"{item['width']}x{item['height']}")
    if label is None:
        return None, problems, 0
    if label.shape != tuple(image.shape[:2]):
        problems.append(f"{label_name}: label is {label.shape[1]}x{label.shape[0]}, its image "
                        f"{image.shape[1]}x{image.shape[0]}")
    counts = np.bincount(label.ravel(), minlength=256)
    unknown = int(counts[num_classes:IGNORE_LABEL].sum())
    if unknown:
        values = np.flatnonzero(counts[num_classes:IGNORE_LABEL]) + num_classes
        problems.append(f"{label_name}: {unknown} label pixels with values {', '.join(map(str, values))}, "
                        f"not train IDs of {num_classes} classes")
    if expected is not None and counts[:num_classes].tolist() != expected:
        problems.append(f"{label_name}: class statistics of {canonical.CLASS_STATS} disagree with the label; "
                        "prepare the dataset again")
    return counts[:num_classes], problems, unknown
