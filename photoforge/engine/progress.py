"""The one progress/cancel protocol shared by the engine, ops, CLI and GUI.

Work reports `set(fraction)` and calls `check_aborted()` at safe points (once per tile);
a cancelled job raises `Aborted` from there, so no partial result ever escapes.
Multi-stage work hands each stage a `sub(start, end)` view of its parent.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Callable


class Aborted(Exception):
    """Raised inside a job when the user cancelled it."""


class Progress:
    """Progress sink with cancellation. Thread-safe: `cancel()` may come from any thread."""

    def __init__(self, callback: Callable[[float, str], None] | None = None):
        self._callback = callback
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self._stoppers: list[Callable[[], None]] = []
        self.fraction = 0.0
        self.message = ""

    def set(self, fraction: float, message: str | None = None) -> None:
        self.fraction = min(1.0, max(0.0, float(fraction)))
        if message is not None:
            self.message = message
        if self._callback is not None:
            self._callback(self.fraction, self.message)

    def cancel(self) -> None:
        with self._lock:
            self._cancel.set()
            stoppers = list(self._stoppers)
        for stop in stoppers:  # work in flight (an inference) stops now, not at the next tile
            stop()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @contextlib.contextmanager
    def stopping(self, stop: Callable[[], None]) -> Iterator[None]:
        """While inside, a cancel also calls `stop()` (from the cancelling thread): how a
        runtime is told to abandon the inference it is running."""
        with self._lock:
            self._stoppers.append(stop)
            cancelled = self._cancel.is_set()
        try:
            if cancelled:
                stop()
            yield
        finally:
            with self._lock:
                self._stoppers.remove(stop)

    def check_aborted(self) -> None:
        if self._cancel.is_set():
            raise Aborted("cancelled")

    def sub(self, start: float, end: float) -> "SubProgress":
        return SubProgress(self, start, end)


class SubProgress(Progress):
    """Maps [0, 1] onto [start, end] of a parent; cancellation is the parent's."""

    def __init__(self, parent: Progress, start: float, end: float):
        super().__init__()
        self._parent = parent
        self._start = start
        self._span = end - start

    def set(self, fraction: float, message: str | None = None) -> None:
        self.fraction = min(1.0, max(0.0, float(fraction)))
        self._parent.set(self._start + self._span * self.fraction, message)

    def cancel(self) -> None:
        self._parent.cancel()

    @property
    def cancelled(self) -> bool:
        return self._parent.cancelled

    def stopping(self, stop: Callable[[], None]):
        return self._parent.stopping(stop)

    def check_aborted(self) -> None:
        self._parent.check_aborted()


def null_progress() -> Progress:
    """A progress nobody watches (CLI without a bar, tests)."""
    return Progress()
