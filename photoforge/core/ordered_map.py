"""Run a function over items on a few threads and yield the results in order, holding only a
few of them at a time: how the strip encoders use both cores without buffering the image.

Worth it only for work that lets go of the GIL (zlib, libjpeg, most numpy).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(func: Callable[[T], R], items: Iterable[T], workers: int = 2) -> Iterator[R]:
    """func(item) for each item, in order; at most 2 × `workers` results wait at once. An
    exception from any call is raised when its result is reached; closing the iterator early
    waits for the calls already started and starts no more."""
    with ThreadPoolExecutor(workers) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(func, item))
            if len(pending) > 2 * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
