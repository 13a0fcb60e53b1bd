"""One background job at a time, on a QThread, speaking the engine's Progress protocol.

The signals live on a QObject created in the GUI thread, so every emission from the
worker is queued to the GUI thread. A cancelled job delivers nothing afterwards (its id is
retired), and every failure reaches the single `failed` signal as a message.
"""
from __future__ import annotations

import itertools
import threading
import time
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from photoforge.engine.progress import Aborted, Progress

JobFn = Callable[[Progress], Any]


class _Bridge(QObject):
    """Carries worker-thread events into the GUI thread (lives in the GUI thread)."""

    progress = Signal(int, float, str)
    done = Signal(int, object)
    error = Signal(int, str, str)
    aborted = Signal(int)


class _Worker(QObject):
    def __init__(self, job_id: int, fn: JobFn, progress: Progress, bridge: _Bridge,
                 after: list[threading.Event] = ()):
        super().__init__()
        self.job_id, self.fn, self.progress, self.bridge = job_id, fn, progress, bridge
        # Python events, not the QThreads: those may be deleted while this one waits.
        self.after = list(after)  # cancelled jobs still stopping: never two at once on the CPU
        self.returned = threading.Event()

    @Slot()
    def run(self) -> None:
        for previous in self.after:
            previous.wait()
        self.after = []
        try:
            result = self.fn(self.progress)
        except Aborted:
            self.bridge.aborted.emit(self.job_id)
        except Exception as error:  # reported once, through the one failure path
            self.bridge.error.emit(self.job_id, _describe(error), traceback.format_exc())
        else:
            self.bridge.done.emit(self.job_id, result)
        finally:
            # The job's closure holds its input (a whole image): let it go now, not when
            # Qt gets round to deleting this object.
            self.fn = self.progress = None
            self.returned.set()


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, MemoryError):
        return "Not enough memory for this operation. Try a smaller tile size in Preferences."
    return text


class JobRunner(QObject):
    """Runs `fn(progress)` off the GUI thread; results come back through signals."""

    started = Signal(str)  # label
    progress = Signal(float, str, float)  # fraction, message, seconds left (−1 unknown)
    finished = Signal(str, object)  # label, result
    failed = Signal(str, str)  # label, message
    cancelled = Signal(str)  # label
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._bridge = _Bridge()
        self._bridge.progress.connect(self._on_progress)
        self._bridge.done.connect(self._on_done)
        self._bridge.error.connect(self._on_error)
        self._bridge.aborted.connect(self._on_aborted)
        self._current: int | None = None
        self._label = ""
        self._progress: Progress | None = None
        self._thread: QThread | None = None
        # Every thread not yet ended, with its worker: a cancelled job's thread finishes
        # its tile on its own, then both are deleted (_ended).
        self._live: dict[QThread, _Worker] = {}
        self._callbacks: dict[int, Callable[[Any], None] | None] = {}
        self._started_at = 0.0
        self.quiet = False  # whether the current (or last) job is a quiet one
        self.last_traceback = ""

    @property
    def busy(self) -> bool:
        return self._current is not None

    def start(self, label: str, fn: JobFn, on_done: Callable[[Any], None] | None = None,
              quiet: bool = False) -> bool:
        """Start a job; False (and nothing started) if one is already running. A `quiet`
        job (a live preview) shows no progress; its failure is still reported."""
        if self.busy:
            return False
        self.quiet = quiet
        job_id = next(self._ids)
        bridge = self._bridge
        progress = Progress(lambda f, m: bridge.progress.emit(job_id, f, m))
        self._current, self._label, self._progress = job_id, label, progress
        self._callbacks[job_id] = on_done
        self._started_at = time.monotonic()
        thread = QThread()
        worker = _Worker(job_id, fn, progress, bridge, after=[w.returned for w in self._live.values()])
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        # Connected before the thread starts, so that the end is never missed; queued to
        # this (the GUI) thread, where the deleting happens.
        thread.finished.connect(self._thread_finished)
        self._thread, self._live[thread] = thread, worker
        thread.start()
        if not quiet:
            self.started.emit(label)
        self.busy_changed.emit(True)
        return True

    def cancel(self) -> None:
        """Ask the job to stop at its next tile; nothing it produces is delivered."""
        if self._current is None:
            return
        job_id, label = self._current, self._label
        self._progress.cancel()
        self._callbacks.pop(job_id, None)
        self._finish()
        self.cancelled.emit(label)

    @property
    def live_threads(self) -> int:
        """Worker threads not yet ended and deleted (a cancelled one finishing its tile)."""
        return len(self._live)

    def wait(self, timeout_ms: int = 30000) -> bool:
        """Block until every worker thread has ended (shutdown and tests)."""
        deadline = time.monotonic() + timeout_ms / 1000
        for thread in list(self._live):
            thread.quit()
            if not thread.wait(max(0, int((deadline - time.monotonic()) * 1000))):
                return False
            self._ended(thread)
        self._thread = None
        return True

    @Slot()
    def _thread_finished(self) -> None:
        self._ended(self.sender())

    def _ended(self, thread: QThread) -> None:
        worker = self._live.pop(thread, None)
        if worker is not None:
            worker.deleteLater()
            thread.deleteLater()
        if self._thread is thread:
            self._thread = None

    def _finish(self) -> None:
        self._current = None
        self._progress = None
        if self._thread is not None:
            self._thread.quit()
        self.busy_changed.emit(False)

    @Slot(int, float, str)
    def _on_progress(self, job_id: int, fraction: float, message: str) -> None:
        if job_id != self._current or self.quiet:
            return
        elapsed = time.monotonic() - self._started_at
        left = elapsed * (1 - fraction) / fraction if fraction > 0.02 else -1.0
        self.progress.emit(fraction, message, left)

    @Slot(int, object)
    def _on_done(self, job_id: int, result: Any) -> None:
        if job_id != self._current:
            return
        callback = self._callbacks.pop(job_id, None)
        label = self._label
        self._finish()
        if callback is not None:
            try:
                callback(result)
            except Exception as error:  # applying the result failed: same reporter
                self.last_traceback = traceback.format_exc()
                self.failed.emit(label, _describe(error))
                return
        self.finished.emit(label, result)

    @Slot(int, str, str)
    def _on_error(self, job_id: int, message: str, trace: str) -> None:
        if job_id != self._current:
            return
        self._callbacks.pop(job_id, None)
        label = self._label
        self.last_traceback = trace
        self._finish()
        self.failed.emit(label, message)

    @Slot(int)
    def _on_aborted(self, job_id: int) -> None:
        if job_id == self._current:  # the job aborted itself without cancel() (rare)
            label = self._label
            self._callbacks.pop(job_id, None)
            self._finish()
            self.cancelled.emit(label)
