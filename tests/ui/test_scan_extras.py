"""What scanners give beyond RGB, in the window: the infrared channel in the Restore panel,
and the Date and Caption dialog that Export and the project file carry."""
from __future__ import annotations

import numpy as np
import tifffile
from PIL import Image

from photoforge.ops.geometry import flip
from tests.infrared_synth import rgbi_scan
from tests.ui.test_main_window import restore_panel


def test_restore_uses_the_infrared_channel_only_where_the_scan_has_one(window, tmp_path, photo, qtbot):
    scan = rgbi_scan(photo, 6)
    rgbi, plain = tmp_path / "rgbi.tif", tmp_path / "plain.png"
    tifffile.imwrite(rgbi, np.dstack([scan.damaged, scan.infrared_as(np.uint8)]), photometric="rgb",
                     extrasamples=[0])
    Image.fromarray(scan.damaged).save(plain)
    panel = restore_panel(window)
    window.open_path(plain)
    assert not panel.infrared.isEnabled()
    window.open_path(rgbi)
    doc = window.document
    assert panel.infrared.isEnabled() and panel.infrared.isChecked()
    assert "4th TIFF channel" in panel.infrared.toolTip()
    for box in (panel.denoise, panel.color):
        box.setChecked(False)
    with qtbot.waitSignal(window.jobs.finished, timeout=60000):
        panel.run_button.click()
    t = scan.truth
    err = np.abs(doc.image.pixels[t].astype(int) - photo[t]).mean()
    assert err < np.abs(scan.damaged[t].astype(int) - photo[t]).mean() / 4
    assert doc.image.pixels.shape == photo.shape  # the infrared is not a 4th channel of the photo
    with qtbot.waitSignal(window.jobs.finished, timeout=20000):
        window.change_geometry("Flip Horizontal", lambda im, m: flip(im, m, True))
    assert doc.infrared is None and not panel.infrared.isEnabled()  # it no longer lines up
