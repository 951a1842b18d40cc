"""SIGTERM / SIGINT during training: finish the current step, save, and stop cleanly.

Pre-emptible machines and cluster managers send SIGTERM before they kill a job; Ctrl-C sends
SIGINT. Inside ``catch_stop_signals`` either only sets a flag that the training loop reads
after each step, so a checkpoint is never written from the middle of a step.
"""

from __future__ import annotations

import contextlib
import signal
import threading

from fada_tf.errors import FadaError

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupted(FadaError):
    """Training stopped on a signal after saving; ``exit_code`` is the shell's 128 + signal."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + signum


class StopFlag:
    """The first stop signal received, or None."""

    def __init__(self):
        self.signum: int | None = None

    def __bool__(self) -> bool:
        return self.signum is not None

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


@contextlib.contextmanager
def catch_stop_signals():
    """Yield a ``StopFlag`` set by SIGTERM/SIGINT; the previous handlers come back on exit.

    Off the main thread (where Python cannot install handlers) the flag is never set.
    """
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handle(signum, _frame):
        flag.signum = flag.signum or signum

    previous = {s: signal.signal(s, handle) for s in SIGNALS}
    try:
        yield flag
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
