"""Files on the local disk or on any ``tf.io.gfile`` filesystem (``gs://``, ``hdfs://``),
written atomically.

Every output of fada-tf (weights, training states, metrics, prepared datasets, pseudo
labels, predictions, exported models, pictures) is written under a temporary sibling name,
``.partial-NAME``, and renamed to ``NAME`` when it is complete, so a reader never sees half
of it: a file is replaced in one rename, and an interruption leaves the previous version in
place; a folder that already exists is removed just before the rename. The temporary name
keeps ``NAME``'s suffixes, which some writers require (Keras: ``.weights.h5``).

Local paths use the standard library; a path with a scheme (``gs://…``) goes through
``tf.io.gfile``, so TensorFlow is imported only for those.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import shutil
from pathlib import Path
from typing import Iterator

PARTIAL = ".partial-"


def partial_path(path: str | Path) -> str | Path:
    """The temporary sibling ``.partial-NAME`` of ``path``, of the same type."""
    folder, name = posixpath.split(os.fspath(path).rstrip("/"))
    partial = posixpath.join(folder, PARTIAL + name)
    return Path(partial) if isinstance(path, Path) else partial


@contextlib.contextmanager
def atomic_output(path: str | Path, keep_on_error: bool = False) -> Iterator[str | Path]:
    """Yield ``partial_path(path)`` (a ``Path`` for a ``Path``) to write a file or a folder
    into; when the block ends normally it replaces ``path``.

    When the block raises (an interruption included), the partial output is removed, or kept
    with ``keep_on_error`` for a writer that resumes it; ``path`` is left as it was. A stale
    partial output of an earlier process is removed first unless ``keep_on_error``.
    """
    partial = partial_path(path)
    _makedirs(posixpath.dirname(os.fspath(partial)))
    if not keep_on_error:
        remove(partial)
    try:
        yield partial
    except BaseException:
        if not keep_on_error:
            remove(partial)
        raise
    if _isdir(partial):
        remove(path)
    _replace(partial, path)


def join(*parts: str) -> str:
    return posixpath.join(*parts)


def exists(path: str | Path) -> bool:
    return _gfile().exists(os.fspath(path)) if _remote(path) else os.path.exists(path)


def read_bytes(path: str | Path) -> bytes:
    if not _remote(path):
        return Path(path).read_bytes()
    with _gfile().GFile(os.fspath(path), "rb") as handle:
        return handle.read()


def read_json(path: str | Path):
    return json.loads(read_bytes(path).decode())


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, with as few filesystem calls as that takes
    (opening for writing truncates a stale partial file)."""
    partial = partial_path(path)
    _makedirs(posixpath.dirname(os.fspath(partial)))
    if _remote(path):
        with _gfile().GFile(os.fspath(partial), "wb") as handle:
            handle.write(data)
    else:
        Path(partial).write_bytes(data)
    _replace(partial, path)


def write_json(path: str | Path, data) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())


def remove(path: str | Path) -> None:
    """Delete a file or a folder tree; nothing to do when it does not exist."""
    if _remote(path):
        gfile, path = _gfile(), os.fspath(path)
        if gfile.isdir(path):
            gfile.rmtree(path)
        elif gfile.exists(path):
            gfile.remove(path)
    elif os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


def _remote(path: str | Path) -> bool:
    return "://" in os.fspath(path)


def _gfile():
    import tensorflow as tf   # only paths with a scheme need it

    return tf.io.gfile


def _makedirs(folder: str) -> None:
    if _remote(folder):
        _gfile().makedirs(folder)
    elif folder:
        os.makedirs(folder, exist_ok=True)


def _isdir(path: str | Path) -> bool:
    return _gfile().isdir(os.fspath(path)) if _remote(path) else os.path.isdir(path)


def _replace(source: str | Path, destination: str | Path) -> None:
    if _remote(source):
        _gfile().rename(os.fspath(source), os.fspath(destination), overwrite=True)
    else:
        os.replace(source, destination)
