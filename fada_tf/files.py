"""Files on any ``tf.io.gfile`` filesystem (local paths, ``gs://``, ``hdfs://``), written atomically.

Every output of fada-tf (weights, training states, metrics, prepared datasets, pseudo
labels, predictions, exported models, pictures) is written under a temporary sibling name,
``.partial-NAME``, and renamed to ``NAME`` when it is complete, so a reader never sees half
of it and an interruption leaves the previous version in place. The temporary name keeps
``NAME``'s suffixes, which some writers require (Keras: ``.weights.h5``).
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
from pathlib import Path
from typing import Iterator

import tensorflow as tf

PARTIAL = ".partial-"


def partial_path(path: str | Path) -> str | Path:
    """The temporary sibling ``.partial-NAME`` of ``path``, of the same type."""
    folder, name = posixpath.split(os.fspath(path).rstrip("/"))
    partial = posixpath.join(folder, PARTIAL + name)
    return Path(partial) if isinstance(path, Path) else partial


@contextlib.contextmanager
def atomic_output(path: str | Path, keep_on_error: bool = False) -> Iterator[str | Path]:
    """Yield ``partial_path(path)`` (a ``Path`` for a ``Path``) to write a file or a folder into; when the block ends
    normally it replaces ``path`` (an existing folder is removed first).

    When the block raises (an interruption included), the partial output is removed, or kept
    with ``keep_on_error`` for a writer that resumes it; ``path`` is left as it was. A stale
    partial output of an earlier process is removed first unless ``keep_on_error``.
    """
    partial = partial_path(path)
    tf.io.gfile.makedirs(posixpath.dirname(os.fspath(partial)) or ".")
    if not keep_on_error:
        remove(partial)
    try:
        yield partial
    except BaseException:
        if not keep_on_error:
            remove(partial)
        raise
    if tf.io.gfile.isdir(os.fspath(partial)):
        remove(path)
    tf.io.gfile.rename(os.fspath(partial), os.fspath(path), overwrite=True)


def join(*parts: str) -> str:
    return posixpath.join(*parts)


def exists(path: str) -> bool:
    return tf.io.gfile.exists(path)


def read_bytes(path: str) -> bytes:
    with tf.io.gfile.GFile(path, "rb") as handle:
        return handle.read()


def read_json(path: str | Path):
    return json.loads(read_bytes(os.fspath(path)).decode())


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_output(os.fspath(path)) as partial, tf.io.gfile.GFile(partial, "wb") as handle:
        handle.write(data)


def write_json(path: str | Path, data) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())


def remove(path: str | Path) -> None:
    """Delete a file or a folder tree; nothing to do when it does not exist."""
    path = os.fspath(path)
    if tf.io.gfile.isdir(path):
        tf.io.gfile.rmtree(path)
    elif tf.io.gfile.exists(path):
        tf.io.gfile.remove(path)
