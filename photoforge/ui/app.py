"""Starting the desktop application (and the offscreen screenshot mode)."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def run_gui(image: str | None = None, mask: str | None = None, screenshot: str | None = None,
            panel: str | None = None, size: tuple[int, int] = (1280, 840)) -> int:
    if screenshot and not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # no display server needed
    from PySide6.QtWidgets import QApplication

    from photoforge.ui import errorlog
    from photoforge.ui.main_window import MainWindow

    errorlog.start()

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("PhotoForge")
    app.setApplicationName("PhotoForge")
    window = MainWindow()
    if screenshot:
        # Nobody can close a dialog here: problems go to stderr and the exit code.
        window.error = lambda title, message: print(f"error: {message}", file=sys.stderr)
    window.resize(*size)
    window.show()
    # After the window is up and before the image named on the command line: recovered
    # work is not opened over, and that image can be opened once it is saved.
    recovered = not screenshot and window.offer_recovery()
    if image and recovered:
        window.statusBar().showMessage(f"Not opening {image}: recovered work is open", 10000)
    elif image:
        if not window.open_path(image):
            return 2
        if mask:
            from photoforge.ops.mask import MaskError, load_mask

            try:
                window.document.apply_mask(load_mask(mask, window.document.mask.shape), "Load mask")
            except (MaskError, OSError) as error:
                print(f"error: {error}", file=sys.stderr)
                return 2
    if panel:
        window.show_action_panel(panel)
    if screenshot:
        deadline = time.monotonic() + 300
        while window.jobs.busy and time.monotonic() < deadline:  # e.g. a gallery being painted
            app.processEvents()
            time.sleep(0.02)
        for _ in range(5):
            app.processEvents()
        window.canvas.fit()
        app.processEvents()
        if not window.grab().save(str(Path(screenshot))):
            print(f"error: could not write screenshot '{screenshot}'", file=sys.stderr)
            return 2
        window.document = None  # nothing to ask about on the way out
        window.close()
        return 0
    return app.exec()
