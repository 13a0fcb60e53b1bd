"""Rotate, flip, crop and straighten in the window: one step each, the mask moving with
the photo, undo exact."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from photoforge.core.image import ImageData
from photoforge.core.imageio import save_image
from tests.ops.test_geometry import tilted_scene
from tests.ui.test_main_window import view_point
from tests.ui.test_project_files import menu_action


def settle(window, qtbot):
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=20000)
    qtbot.wait(20)


def test_rotate_and_flip_move_the_mask_with_the_photo(window, photo_file, qtbot):
    window.open_path(photo_file)
    doc = window.document
    original, h, w = doc.image.pixels.copy(), *doc.image.pixels.shape[:2]
    doc.mask[0:10, w - 20:w] = 255  # top right
    menu_action(window, "Rotate 90° &Clockwise").trigger()
    settle(window, qtbot)
    assert doc.image.pixels.shape[:2] == (w, h) and doc.history.labels[-1] == "Rotate 90° Clockwise"
    assert doc.mask[w - 20:w, h - 10:h].all()  # now bottom right
    menu_action(window, "Flip &Horizontal").trigger()
    settle(window, qtbot)
    assert doc.mask[w - 20:w, 0:10].all()
    window.undo_action.trigger()
    window.undo_action.trigger()
    np.testing.assert_array_equal(doc.image.pixels, original)
    assert doc.mask[0:10, w - 20:w].all() and doc.mask.sum() == 255 * 200


@pytest.mark.parametrize("aspect, expected", [("Free", None), ("1:1", 1.0)])
def test_a_dragged_crop_applies_on_enter(window, photo_file, qtbot, aspect, expected):
    window.open_path(photo_file)
    canvas, doc = window.canvas, window.document
    canvas.set_zoom(2.0)
    canvas.horizontalScrollBar().setValue(0)
    canvas.verticalScrollBar().setValue(0)
    from photoforge.ui.panels import ToolOptionsBar

    bar = window.findChild(ToolOptionsBar)
    bar.aspect.setCurrentIndex(bar.aspect.findText(aspect))
    QTest.keyClick(canvas, Qt.Key.Key_C)
    assert canvas.tool == "crop"
    vp = canvas.viewport()
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view_point(canvas, 10, 20))
    QTest.mouseMove(vp, view_point(canvas, 70, 60))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view_point(canvas, 70, 60))
    y0, y1, x0, x1 = canvas.crop_rect
    original = doc.image.pixels.copy()
    assert not doc.mask.any()  # dragging a crop paints nothing
    QTest.keyClick(canvas, Qt.Key.Key_Return)
    settle(window, qtbot)
    np.testing.assert_array_equal(doc.image.pixels, original[y0:y1, x0:x1])
    if expected:
        assert abs((x1 - x0) / (y1 - y0) - expected) < 0.05
    assert doc.history.labels == [f"Crop to {x1 - x0} × {y1 - y0}"] and canvas.crop_rect is None


def test_a_drawn_crop_is_reshaped_by_its_edges_and_moved_from_inside(window, photo_file, qtbot):
    window.open_path(photo_file)
    canvas, doc = window.canvas, window.document
    canvas.set_zoom(2.0)
    canvas.horizontalScrollBar().setValue(0)
    canvas.verticalScrollBar().setValue(0)
    QTest.keyClick(canvas, Qt.Key.Key_C)
    vp = canvas.viewport()

    def drag(a, b):
        QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view_point(canvas, *a))
        QTest.mouseMove(vp, view_point(canvas, *b))
        QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view_point(canvas, *b))

    drag((10, 20), (70, 60))
    assert canvas.crop_rect == (20, 60, 10, 70)
    drag((70, 40), (90, 45))  # the right edge, 20 px further right (the 5 px down is ignored)
    assert canvas.crop_rect == (20, 60, 10, 90)
    drag((40, 60), (40, 50))  # the bottom edge, 10 px up
    assert canvas.crop_rect == (20, 50, 10, 90)
    drag((50, 35), (55, 45))  # inside: the whole rectangle moves
    assert canvas.crop_rect == (30, 60, 15, 95)
    original = doc.image.pixels.copy()
    QTest.keyClick(canvas, Qt.Key.Key_Return)
    settle(window, qtbot)
    np.testing.assert_array_equal(doc.image.pixels, original[30:60, 15:95])
    assert doc.history.labels == ["Crop to 80 × 30"]

    drag((10, 20), (70, 60))  # Esc in the middle of an edge drag: the crop is gone for good
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view_point(canvas, 70, 40))
    QTest.mouseMove(vp, view_point(canvas, 75, 40))
    QTest.keyClick(canvas, Qt.Key.Key_Escape)
    QTest.mouseMove(vp, view_point(canvas, 79, 40))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view_point(canvas, 79, 40))
    assert canvas.crop_rect is None


def test_a_line_drawn_with_straighten_levels_it(window, tmp_path, qtbot):
    path = tmp_path / "tilted.png"
    save_image(ImageData(tilted_scene(3.0, 300, 400)), path)
    window.open_path(path)
    canvas = window.canvas
    canvas.set_zoom(1.0)
    canvas.tool = "straighten"
    angles = []
    canvas.line_drawn.connect(lambda *p: angles.append(p))
    vp = canvas.viewport()
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view_point(canvas, 50, 150))
    QTest.mouseMove(vp, view_point(canvas, 350, 166))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view_point(canvas, 350, 166))
    settle(window, qtbot)
    label = window.document.history.labels[-1]
    assert angles and label.startswith("Straighten (+3.")  # atan(16 / 300) = 3.05°


def test_auto_straighten_finds_the_horizon(window, tmp_path, qtbot):
    path = tmp_path / "tilted.png"
    save_image(ImageData(tilted_scene(-2.5, 300, 400)), path)
    window.open_path(path)
    menu_action(window, "Auto S&traighten").trigger()
    settle(window, qtbot)
    (label,) = window.document.history.labels
    assert label.startswith("Straighten (-2.")
