"""Run a function over many files on a thread pool, in order (PIL, zlib and TF decoders release the GIL)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

from fada_tf.progress import Progress

Item, Result = TypeVar("Item"), TypeVar("Result")


def ordered_map(function: Callable[[Item], Result], items: Iterable[Item], workers: int | None = None,
                progress: Progress | None = None) -> Iterator[Result]:
    """``function(item)`` for every item, in order, ``workers`` at a time (default: every core).

    ``progress`` is updated once per finished item. An exception stops the work: queued items
    are cancelled, the exception propagates.
    """
    items = list(items)
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        futures = [pool.submit(function, item) for item in items]
        try:
            for future in futures:
                yield future.result()
                if progress is not None:
                    progress.update()
        finally:
            pool.shutdown(cancel_futures=True)
