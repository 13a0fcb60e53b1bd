"""The infrared channel in the window beyond one open scan: a restore batch uses each
scan's own infrared and says where it came from, and the Restore panel remembers the
user's choice (ticking it only where the scan has infrared)."""
from __future__ import annotations

import numpy as np
import tifffile
from PIL import Image

from photoforge.core.image import ImageData
from photoforge.core.imageio import load_image
from photoforge.ops.infrared_dust import infrared_dust_mask
from photoforge.ops.restore import restore
from tests.infrared_synth import rgbi_scan, save_with_and_without
from tests.ui.test_main_window import restore_panel


def _batch(window, qtbot, monkeypatch, paths, out):
    from photoforge.ui.dialogs import BatchDialog

    panel = restore_panel(window)
    for box in (panel.denoise, panel.color):
        box.setChecked(False)
    window.show_action_panel("Restore")
    shown = []

    def accept(dialog):
        dialog.folder.setText(str(out))
        return BatchDialog.DialogCode.Accepted

    monkeypatch.setattr(BatchDialog, "exec", accept)
    monkeypatch.setattr("photoforge.ui.main_window.QMessageBox.information", lambda *a: shown.append(a[2]))
    monkeypatch.setattr("photoforge.ui.main_window.QMessageBox.warning", lambda *a: shown.append(a[2]))
    with qtbot.waitSignal(window.jobs.finished, timeout=180000):
        assert window.start_batch(paths)
    return panel, shown


def test_a_batch_restore_uses_each_scans_own_infrared(window, tmp_path, photo, qtbot, monkeypatch):
    crop = np.ascontiguousarray(photo[:128, :160])
    a, b = rgbi_scan(crop, 1), rgbi_scan(crop, 2)  # different dust on each scan
    folder = tmp_path / "in"
    folder.mkdir()
    tifffile.imwrite(folder / "a.tif", np.dstack([a.damaged, a.infrared_as(np.uint8)]), photometric="rgb",
                     extrasamples=[0])
    Image.fromarray(b.damaged).save(folder / "b.png")
    Image.fromarray(b.infrared_as(np.uint8)).save(folder / "b_IR.tif")
    Image.fromarray(a.damaged).save(folder / "plain.png")
    out = tmp_path / "out"
    panel, shown = _batch(window, qtbot, monkeypatch, [folder], out)
    report = window.last_batch
    assert report.summary() == "3 of 3 images done, 0 failed"  # the sidecar is not a photo of its own
    assert sorted(p.name for p in (out / "in").iterdir()) == ["a.tif", "b.png", "plain.png"]
    text = shown[-1]
    assert "a.tif: infrared from its 4th TIFF channel" in text
    assert "b.png: infrared from 'b_IR.tif'" in text
    assert "plain.png: infrared none" in text
    assert "'b_IR.tif' is the infrared of 'b.png'" in text
    options = panel.options(window.prefs)
    for name, scan in (("a.tif", a), ("b.png", b)):  # exactly what a restore with that infrared gives
        ir = scan.infrared_as(np.uint8).astype(np.float32) * np.float32(1 / 255)
        want = restore(ImageData(scan.damaged), options, infrared=ir).image.pixels
        assert np.array_equal(load_image(out / "in" / name).pixels, want), name
        assert not np.array_equal(want, restore(ImageData(scan.damaged), options).image.pixels)  # it mattered
    plain = restore(load_image(folder / "plain.png"), options).image.pixels
    assert np.array_equal(load_image(out / "in" / "plain.png").pixels, plain)


def test_a_sidecar_that_does_not_fit_refuses_its_scan_only(window, tmp_path, photo, qtbot, monkeypatch):
    crop = np.ascontiguousarray(photo[:96, :128])
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(crop).save(folder / "a.png")
    Image.fromarray(crop[:50, :50, 0]).save(folder / "a_IR.tif")
    Image.fromarray(crop).save(folder / "b.png")
    _, shown = _batch(window, qtbot, monkeypatch, [folder], tmp_path / "out")
    report = window.last_batch
    assert report.summary() == "1 of 2 images done, 1 failed"
    assert "'a_IR.tif' as infrared for" in report.failures[0][1] and "50×50" in report.failures[0][1]
    assert "b.png: infrared none" in shown[-1]


def test_turning_infrared_off_is_remembered_and_followed_by_batches(window, tmp_path, photo, qtbot,
                                                                      monkeypatch):
    from photoforge.ui import settings

    crop = np.ascontiguousarray(photo[:96, :128])
    scan = rgbi_scan(crop, 3)
    rgbi, plain = save_with_and_without(scan, tmp_path)
    panel = restore_panel(window)
    window.open_path(rgbi)
    assert panel.infrared.isEnabled() and panel.infrared.isChecked()
    panel.infrared.setChecked(False)  # the user's choice
    assert settings.Preferences.load().use_infrared is False
    window.open_path(plain)
    assert not panel.infrared.isChecked() and not panel.infrared.isEnabled()
    assert settings.Preferences.load().use_infrared is False  # greying it is not the user choosing
    window.document = None
    window.open_path(rgbi)
    assert panel.infrared.isEnabled() and not panel.infrared.isChecked()  # as they left it
    assert panel.infrared_of(window.document) is None
    _, shown = _batch(window, qtbot, monkeypatch, [rgbi, plain], tmp_path / "out")
    assert "rgbi.tif: infrared none" in shown[-1]
    panel.infrared.setChecked(True)
    assert settings.Preferences.load().use_infrared is True
    assert np.array_equal(infrared_dust_mask(panel.infrared_of(window.document), scan.damaged),
                          infrared_dust_mask(window.document.infrared.values, scan.damaged))


