"""Keep TensorFlow's native start-up lines off stderr unless ``fada-tf --verbose`` asks for them.

TensorFlow's C++ libraries log through absl before absl is initialised, so
``TF_CPP_MIN_LOG_LEVEL`` does not reach those lines ("All log messages before
absl::InitializeLog() …", oneDNN, CUDA driver probing). They are all written while
``import tensorflow`` runs: for exactly that import, file descriptor 2 points at the null
device. ``TF_CPP_MIN_LOG_LEVEL=3`` (unless already set) drops the C++ lines TensorFlow writes
later on machines without a GPU (``cuInit``, oneDNN's int32 fallback). Python warnings and
errors, fada-tf's own lines and tracebacks are untouched.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import sys

QUIET_LOG_LEVEL = "3"


def quiet_tensorflow() -> None:
    """Silence TensorFlow's native logging for the rest of the process (before it is imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_LOG_LEVEL)
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietImport) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietImport())


@contextlib.contextmanager
def native_stderr_to_null():
    """Point file descriptor 2 (what C and C++ code write to) at the null device."""
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` once, with a loader that executes it under ``native_stderr_to_null``."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    """Delegates to the real loader; hands the module back to it once executed."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader
        with native_stderr_to_null():
            self.loader.exec_module(module)
