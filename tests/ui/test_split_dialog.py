"""File ▸ Split scan…: outlines found, corrected by hand, prints opened or saved."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from photoforge.core.image import ImageData
from photoforge.core.imageio import load_image, save_image


def flatbed(photo) -> np.ndarray:
    """Two prints, one turned 4°, on a white lid with a soft edge shadow."""
    scan = np.full((700, 900, 3), 246, np.uint8)
    for (cx, cy), angle, crop in (((240, 330), 0.0, photo[50:350, 100:320]), ((640, 360), 4.0, photo[150:430, 200:440])):
        h, w = crop.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), -angle, 1.0)
        m[:, 2] += (cx - w / 2, cy - h / 2)
        shadow = cv2.warpAffine(np.full((h, w), 255, np.uint8), m, scan.shape[1::-1])
        shadow = cv2.GaussianBlur(shadow, (0, 0), 2)
        scan = (scan * (1 - 0.25 * shadow[..., None] / 255)).astype(np.uint8)
        inside = cv2.warpAffine(np.full((h, w), 255, np.uint8), m, scan.shape[1::-1])
        pasted = cv2.warpAffine(np.ascontiguousarray(crop), m, scan.shape[1::-1], flags=cv2.INTER_CUBIC)
        scan = np.where(inside[..., None] > 127, pasted, scan)
    return scan


@pytest.fixture
def scan_file(photo, tmp_path):
    path = tmp_path / "album_page.png"
    save_image(ImageData(flatbed(photo)), path)
    return path


def test_prints_found_corrected_and_saved(window, scan_file, tmp_path, qtbot, monkeypatch):
    pytest.importorskip("photoforge.ops.split")
    out = tmp_path / "prints"
    out.mkdir()
    seen = {}

    def decide(dialog):
        qtbot.waitUntil(lambda: not window.jobs.busy, timeout=30000)
        seen["found"] = len(dialog.editor.quads)
        dialog.editor.add()  # a third outline by hand…
        dialog.editor.remove_selected()  # …and taken away again
        dialog.chosen = "save"
        return dialog.DialogCode.Accepted

    monkeypatch.setattr("photoforge.ui.main_window.QFileDialog.getExistingDirectory", lambda *a, **k: str(out))
    assert window.split_scan(scan_file, decide)
    qtbot.waitUntil(lambda: (out / "album_page_2.png").exists() and not window.jobs.busy, timeout=30000)
    assert seen["found"] == 2
    first, second = load_image(out / "album_page_1.png"), load_image(out / "album_page_2.png")
    assert abs(first.width - 220) <= 3 and abs(first.height - 300) <= 3
    assert abs(second.width - 240) <= 3 and abs(second.height - 280) <= 3


def test_dragging_outline_corners_on_a_shrunken_view_changes_the_saved_print(window, scan_file, tmp_path, qtbot, monkeypatch):
    """The view is drawn at whatever size the dialog has; a drag there is a drag on the scan."""
    from PySide6.QtCore import QPoint, Qt

    out = tmp_path / "prints"
    out.mkdir()
    moved = {}

    def widget_point(editor, corner):
        scale, dx, dy = editor._view()
        x, y = editor.quads[0][corner] * scale + (dx, dy)
        return QPoint(round(x), round(y))

    def decide(dialog):
        qtbot.waitUntil(lambda: not window.jobs.busy, timeout=30000)
        dialog.resize(520, 420)
        dialog.show()
        qtbot.waitExposed(dialog)
        editor = dialog.editor
        scale = editor._view()[0]
        assert scale < 0.7  # the 900 px preview really is drawn smaller
        before = editor.prints()[0].size
        for corner in (1, 2):  # the right side, 30 screen px to the left
            start = widget_point(editor, corner)
            qtbot.mousePress(editor, Qt.MouseButton.LeftButton, pos=start)
            qtbot.mouseMove(editor, start - QPoint(15, 0))
            qtbot.mouseMove(editor, start - QPoint(30, 0))
            qtbot.mouseRelease(editor, Qt.MouseButton.LeftButton, pos=start - QPoint(30, 0))
        moved["scan px"] = 30 / (scale * editor.factor)
        moved["width before"] = before[0]
        editor.selected = 1
        qtbot.keyClick(editor, Qt.Key.Key_Delete)  # the second outline goes
        dialog.chosen = "save"
        return dialog.DialogCode.Accepted

    monkeypatch.setattr("photoforge.ui.main_window.QFileDialog.getExistingDirectory", lambda *a, **k: str(out))
    assert window.split_scan(scan_file, decide)
    qtbot.waitUntil(lambda: (out / "album_page_1.png").exists() and not window.jobs.busy, timeout=30000)
    first = load_image(out / "album_page_1.png")
    assert abs(first.width - (moved["width before"] - moved["scan px"])) <= 3
    assert abs(first.height - 300) <= 3
    assert not (out / "album_page_2.png").exists()


def test_prints_open_each_in_a_window(window, scan_file, qtbot):
    pytest.importorskip("photoforge.ops.split")

    def decide(dialog):
        qtbot.waitUntil(lambda: not window.jobs.busy, timeout=30000)
        dialog.chosen = "open"
        return dialog.DialogCode.Accepted

    assert window.split_scan(scan_file, decide)
    qtbot.waitUntil(lambda: window.document is not None and len(window.print_windows) == 1, timeout=30000)
    assert window.document.display_name == "album_page_1.png" and window.document.path is None
    other = window.print_windows[0]
    assert other.document.display_name == "album_page_2.png"
    other.document = None
    other.close()