def test_after_a_crop_and_a_turn_the_panel_finds_dust_in_the_infrared_where_the_pixels_are(window, tmp_path, photo,
                                                                                         qtbot):
    scan = rgbi_scan(photo, 8)
    ir16 = scan.infrared_as(np.uint16)
    path = tmp_path / "film.tif"
    tifffile.imwrite(path, np.dstack([scan.damaged.astype(np.uint16) * 257, ir16]), photometric="rgb",
                     extrasamples=[0])
    window.open_path(path)
    doc, panel = window.document, restore_panel(window)
    window.canvas.crop_rect = (30, 230, 50, 330)
    with qtbot.waitSignal(window.jobs.finished, timeout=20000):
        assert window.crop_to_selection()
    with qtbot.waitSignal(window.jobs.finished, timeout=20000):
        window.straighten_by(2.5)  # resampled: the infrared with the pixels' own interpolation
    assert doc.history.labels == ["Crop to 280 × 200", "Straighten (+2.50°)"]
    assert panel.infrared.isEnabled() and panel.infrared.isChecked()
    from photoforge.ops.geometry import crop, straighten

    want = straighten(crop(ImageData(ir16[..., None]), np.zeros(ir16.shape, np.uint8), (30, 230, 50, 330)).image,
                      np.zeros((200, 280), np.uint8), 2.5).image.pixels[..., 0]
    assert np.array_equal(doc.infrared_levels, want)
    with qtbot.waitSignal(window.jobs.finished, timeout=60000):
        panel.detect_button.click()
    assert np.array_equal(doc.mask, infrared_dust_mask(doc.infrared.values, doc.image.pixels))
    doc.undo()  # the mask
    doc.undo()  # the straightening
    assert np.array_equal(doc.infrared_levels, ir16[30:230, 50:330])
    doc.undo()
    assert np.array_equal(doc.infrared_levels, ir16)


def _split_with_infrared(window, photo, tmp_path, qtbot, seed: int, choice: str):
    """A flatbed scan with an `_IR.tif` sidecar split in the window, the dialog answered with
    `choice` ("open" or "save"); returns (scan, infrared, the chosen outlines and trim)."""
    from tests.ui.test_split_dialog import flatbed

    scan = flatbed(photo)
    path = tmp_path / "album_page.png"
    Image.fromarray(scan).save(path)
    ir = np.random.default_rng(seed).integers(20000, 60000, scan.shape[:2]).astype(np.uint16)
    tifffile.imwrite(tmp_path / "album_page_IR.tif", ir)
    chosen = {}

    def decide(dialog):
        qtbot.waitUntil(lambda: not window.jobs.busy, timeout=30000)
        dialog.chosen = choice
        chosen["prints"], chosen["trim"] = dialog.outlines()
        return dialog.DialogCode.Accepted

    assert window.split_scan(path, decide)
    return scan, ir, chosen


def test_prints_opened_from_a_split_scan_carry_their_piece_of_its_infrared(window, photo, tmp_path, qtbot):
    from photoforge.ops.split import extract

    scan, ir, chosen = _split_with_infrared(window, photo, tmp_path, qtbot, 5, "open")
    qtbot.waitUntil(lambda: window.document is not None and len(window.print_windows) == 1, timeout=30000)
    docs = [window.document, window.print_windows[0].document]
    for doc, p in zip(docs, chosen["prints"], strict=True):
        assert np.array_equal(doc.infrared_levels, extract(ir[..., None], p, chosen["trim"])[..., 0])
        assert np.array_equal(doc.image.pixels, extract(scan, p, chosen["trim"]))  # cut the same way
        assert doc.infrared.source == "'album_page_IR.tif'"
    assert restore_panel(window).infrared.isEnabled() and restore_panel(window).infrared.isChecked()
    other = window.print_windows[0]
    other.document = None
    other.close()


def test_prints_saved_from_a_split_scan_get_their_infrared_sidecars(window, photo, tmp_path, qtbot, monkeypatch):
    from photoforge.ops.split import extract

    out = tmp_path / "prints"
    out.mkdir()
    monkeypatch.setattr("photoforge.ui.main_window.QFileDialog.getExistingDirectory", lambda *a, **k: str(out))
    _, ir, chosen = _split_with_infrared(window, photo, tmp_path, qtbot, 6, "save")
    qtbot.waitUntil(lambda: (out / "album_page_2_IR.tif").exists() and not window.jobs.busy, timeout=30000)
    for n, p in enumerate(chosen["prints"], 1):
        want = extract(ir[..., None], p, chosen["trim"])[..., 0]
        assert np.array_equal(tifffile.imread(out / f"album_page_{n}_IR.tif"), want)
