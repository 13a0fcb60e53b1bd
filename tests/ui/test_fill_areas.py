"""The content-aware fill's sampling and exclude areas in the window: painted with the brush
from the Inpaint panel, undoable, saved in projects, moved by geometry, given to the fill."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.ui.test_main_window import view_point

BLUE, RED, GREEN = (40, 70, 190), (210, 40, 40), (40, 190, 60)


@pytest.fixture
def subject_file(tmp_path):
    """Blue backdrop, a red subject right of where the holes will be, green stripes far left."""
    from photoforge.core.image import ImageData
    from photoforge.core.imageio import save_image

    rng = np.random.default_rng(1)
    pixels = np.empty((96, 128, 3), np.int16)
    pixels[:] = BLUE
    pixels[:, 80:] = RED
    pixels[:, :16] = GREEN
    pixels[:, 0:16:4] = pixels[:, 1:16:4] = (20, 90, 30)
    pixels = np.clip(pixels + rng.integers(-12, 13, pixels.shape), 0, 255).astype(np.uint8)
    path = tmp_path / "subject.png"
    save_image(ImageData(pixels), path)
    return path


def inpaint_panel(window):
    from photoforge.ui.actions import InpaintPanel

    panel = next(p for p in window.action_panels if isinstance(p, InpaintPanel))
    window.action_box.setCurrentWidget(panel)
    return panel


def choose(panel, target):
    button = next(b for b in panel.target_buttons.buttons() if b.property("target") == target)
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def drag(canvas, points, size=12):
    canvas.brush_size, canvas.brush_hardness, canvas.brush_opacity = size, 1.0, 1.0
    vp = canvas.viewport()
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view_point(canvas, *points[0]))
    for p in points[1:]:
        QTest.mouseMove(vp, view_point(canvas, *p))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       view_point(canvas, *points[-1]))


def paint_rect(doc, layer, y0, y1, x0, x1):
    """An area painted through the document's brush (one stroke, as the canvas makes)."""
    stroke = doc.begin_stroke(hardness=1.0, layer=layer)
    for y in range(y0 + 2, y1, 4):
        stroke.dab(x0 + 2, y, 3)
        stroke.line_to(x1 - 3, y, 3)
    stroke.end()


def red_share(pixels, where):
    px = pixels[where].astype(int)
    return float(np.mean(px[:, 0] > px[:, 2]))


def test_the_area_brushes_show_with_the_fill_and_paint_their_own_layers(window, photo_file):
    window.open_path(photo_file)
    panel = inpaint_panel(window)
    panel.method.setCurrentIndex(panel.method.findData("quick"))
    assert panel.areas_box.isHidden() and window.canvas.paint_layer == "mask" and not window.canvas.show_areas
    panel.method.setCurrentIndex(panel.method.findData("fill"))
    assert not panel.areas_box.isHidden() and window.canvas.show_areas
    window.select_tool("hand")
    choose(panel, "exclude")
    assert window.canvas.paint_layer == "exclude" and window.canvas.tool == "brush"
    doc = window.document
    drag(window.canvas, [(20, 30), (60, 30)])
    assert doc.mask.max() == 0 and doc.areas["sample"] is None
    exclude = doc.areas["exclude"]
    assert exclude[30, 20] == 255 and exclude[30, 59] == 255 and exclude[10, 40] == 0
    assert doc.history.labels == ["Paint exclude area"]
    window.select_tool("eraser")
    drag(window.canvas, [(40, 20), (40, 40)], size=6)
    assert exclude[30, 40] == 0 and exclude[30, 20] == 255
    assert doc.history.labels[-1] == "Erase exclude area"
    # Another panel: the brush paints the mask again, and the area comes back with the panel.
    window.show_action_panel("Restore")
    assert window.canvas.paint_layer == "mask" and not window.canvas.show_areas
    inpaint_panel(window)
    assert window.canvas.paint_layer == "exclude" and window.canvas.show_areas
    panel.method.setCurrentIndex(panel.method.findData("quick"))  # ignores the areas: back to the mask
    assert window.canvas.paint_layer == "mask" and panel.target == "mask"


