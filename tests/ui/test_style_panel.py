"""The Stylize panel on the real window: gallery, preview of the visible region, apply."""
from __future__ import annotations

import numpy as np
import pytest

from photoforge.core.image import ImageData
from photoforge.core.imageio import save_image


@pytest.fixture
def style_panel(window):
    from photoforge.ui.style_panel import StylePanel

    panel = next(p for p in window.action_panels if isinstance(p, StylePanel))
    window.prefs.device = "cpu"
    return panel


@pytest.fixture
def coffee_file(tmp_path):
    from tests.conftest import SAMPLES
    from PIL import Image

    path = tmp_path / "coffee.png"
    save_image(ImageData(np.asarray(Image.open(SAMPLES / "coffee.jpg").convert("RGB"))[:240, :320].copy()), path)
    return path


def test_the_gallery_paints_every_style_on_the_photo_once(window, style_panel, coffee_file, qtbot):
    window.open_path(coffee_file)
    assert all(style_panel.gallery.item(i).icon().isNull() for i in range(26))
    with qtbot.waitSignal(window.jobs.finished, timeout=120000):
        window.show_action_panel("stylize")
    icons = [style_panel.gallery.item(i).icon() for i in range(26)]
    assert not any(icon.isNull() for icon in icons)
    first = icons[0].pixmap(32, 32).toImage()
    other = icons[7].pixmap(32, 32).toImage()
    assert first != other  # each style painted, not one picture 26 times
    style_panel.render_gallery()  # cached for this photo: no second job
    assert not window.jobs.busy


def test_preview_shows_exactly_what_apply_produces_there(window, style_panel, coffee_file, qtbot):
    window.open_path(coffee_file)
    window.canvas.set_zoom(2.0)
    window.canvas.horizontalScrollBar().setValue(100)
    style_panel.gallery.item(3).setSelected(True)  # a blend of styles 0 and 3
    style_panel.keep_colors.setChecked(True)
    with qtbot.waitSignal(window.jobs.finished, timeout=120000):
        style_panel.preview()
    assert window.canvas.has_preview
    rgb, _, rect = window.canvas._preview
    region = window.canvas.visible_rect()
    assert (rect.y(), rect.y() + rect.height(), rect.x(), rect.x() + rect.width()) == region
    before = window.document.image.pixels.copy()
    with qtbot.waitSignal(window.jobs.finished, timeout=120000):
        style_panel.run_button.click()
    assert not window.canvas.has_preview
    y0, y1, x0, x1 = region
    np.testing.assert_array_equal(window.document.image.pixels[y0:y1, x0:x1], rgb)
    assert window.document.history.labels == ["Stylize"]
    assert np.abs(window.document.image.pixels.astype(int) - before).mean() > 5
    window.undo_action.trigger()
    np.testing.assert_array_equal(window.document.image.pixels, before)


def test_changing_keep_colours_reuses_the_network_run(window, style_panel, coffee_file, qtbot, monkeypatch):
    import photoforge.ops.stylize as stylize

    runs = []
    real = stylize.prepare
    monkeypatch.setattr(stylize, "prepare", lambda *a, **k: runs.append(1) or real(*a, **k))
    window.open_path(coffee_file)
    for keep in (False, True):
        style_panel.keep_colors.setChecked(keep)
        with qtbot.waitSignal(window.jobs.finished, timeout=120000):
            style_panel.preview()
    with qtbot.waitSignal(window.jobs.finished, timeout=120000):
        style_panel.run_button.click()
    assert len(runs) == 1


def test_a_picture_as_the_style(window, style_panel, coffee_file, photo, tmp_path, qtbot):
    picture = tmp_path / "painting.png"
    save_image(ImageData(np.ascontiguousarray(photo[::2, ::2])), picture)
    window.open_path(coffee_file)
    style_panel.set_picture(str(picture))
    assert style_panel.picture_mode.isChecked() and "painting.png" in style_panel.picture_label.text()
    before = window.document.image.pixels.copy()
    with qtbot.waitSignal(window.jobs.finished, timeout=120000):
        style_panel.run_button.click()
    assert window.document.image.pixels.shape == before.shape
    assert np.abs(window.document.image.pixels.astype(int) - before).mean() > 5


def test_picture_mode_without_a_picture_and_a_broken_picture_are_dialogs(window, style_panel, coffee_file,
                                                                           tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("photoforge.ui.main_window.QMessageBox.critical",
                        lambda parent, title, text: shown.append(text))
    window.open_path(coffee_file)
    style_panel.picture_mode.setChecked(True)
    style_panel.run_button.click()
    assert shown and "Choose a style picture" in shown[-1] and not window.jobs.busy
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a picture")
    style_panel.set_picture(str(broken))
    assert "broken.jpg" in shown[-1] and style_panel.pictures == []


def test_selected_styles_blend_with_editable_weights(window, style_panel, coffee_file, qtbot, monkeypatch):
    style_panel.gallery.clearSelection()
    style_panel.gallery.item(3).setSelected(True)
    style_panel.gallery.item(12).setSelected(True)
    assert style_panel.weights.text() == "3:0.5, 12:0.5"
    style_panel.weights.setText("3:0.7, 12:0.3")
    assert style_panel.selected_styles() == ((3, pytest.approx(0.7)), (12, pytest.approx(0.3)))
    shown = []
    monkeypatch.setattr("photoforge.ui.main_window.QMessageBox.critical",
                        lambda parent, title, text: shown.append(text))
    window.open_path(coffee_file)
    style_panel.weights.setText("3:lots")
    style_panel.run_button.click()
    assert shown and "lots" in shown[-1] and not window.jobs.busy
