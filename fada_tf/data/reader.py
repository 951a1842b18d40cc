"""Reading a prepared dataset in the training and evaluation hot path, with native TF decoding.

Pairs come out as ``(image uint8 (H, W, 3), label uint8 (H, W))``; in an unlabelled split the
label is all 255 (every pixel ignored). Files are read with ``tf.io.read_file`` (any
``tf.io.gfile`` path) or from TFRecord shards and decoded with ``tf.io.decode_image`` /
``tf.io.decode_png`` in parallel, in a deterministic order. When the experiment's class
table is a subset of the stored one, labels are remapped by a lookup (dropped classes → 255).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from fada_tf import files
from fada_tf.data.classes import IGNORE_LABEL
from fada_tf.data.sampler import class_balanced_indices
from fada_tf.data.tfrecord import parse
from fada_tf.errors import FadaError

# Serialized records held for shuffling a TFRecord stream (GTA5 records are ~3 MB each).
TFRECORD_SHUFFLE_BUFFER = 128


@dataclass(frozen=True)
class PreparedSplit:
    """One split of a prepared dataset, read for an experiment's class table."""

    root: str
    manifest: dict
    split: str
    lookup: np.ndarray | None      # stored train ID -> experiment train ID; None: same table
    class_pixels: np.ndarray | None  # (images, experiment classes) pixel counts, labelled splits

    @property
    def entry(self) -> dict:
        return self.manifest["splits"][self.split]

    @property
    def size(self) -> int:
        return len(self.entry["items"])

    def ordered(self) -> tf.data.Dataset:
        """Every pair once, in the manifest's order (evaluation)."""
        if self.manifest["storage"] == "tfrecord":
            records = tf.data.TFRecordDataset([files.join(self.root, s) for s in self.entry["shards"]])
            return self._decode_records(records)
        return self.at(tf.data.Dataset.range(self.size))

    def shuffled(self, seed: int) -> tf.data.Dataset:
        """An endless stream, every pass through the split reshuffled (TFRecords: shard order,
        then a buffer of records)."""
        if self.manifest["storage"] == "tfrecord":
            paths = [files.join(self.root, s) for s in self.entry["shards"]]
            shards = tf.data.Dataset.from_tensor_slices(paths).shuffle(len(paths), seed=seed,
                                                                       reshuffle_each_iteration=True)
            records = shards.interleave(tf.data.TFRecordDataset, cycle_length=min(4, len(paths)),
                                        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            records = records.shuffle(TFRECORD_SHUFFLE_BUFFER, seed=seed + 1, reshuffle_each_iteration=True)
            return self._decode_records(records.repeat())
        indices = tf.data.Dataset.range(self.size)
        return self.at(indices.shuffle(self.size, seed=seed, reshuffle_each_iteration=True).repeat())

    def class_balanced(self, seed: int, draws: int) -> tf.data.Dataset:
        """An endless stream of the original's class-balanced list of ``draws`` (its ``max_iters``)
        images, reshuffled every pass (``fada_tf.data.sampler``); PNG storage only."""
        return self.at(class_balanced_indices(self.class_pixels, seed, draws))

    def at(self, indices: tf.data.Dataset) -> tf.data.Dataset:
        """The pairs at the positions ``indices`` yields."""
        return indices.map(self.reader(), num_parallel_calls=tf.data.AUTOTUNE)

    def reader(self):
        """``read(index) -> (image, label)`` (PNG storage: TFRecords have no random access)."""
        if self.manifest["storage"] == "tfrecord":
            raise FadaError(f"{self.root}: TFRecord shards cannot be read by index (class-balanced "
                            "sampling, self-distillation need it); prepare the dataset with --format png")
        items = self.entry["items"]
        images = tf.constant([files.join(self.root, item["image"]) for item in items])
        labels = tf.constant([files.join(self.root, item["label"]) if item["label"] else "" for item in items])

        def read(index):
            label = tf.io.read_file(labels[index]) if self.entry["labelled"] else tf.constant(b"")
            return self._decode(tf.io.read_file(images[index]), label)

        return read

    def _decode_records(self, records: tf.data.Dataset) -> tf.data.Dataset:
        return records.map(lambda r: self._decode(*parse(r)), num_parallel_calls=tf.data.AUTOTUNE)

    def _decode(self, image_bytes, label_bytes):
        image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
        image.set_shape([None, None, 3])
        if not self.entry["labelled"]:
            return image, tf.fill(tf.shape(image)[:2], tf.constant(IGNORE_LABEL, tf.uint8))
        label = tf.io.decode_png(label_bytes, channels=1)[..., 0]
        if self.lookup is not None:
            label = tf.gather(tf.constant(self.lookup), tf.cast(label, tf.int32))
        return image, label
