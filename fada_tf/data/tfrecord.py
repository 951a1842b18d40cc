"""TFRecord storage of a prepared dataset: one ``tf.train.Example`` per pair, in manifest order.

Features: ``name`` (bytes), ``image`` (the stored PNG/JPEG bytes), ``label`` (the train-ID PNG,
empty in an unlabelled split). Shards hold consecutive items, so reading them in order
gives the manifest's order. Paths go through ``tf.io.gfile``.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import tensorflow as tf

from fada_tf import files
from fada_tf.data.canonical import shard_path

FEATURES = {
    "name": tf.io.FixedLenFeature([], tf.string),
    "image": tf.io.FixedLenFeature([], tf.string),
    "label": tf.io.FixedLenFeature([], tf.string, default_value=b""),
}


def _bytes(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def encode(name: str, image: bytes, label: bytes) -> bytes:
    features = {"name": _bytes(name.encode()), "image": _bytes(image), "label": _bytes(label)}
    return tf.train.Example(features=tf.train.Features(feature=features)).SerializeToString()


def write_shards(root: str, split: str, records: Iterable[tuple[str, bytes, bytes]], count: int,
                 shards: int) -> list[str]:
    """Write ``count`` ``(name, image, label)`` records into ``shards`` files of consecutive items.

    Returns the shard paths relative to ``root``. Fewer items than shards gives fewer shards.
    """
    shards = max(min(shards, count), 1)
    paths = [shard_path(split, i, shards) for i in range(shards)]
    records = iter(records)
    tf.io.gfile.makedirs(files.join(root, "tfrecord"))
    for index, path in enumerate(paths):
        size = (index + 1) * count // shards - index * count // shards
        with tf.io.TFRecordWriter(files.join(root, path)) as writer:
            for _ in range(size):
                writer.write(encode(*next(records)))
    return paths


def parse(serialized):
    """``(image bytes, label bytes)`` of one serialized record (a graph function for tf.data)."""
    example = tf.io.parse_single_example(serialized, FEATURES)
    return example["image"], example["label"]


def read_records(root: str, shards: list[str]) -> Iterator[tuple[str, bytes, bytes]]:
    """``(name, image, label)`` of every record, in order (for checks, not for training)."""
    for path in shards:
        for serialized in tf.data.TFRecordDataset(files.join(root, path)):
            example = tf.io.parse_single_example(serialized, FEATURES)
            yield example["name"].numpy().decode(), example["image"].numpy(), example["label"].numpy()
