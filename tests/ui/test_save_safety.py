"""Save never touches a file the user did not choose: the original scan, or a path that a
project file names. Each test here fails on the window as it was before (Ctrl+S wrote the
original in place; a crafted project made Save overwrite any image)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from photoforge.core.imageio import load_image
from photoforge.core.project import open_project, save_project
from tests.core.test_project import write_manifest
from tests.ui.test_project_files import menu_action, paint

Button = QMessageBox.StandardButton


@pytest.fixture
def dialogs(monkeypatch, tmp_path):
    """Records what the window asks; `save_to` is what the save dialog answers."""
    class Dialogs:
        save_to = tmp_path / "chosen.pforge"
        asked_save: list = []
        questions: list = []
        warnings: list = []
        answer = Button.Cancel
        replace = Button.No

    d = Dialogs()

    def get_save(parent, caption, start="", *rest, **kw):
        d.asked_save.append((caption, start))
        return (str(d.save_to) if d.save_to else "", "")

    def question(parent, title, text, buttons=None, default=None):
        d.questions.append((text, default))
        return d.answer

    def warning(parent, title, text, buttons=None, default=None):
        d.warnings.append((text, default))
        return d.replace

    monkeypatch.setattr("photoforge.ui.main_window.QFileDialog.getSaveFileName", get_save)
    monkeypatch.setattr("photoforge.ui.main_window.QMessageBox.question", question)
    monkeypatch.setattr("photoforge.ui.main_window.QMessageBox.warning", warning)
    monkeypatch.setattr("photoforge.ui.main_window.QMessageBox.critical", lambda *a: None)
    return d


def test_ctrl_s_on_a_photo_saves_a_project_and_leaves_the_scan_alone(window, photo_file, dialogs):
    scan = photo_file.read_bytes()
    assert window.open_path(photo_file)
    paint(window, 30, 20, 60)
    assert menu_action(window, "&Save").shortcut().toString() == "Ctrl+S"
    menu_action(window, "&Save").trigger()
    (caption, start), = dialogs.asked_save
    assert start.endswith("photo.pforge")  # offered beside the scan, as a project
    assert photo_file.read_bytes() == scan
    assert window.project_path == dialogs.save_to and not window.isWindowModified()
    assert open_project(dialogs.save_to).history.labels == ["Brush"]
    paint(window, 40, 20, 60)
    menu_action(window, "&Save").trigger()  # the second time: that project, no dialog
    assert len(dialogs.asked_save) == 1 and photo_file.read_bytes() == scan
    assert open_project(dialogs.save_to).history.labels == ["Brush", "Brush"]


def test_the_unsaved_changes_prompt_defaults_to_keeping_the_work_in_a_project(window, photo_file,
                                                                             tmp_path, dialogs):
    scan = photo_file.read_bytes()
    window.open_path(photo_file)
    paint(window, 30, 20, 60)
    dialogs.answer = Button.Save
    other = tmp_path / "other.png"
    other.write_bytes(scan)
    assert window.open_path(other)  # asked, saved as a project, then opened
    (text, default), = dialogs.questions
    assert default == Button.Save and "project" in text and "original image is not changed" in text
    assert photo_file.read_bytes() == scan
    assert open_project(dialogs.save_to).history.labels == ["Brush"]


def test_a_crafted_project_cannot_make_save_write_an_image(window, photo_file, tmp_path, dialogs):
    # The report: a .pforge whose manifest names /some/where/victim.png made Ctrl+S replace it.
    victim = tmp_path / "victim.png"
    victim.write_bytes(photo_file.read_bytes())
    precious = victim.read_bytes()
    window.open_path(photo_file)
    paint(window, 30, 20, 60)
    crafted = tmp_path / "crafted.pforge"
    save_project(window.document, crafted)
    write_manifest(crafted, lambda m: m.update(source_path=str(victim), source_name=str(victim)))
    window.document.history.mark_clean()
    assert window.open_path(crafted)
    paint(window, 50, 20, 60)
    window.save()
    assert victim.read_bytes() == precious and dialogs.asked_save == []
    assert open_project(crafted).history.labels == ["Brush", "Brush"]  # Save wrote the project
    assert not window.export_original_action.isEnabled()  # it has no original in this session
    # Exporting asks for a file each time; even a chosen file that the hint names is just a file.
    assert window.export_to(tmp_path / "out.png", format="png", quality=95, sixteen=False,
                            keep_metadata=True)
    assert dialogs.warnings == []


def test_exporting_over_the_original_takes_a_confirmation_that_defaults_to_no(window, photo_file,
                                                                              dialogs):
    scan = photo_file.read_bytes()
    window.open_path(photo_file)
    pixels = window.document.image.pixels
    window.document.apply_image(window.document.image.with_pixels(255 - pixels), "Invert")
    options = dict(format="png", quality=95, sixteen=False, keep_metadata=True)
    assert not window.export_to(photo_file, **options)  # answered No
    (text, default), = dialogs.warnings
    assert default == Button.No and "photo.png" in text and "cannot be undone" in text
    assert photo_file.read_bytes() == scan and window.isWindowModified()
    dialogs.replace = Button.Yes
    assert window.export_original_action.isEnabled()
    window.export_original_action.trigger()
    assert len(dialogs.warnings) == 2
    np.testing.assert_array_equal(load_image(photo_file).pixels, 255 - pixels)
    assert not window.isWindowModified()
