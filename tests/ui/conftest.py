import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, monkeypatch):
    """QSettings in a private folder so tests neither read nor write the user's."""
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    # QSettings(org, app) takes the native format whatever the default says; on Linux that
    # is an INI file too, but with a path of its own.
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    yield


@pytest.fixture
def window(qtbot):
    from photoforge.ui.main_window import MainWindow

    win = MainWindow()
    win.resize(1000, 700)
    win.show()
    qtbot.waitExposed(win)
    yield win
    if win.jobs.busy:
        win.jobs.cancel()
    win.jobs.wait(20000)
    win.document = None  # no "save changes?" dialog on the way out
    win.close()
    win.deleteLater()


@pytest.fixture
def photo_file(tmp_path, photo):
    from photoforge.core.image import ImageData
    from photoforge.core.imageio import save_image

    path = tmp_path / "photo.png"
    save_image(ImageData(np.ascontiguousarray(photo[100:196, 150:278])), path)
    return path
