"""The prepared (canonical) dataset: what ``fada-tf data prepare`` writes and training reads.

::

    DIR/manifest.json     {"format": "fada-tf-dataset", "version": 1, "dataset", "classes",
                           "class_names", "storage": "png" | "tfrecord", "prepared_with",
                           "splits": {split: {"labelled", "items": [{"name", "height", "width",
                                                                    "image", "label"}],
                                               "shards"}},
                           "report": {split: {"images", "skipped", "labels_resized",
                                              "unknown_label_pixels"}}}
    DIR/class_stats.json  {"classes", "class_names",
                           "splits": {split: [[pixels of train ID 0..K-1] for each item]}}
    DIR/images/<split>/<name>.png|.jpg   RGB (the release's own bytes when it was RGB PNG/JPEG)
    DIR/labels/<split>/<name>.png        8-bit train IDs of the manifest's table, 255 = ignored
    DIR/tfrecord/<split>-SSSSS-of-NNNNN.tfrecord   with storage "tfrecord", instead of the PNGs

Paths inside are relative to DIR; DIR may be any ``tf.io.gfile`` path. Item ``i`` of a split
is line ``i`` of its class statistics (the per-image class presence used by class-balanced
sampling) and record ``i`` of its shards, taken in order. JSON, never pickle.
"""

from __future__ import annotations

from fada_tf import files
from fada_tf.errors import FadaError

FORMAT, VERSION = "fada-tf-dataset", 1
MANIFEST, CLASS_STATS = "manifest.json", "class_stats.json"


def image_path(split: str, name: str, extension: str) -> str:
    return f"images/{split}/{name}.{extension}"


def label_path(split: str, name: str) -> str:
    return f"labels/{split}/{name}.png"


def shard_path(split: str, index: int, count: int) -> str:
    return f"tfrecord/{split}-{index:05d}-of-{count:05d}.tfrecord"


def is_prepared(root: str) -> bool:
    return files.exists(files.join(root, MANIFEST))


def read_manifest(root: str) -> dict:
    """The manifest of the prepared dataset ``root``; FadaError when there is none or it is not ours."""
    path = files.join(root, MANIFEST)
    if not files.exists(path):
        raise FadaError(f"{root} is not a prepared dataset (no {MANIFEST})")
    try:
        manifest = files.read_json(path)
    except ValueError as err:
        raise FadaError(f"{path}: not valid JSON ({err}); prepare the dataset again") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise FadaError(f"{path}: not a {FORMAT} version {VERSION} manifest; prepare the dataset again "
                        "with this version of fada-tf")
    return manifest


def read_class_stats(root: str) -> dict:
    path = files.join(root, CLASS_STATS)
    if not files.exists(path):
        raise FadaError(f"{path} is missing; prepare the dataset again")
    return files.read_json(path)
