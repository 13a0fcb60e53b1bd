"""Image ▸ Adjust in the real window (offscreen): live preview equals what Apply writes,
one undo step labelled with the settings, the eyedropper, presets."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from photoforge.core.image import ImageData
from photoforge.core.imageio import save_image
from photoforge.ops.adjust import Adjustments, Levels, apply_adjustments, curve_lut
from tests.ui.test_main_window import view_point


@pytest.fixture
def panel(window, photo, tmp_path, qtbot):
    path = tmp_path / "deep.tif"
    pixels = photo[100:228, 150:310].astype(np.uint16) * 257
    pixels[10:30, 10:40] = (150 * 257, 128 * 257, 96 * 257)  # a grey card under warm light
    save_image(ImageData(pixels), path)
    assert window.open_path(path)
    window.show_action_panel("Adjust")
    panel = window.panel("Adjust")
    qtbot.waitUntil(panel.isVisible, timeout=2000)
    window.canvas.set_zoom(1.0)
    return panel


def settle(window, qtbot):
    qtbot.wait(120)  # the preview's coalescing delay
    qtbot.waitUntil(lambda: not window.jobs.busy, timeout=10000)


def test_levels_dragged_over_the_histogram_preview_live_and_apply_as_one_step(window, panel, qtbot):
    doc = window.document
    original = doc.image.pixels.copy()
    assert panel.levels.counts.sum() > 0  # the photo's histogram is drawn
    editor = panel.levels
    r = editor._plot()
    y = int(r.bottom() + 8)
    QTest.mousePress(editor, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(int(r.left() + 1), y))  # the black handle…
    QTest.mouseMove(editor, QPoint(int(r.left() + r.width() * 0.2), y))  # …to a fifth
    QTest.mouseRelease(editor, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       QPoint(int(r.left() + r.width() * 0.2), y))
    black = panel.settings.levels[0].black
    assert 0.15 < black < 0.25
    panel.sliders["vibrance"].setValue(30)
    settle(window, qtbot)
    assert window.canvas.has_preview
    shown, _, rect = window.canvas._preview
    y0, x0 = int(rect.y()), int(rect.x())
    expected = apply_adjustments(original, panel.settings)
    region = expected[y0:y0 + shown.shape[0], x0:x0 + shown.shape[1]]
    np.testing.assert_array_equal(shown, (region >> 8).astype(np.uint8))
    np.testing.assert_array_equal(doc.image.pixels, original)  # a preview changes nothing

    settings = panel.settings
    with qtbot.waitSignal(window.jobs.finished, timeout=20000):
        panel.run_button.click()
    assert doc.image.pixels.dtype == np.uint16
    np.testing.assert_array_equal(doc.image.pixels, expected)
    assert doc.history.labels == [settings.label()] and "vibrance +30" in settings.label()
    assert panel.settings.is_identity and not window.canvas.has_preview
    window.undo_action.trigger()
    np.testing.assert_array_equal(doc.image.pixels, original)


def test_zoomed_out_the_preview_is_the_display_overview_adjusted(window, photo, tmp_path, qtbot):
    """Zoomed out past the canvas's display overview, a preview adjusts the overview's
    pixels as they are shown instead of shrinking the whole photo again (which took ~200 ms
    of a 24 MP photo's 280 ms to the preview); an 8-bit photo only, so nothing is lost."""
    import cv2

    path = tmp_path / "big.png"
    save_image(ImageData(cv2.resize(photo, (2400, 1600), interpolation=cv2.INTER_CUBIC)), path)
    assert window.open_path(path)
    window.show_action_panel("Adjust")
    panel = window.panel("Adjust")
    qtbot.waitUntil(panel.isVisible, timeout=2000)
    window.canvas.set_zoom(0.25)
    pyramid = window.canvas.image_pyramid
    assert pyramid.overview_level == 1  # the overview is at half size: the zoom is past it
    panel.sliders["contrast"].setValue(40)
    settle(window, qtbot)
    shown, _, rect = window.canvas._preview
    y0, x0, y1, x1 = int(rect.top()), int(rect.left()), int(rect.bottom()), int(rect.right())
    overview = pyramid.overview[y0 // 2:-(-y1 // 2), x0 // 2:-(-x1 // 2)]
    np.testing.assert_array_equal(shown, apply_adjustments(overview, panel.settings))

    # A view whose edges fall inside overview pixels: the preview is placed on the whole
    # overview pixels it shows, not stretched over the view's own edges.
    window.canvas.visible_rect = lambda: (3, 1201, 5, 1799)
    panel.sliders["contrast"].setValue(20)
    settle(window, qtbot)
    shown, _, rect = window.canvas._preview
    assert (rect.top(), rect.bottom(), rect.left(), rect.right()) == (2, 1202, 4, 1800)
    np.testing.assert_array_equal(shown, apply_adjustments(pyramid.overview[1:601, 2:900], panel.settings))


def test_the_eyedropper_neutralises_the_spot_clicked(window, panel, qtbot):
    panel.eyedropper.click()
    canvas = window.canvas
    canvas.horizontalScrollBar().setValue(0)
    canvas.verticalScrollBar().setValue(0)
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     view_point(canvas, 25, 20))
    assert not panel.eyedropper.isChecked() and not window.document.mask.any()  # picked, not painted
    out = apply_adjustments(window.document.image.pixels, panel.settings)
    card = out[12:28, 12:38].reshape(-1, 3).astype(float).mean(axis=0)
    assert np.ptp(card) < 257 * 1.0


def test_presets_save_and_load_through_the_panel(window, panel, tmp_path, monkeypatch):
    preset = tmp_path / "look.json"
    panel.set_settings(Adjustments(levels=(Levels(0.05, 0.9, 1.2),) + (Levels(),) * 3, contrast=0.2))
    monkeypatch.setattr("photoforge.ui.adjust_panel.QFileDialog.getSaveFileName", lambda *a, **k: (str(preset), ""))
    monkeypatch.setattr("photoforge.ui.adjust_panel.QFileDialog.getOpenFileName", lambda *a, **k: (str(preset), ""))
    panel.save_preset()
    saved = panel.settings
    panel.set_settings(Adjustments())
    assert panel.sliders["contrast"].value() == 0
    panel.load_preset()
    assert panel.settings == saved and panel.sliders["contrast"].value() == 20


def test_applying_nothing_says_so(window, panel, monkeypatch):
    shown = []
    monkeypatch.setattr("photoforge.ui.main_window.QMessageBox.critical", lambda p, t, text: shown.append(text))
    panel.run_button.click()
    assert shown and "nothing to apply" in shown[0] and window.document.history.labels == []


def test_dropping_files_offers_the_adjust_panel_with_its_settings(window, panel, photo, tmp_path, qtbot,
                                                                  monkeypatch):
    from photoforge.core.imageio import load_image
    from photoforge.ui.dialogs import BatchDialog
    from tests.ui.test_main_window import drop

    settings = Adjustments(levels=(Levels(0.1, 0.8, 1.1),) + (Levels(),) * 3, saturation=-0.3)
    panel.set_settings(settings)
    files = []
    for i in range(2):
        files.append(tmp_path / f"print{i}.png")
        save_image(ImageData(np.ascontiguousarray(photo[i * 50:i * 50 + 60, :70])), files[-1])
    out = tmp_path / "adjusted"

    def accept(dialog):
        assert dialog.panel is panel and settings.label() in dialog.settings.text()
        assert dialog.folder.text() == str(tmp_path / "adjusted")
        return BatchDialog.DialogCode.Accepted

    monkeypatch.setattr(BatchDialog, "exec", accept)
    with qtbot.waitSignal(window.jobs.finished, timeout=30000):
        drop(window, files)
    assert window.last_batch.summary() == "2 of 2 images done, 0 failed"
    for i, f in enumerate(files):
        np.testing.assert_array_equal(load_image(out / f.name).pixels,
                                      apply_adjustments(np.ascontiguousarray(photo[i * 50:i * 50 + 60, :70]), settings))


def test_auto_reads_the_fading_and_leaves_a_good_photo_alone(window, photo, tmp_path, qtbot):
    clean = tmp_path / "clean.png"
    save_image(ImageData(np.ascontiguousarray(photo)), clean)
    faded_pixels = photo.astype(float) / 255 * 0.62 + 0.3
    faded_pixels[..., 0] = photo[..., 0] / 255 * 0.5 + 0.42  # red lifted most: cyan dye lost
    faded = tmp_path / "faded.png"
    save_image(ImageData((np.clip(faded_pixels, 0, 1) * 255).astype(np.uint8)), faded)
    window.show_action_panel("Adjust")
    panel = window.panel("Adjust")
    # "mild" or "strong" is the strength of the measured inverse, which moves with the ramps;
    # what the panel must show is that it is faded and that the cast is red.
    for path, expected in ((clean, ("not faded",)), (faded, ("faded: mild, cast: red", "faded: strong, cast: red"))):
        window.open_path(path)
        panel.set_settings(Adjustments())
        panel.auto.click()
        assert panel.diagnosis.text() in expected
        assert panel.settings.is_identity == (expected == ("not faded",))
        window.document.history.mark_clean()
    # The density model's inverse, per channel, to edit: red's lifted black (the lost cyan
    # dye) goes down, below green's. Green's black at 0.3 on this colourful photo is within
    # the lift clean photos show since the compressed-range ramp starts at 0.2 (README, Fade
    # correction), so green is at most left where it was.
    red, green = (curve_lut(panel.settings.curves[c], np.array([0.42]))[0] for c in (1, 2))
    assert red < 0.42 - 0.1 and red < green <= 0.43


def test_auto_on_a_washed_out_scan_stretches_it_and_applies_what_it_shows(window, photo, tmp_path, qtbot):
    path = tmp_path / "washed.png"
    washed = np.round(64 + photo.astype(np.float64) * (153 / 255)).astype(np.uint8)
    save_image(ImageData(washed), path)
    window.open_path(path)
    window.show_action_panel("Adjust")
    panel = window.panel("Adjust")
    panel.auto.click()
    assert panel.diagnosis.text().startswith("not faded; contrast stretched from")
    assert abs(panel.settings.levels[1].black - 64 / 255) < 3 / 255
    settings = panel.settings
    with qtbot.waitSignal(window.jobs.finished, timeout=20000):
        panel.run_button.click()
    np.testing.assert_array_equal(window.document.image.pixels, apply_adjustments(washed, settings))
    assert window.document.image.pixels.std() > 1.5 * washed.std()


def test_auto_faded_print_is_its_own_button_and_a_batch_measures_the_same_way(window, photo, tmp_path):
    from tests.ops.test_color_told import yellow_base

    path = tmp_path / "yellowed.png"
    yellowed = yellow_base(np.ascontiguousarray(photo))
    save_image(ImageData(yellowed), path)
    window.open_path(path)
    window.show_action_panel("Adjust")
    panel = window.panel("Adjust")
    panel.auto.click()
    plain = panel.settings
    panel.set_settings(Adjustments())
    panel.auto_faded.click()
    assert panel.diagnosis.text().endswith("cast: yellow (as a faded print)")
    assert panel.settings != plain
    out = apply_adjustments(yellowed, panel.settings)
    assert out[..., 2].mean() - yellowed[..., 2].mean() > 10  # blue comes back
    _, process = panel.batch_process(window.prefs)
    np.testing.assert_array_equal(process(ImageData(yellowed), None).pixels, out)
