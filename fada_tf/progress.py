"""Progress of long work on stderr: a live bar on a terminal, plain periodic lines elsewhere.

On a terminal (``verbose=1``) a tqdm bar shows the count, rate, elapsed time, ETA and the
latest values (e.g. losses). In logs and pipes (``verbose=2``) a line such as
``evaluate: 120/500 images (24 %), 3.1 images/s, ETA 2 min 03 s`` is written every
``every_seconds`` and at the end, so CI logs and files stay readable. ``verbose=0`` is silent.
"""

from __future__ import annotations

import os
import sys
import time

from tqdm import tqdm

LINE_EVERY_SECONDS = 30.0


def default_verbosity() -> int:
    """1 (live bar) when stderr is a terminal, else 2 (periodic lines)."""
    return 1 if sys.stderr.isatty() else 2


class Progress:
    """Counts ``total`` units of work labelled ``label``; ``update`` after each unit."""

    def __init__(self, total: int | None, label: str, unit: str = "step", verbose: int = 1,
                 initial: int = 0, every_seconds: float = LINE_EVERY_SECONDS):
        self.total, self.label, self.unit, self.verbose = total, label, unit, verbose
        self.done = initial
        self.every_seconds = every_seconds
        self.start = self.last_line = time.perf_counter()
        self.start_count = self.logged = initial
        self.values: dict[str, float] = {}
        width = _terminal_width()   # a pseudo-terminal may report 0 x 0: tqdm would draw nothing
        self.bar = (tqdm(total=total, initial=initial, desc=label, unit=unit, file=sys.stderr,
                         dynamic_ncols=width > 0, ncols=None if width > 0 else 100,
                         nrows=None if width > 0 else 24, leave=True)
                    if verbose == 1 else None)

    def update(self, count: int = 1, values: dict[str, float] | None = None) -> None:
        """``count`` more units done; ``values`` (name -> number) are shown beside the count."""
        self.done += count
        if values:
            self.values = dict(values)
        if self.bar is not None:
            if values:
                self.bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()}, refresh=False)
            self.bar.update(count)
        elif self.verbose == 2:
            now = time.perf_counter()
            if now - self.last_line >= self.every_seconds or self.done == self.total:
                self._log(now)

    def line(self, now: float | None = None) -> str:
        """``label: done/total units (percent), rate, ETA, values`` for a log."""
        elapsed = max((now or time.perf_counter()) - self.start, 1e-9)
        rate = (self.done - self.start_count) / elapsed
        units = plural(self.unit)
        parts = [f"{self.label}: {self.done}" + (f"/{self.total}" if self.total else "") + f" {units}"]
        if self.total:
            parts[0] += f" ({100 * self.done / self.total:.0f} %)"
        parts.append(f"{rate:.3g} {units}/s")
        if self.total and rate > 0 and self.done < self.total:
            parts.append(f"ETA {format_duration((self.total - self.done) / rate)}")
        if self.done == self.total:
            parts.append(f"in {format_duration(elapsed)}")
        parts += [f"{name} {value:.4g}" for name, value in self.values.items()]
        return ", ".join(parts)

    def close(self) -> None:
        """End the bar; in logs, write the last count if no line has said it yet (unknown
        total, work stopped early)."""
        if self.bar is not None:
            self.bar.close()
        elif self.verbose == 2 and self.done != self.logged:
            self._log(time.perf_counter())

    def _log(self, now: float) -> None:
        self.last_line, self.logged = now, self.done
        print(self.line(now), file=sys.stderr, flush=True)

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def plural(unit: str) -> str:
    """``steps``, ``images``, ``batches``."""
    return unit + ("es" if unit.endswith(("s", "sh", "ch", "x")) else "s")


def _terminal_width() -> int:
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 0


def format_duration(seconds: float) -> str:
    """``1 h 02 min``, ``3 min 07 s`` or ``12 s``."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"
