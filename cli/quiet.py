"""Keep TensorFlow's native start-up lines off stderr unless ``fada-tf --verbose`` asks for them.

TensorFlow's C++ libraries log through absl before absl is initialised, so
``TF_CPP_MIN_LOG_LEVEL`` does not reach those lines ("All log messages before
absl::InitializeLog() …", oneDNN, CUDA driver probing). They are all written while
``import tensorflow`` runs: for exactly that import, file descriptor 2 points at a temporary
file, and afterwards every line of it that is not a native log line is written to stderr
(Python warnings, messages of a failing import). ``TF_CPP_MIN_LOG_LEVEL=3`` (unless already
set) drops the C++ lines TensorFlow writes later: on machines without a GPU ``cuInit`` and
oneDNN's int32 fallback, on GPU machines also its C++ error lines (``-v`` shows them; errors
that stop the work reach Python as exceptions). fada-tf's own lines and tracebacks are
untouched.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

QUIET_LOG_LEVEL = "3"
# absl's log lines ("I0000 00:00:1795946983.451703   15988 port.cc:153] ...") and its warning.
NATIVE_LOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] "
                             r"|^WARNING: All log messages before absl::InitializeLog\(\)")


def quiet_tensorflow() -> None:
    """Silence TensorFlow's native logging for the rest of the process (before it is imported)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_LOG_LEVEL)
    if "tensorflow" in sys.modules or any(isinstance(f, _QuietImport) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _QuietImport())


@contextlib.contextmanager
def without_native_log_lines():
    """Collect what is written to file descriptor 2 (C, C++ and Python alike) meanwhile, then
    pass on the lines that are not native log lines."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        try:
            os.dup2(captured.fileno(), 2)
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [line for line in captured.read().decode(errors="replace").splitlines(True)
                    if not NATIVE_LOG_LINE.match(line)]
            sys.stderr.write("".join(kept))
            sys.stderr.flush()


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` once, with a loader that executes it under
    ``without_native_log_lines``; then steps aside (it stays in ``sys.meta_path``: removing
    it could make another thread's import, iterating the list, skip a finder)."""

    def __init__(self):
        self.used = False

    def find_spec(self, fullname, path, target=None):
        if fullname != "tensorflow" or self.used:
            return None
        self.used = True
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
        with without_native_log_lines():
            self.loader.exec_module(module)
