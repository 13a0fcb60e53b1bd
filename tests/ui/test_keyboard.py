"""A keyboard that always works: canvas keys with focus anywhere in the window, text fields
keeping their own keys, `\\` showing the photo before the last step, Space-pan after a
button click, every shortcut listed, and a wheel that scrolls panels."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit, QPushButton



@pytest.fixture
def opened(window, photo_file, qtbot):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=3000)
    assert window.open_path(photo_file)
    return window


def focus_elsewhere(window, qtbot):
    """Put the focus on a panel button, as a click would, away from the canvas."""
    button = next(b for b in window.panel("Restore").findChildren(QPushButton)
                  if b.isEnabled() and b.isVisible())
    button.setFocus(Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is button, timeout=2000)
    assert QApplication.focusWidget() is not window.canvas
    return button


def test_brush_size_keys_work_with_focus_on_a_panel(opened, qtbot):
    focus_elsewhere(opened, qtbot)
    size = opened.canvas.brush_size
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_BracketRight)
    assert opened.canvas.brush_size == pytest.approx(size * 1.2)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_BracketLeft)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_BracketLeft)
    assert opened.canvas.brush_size == pytest.approx(size / 1.2)


def test_a_text_field_keeps_its_own_keys(opened, qtbot):
    field = QLineEdit(opened.panel("Restore"))
    field.show()
    field.setFocus()
    qtbot.waitUntil(field.hasFocus, timeout=2000)
    size = opened.canvas.brush_size
    QTest.keyClicks(field, "a[b]\\ c")
    assert field.text() == "a[b]\\ c" and opened.canvas.brush_size == size


def test_holding_backslash_shows_the_photo_before_the_last_step_without_compare(opened, qtbot):
    doc = opened.document
    original = doc.image.pixels.copy()
    doc.apply_image(doc.image.with_pixels(255 - original), "Invert")
    assert not opened.compare_action.isChecked() and opened.canvas.before_pyramid is None
    target = focus_elsewhere(opened, qtbot)
    QTest.keyPress(target, Qt.Key.Key_Backslash)
    assert opened.canvas.show_before
    np.testing.assert_array_equal(opened.canvas.before_pyramid.source, original)
    QTest.keyRelease(target, Qt.Key.Key_Backslash)
    assert not opened.canvas.show_before and opened.canvas.before_pyramid is None  # memory back


def test_space_drag_pans_after_a_button_click_and_never_paints(opened, qtbot):
    canvas = opened.canvas
    canvas.set_zoom(16.0)
    canvas.horizontalScrollBar().setValue(canvas.horizontalScrollBar().maximum() // 2)
    button = focus_elsewhere(opened, qtbot)  # as after a click on a panel button
    clicks = []
    button.clicked.connect(lambda: clicks.append(1))
    QTest.keyPress(button, Qt.Key.Key_Space)
    vp = canvas.viewport()
    start = canvas.horizontalScrollBar().value()
    centre = vp.rect().center()
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)
    for dx in range(0, 200, 20):
        QTest.mouseMove(vp, centre - QPoint(dx, 0))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre - QPoint(200, 0))
    QTest.keyRelease(button, Qt.Key.Key_Space)
    assert canvas.horizontalScrollBar().value() != start  # it panned
    assert not opened.document.mask.any() and opened.document.history.labels == []  # no stroke
    assert clicks == []  # and Space did not press the button


def test_tool_letters_work_with_focus_on_a_panel(opened, qtbot):
    target = focus_elsewhere(opened, qtbot)
    for key, tool in ((Qt.Key.Key_E, "eraser"), (Qt.Key.Key_H, "hand"), (Qt.Key.Key_B, "brush")):
        QTest.keyClick(target, key)
        assert opened.canvas.tool == tool


def test_every_shortcut_is_listed_and_tools_say_their_keys(opened):
    rows = dict((text, keys) for keys, text in opened.shortcut_list())
    for text in ("Save", "Export", "Undo", "Fit", "Brush", "Eraser", "Hand", "Keyboard Shortcuts",
                 "Brush smaller / larger", "Show the photo before the last step"):
        assert text in rows, text
    assert rows["Save"] == "Ctrl+S" and rows["Brush"] == "B"
    tips = {a.text(): a.toolTip() for a in opened.findChildren(type(opened.undo_action))}
    assert tips["Brush"] == "Brush (B)" and "Ctrl+Z" in tips["&Undo"]


def test_about_names_the_version(opened, monkeypatch):
    import photoforge

    shown = []
    monkeypatch.setattr("photoforge.ui.main_window.QMessageBox.about", lambda p, t, text: shown.append(text))
    opened.show_about()
    assert shown and f"PhotoForge {photoforge.__version__}" in shown[0]


def test_the_wheel_over_a_spin_box_scrolls_the_panel_and_leaves_the_value(opened, qtbot):
    opened.resize(1000, 360)  # small enough for the panel to scroll
    panel = opened.panel("Upscale")
    opened.show_action_panel("Upscale")
    qtbot.wait(50)
    spin = panel.scale
    value = spin.value()
    area = spin.parent()
    while not hasattr(area, "verticalScrollBar"):
        area = area.parent()
    bar = area.verticalScrollBar()
    assert bar.maximum() > 0, "the panel must be taller than its dock for this test"
    bar.setValue(0)
    centre = QPointF(spin.width() / 2, spin.height() / 2)
    event = QWheelEvent(centre, spin.mapToGlobal(centre), QPoint(0, 0), QPoint(0, -120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(spin, event)
    assert spin.value() == value and bar.value() > 0
    spin.setFocus()  # clicked into: the wheel is the value's again
    qtbot.waitUntil(spin.hasFocus, timeout=2000)
    QApplication.sendEvent(spin, QWheelEvent(centre, spin.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 120),
                                             Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                                             Qt.ScrollPhase.NoScrollPhase, False))
    assert spin.value() != value


def test_the_window_opens_on_restore_and_then_on_the_panel_used_last(qtbot):
    from photoforge.ui.main_window import MainWindow

    first = MainWindow()
    qtbot.addWidget(first)
    assert first.action_box.currentWidget().title == "Restore"
    first.show_action_panel("Stylize")
    second = MainWindow()
    qtbot.addWidget(second)
    assert second.action_box.currentWidget().title == "Stylize"
    second.show_action_panel("Restore")


def test_a_red_photo_gets_a_mask_colour_it_does_not_share(window, tmp_path):
    from PySide6.QtGui import QColor

    from photoforge.core.image import ImageData
    from photoforge.core.imageio import save_image

    dress = np.zeros((60, 80, 3), np.uint8)
    dress[...] = (200, 40, 30)  # a red dress filling the frame
    save_image(ImageData(dress), tmp_path / "red.png")
    grass = np.zeros((60, 80, 3), np.uint8)
    grass[...] = (60, 160, 50)
    save_image(ImageData(grass), tmp_path / "green.png")
    window.open_path(tmp_path / "red.png")
    hue = window.canvas.mask_color.hsvHue()
    assert 150 <= hue <= 210, window.canvas.mask_color.name()  # cyan, opposite the red
    assert window.prefs.mask_color == "#ff2828"  # for this photo only, not a new preference
    window.document.history.mark_clean()
    window.open_path(tmp_path / "green.png")
    assert window.canvas.mask_color == QColor("#ff2828")


def test_side_by_side_shows_before_and_after_of_the_same_point_at_the_same_zoom(opened, qtbot):
    from photoforge.core.document import Document
    from photoforge.core.image import ImageData

    original = np.zeros((96, 128, 3), np.uint8)
    original[:, :64], original[:, 64:] = (80, 160, 200), (200, 60, 40)  # two flat halves
    opened.set_document(Document(ImageData(original)))
    doc, canvas = opened.document, opened.canvas
    doc.apply_image(doc.image.with_pixels(255 - original), "Invert")
    opened.compare_action.trigger()
    opened.side_action.trigger()  # one compare mode at a time
    assert canvas.side_by_side and canvas.split is None and not opened.compare_action.isChecked()
    canvas.set_zoom(2.0)
    qtbot.wait(20)
    w, h = canvas.viewport().width(), canvas.viewport().height()
    left, right = QPointF(w / 4 - 31, h / 2), QPointF(3 * w / 4 - 31, h / 2)
    p, q = canvas.to_image(left), canvas.to_image(right)
    assert abs(p.x() - q.x()) < 1e-6 and abs(p.y() - q.y()) < 1e-6  # the same image point
    shot = canvas.viewport().grab().toImage()
    x, y = int(p.x()), int(p.y())
    shown_left, shown_right = shot.pixelColor(left.toPoint()), shot.pixelColor(right.toPoint())
    assert (shown_left.red(), shown_left.green()) == tuple(original[y, x, :2])
    assert (shown_right.red(), shown_right.green()) == tuple(255 - original[y, x, :2])
    opened.side_action.trigger()
    assert not canvas.side_by_side and canvas.before_pyramid is None