def test_undo_restores_the_areas_exactly_and_clear_is_a_step(window, photo_file):
    window.open_path(photo_file)
    panel = inpaint_panel(window)
    panel.method.setCurrentIndex(panel.method.findData("fill"))
    doc = window.document
    choose(panel, "sample")
    window.canvas.brush_hardness = 0.3  # soft edges: every level must come back, not only 0/255
    drag(window.canvas, [(10, 10), (100, 60)], size=20)
    painted = doc.areas["sample"].copy()
    assert ((painted > 0) & (painted < 255)).any()
    QTest.mouseClick(panel.clear_buttons["sample"], Qt.MouseButton.LeftButton)
    assert doc.areas["sample"].max() == 0
    assert doc.history.labels == ["Paint sampling area", "Clear sampling area"]
    window.undo_action.trigger()
    np.testing.assert_array_equal(doc.areas["sample"], painted)
    window.undo_action.trigger()
    assert doc.areas["sample"].max() == 0
    window.redo_action.trigger()
    np.testing.assert_array_equal(doc.areas["sample"], painted)


def run_fill(window, qtbot):
    with qtbot.waitSignal(window.jobs.finished, timeout=60000):
        QTest.keyClick(window.canvas, Qt.Key.Key_Return)


def test_an_excluded_subject_gives_the_fill_no_colour(window, subject_file, qtbot):
    window.open_path(subject_file)
    panel = inpaint_panel(window)
    panel.method.setCurrentIndex(panel.method.findData("fill"))
    doc = window.document
    original = doc.image.pixels.copy()
    paint_rect(doc, "mask", 20, 76, 50, 80)  # the hole touches the red subject
    hole = doc.mask > 0
    run_fill(window, qtbot)
    assert red_share(doc.image.pixels, hole) > 0.05  # without an exclude area, red comes in
    window.undo_action.trigger()
    np.testing.assert_array_equal(doc.image.pixels, original)
    choose(panel, "exclude")
    drag(window.canvas, [(84, 4), (84, 92), (96, 92), (96, 4), (110, 4), (110, 92), (122, 92), (122, 4)], size=16)
    assert (doc.areas["exclude"][:, 80:] > 0).mean() > 0.95
    run_fill(window, qtbot)
    assert red_share(doc.image.pixels, hole) == 0
    assert doc.image.pixels[hole][:, 0].max() < 120  # not even a red tint at the seam
    assert doc.areas["exclude"] is not None and doc.areas["exclude"].any()  # kept for the next fill


def test_a_sampling_area_is_where_the_fill_copies_from(window, subject_file, qtbot):
    window.open_path(subject_file)
    panel = inpaint_panel(window)
    panel.method.setCurrentIndex(panel.method.findData("fill"))
    doc = window.document
    paint_rect(doc, "mask", 30, 66, 36, 66)  # inside the blue backdrop
    core = (slice(40, 56), slice(44, 58))

    def stripes() -> float:  # the green channel's jumps from column to column, in the hole
        green = doc.image.pixels[core][..., 1].astype(int)
        return float(np.abs(np.diff(green, axis=1)).mean())
    run_fill(window, qtbot)
    assert stripes() < 20  # the backdrop's noise, from around the hole
    window.undo_action.trigger()
    choose(panel, "sample")
    drag(window.canvas, [(4, 4), (4, 92), (12, 92), (12, 4)], size=8)  # the stripes only
    run_fill(window, qtbot)
    assert stripes() > 40  # the stripes, copied from the only place allowed


def test_a_mask_over_the_whole_photo_is_a_dialog_before_any_job(window, photo_file, monkeypatch):
    shown = []
    monkeypatch.setattr("photoforge.ui.main_window.QMessageBox.critical",
                        lambda parent, title, text: shown.append(text))
    window.open_path(photo_file)
    panel = inpaint_panel(window)
    panel.method.setCurrentIndex(panel.method.findData("fill"))
    window.mask_command("Select all", "select_all")
    before = window.document.image.pixels.copy()
    window.remove_masked()
    assert shown and "covers the whole photo, so nothing is left to fill it from" in shown[0]
    assert not window.jobs.busy and window.document.history.labels == ["Select all"]
    np.testing.assert_array_equal(window.document.image.pixels, before)


