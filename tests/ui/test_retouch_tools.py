"""Clone stamp (S) and healing brush (J) in the real window: Alt-click sets the source,
each stroke is one undo step (exact), 16-bit kept, aligned and non-aligned sources."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from photoforge.core.image import ImageData
from photoforge.core.imageio import save_image
from tests.ops.test_retouch import textured
from tests.ui.test_main_window import view_point


@pytest.fixture
def retouch(window, tmp_path, qtbot):
    path = tmp_path / "deep.tif"
    save_image(ImageData(textured()), path)
    assert window.open_path(path)
    canvas = window.canvas
    canvas.set_zoom(2.0)
    canvas.horizontalScrollBar().setValue(0)
    canvas.verticalScrollBar().setValue(0)
    canvas.brush_size, canvas.brush_hardness, canvas.brush_opacity = 16, 1.0, 1.0
    return window


def drag(window, qtbot, x0, x1, y, modifiers=Qt.KeyboardModifier.NoModifier):
    canvas, vp = window.canvas, window.canvas.viewport()
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, modifiers, view_point(canvas, x0, y))
    for x in range(x0, x1, 3):
        QTest.mouseMove(vp, view_point(canvas, x, y))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, modifiers, view_point(canvas, x1, y))
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=10000)
    qtbot.wait(20)


def alt_click(window, x, y):
    QTest.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.AltModifier,
                     view_point(window.canvas, x, y))


def test_a_clone_stroke_copies_the_source_as_one_exact_undo_step(retouch, qtbot):
    window, doc = retouch, retouch.document
    before = doc.image.pixels.copy()
    QTest.keyClick(window.canvas, Qt.Key.Key_S)
    assert window.canvas.tool == "clone"
    drag(window, qtbot, 100, 120, 40)  # no source yet: nothing happens
    assert doc.history.labels == []
    alt_click(window, 30, 40)
    drag(window, qtbot, 100, 120, 40)
    assert doc.history.labels == ["Clone stamp"] and not window.canvas.has_preview
    after = doc.image.pixels
    assert after.dtype == np.uint16
    np.testing.assert_array_equal(after[36:45, 104:116], before[36:45, 34:46])  # the core: the source
    untouched = np.ones(before.shape[:2], bool)
    untouched[20:60, 85:140] = False
    np.testing.assert_array_equal(after[untouched], before[untouched])
    window.undo_action.trigger()
    np.testing.assert_array_equal(doc.image.pixels, before)
    window.redo_action.trigger()
    np.testing.assert_array_equal(doc.image.pixels, after)


def test_aligned_keeps_the_offset_and_non_aligned_starts_again_at_the_source(retouch, qtbot):
    window, canvas = retouch, retouch.canvas
    canvas.tool = "clone"
    alt_click(window, 30, 40)
    drag(window, qtbot, 100, 104, 40)
    before = window.document.image.pixels.copy()
    drag(window, qtbot, 100, 104, 90)  # aligned: reads 70 px to the left, at the same height
    np.testing.assert_array_equal(window.document.image.pixels[88:92, 100:104], before[88:92, 30:34])
    canvas.clone_aligned = False
    alt_click(window, 30, 40)
    before = window.document.image.pixels.copy()
    drag(window, qtbot, 160, 164, 120)  # non-aligned: from the source point again
    np.testing.assert_array_equal(window.document.image.pixels[118:122, 160:164], before[38:42, 30:34])
    assert window.document.history.labels == ["Clone stamp"] * 3


def test_a_heal_stroke_takes_the_destination_tone(retouch, qtbot):
    window, doc = retouch, retouch.document
    before = doc.image.pixels.copy()
    QTest.keyClick(window.canvas, Qt.Key.Key_J)
    assert window.canvas.tool == "heal"
    alt_click(window, 20, 80)  # dark side of the ramp
    drag(window, qtbot, 200, 215, 80)  # onto the light side
    assert doc.history.labels == ["Healing brush"]
    region = (slice(76, 85), slice(204, 212))
    shift = (doc.image.pixels[region].astype(float) - before[region]).mean() / 65535
    assert abs(shift) < 0.03  # a clone would be ~0.45 darker
    window.undo_action.trigger()
    np.testing.assert_array_equal(doc.image.pixels, before)
