"""Run a function over many files on a thread pool, in order (PIL, zlib and TF decoders release the GIL)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

Item, Result = TypeVar("Item"), TypeVar("Result")


def ordered_map(function: Callable[[Item], Result], items: Iterable[Item], workers: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> Iterator[Result]:
    """``function(item)`` for every item, in order, ``workers`` at a time (default: every core).

    ``progress(done, total)`` is called about twenty times. An exception stops the work:
    queued items are cancelled, the exception propagates.
    """
    items = list(items)
    every = max(len(items) // 20, 1)
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        futures = [pool.submit(function, item) for item in items]
        try:
            for done, future in enumerate(futures, 1):
                yield future.result()
                if progress is not None and (done % every == 0 or done == len(items)):
                    progress(done, len(items))
        finally:
            pool.shutdown(cancel_futures=True)
