"""The real widgets, driven with synthetic events (offscreen)."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QThread, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from photoforge.core.imageio import load_image
from tests.conftest import ROOT


def view_point(canvas, x, y) -> QPoint:
    o = canvas._origin()
    return QPoint(int(o.x() + x * canvas.zoom), int(o.y() + y * canvas.zoom))


def test_a_stroke_paints_the_mask_and_is_one_undo_step(window, photo_file, qtbot):
    assert window.open_path(photo_file)
    canvas = window.canvas
    canvas.set_zoom(2.0)
    canvas.horizontalScrollBar().setValue(0)
    canvas.verticalScrollBar().setValue(0)
    canvas.brush_size, canvas.brush_hardness, canvas.brush_opacity = 10, 1.0, 1.0
    vp = canvas.viewport()
    QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view_point(canvas, 20, 30))
    for x in range(22, 62, 4):
        QTest.mouseMove(vp, view_point(canvas, x, 30))
    QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view_point(canvas, 60, 30))
    mask = window.document.mask
    assert mask[30, 20] == 255 and mask[30, 40] == 255 and mask[30, 59] == 255
    assert mask[30, 70] == 0 and mask[10, 40] == 0 and mask[50, 40] == 0
    painted = mask.copy()
    assert window.document.history.labels == ["Brush"]
    assert window.history_panel.count() == 2 and window.isWindowModified()
    window.undo_action.trigger()
    assert window.document.mask.max() == 0
    window.redo_action.trigger()
    np.testing.assert_array_equal(window.document.mask, painted)


def test_shift_click_draws_a_straight_line(window, photo_file):
    window.open_path(photo_file)
    canvas = window.canvas
    canvas.brush_size, canvas.brush_hardness = 4, 1.0
    vp = canvas.viewport()
    QTest.mouseClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view_point(canvas, 10, 10))
    QTest.mouseClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, view_point(canvas, 60, 60))
    mask = window.document.mask
    assert mask[35, 35] > 0 and mask[10, 60] == 0
    assert len(window.document.history.labels) == 2


def test_brush_size_keys(window, photo_file):
    window.open_path(photo_file)
    canvas = window.canvas
    size = canvas.brush_size
    QTest.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert canvas.brush_size > size
    QTest.keyClick(canvas, Qt.Key.Key_BracketLeft)
    QTest.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush_size < size


def test_upscale_job_runs_in_the_worker_and_lands_as_one_step(window, photo_file, qtbot):
    window.open_path(photo_file)
    before = window.document.image.pixels.copy()
    panel = window.panel("Upscale")
    panel.model.setCurrentIndex(panel.model.findData("span-x2"))
    panel.device.setCurrentIndex(panel.device.findData("cpu"))
    seen = []
    gui_thread = QApplication.instance().thread()
    window.jobs.progress.connect(lambda f, m, left: seen.append((f, QThread.currentThread() is gui_thread)))
    with qtbot.waitSignal(window.jobs.finished, timeout=120000):
        panel.run_button.click()
        assert window.jobs.busy and not panel.run_button.isEnabled()
    fractions = [f for f, _ in seen]
    assert fractions and fractions == sorted(fractions) and fractions[-1] == 1.0
    assert all(on_gui for _, on_gui in seen)
    assert window.document.image.pixels.shape == (192, 256, 3)
    assert window.document.mask.shape == (192, 256)
    assert window.document.history.labels[-1].startswith("Upscale ×2")
    window.undo_action.trigger()
    np.testing.assert_array_equal(window.document.image.pixels, before)


def test_cancel_leaves_the_document_unchanged(window, tmp_path, photo, qtbot):
    from photoforge.core.image import ImageData
    from photoforge.core.imageio import save_image

    path = tmp_path / "big.png"
    save_image(ImageData(np.ascontiguousarray(photo)), path)
    window.open_path(path)
    before = window.document.image.pixels.copy()
    panel = window.panel("Upscale")
    panel.model.setCurrentIndex(panel.model.findData("span-x2"))
    panel.device.setCurrentIndex(panel.device.findData("cpu"))
    panel.tile.setCurrentIndex(panel.tile.findData(128))
    finished = []
    window.jobs.finished.connect(lambda *a: finished.append(a))
    with qtbot.waitSignal(window.jobs.progress, timeout=120000,
                          check_params_cb=lambda f, m, left: f > 0.05):
        panel.run_button.click()
    with qtbot.waitSignal(window.jobs.cancelled, timeout=5000):
        window.cancel_button.click()
    window.jobs.wait(60000)
    qtbot.wait(200)
    assert finished == []
    np.testing.assert_array_equal(window.document.image.pixels, before)
    assert window.document.history.labels == []
    assert panel.run_button.isEnabled()


def test_a_failing_job_shows_a_dialog_and_changes_nothing(window, photo_file, qtbot, monkeypatch):
    from photoforge.ui.actions import UpscalePanel

    shown = []
    monkeypatch.setattr("photoforge.ui.main_window.QMessageBox.critical",
                        lambda parent, title, text: shown.append(text))
    window.open_path(photo_file)
    before = window.document.image.pixels.copy()

    def broken(progress):
        raise RuntimeError("model exploded")

    monkeypatch.setattr(UpscalePanel, "make_job", lambda self, doc, prefs: ("Upscale", broken))
    with qtbot.waitSignal(window.jobs.failed, timeout=10000):
        window.panel("Upscale").run_button.click()
    assert shown and "model exploded" in shown[0] and "unchanged" in shown[0]
    np.testing.assert_array_equal(window.document.image.pixels, before)


def test_open_errors_are_dialogs(window, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr("photoforge.ui.main_window.QMessageBox.critical",
                        lambda parent, title, text: shown.append(text))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"")
    assert not window.open_path(bad)
    assert "bad.jpg" in shown[0] and "empty" in shown[0]


def drop(window, paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(50, 50), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)


def test_dropping_one_file_opens_it(window, photo_file, qtbot):
    drop(window, [photo_file])
    qtbot.waitUntil(lambda: window.document is not None, timeout=5000)
    assert window.document.path == photo_file


def test_dropping_several_files_runs_a_batch(window, photo_file, tmp_path, qtbot, monkeypatch):
    from photoforge.ui.dialogs import BatchDialog

    second = tmp_path / "second.png"
    second.write_bytes(photo_file.read_bytes())
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"nope")
    out = tmp_path / "batch-out"

    upscale = window.panel("Upscale")
    upscale.model.setCurrentIndex(upscale.model.findData("span-x2"))
    upscale.scale.setValue(2)
    window.show_action_panel("Upscale")  # the panel shown is the action offered

    def accept(dialog):
        assert dialog.panel is upscale and "Upscale ×2 (span-x2)" in dialog.settings.text()
        assert [dialog.action.itemText(i) for i in range(dialog.action.count())] == \
            ["Restore", "Adjust", "Upscale", "Stylize"]
        dialog.folder.setText(str(out))
        return BatchDialog.DialogCode.Accepted

    monkeypatch.setattr(BatchDialog, "exec", accept)
    monkeypatch.setattr("photoforge.ui.main_window.QMessageBox.warning", lambda *a: None)
    with qtbot.waitSignal(window.jobs.finished, timeout=120000):
        drop(window, [photo_file, second, bad])
    report = window.last_batch
    assert report.summary() == "2 of 3 images done, 1 failed"
    assert load_image(out / "photo.png").pixels.shape == (192, 256, 3)
    assert load_image(out / "second.png").pixels.shape == (192, 256, 3)


def test_save_and_reopen_keeps_sixteen_bits(window, tmp_path, monkeypatch):
    from photoforge.core.image import ImageData
    from photoforge.core.imageio import save_image

    ramp = (np.arange(64 * 80 * 3, dtype=np.uint32).reshape(64, 80, 3) * 7 % 65536).astype(np.uint16)
    path = tmp_path / "deep.tif"
    save_image(ImageData(ramp), path)
    window.open_path(path)
    assert "16-bit" in window.info_label.text()
    out = tmp_path / "copy.png"
    assert window.export_to(out, format="png", quality=95, sixteen=True, keep_metadata=True)
    again = load_image(out)
    assert again.pixels.dtype == np.uint16
    np.testing.assert_array_equal(again.pixels, ramp)
    assert window.document.path == path and not window.isWindowModified()


def test_compare_shows_the_image_before_the_last_step(window, photo_file, qtbot):
    window.open_path(photo_file)
    original = window.document.image.pixels.copy()
    changed = window.document.image.with_pixels(255 - original)
    window.document.apply_image(changed, "Invert")
    window.compare_action.trigger()
    assert window.canvas.split == 0.5
    np.testing.assert_array_equal(window.canvas.before_pyramid.source, original)
    QTest.keyPress(window.canvas, Qt.Key.Key_Backslash)
    assert window.canvas.show_before
    QTest.keyRelease(window.canvas, Qt.Key.Key_Backslash)
    assert not window.canvas.show_before


def test_screenshot_command(tmp_path, photo_file):
    from PIL import Image

    mask = tmp_path / "mask.png"
    m = np.zeros((96, 128), np.uint8)
    m[20:60, 30:90] = 255
    Image.fromarray(m).save(mask)
    shot = tmp_path / "shot.png"
    result = subprocess.run([sys.executable, "-m", "photoforge", "gui", str(photo_file), "--mask", str(mask),
                             "--screenshot", str(shot)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape[0] > 400 and img.shape[1] > 600
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 200  # a photo is visible, not a blank window


@pytest.mark.parametrize("make, expected", [
    (lambda d: d / "missing.png", "no such file"),
    (lambda d: (d / "text.png").write_text("hello") and d / "text.png", "text.png"),
    (lambda d: (d / "broken.pforge").write_bytes(b"PK\x03\x04 not a zip") and d / "broken.pforge", "broken.pforge"),
], ids=["missing", "text-as-png", "damaged-project"])
def test_screenshot_mode_reports_an_unusable_file_and_exits_2(tmp_path, make, expected):
    # It used to wait forever on a modal error box nobody could close offscreen.
    path = make(tmp_path)
    result = subprocess.run([sys.executable, "-m", "photoforge", "gui", str(path), "--screenshot",
                             str(tmp_path / "shot.png")], capture_output=True, text=True, cwd=ROOT,
                            timeout=60, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and not (tmp_path / "shot.png").exists()


def test_enter_removes_the_masked_area_in_one_undoable_step(window, photo_file, qtbot):
    window.open_path(photo_file)
    doc = window.document
    stroke = doc.begin_stroke(opacity=1.0, hardness=1.0)
    stroke.dab(40, 40, 3)
    stroke.line_to(90, 50, 3)
    stroke.end()
    image_before, mask_before = doc.image.pixels.copy(), doc.mask.copy()
    with qtbot.waitSignal(window.jobs.finished, timeout=60000):
        QTest.keyClick(window.canvas, Qt.Key.Key_Return)
    assert doc.mask.max() == 0  # cleared in the same step
    changed = np.any(doc.image.pixels != image_before, axis=2)
    assert changed.any() and not changed[mask_before == 0].any()
    assert doc.history.labels == ["Brush", "Inpaint (auto)"]
    window.undo_action.trigger()
    np.testing.assert_array_equal(doc.image.pixels, image_before)
    np.testing.assert_array_equal(doc.mask, mask_before)


def test_inpaint_with_an_empty_mask_is_a_dialog(window, photo_file, monkeypatch):
    shown = []
    monkeypatch.setattr("photoforge.ui.main_window.QMessageBox.critical",
                        lambda parent, title, text: shown.append(text))
    window.open_path(photo_file)
    window.remove_masked()
    assert shown and "mask is empty" in shown[0] and not window.jobs.busy


@pytest.fixture
def scratched_file(tmp_path, photo):
    from photoforge.core.image import ImageData
    from photoforge.core.imageio import save_image
    from tests.ops.test_restore import with_scratch

    damaged, scratch = with_scratch(photo)
    path = tmp_path / "scratched.png"
    save_image(ImageData(damaged[280:480, 0:320].copy()), path)
    return path, scratch[280:480, 0:320]


def restore_panel(window):
    from photoforge.ui.actions import RestorePanel

    return next(p for p in window.action_panels if isinstance(p, RestorePanel))


def test_detect_damage_fills_the_mask_for_review_then_restore_repairs_it(window, scratched_file, qtbot):
    path, scratch = scratched_file
    window.open_path(path)
    doc, panel = window.document, restore_panel(window)
    with qtbot.waitSignal(window.jobs.finished, timeout=60000):
        panel.detect_button.click()
    assert doc.history.labels == ["Detect damage"]
    assert (doc.mask[scratch] > 0).mean() > 0.6
    # The user erases part of what was found; Restore repairs exactly what is left.
    doc.mask[:, :100] = 0
    reviewed, before = doc.mask.copy(), doc.image.pixels.copy()
    panel.denoise.setChecked(False)
    panel.color.setChecked(False)
    with qtbot.waitSignal(window.jobs.finished, timeout=60000):
        panel.run_button.click()
    changed = np.any(doc.image.pixels != before, axis=2)
    assert changed[reviewed > 0].any() and not changed[:, :95].any()
    assert doc.mask.max() == 0  # repaired, so the mask is cleared in the same step
    assert doc.history.labels == ["Detect damage", "Restore"]
    window.undo_action.trigger()
    np.testing.assert_array_equal(doc.image.pixels, before)
    np.testing.assert_array_equal(doc.mask, reviewed)


def test_restore_stages_can_land_as_separate_steps(window, tmp_path, photo, qtbot):
    from photoforge.core.image import ImageData
    from photoforge.core.imageio import save_image

    from tests.ops.test_color import cyan_loss

    # A print that lost its cyan dye, with grain: both stages act.
    faded = cyan_loss(photo[:160, :200]) + np.random.default_rng(0).normal(0, 15, (160, 200, 3))
    path = tmp_path / "faded.png"
    save_image(ImageData(np.clip(np.rint(faded), 0, 255).astype(np.uint8)), path)
    window.open_path(path)
    panel = restore_panel(window)
    panel.scratches.setChecked(False)
    panel.separate.setChecked(True)
    with qtbot.waitSignal(window.jobs.finished, timeout=60000):
        panel.run_button.click()
    labels = window.document.history.labels
    assert len(labels) == 2 and labels[0].startswith("Denoise (σ 1") and labels[1] == "Fade and colour"
    assert panel.colour_found.text() in ("Colour: faded: strong, cast: red", "Colour: faded: strong, cast: magenta")
    restored = window.document.image
    window.undo_action.trigger()  # back to the denoised photo: the readout was about the corrected one
    assert window.document.image is not restored and panel.colour_found.text() == ""
    panel.color_strength.setValue(0)  # measured, not corrected: the readout says so
    panel.denoise.setChecked(False)
    before = window.document.image.pixels.copy()
    with qtbot.waitSignal(window.jobs.finished, timeout=60000):
        panel.run_button.click()
    assert panel.colour_found.text().endswith("cast: red (left as is: colour strength 0)") or \
        panel.colour_found.text().endswith("cast: magenta (left as is: colour strength 0)")
    np.testing.assert_array_equal(window.document.image.pixels, before)


def test_restore_says_why_it_left_a_hazy_photos_colour(window, tmp_path, photo, qtbot):
    """Lifted blacks alone are haze as often as a faded range: restore leaves the colour
    and the panel says so (Adjust ▸ Auto stretches it when asked)."""
    from photoforge.core.image import ImageData
    from photoforge.core.imageio import save_image
    from photoforge.ops.color import LIFTED_WORDS
    from tests.ops.test_color import hazy

    path = tmp_path / "hazy.png"
    save_image(ImageData(hazy(photo)), path)
    window.open_path(path)
    before = window.document.image.pixels.copy()
    panel = restore_panel(window)
    panel.scratches.setChecked(False)
    panel.denoise.setChecked(False)
    with qtbot.waitSignal(window.jobs.finished, timeout=60000):
        panel.run_button.click()
    assert panel.colour_found.text() == f"Colour: {LIFTED_WORDS}"
    assert panel.colour_found.toolTip().startswith('If it is a faded print, tick "It is a faded colour print"')
    assert window.document.history.labels == []  # nothing changed, nothing to undo
    np.testing.assert_array_equal(window.document.image.pixels, before)
    panel.faded_print.setChecked(True)  # the user says it is a faded print: it is stretched, one undo step
    with qtbot.waitSignal(window.jobs.finished, timeout=60000):
        panel.run_button.click()
    assert panel.colour_found.text().endswith("(as a faded print)")
    assert window.document.history.labels == ["Restore"]
    after = window.document.image.pixels
    assert np.percentile(after, 99.9) - np.percentile(after, 0.1) > np.percentile(before, 99.9) - np.percentile(
        before, 0.1) + 30
    window.undo_action.trigger()
    np.testing.assert_array_equal(window.document.image.pixels, before)
    assert panel.faded_print.isChecked()  # undo is the same photo: the box still speaks for it
    window.open_path(tmp_path / "hazy.png")  # another document: the readout was about the last one
    assert panel.colour_found.text() == ""
    assert not panel.faded_print.isChecked()  # and the box was said of the last photo, not this one


def test_presets_set_the_sliders(window):
    panel = restore_panel(window)
    panel.preset.setCurrentIndex(panel.preset.findData("gentle"))
    gentle = panel.sensitivity.value(), panel.color_strength.value()
    panel.preset.setCurrentIndex(panel.preset.findData("strong"))
    assert panel.sensitivity.value() > gentle[0] and panel.color_strength.value() > gentle[1]


def test_separate_steps_clear_the_mask_with_the_repair(window, scratched_file, qtbot):
    path, scratch = scratched_file
    window.open_path(path)
    doc, panel = window.document, restore_panel(window)
    doc.mask[scratch] = 255
    painted = doc.mask.copy()
    panel.separate.setChecked(True)
    panel.denoise_strength.setValue(100)
    panel.sigma.setValue(5)  # a set σ: the denoise stage always runs
    with qtbot.waitSignal(window.jobs.finished, timeout=60000):
        panel.run_button.click()
    labels = doc.history.labels
    assert labels[0].startswith("Denoise") and labels[1] == "Repair damage"
    assert doc.mask.max() == 0
    repair = labels.index("Repair damage")
    while doc.history.index > repair:  # undo back to before the repair
        window.undo_action.trigger()
    np.testing.assert_array_equal(doc.mask, painted)


def test_restore_after_erasing_every_detection_repairs_nothing(window, scratched_file, qtbot):
    path, _ = scratched_file
    window.open_path(path)
    doc, panel = window.document, restore_panel(window)
    with qtbot.waitSignal(window.jobs.finished, timeout=60000):
        panel.detect_button.click()
    doc.apply_mask(np.zeros_like(doc.mask), "Clear mask")  # reviewed: nothing is damage
    panel.denoise.setChecked(False)
    panel.color.setChecked(False)
    with qtbot.waitSignal(window.jobs.finished, timeout=60000):
        panel.run_button.click()
    assert "Restore" not in doc.history.labels  # nothing to do: no step


def test_detect_damage_with_both_detectors_keeps_the_classical_marks(window, scratched_file, qtbot):
    path, scratch = scratched_file
    window.open_path(path)
    doc, panel = window.document, restore_panel(window)
    found = {}
    for det in ("classical", "both"):
        panel.detector.setCurrentIndex(panel.detector.findData(det))
        with qtbot.waitSignal(window.jobs.finished, timeout=60000):
            panel.detect_button.click()
        found[det] = doc.mask > 0
    assert (found["both"] >= found["classical"]).all() and found["both"][scratch].mean() > 0.6


def test_open_recent_lists_only_files_that_are_there(window, tmp_path, photo_file):
    from photoforge.ui import settings

    gone = tmp_path / "gone.png"
    gone.write_bytes(photo_file.read_bytes())
    assert window.open_path(gone) and window.open_path(photo_file)
    window.document.history.mark_clean()
    gone.unlink()
    window._fill_recent()
    shown = [a.text() for a in window.recent_menu.actions()]
    assert shown == [str(photo_file.resolve())]
    assert str(gone.resolve()) in settings.recent_files()  # remembered for when it is back
