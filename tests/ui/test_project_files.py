"""File ▸ Save Project / Open Project in the real window (offscreen)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from tests.ui.test_main_window import drop, view_point


@pytest.fixture
def second_window(qtbot):
    from photoforge.ui.main_window import MainWindow

    win = MainWindow()
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.jobs.wait(20000)
    win.document = None
    win.close()
    win.deleteLater()


def menu_action(window, text: str):
    return next(a for a in window.findChildren(type(window.undo_action)) if a.text() == text)


def paint(window, y: int, x0: int, x1: int) -> None:
    canvas = window.canvas
    canvas.set_zoom(2.0)
    canvas.horizontalScrollBar().setValue(0)
    canvas.verticalScrollBar().setValue(0)
    canvas.brush_size, canvas.brush_hardness, canvas.brush_opacity = 10, 1.0, 1.0
    vp = canvas.viewport()
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view_point(canvas, x0, y))
    for x in range(x0, x1, 4):
        QTest.mouseMove(vp, view_point(canvas, x, y))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view_point(canvas, x1, y))


def test_save_project_then_open_it_in_a_fresh_window_with_undo(window, second_window, photo_file,
                                                               tmp_path, qtbot, monkeypatch):
    assert window.open_path(photo_file)
    paint(window, 30, 20, 60)
    painted = window.document.mask.copy()
    window.mask_command("Invert mask", "invert")
    inverted = window.document.mask.copy()
    target = tmp_path / "session"  # the suffix is added
    monkeypatch.setattr("photoforge.ui.main_window.QFileDialog.getSaveFileName",
                        lambda *a, **k: (str(target), ""))
    save = menu_action(window, "&Save")  # Ctrl+S on a photo opened from an image: a new project
    assert save.shortcut().toString() == "Ctrl+S"
    save.trigger()
    saved = tmp_path / "session.pforge"
    assert saved.is_file() and window.project_path == saved

    drop(second_window, [saved])  # a project opens by drag and drop like an image
    qtbot.waitUntil(lambda: second_window.document is not None, timeout=5000)
    doc = second_window.document
    assert doc.history.labels == ["Brush", "Invert mask"] and second_window.project_path == saved
    assert second_window.history_panel.count() == 3
    np.testing.assert_array_equal(doc.mask, inverted)
    assert second_window.undo_action.isEnabled()
    second_window.undo_action.trigger()
    np.testing.assert_array_equal(doc.mask, painted)
    second_window.undo_action.trigger()
    assert not doc.mask.any() and not second_window.undo_action.isEnabled()
    second_window.redo_action.trigger()
    np.testing.assert_array_equal(doc.mask, painted)


def test_a_damaged_project_is_a_dialog(window, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("photoforge.ui.main_window.QMessageBox.critical",
                        lambda parent, title, text: shown.append((title, text)))
    bad = tmp_path / "broken.pforge"
    bad.write_bytes(b"PK\x03\x04 definitely not the rest of a zip")
    monkeypatch.setattr("photoforge.ui.main_window.QFileDialog.getOpenFileName",
                        lambda *a, **k: (str(bad), ""))
    menu_action(window, "Open &Project…").trigger()
    assert window.document is None
    assert shown and shown[0][0] == "Cannot open project" and "broken.pforge" in shown[0][1]


def test_work_saved_in_a_project_counts_as_saved(window, photo_file, tmp_path, monkeypatch):
    asked = []
    cancel = QMessageBox.StandardButton.Cancel
    monkeypatch.setattr("photoforge.ui.main_window.QMessageBox.question", lambda *args: asked.append(args[2]) or cancel)
    window.open_path(photo_file)
    paint(window, 20, 10, 60)
    assert window.isWindowModified()
    assert window.save_project_to(tmp_path / "work.pforge")
    assert not window.isWindowModified() and "work.pforge" in window.windowTitle()
    assert window._confirm_discard() and asked == []  # nothing to ask: the project holds it
    paint(window, 40, 10, 60)
    assert window.isWindowModified()
    assert not window._confirm_discard() and asked == ["Save changes to work.pforge?"]
    window.undo_action.trigger()  # back to the state the project holds
    assert not window.isWindowModified()