def test_a_rotation_and_a_crop_move_the_areas_with_the_photo(window, photo_file, qtbot):
    from photoforge.ops.geometry import crop, rotate90

    window.open_path(photo_file)
    doc = window.document
    paint_rect(doc, "exclude", 10, 30, 5, 40)
    paint_rect(doc, "mask", 50, 60, 50, 90)
    exclude, mask = doc.areas["exclude"].copy(), doc.mask.copy()
    with qtbot.waitSignal(window.jobs.finished, timeout=30000):
        window.change_geometry("Rotate right", lambda im, m, ir: rotate90(im, m, clockwise=True))
    np.testing.assert_array_equal(doc.areas["exclude"], np.rot90(exclude, -1))
    np.testing.assert_array_equal(doc.mask, np.rot90(mask, -1))
    assert doc.areas["sample"] is None  # never painted: still nothing
    with qtbot.waitSignal(window.jobs.finished, timeout=30000):
        window.change_geometry("Crop", lambda im, m, ir: crop(im, m, (4, 60, 50, 90)))
    np.testing.assert_array_equal(doc.areas["exclude"], np.rot90(exclude, -1)[4:60, 50:90])
    assert window.canvas.area_pyramids["exclude"].source is doc.areas["exclude"]
    window.undo_action.trigger()
    window.undo_action.trigger()
    np.testing.assert_array_equal(doc.areas["exclude"], exclude)
    np.testing.assert_array_equal(doc.mask, mask)


def test_a_project_keeps_the_areas_and_their_history(window, photo_file, tmp_path):
    window.open_path(photo_file)
    doc = window.document
    paint_rect(doc, "sample", 0, 40, 0, 60)
    paint_rect(doc, "exclude", 50, 90, 70, 120)
    sample, exclude = doc.areas["sample"].copy(), doc.areas["exclude"].copy()
    path = tmp_path / "work.pforge"
    assert window.save_project_to(path)
    window.document = None  # as if closed
    assert window.open_project_path(path)
    loaded = window.document
    np.testing.assert_array_equal(loaded.areas["sample"], sample)
    np.testing.assert_array_equal(loaded.areas["exclude"], exclude)
    assert loaded.history.labels == ["Paint sampling area", "Paint exclude area"]
    assert set(window.canvas.area_pyramids) == {"sample", "exclude"}
    window.undo_action.trigger()
    assert loaded.areas["exclude"].max() == 0
    np.testing.assert_array_equal(loaded.areas["sample"], sample)


def test_each_area_has_its_own_overlay_shown_with_the_fill_only(window, tmp_path):
    from photoforge.core.image import ImageData
    from photoforge.core.imageio import save_image

    path = tmp_path / "grey.png"
    save_image(ImageData(np.full((96, 128, 3), 128, np.uint8)), path)
    window.open_path(path)
    panel = inpaint_panel(window)
    panel.method.setCurrentIndex(panel.method.findData("fill"))
    doc, canvas = window.document, window.canvas
    canvas.set_zoom(2.0)
    paint_rect(doc, "mask", 10, 40, 10, 40)
    paint_rect(doc, "sample", 10, 40, 50, 80)
    paint_rect(doc, "exclude", 50, 90, 50, 90)

    def seen(y0, y1, x0, x1) -> np.ndarray:
        """The view's mean colour over an image rectangle."""
        image = canvas.viewport().grab().toImage()
        a, b = view_point(canvas, x0, y0), view_point(canvas, x1, y1)
        return np.array([[image.pixelColor(x, y).getRgb()[:3] for x in range(a.x(), b.x(), 3)]
                         for y in range(a.y(), b.y(), 3)]).reshape(-1, 3).mean(axis=0)
    mask, sample, exclude = seen(15, 35, 15, 35), seen(15, 35, 55, 75), seen(55, 85, 55, 85)
    assert mask[0] > mask[1] + 40 and mask[0] > mask[2] + 40  # red
    assert sample[1] > sample[0] + 40 and sample[1] > sample[2] + 20  # green
    assert exclude[2] > exclude[1] + 30 and exclude[0] > exclude[1]  # violet
    window.show_action_panel("Restore")  # the fill's areas are not the restore's business
    np.testing.assert_allclose(seen(15, 35, 55, 75), 128, atol=2)
    assert seen(15, 35, 15, 35)[0] > 170  # the mask stays
