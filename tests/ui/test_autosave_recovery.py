"""Crash recovery for real: a PhotoForge started as the user starts it paints and edits,
is killed with SIGKILL mid-stroke, and a fresh window recovers image, mask and history."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest


ROOT = Path(__file__).resolve().parents[2]

# Runs the real start-up path (run_gui, as `photoforge gui IMAGE` does) and drives the
# window from a timer: two strokes, an image op, a mask command, an undo; then it keeps a
# ground truth (a project file: finished steps only) and starts a stroke it never ends.
DRIVER = r"""
import json, sys, time
from pathlib import Path
import numpy as np
from PySide6.QtCore import QSettings, QTimer, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

out = Path(sys.argv[1])
QSettings.setDefaultFormat(QSettings.Format.IniFormat)
QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(out / "settings"))
app = QApplication(sys.argv[:1])

def manifest(win):
    folder = win.autosave.saver.folder
    return json.loads((folder / "manifest.json").read_text()) if folder else {}

def wait_for(test, seconds=20):
    deadline = time.monotonic() + seconds
    while not test():
        if time.monotonic() > deadline:
            raise SystemExit("timed out")
        app.processEvents()
        time.sleep(0.02)

def drive():
    from photoforge.core.project import save_project
    from tests.ui.test_main_window import view_point
    from tests.ui.test_project_files import paint
    win = next(w for w in app.topLevelWidgets() if w.inherits("QMainWindow"))
    doc = win.document
    paint(win, 20, 10, 80)
    pixels = doc.image.pixels.copy()
    pixels[10:50, 30:90] = 255 - pixels[10:50, 30:90]
    doc.apply_image(doc.image.with_pixels(pixels, doc.image.alpha), "Invert colours")
    paint(win, 60, 20, 100)
    win.mask_command("Invert mask", "invert")
    win.undo()
    wait_for(lambda: manifest(win).get("history", {}).get("index") == 3)
    save_project(doc, out / "expected.pforge")
    vp = win.canvas.viewport()  # a stroke in progress: pressed, moved, never released
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view_point(win.canvas, 5, 80))
    for x in range(5, 60, 4):
        QTest.mouseMove(vp, view_point(win.canvas, x, 85))
    wait_for(lambda: manifest(win).get("pending"))
    np.save(out / "expected_mask.npy", doc.mask)
    print("READY", win.autosave.saver.folder, flush=True)

QTimer.singleShot(300, drive)
from photoforge.ui.app import run_gui
sys.exit(run_gui(sys.argv[2]))
"""


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    path = tmp_path / "data"
    monkeypatch.setenv("PHOTOFORGE_DATA_DIR", str(path))
    return path


def test_a_killed_session_is_recovered_exactly(qtbot, tmp_path, data_dir, photo_file, monkeypatch):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PHOTOFORGE_DATA_DIR": str(data_dir),
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(tmp_path), str(photo_file)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("READY"), proc.stderr.read() if proc.poll() is not None else line
        folder = Path(line.split(maxsplit=1)[1].strip())
        assert proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert folder.parent == data_dir / "sessions" and (folder / "lock").is_file()

    from photoforge.core.project import open_project
    from photoforge.ui.main_window import MainWindow

    asked = []

    def answer(sessions, parent):
        asked.append(sessions)
        return "recover", sessions[0]
    monkeypatch.setattr("photoforge.ui.recovery.ask", answer)
    win = MainWindow()
    qtbot.addWidget(win)
    try:
        assert win.offer_recovery()
        (offered,) = asked[0]
        assert offered.name == photo_file.name and offered.folder == folder and offered.steps == 4
        assert time.time() - offered.saved_at < 120
        doc = win.document
        expected = open_project(tmp_path / "expected.pforge")
        # The open stroke became the step it would have been on release, dropping the redo.
        assert doc.history.labels == expected.history.labels[:3] + ["Brush"]
        assert doc.history.index == 4 and doc.path is None and doc.display_name == photo_file.name
        # The driver saved a project before the stroke: the recovered work belongs to it, and
        # Save (Ctrl+S) writes that project, never the photo it started from.
        assert win.project_path == tmp_path / "expected.pforge" and doc.is_modified
        assert "expected.pforge" in win.windowTitle() and win.isWindowModified()
        assert np.array_equal(doc.mask, np.load(tmp_path / "expected_mask.npy"))
        assert np.array_equal(doc.image.pixels, expected.image.pixels)
        for i in range(4):  # every step, by undo
            doc.goto(i)
            expected.goto(i)
            assert np.array_equal(doc.image.pixels, expected.image.pixels)
            assert np.array_equal(doc.mask, expected.mask)
        doc.goto(3)
        doc.undo()
        doc.redo()
        doc.redo()
        assert np.array_equal(doc.mask, np.load(tmp_path / "expected_mask.npy"))
        # The recovered work is a live session of its own; the dead one is gone.
        assert not folder.exists()
        (live,) = [p for p in (data_dir / "sessions").iterdir()]
        assert (live / "manifest.json").is_file()
    finally:
        win.document = None
        win.close()
    assert not list((data_dir / "sessions").iterdir())  # a clean exit leaves nothing


def test_later_keeps_the_session_and_discard_removes_it(qtbot, data_dir, monkeypatch):
    from photoforge.core.autosave import Autosaver, orphaned_sessions
    from photoforge.core.document import Document
    from photoforge.core.image import ImageData
    from photoforge.ui.main_window import MainWindow

    doc = Document(ImageData(np.zeros((40, 50, 3), np.uint8)))
    saver = Autosaver(doc)
    with doc.begin_stroke() as s:
        s.dab(10, 10, 5)
    saver.save()
    saver._release_lock()
    win = MainWindow()
    qtbot.addWidget(win)
    monkeypatch.setattr("photoforge.ui.recovery.ask", lambda sessions, parent: ("later", None))
    assert not win.offer_recovery() and saver.folder.exists()
    monkeypatch.setattr("photoforge.ui.recovery.ask", lambda sessions, parent: ("discard", sessions[0]))
    assert not win.offer_recovery() and not saver.folder.exists()
    assert orphaned_sessions() == []
    win.close()


def test_the_dialog_lists_sessions_with_name_and_time(qtbot, tmp_path):
    from photoforge.core.autosave import SessionInfo
    from photoforge.ui.recovery import RecoveryDialog

    dialog = RecoveryDialog([SessionInfo(tmp_path, "scan.tif", 1_700_000_000, 12)])
    qtbot.addWidget(dialog)
    text = dialog.list.item(0).text()
    assert "scan.tif" in text and "12 steps" in text and time.strftime(
        "%Y-%m-%d", time.localtime(1_700_000_000)) in text
    assert dialog.selected().name == "scan.tif"
    from PySide6.QtWidgets import QPushButton

    assert {b.text() for b in dialog.findChildren(QPushButton)} == {"Recover", "Discard", "Later"}
