"""What scanners give beyond RGB, in the window: the infrared channel in the Restore panel,
and the Date and Caption dialog that Export and the project file carry."""
from __future__ import annotations

import numpy as np
import tifffile
from PIL import Image

from photoforge.ops.geometry import flip
from photoforge.ops.infrared_dust import infrared_dust_mask
from tests.infrared_synth import rgbi_scan, save_with_and_without
from tests.ui.test_main_window import restore_panel


def test_restore_uses_the_infrared_channel_only_where_the_scan_has_one(window, tmp_path, photo, qtbot):
    scan = rgbi_scan(photo, 6)
    rgbi, plain = save_with_and_without(scan, tmp_path)
    panel = restore_panel(window)
    window.open_path(plain)
    assert not panel.infrared.isEnabled() and not panel.infrared.isChecked()  # a greyed tick would read as in use
    window.open_path(rgbi)
    doc = window.document
    assert panel.infrared.isEnabled() and panel.infrared.isChecked()
    assert "4th TIFF channel" in panel.infrared.toolTip()
    with qtbot.waitSignal(window.jobs.finished, timeout=60000):
        panel.detect_button.click()  # the mask for review comes from the infrared too
    assert np.array_equal(doc.mask, infrared_dust_mask(doc.infrared.values, scan.damaged))
    doc.mask[:] = 0
    panel.reviewed_for = None  # as if never reviewed: Restore finds the damage itself
    for box in (panel.denoise, panel.color):
        box.setChecked(False)
    with qtbot.waitSignal(window.jobs.finished, timeout=60000):
        panel.run_button.click()
    t = scan.truth
    err = np.abs(doc.image.pixels[t].astype(int) - photo[t]).mean()
    assert err < np.abs(scan.damaged[t].astype(int) - photo[t]).mean() / 4
    assert doc.image.pixels.shape == photo.shape  # the infrared is not a 4th channel of the photo
    before = doc.infrared_levels
    with qtbot.waitSignal(window.jobs.finished, timeout=20000):
        window.change_geometry("Flip Horizontal", lambda im, m, ir: flip(im, m, True, infrared=ir))
    # the infrared turned with the photo, so it still lines up: the box stays
    assert np.array_equal(doc.infrared_levels, before[:, ::-1])
    assert panel.infrared.isEnabled() and panel.infrared.isChecked()


def _dialog(date: str, caption: str, circa: bool = False):
    from photoforge.ui.date_dialog import DateCaptionDialog

    dialog = DateCaptionDialog(None, None)
    dialog.date.setText(date)
    dialog.caption.setText(caption)
    dialog.circa.setChecked(circa)
    return dialog


def test_the_dialog_sets_what_export_writes_and_the_project_keeps(window, tmp_path, photo):
    from photoforge.core.imageio import load_image
    from photoforge.core.photo_date import PhotoDate, read_date_caption

    src = tmp_path / "print.tif"
    tifffile.imwrite(src, photo[:64, :80].astype(np.uint16) * 257, photometric="rgb")
    window.open_path(src)
    doc = window.document
    assert read_date_caption(doc.image) == (None, None)
    assert window.date_and_caption(_dialog("1962-07", "Grandpa's boat", circa=True))
    assert doc.history.labels == ["Date and caption"]
    for fmt in ("jpg", "tif"):
        out = tmp_path / f"export.{fmt}"
        assert window.export_to(out, format=fmt, quality=95, sixteen=True, keep_metadata=True)
        assert read_date_caption(load_image(out)) == (PhotoDate(1962, 7, circa=True), "Grandpa's boat")
        if fmt == "jpg":
            with Image.open(out) as im:
                assert im.getexif().get_ifd(0x8769)[0x9003] == "1962:07:01 00:00:00"
        else:
            with tifffile.TiffFile(out) as tif:
                assert tif.pages[0].tags["ExifTag"].value["DateTimeOriginal"] == "1962:07:01 00:00:00"
    assert window.save_project_to(tmp_path / "work.pforge")
    window.document = None
    assert window.open_project_path(tmp_path / "work.pforge")
    assert read_date_caption(window.document.image) == (PhotoDate(1962, 7, circa=True), "Grandpa's boat")
    window.undo_action.trigger()
    assert read_date_caption(window.document.image) == (None, None)


def test_the_dialog_refuses_a_bad_date_and_stays_open(window, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text: warned.append(text))
    dialog = _dialog("1962-02-30", "x")
    dialog.accept()
    assert warned == ["The date '1962-02-30': 1962-02 has no day 30"]
    assert dialog.result() != dialog.DialogCode.Accepted


def test_emptied_fields_are_removed(window, tmp_path, photo):
    from photoforge.core.photo_date import PhotoDate, read_date_caption

    src = tmp_path / "p.png"
    Image.fromarray(photo[:40, :40]).save(src)
    window.open_path(src)
    assert window.date_and_caption(_dialog("1950", "first"))
    assert read_date_caption(window.document.image) == (PhotoDate(1950), "first")
    assert window.date_and_caption(_dialog("", "second"))
    assert read_date_caption(window.document.image) == (None, "second")


def test_the_menu_opens_the_dialog_filled_with_what_the_photo_holds(window, tmp_path, photo, monkeypatch):
    from PySide6.QtGui import QAction

    from photoforge.core.photo_date import PhotoDate, read_date_caption
    from photoforge.ui.date_dialog import DateCaptionDialog

    src = tmp_path / "p.png"
    Image.fromarray(photo[:40, :40]).save(src)
    window.open_path(src)
    assert window.date_and_caption(_dialog("1950-05", "before"))
    shown = []

    def answer(dialog):
        shown.append((dialog.date.text(), dialog.caption.text(), dialog.circa.isChecked()))
        dialog.date.setText("1951")
        return DateCaptionDialog.DialogCode.Accepted

    monkeypatch.setattr(DateCaptionDialog, "exec", answer)
    action = next(a for a in window.findChildren(QAction) if a.text() == "&Date and Caption…")
    action.trigger()
    assert shown == [("1950-05", "before", False)]
    assert read_date_caption(window.document.image) == (PhotoDate(1951), "before")
    assert window.document.history.labels == ["Date and caption", "Date and caption"]
