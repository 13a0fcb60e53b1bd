"""The job runner lets go of every finished, failed or cancelled job: its thread, its
worker and the input image its closure held."""
from __future__ import annotations

import gc

import numpy as np
import psutil
from PySide6.QtCore import QThread

from photoforge.core.document import Document
from photoforge.core.image import ImageData


def rss_mb() -> float:
    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def test_fifty_jobs_on_a_24_megapixel_document_keep_memory_flat(window, qtbot):
    # Before: each finished job's thread and worker went to a list nothing cleared, and the
    # worker's closure kept its own copy of the 72 MB image: +3.6 GB over 50 jobs.
    doc = Document(ImageData(np.full((4000, 6000, 3), 90, np.uint8)))
    window.set_document(doc)
    runner = window.jobs
    seen = []

    def job_on_a_copy(kind: str):
        pixels = doc.image.pixels.copy()  # what an op's job holds: its own input

        def fn(progress):
            progress.set(0.5)
            if kind == "fail":
                raise ValueError("broken on purpose")
            if kind == "cancel":
                while True:
                    progress.check_aborted()
                    QThread.msleep(5)
            return int(pixels[0, 0, 0])
        return fn

    def run(n: int) -> None:
        for i in range(n):
            kind = ("done", "fail", "cancel")[i % 3]
            if kind == "cancel":
                with qtbot.waitSignal(runner.progress, timeout=10000):
                    assert runner.start(f"job {i}", job_on_a_copy(kind))
                runner.cancel()
            else:
                signal = runner.finished if kind == "done" else runner.failed
                with qtbot.waitSignal(signal, timeout=10000):
                    assert runner.start(f"job {i}", job_on_a_copy(kind), on_done=seen.append)
        qtbot.waitUntil(lambda: runner.live_threads == 0, timeout=10000)

    window.error = lambda *a: None  # the failed jobs' dialogs
    run(5)
    settled = rss_mb()
    run(50)
    qtbot.wait(50)  # deleteLater runs in the event loop
    grown = rss_mb() - settled
    assert seen and set(seen) == {90}
    assert runner.live_threads == 0
    assert grown < 150, f"memory grew by {grown:.0f} MB over 50 jobs"


def test_a_cancelled_job_delivers_nothing_and_its_thread_ends(window, qtbot):
    runner = window.jobs
    delivered = []
    runner.finished.connect(lambda *a: delivered.append(a))

    def slow(progress):
        for _ in range(200):
            progress.check_aborted()
            QThread.msleep(5)
        return "late"

    with qtbot.waitSignal(runner.cancelled, timeout=5000):
        runner.start("slow", slow)
        runner.cancel()
    assert not runner.busy
    qtbot.waitUntil(lambda: runner.live_threads == 0, timeout=5000)
    qtbot.wait(50)
    assert delivered == []


def test_a_failure_is_a_dialog_and_its_traceback_goes_to_the_log(window, qtbot, monkeypatch):
    from photoforge.core import paths
    from photoforge.ui import errorlog

    errorlog.start()
    shown = []
    monkeypatch.setattr("photoforge.ui.main_window.QMessageBox.critical", lambda p, t, text: shown.append(text))

    def broken(progress):
        return {}["no such key"]  # a bug, not bad input

    with qtbot.waitSignal(window.jobs.failed, timeout=5000):
        window.jobs.start("Broken", broken)
    for handler in errorlog.log.handlers:
        handler.flush()
    text = (paths.data_dir() / errorlog.LOG_NAME).read_text()
    assert shown and "Broken failed" in shown[0]
    assert "Broken failed" in text and "Traceback" in text and "KeyError" in text and "broken" in text
