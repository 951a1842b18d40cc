"""Files on any ``tf.io.gfile`` filesystem (local paths, ``gs://``, ``hdfs://``): atomic writes, JSON.

Prepared datasets are written and read through these helpers, so a dataset folder may live
on cluster storage. A file is written under a temporary name and renamed into place, so a
reader never sees half of it.
"""

from __future__ import annotations

import json
import posixpath

import tensorflow as tf


def join(*parts: str) -> str:
    return posixpath.join(*parts)


def exists(path: str) -> bool:
    return tf.io.gfile.exists(path)


def read_bytes(path: str) -> bytes:
    with tf.io.gfile.GFile(path, "rb") as handle:
        return handle.read()


def read_json(path: str):
    return json.loads(read_bytes(path).decode())


def write_bytes(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a temporary sibling, then a rename)."""
    folder, name = posixpath.split(path)
    partial = posixpath.join(folder, f".partial-{name}")
    tf.io.gfile.makedirs(folder)
    with tf.io.gfile.GFile(partial, "wb") as handle:
        handle.write(data)
    tf.io.gfile.rename(partial, path, overwrite=True)


def write_json(path: str, data) -> None:
    write_bytes(path, (json.dumps(data, indent=1) + "\n").encode())


def remove(path: str) -> None:
    """Delete a file or a folder tree; nothing to do when it does not exist."""
    if tf.io.gfile.isdir(path):
        tf.io.gfile.rmtree(path)
    elif tf.io.gfile.exists(path):
        tf.io.gfile.remove(path)


def rename(source: str, destination: str) -> None:
    tf.io.gfile.rename(source, destination)
