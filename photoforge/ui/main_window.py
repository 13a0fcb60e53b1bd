"""The main window: documents, menus, panels, jobs, drag and drop."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QColor, QKeySequence
from PySide6.QtWidgets import (QApplication, QDockWidget, QFileDialog, QInputDialog, QLabel, QMainWindow,
                               QMessageBox, QProgressBar, QPushButton, QToolBox)

from photoforge.app.batch import IMAGE_SUFFIXES
from photoforge.core.history import AREAS
from photoforge.ui import settings
from photoforge.ui.actions import ACTION_PANELS, ActionPanel
from photoforge.ui.adjust_panel import AdjustPanel
from photoforge.ui.style_panel import StylePanel
from photoforge.ui.canvas import Canvas
from photoforge.ui.errorlog import log
from photoforge.ui.jobs import JobRunner
from photoforge.ui.keys import WindowKeys
from photoforge.ui.panels import HistoryPanel, ToolOptionsBar
from photoforge.ui.pyramid import Pyramid
from photoforge.ui.recovery import SessionAutosave

OPEN_FILTER = "Images (" + " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES)) + ");;All files (*)"
PROJECT_FILTER = "PhotoForge projects (*.pforge)"
# File ▸ Open takes projects too, so a project is one double-click away like any file.
OPEN_ANY_FILTER = ("Images and projects (" + " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES))
                   + " *.pforge);;" + PROJECT_FILTER + ";;All files (*)")


def _hue_name(colour: QColor) -> str:
    names = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "magenta", "red")
    return names[min(8, round(max(0, colour.hsvHue()) / 45))]


class MainWindow(QMainWindow):
    def __init__(self):
        super().__init__()
        self.setWindowTitle("PhotoForge")
        self.resize(1280, 840)
        self.setAcceptDrops(True)
        self.prefs = settings.Preferences.load()
        self.document = None
        self.print_windows: list[MainWindow] = []  # prints opened from a split scan
        self.jobs = JobRunner(self)
        self.autosave = SessionAutosave(self, self.prefs.autosave_seconds)
        self.canvas = Canvas(self)
        self.canvas.set_mask_style(QColor(self.prefs.mask_color), self.prefs.mask_opacity)
        self.setCentralWidget(self.canvas)
        self._build_status_bar()
        self._build_docks()
        self._build_actions()
        self._connect_jobs()
        self.canvas.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        self.canvas.stroke_finished.connect(self._history_changed)
        self.canvas.mask_style_changed.connect(self._remember_mask_style)
        self.canvas.retouch_finished.connect(self._retouch)
        self.canvas.line_drawn.connect(self._straighten_along)
        self.canvas.hint.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.keys = WindowKeys(self)
        self._update_title()
        self._device_label_refresh()

    # ----- construction ---------------------------------------------------------------
    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.info_label = QLabel("No image")
        self.zoom_label = QLabel("")
        self.device_label = QLabel("")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFixedWidth(220)
        self.progress.setTextVisible(True)
        self.eta_label = QLabel("")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.jobs.cancel)
        # Fixed widths: labels whose text changes (zoom, time left) must not shift the
        # Cancel button under the pointer.
        metrics = self.fontMetrics()
        for label, widest in ((self.eta_label, "9999 s left"), (self.zoom_label, "3200%"),
                              (self.device_label, "Device: auto (OpenVINO CPU bf16)")):
            label.setFixedWidth(metrics.horizontalAdvance(widest) + 12)
        for w in (self.progress, self.eta_label, self.cancel_button):
            w.hide()
        bar.addWidget(self.info_label, 1)
        for w in (self.progress, self.eta_label, self.cancel_button, self.zoom_label, self.device_label):
            bar.addPermanentWidget(w)

    def _build_docks(self) -> None:
        self.history_panel = HistoryPanel()
        self.history_panel.goto_requested.connect(self._goto_history)
        dock = QDockWidget("History", self)
        dock.setObjectName("history")
        dock.setWidget(self.history_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        self.action_box = QToolBox()
        self.action_panels: list[ActionPanel] = []
        restore, *others = ACTION_PANELS
        for cls in [restore, AdjustPanel, *others, StylePanel]:
            panel = cls()
            panel.run_requested.connect(self.run_action)
            if hasattr(panel, "detect_requested"):
                panel.detect_requested.connect(self.detect_damage)
            self.action_panels.append(panel)
            self.action_box.addItem(panel, panel.title)
        for panel in self.action_panels:
            panel.attach(self)
        # Restore is what the app is for: it opens first, then on the panel used last.
        last = next((p for p in self.action_panels if p.title == self.prefs.last_panel), None)
        self.action_box.setCurrentWidget(last or self.panel("Restore"))
        self.action_box.currentChanged.connect(self._remember_panel)
        history_dock = dock
        dock = QDockWidget("Actions", self)
        dock.setObjectName("actions")
        dock.setWidget(self.action_box)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        # The action panels need the room; the history list scrolls.
        self.resizeDocks([history_dock, dock], [160, 640], Qt.Orientation.Vertical)
        self.resizeDocks([dock], [330], Qt.Orientation.Horizontal)

    def _act(self, menu, text, slot, shortcut=None, checkable=False) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_actions(self) -> None:
        m = self.menuBar()
        file = m.addMenu("&File")
        self._act(file, "&Open…", self.open_dialog, QKeySequence.StandardKey.Open)
        self._act(file, "Open &Project…", self.open_project_dialog)
        self._act(file, "Spli&t Scan…", self.split_scan_dialog)
        self.recent_menu = file.addMenu("Open &Recent")
        self._fill_recent()
        # Save keeps the work (a project); images are only ever written by Export, to a
        # file chosen there, and the original only after its own confirmation.
        self.save_action = self._act(file, "&Save", self.save, QKeySequence.StandardKey.Save)
        self._act(file, "Save &As…", self.save_project_as,
                  [QKeySequence("Ctrl+Shift+S"), QKeySequence("Ctrl+Alt+S")])
        self._act(file, "&Export…", self.export, [QKeySequence("Ctrl+E"), QKeySequence("Ctrl+Shift+E")])
        self.export_original_action = self._act(file, "Export Over &Original…", self.export_over_original)
        file.addSeparator()
        self._act(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        edit = m.addMenu("&Edit")
        self.undo_action = self._act(edit, "&Undo", self.undo, QKeySequence.StandardKey.Undo)
        self.redo_action = self._act(edit, "&Redo", self.redo,
                                     [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        edit.addSeparator()
        self._act(edit, "&Preferences…", self.preferences)
        view = m.addMenu("&View")
        self._act(view, "Zoom &In", lambda: self.canvas.zoom_step(1), [QKeySequence("Ctrl+="), QKeySequence("Ctrl++")])
        self._act(view, "Zoom &Out", lambda: self.canvas.zoom_step(-1), QKeySequence("Ctrl+-"))
        self._act(view, "&Fit", self.canvas.fit, QKeySequence("Ctrl+0"))
        self._act(view, "&100%", lambda: self.canvas.set_zoom(1.0), QKeySequence("Ctrl+1"))
        view.addSeparator()
        self.compare_action = self._act(view, "&Compare before/after", self.toggle_compare,
                                        QKeySequence("Ctrl+K"), checkable=True)
        self.side_action = self._act(view, "Compare &side by side", self.toggle_side_by_side,
                                     QKeySequence("Ctrl+Shift+K"), checkable=True)
        self.mask_action = self._act(view, "Show &mask", self.toggle_mask, QKeySequence("Ctrl+M"), checkable=True)
        self.mask_action.setChecked(True)
        mask = m.addMenu("&Mask")
        self._act(mask, "&Clear", lambda: self.mask_command("Clear mask", "clear"), QKeySequence("Ctrl+Shift+A"))
        self._act(mask, "Select &all", lambda: self.mask_command("Select all", "select_all"), QKeySequence("Ctrl+A"))
        self._act(mask, "&Invert", lambda: self.mask_command("Invert mask", "invert"), QKeySequence("Ctrl+I"))
        self._act(mask, "&Grow…", lambda: self.mask_command("Grow mask", "grow", ask=True))
        self._act(mask, "&Shrink…", lambda: self.mask_command("Shrink mask", "shrink", ask=True))
        self._act(mask, "&Feather…", lambda: self.mask_command("Feather mask", "feather", ask=True))
        mask.addSeparator()
        self._act(mask, "&Load mask…", self.load_mask)
        self._act(mask, "Sa&ve mask…", self.save_mask)
        image = m.addMenu("&Image")
        self._act(image, "&Upscale…", lambda: self.show_action_panel("upscale"))
        self._act(image, "Re&store…", lambda: self.show_action_panel("restore"))
        self._act(image, "&Adjust…", lambda: self.show_action_panel("adjust"), QKeySequence("Ctrl+L"))
        self._act(image, "&Inpaint…", lambda: self.show_action_panel("inpaint"))
        self._act(image, "St&ylize…", lambda: self.show_action_panel("stylize"))
        self._act(image, "&Remove masked area", self.remove_masked,
                  [QKeySequence(Qt.Key.Key_Return), QKeySequence(Qt.Key.Key_Enter)])
        image.addSeparator()
        from photoforge.ops import geometry

        for text, key, fn in (
                ("Rotate 90° &Clockwise", "Ctrl+R", lambda im, m, ir: geometry.rotate90(im, m, True, infrared=ir)),
                ("Rotate 90° Counter-clock&wise", "Ctrl+Shift+R",
                 lambda im, m, ir: geometry.rotate90(im, m, False, infrared=ir)),
                ("Flip &Horizontal", None, lambda im, m, ir: geometry.flip(im, m, True, infrared=ir)),
                ("Flip &Vertical", None, lambda im, m, ir: geometry.flip(im, m, False, infrared=ir))):
            label = text.replace("&", "")
            self._act(image, text, lambda checked=False, f=fn, t=label: self.change_geometry(t, f),
                      QKeySequence(key) if key else None)
        self._act(image, "Auto S&traighten", self.auto_straighten)
        image.addSeparator()
        self._act(image, "&Date and Caption…", lambda: self.date_and_caption())  # not triggered(checked)
        help_ = m.addMenu("&Help")
        self._act(help_, "&Keyboard Shortcuts", self.show_shortcuts, QKeySequence("F1"))
        self._act(help_, "Model &licences", self.show_licences)
        self._act(help_, "&About", self.show_about)

        tools = self.addToolBar("Tools")
        tools.setObjectName("tools")
        group = QActionGroup(self)
        self.tool_actions: dict[str, QAction] = {}
        for name, key in (("Brush", "B"), ("Eraser", "E"), ("Hand", "H"), ("Clone", "S"), ("Heal", "J"),
                          ("Crop", "C"), ("Straighten", "T")):
            action = self.tool_actions[name.lower()] = QAction(name, self)
            action.setCheckable(True)
            action.setShortcut(QKeySequence(key))
            action.setToolTip(f"{name} ({key})")
            action.setChecked(name == "Brush")
            action.triggered.connect(lambda checked, n=name.lower(): setattr(self.canvas, "tool", n))
            group.addAction(action)
            tools.addAction(action)
        tools.addSeparator()
        for action in (self.undo_action, self.redo_action, self.compare_action):
            keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
            action.setToolTip(f"{action.text().replace('&', '')} ({keys})")
            tools.addAction(action)
        self.addToolBarBreak()
        options = ToolOptionsBar(self.canvas, self)
        options.setObjectName("tool-options")
        self.addToolBar(options)
        self._refresh_actions()

    def select_tool(self, name: str) -> None:
        """Make `name` ("brush", "eraser", …) the canvas's tool, as its toolbar button does."""
        self.tool_actions[name].trigger()

    def _connect_jobs(self) -> None:
        self.jobs.started.connect(self._job_started)
        self.jobs.progress.connect(self._job_progress)
        self.jobs.finished.connect(lambda label, r: self._job_ended(f"{label}: done"))
        self.jobs.failed.connect(self._job_failed)
        self.jobs.cancelled.connect(lambda label: self._job_ended(f"{label}: cancelled; nothing changed"))

    # ----- documents ------------------------------------------------------------------
    def error(self, title: str, message: str) -> None:
        QMessageBox.critical(self, title, message)

    def open_path(self, path: str | Path) -> bool:
        from photoforge.core.document import Document
        from photoforge.core.imageio import ImageLoadError

        if Path(path).suffix.lower() == ".pforge":
            return self.open_project_path(path)
        if not self._confirm_discard():
            return False
        try:
            document = Document.open(path)
        except ImageLoadError as error:
            self.error("Cannot open image", str(error))
            return False
        self.set_document(document)
        self._fill_recent(settings.add_recent(str(Path(path).resolve())))
        for notice in document.image.notices:
            self.statusBar().showMessage(notice, 8000)
        return True

    def set_document(self, document) -> None:
        self.document = document
        self.autosave.attach(document)
        document.history.memory_budget = self.prefs.history_mb << 20
        document.on_change.append(self._document_changed)
        document.history.listeners.append(self._history_changed)
        self.canvas.set_document(document)
        self._fit_mask_colour(document)
        self._compare(split=False, side=False)
        self._history_changed()

    def _document_changed(self, rect, layers) -> None:
        self.canvas.refresh(rect, image="image" in layers, mask="mask" in layers,
                            areas=tuple(n for n in AREAS if n in layers))
        if "image" in layers and (self.compare_action.isChecked() or self.side_action.isChecked()):
            self._load_before()

    def _history_changed(self) -> None:
        doc = self.document
        if doc is not None:
            h = doc.history
            self.history_panel.show_history(h.labels, h.index, h.pruned_count)
        self._refresh_actions()
        self._update_title()
        self._update_info()
        for panel in self.action_panels:
            panel.document_changed()

    @property
    def project_path(self) -> Path | None:
        """The project file the document is saved in (Save writes there)."""
        return self.document.project_path if self.document is not None else None

    def _refresh_actions(self) -> None:
        doc, busy = self.document, self.jobs.busy
        self.canvas.busy = busy
        self.export_original_action.setEnabled(bool(doc and doc.path))
        self.undo_action.setEnabled(bool(doc and doc.history.can_undo and not busy))
        self.redo_action.setEnabled(bool(doc and doc.history.can_redo and not busy))
        for panel in self.action_panels:
            panel.run_button.setEnabled(bool(doc) and not busy)

    def _update_title(self) -> None:
        doc = self.document
        if doc is None:
            self.setWindowModified(False)
            self.setWindowTitle("PhotoForge")
            return
        name = doc.display_name
        if self.project_path is not None:
            name = f"{self.project_path.name} ({name})"
        self.setWindowTitle(f"{name}[*] — PhotoForge")  # the placeholder first, or Qt warns
        self.setWindowModified(doc.is_modified)

    def _update_info(self) -> None:
        doc = self.document
        if doc is None:
            self.info_label.setText("No image")
            return
        img = doc.image
        kind = "grey" if img.is_grey else "RGB"
        alpha = " + alpha" if img.alpha is not None else ""
        self.info_label.setText(f"{img.width} × {img.height} px · {img.bit_depth}-bit {kind}{alpha}")

    def _device_label_refresh(self) -> None:
        from photoforge.engine.inference import last_device_label

        used = last_device_label()
        self.device_label.setText(f"Device: {self.prefs.device}" + (f" ({used})" if used else ""))

    def _confirm_discard(self) -> bool:
        """Ask before the work goes. Save, the default, writes a project (never the
        image the photo came from), so Enter keeps everything."""
        doc = self.document
        if doc is None or not doc.is_modified:
            return True
        if self.project_path is not None:
            text = f"Save changes to {self.project_path.name}?"
        else:
            text = (f"Save your work on {doc.display_name} as a project? "
                    "The original image is not changed either way.")
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(self, "Unsaved changes", text,
                                      buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save)
        if answer == buttons.Save:
            return self.save()
        return answer == buttons.Discard

    def closeEvent(self, event) -> None:
        if self.jobs.busy:
            self.jobs.cancel()
        if self._confirm_discard():
            self.jobs.wait(5000)
            self.autosave.finish()  # saved or discarded: nothing to recover
            if not any(isinstance(w, MainWindow) and w is not self and w.isVisible()
                       for w in QApplication.topLevelWidgets()):
                from photoforge.engine.inference import close as close_models

                close_models()  # the last window: the loaded models' memory goes back now
            event.accept()
        else:
            event.ignore()

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open image", "", OPEN_ANY_FILTER)
        if path:
            self.open_path(path)

    # ----- scans ----------------------------------------------------------------------
    def split_scan_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Split a scan into its prints", "", OPEN_FILTER)
        if path:
            self.split_scan(Path(path))

    def split_scan(self, path: Path, decide=None) -> bool:
        """Load the scan and find its prints (jobs), then let the user correct the outlines
        and open or save the prints. `decide(dialog)` stands in for the user (tests)."""
        from photoforge.core.imageio import ImageLoadError, load_image
        from photoforge.ui.split_dialog import SplitDialog

        if self.jobs.busy:
            return False

        def loaded(image) -> None:
            dialog = SplitDialog(self, path, image)
            dialog.detect()
            if (decide or (lambda d: d.exec()))(dialog) != SplitDialog.DialogCode.Accepted or not dialog.chosen:
                return
            prints, trim = dialog.outlines()
            if dialog.chosen == "save":
                folder = QFileDialog.getExistingDirectory(self, "Save the prints in", str(path.parent))
                if folder:
                    self._save_prints(path, image, prints, trim, Path(folder))
            else:
                self._open_prints(path, image, prints, trim)

        def load(progress):
            try:
                return load_image(path)
            except ImageLoadError as error:
                return error

        return self.jobs.start(f"Open {path.name}", load, lambda r: self.error("Cannot open scan", str(r))
                               if isinstance(r, Exception) else loaded(r))

    def _open_prints(self, path: Path, image, prints, trim: float) -> None:
        from photoforge.core.document import Document
        from photoforge.ui.split_dialog import cut_infrared, cut_prints

        def land(cut) -> None:
            images, (infrared, source) = cut
            for n, (print_image, levels) in enumerate(zip(images, infrared), 1):
                target = self if self.document is None else MainWindow()
                if target is not self:
                    target.resize(self.size())
                    target.show()
                    self.print_windows.append(target)
                document = Document(print_image, source_name=f"{path.stem}_{n}{path.suffix}")
                document.infrared_levels, document.infrared_source = levels, source
                target.set_document(document)

        self.jobs.start(f"Cut {len(prints)} prints",
                        lambda p: (cut_prints(image, prints, trim, p), cut_infrared(path, image, prints, trim)), land)

    def _save_prints(self, path: Path, image, prints, trim: float, folder: Path) -> None:
        from photoforge.app.split_cli import save_infrared
        from photoforge.core.imageio import save_image
        from photoforge.ui.split_dialog import cut_infrared, cut_prints

        def work(progress):
            written = []
            infrared, _ = cut_infrared(path, image, prints, trim)
            for n, (print_image, levels) in enumerate(zip(cut_prints(image, prints, trim, progress), infrared), 1):
                written.append(save_image(print_image, folder / f"{path.stem}_{n}{path.suffix}"))
                if levels is not None:  # as `split` writes it: restore on the print finds its dust
                    save_infrared(levels, written[-1])
            return written

        self.jobs.start(f"Save {len(prints)} prints", work,
                        lambda written: self.statusBar().showMessage(
                            f"Saved {len(written)} prints in {folder}", 8000))

    # ----- projects -------------------------------------------------------------------
    def offer_recovery(self) -> bool:
        from photoforge.ui.recovery import offer_recovery

        return offer_recovery(self)

    def adopt_recovered(self, document) -> None:
        self.set_document(document)  # with the project it was saved in, if any
        self.autosave.save()  # before the old session's folder goes
        self.statusBar().showMessage("Recovered unsaved work", 8000)

    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", "", PROJECT_FILTER)
        if path:
            self.open_project_path(path)

    def open_project_path(self, path: str | Path) -> bool:
        from photoforge.core.project import ProjectError, open_project

        if not self._confirm_discard():
            return False
        try:
            document = open_project(path)
        except ProjectError as error:
            self.error("Cannot open project", str(error))
            return False
        self.set_document(document)
        self._fill_recent(settings.add_recent(str(Path(path).resolve())))
        return True

    def save_project_as(self) -> bool:
        from photoforge.core.project import SUFFIX

        if self.document is None:
            return False
        doc = self.document
        start = self.project_path or self._beside_original(Path(doc.display_name).stem + SUFFIX)
        path, _ = QFileDialog.getSaveFileName(self, "Save project", str(start), PROJECT_FILTER)
        if not path:
            return False
        path = Path(path)
        if path.suffix.lower() != SUFFIX:
            path = path.with_name(path.name + SUFFIX)
        return self.save_project_to(path)

    def save_project_to(self, path: Path) -> bool:
        from photoforge.core.project import ProjectError, save_project

        try:
            save_project(self.document, path)
        except ProjectError as error:
            self.error("Cannot save project", str(error))
            return False
        self._history_changed()
        self.autosave.save()  # the session now names the project and has nothing unsaved
        self.statusBar().showMessage(f"Saved project {path}", 5000)
        return True

    def _fill_recent(self, files: list[str] | None = None) -> None:
        self.recent_menu.clear()
        for path in files if files is not None else settings.recent_files():
            # Listed only while it is there; kept in the settings for when it comes back
            # (a drive unplugged, a network share away).
            if not Path(path).is_file():
                continue
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda checked=False, p=path: self.open_path(p))
        self.recent_menu.setEnabled(not self.recent_menu.isEmpty())

    def _beside_original(self, name: str) -> Path:
        doc = self.document
        return doc.path.with_name(name) if doc is not None and doc.path is not None else Path(name)

    def save(self) -> bool:
        """Ctrl+S: the project this document is saved in, or a new one (asked for)."""
        if self.document is None:
            return False
        if self.project_path is not None:
            return self.save_project_to(self.project_path)
        return self.save_project_as()

    def export(self) -> bool:
        """Write the image to a file chosen now; the original only after a confirmation."""
        from photoforge.ui.dialogs import ExportDialog

        if self.document is None:
            return False
        dialog = ExportDialog(self.document.image.bit_depth, self)
        if dialog.exec() != ExportDialog.DialogCode.Accepted:
            return False
        fmt = dialog.format.currentData()
        start = self._beside_original(f"{Path(self.document.display_name).stem}_edited.{fmt}")
        path, _ = QFileDialog.getSaveFileName(self, "Export", str(start))
        # The file dialog asked about replacing another existing file.
        return bool(path) and self.export_to(Path(path), format=fmt, quality=dialog.quality.value(),
                                             sixteen=dialog.sixteen.isChecked(),
                                             keep_metadata=dialog.metadata.isChecked())

    def export_over_original(self) -> bool:
        doc = self.document
        if doc is None or doc.path is None:
            return False
        return self.export_to(doc.path, format=None, quality=95, sixteen=True, keep_metadata=True)

    def export_to(self, path: Path, *, format: str | None, quality: int, sixteen: bool,
                  keep_metadata: bool) -> bool:
        from photoforge.core.imageio import ImageSaveError

        doc = self.document
        replace_original = doc.is_original(path)
        if replace_original and not self._confirm_replace_original(path):
            return False
        image = doc.image
        if not sixteen and image.bit_depth == 16:
            image = image.with_pixels((image.pixels // 257).astype("uint8"),
                                      None if image.alpha is None else (image.alpha // 257).astype("uint8"))
        try:
            notices = doc.export(path, format=format, quality=quality, overwrite=True, image=image,
                                 keep_metadata=keep_metadata, replace_original=replace_original)
        except ImageSaveError as error:
            self.error("Cannot export image", str(error))
            return False
        self._history_changed()
        self.autosave.save()
        self.statusBar().showMessage("; ".join([f"Exported {path}", *notices]), 8000)
        return True

    def _confirm_replace_original(self, path: Path) -> bool:
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.warning(
            self, "Replace the original?",
            f"{path.name} is the original this photo was opened from. Replacing it cannot be "
            "undone, and the original scan will be gone. Replace it?",
            buttons.Yes | buttons.No, buttons.No)
        return answer == buttons.Yes

    # ----- history --------------------------------------------------------------------
    def undo(self) -> None:
        if self.document and not self.jobs.busy and self.document.history.can_undo:
            self.document.history.undo(self.document)

    def redo(self) -> None:
        if self.document and not self.jobs.busy and self.document.history.can_redo:
            self.document.history.redo(self.document)

    def _goto_history(self, index: int) -> None:
        if self.document and not self.jobs.busy:
            self.document.history.goto(self.document, index)

    # ----- mask -----------------------------------------------------------------------
    def mask_command(self, label: str, name: str, ask: bool = False) -> None:
        from photoforge.ops import mask as mask_ops

        if self.document is None:
            return
        args = ()
        if ask:
            px, ok = QInputDialog.getInt(self, label, "Pixels:", 4, 1, 500)
            if not ok:
                return
            args = (px,)
        self.document.apply_mask(getattr(mask_ops, name)(self.document.mask, *args), label)

    def load_mask(self) -> None:
        from photoforge.ops.mask import MaskError, load_mask

        if self.document is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Load mask", "", OPEN_FILTER)
        if not path:
            return
        try:
            self.document.apply_mask(load_mask(path, self.document.mask.shape), "Load mask")
        except MaskError as error:
            self.error("Cannot load mask", str(error))
        except Exception as error:  # noqa: BLE001 - a bug: shown, and logged with its traceback
            log.exception("loading the mask %s", path)
            self.error("Cannot load mask", f"{path}: {error}")

    def save_mask(self) -> None:
        from photoforge.core.imageio import ImageSaveError
        from photoforge.ops.mask import save_mask

        if self.document is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save mask", "mask.png", "PNG (*.png)")
        if path:
            try:
                save_mask(self.document.mask, path, overwrite=True)
            except ImageSaveError as error:
                self.error("Cannot save mask", str(error))

    def toggle_mask(self, on: bool) -> None:
        self.canvas.show_mask = on
        self.canvas.viewport().update()

    # ----- compare --------------------------------------------------------------------
    def _load_before(self) -> None:
        before = self.document.image_before_last_step() if self.document else None
        self.canvas.set_before(before.pixels if before is not None else None)

    def toggle_compare(self, on: bool) -> None:
        """Split view (a draggable line); one compare mode at a time."""
        self._compare(split=on, side=False)

    def toggle_side_by_side(self, on: bool) -> None:
        """Before and after in two halves at the same zoom and position."""
        self._compare(split=False, side=on)

    def _compare(self, split: bool, side: bool) -> None:
        for action, on in ((self.compare_action, split), (self.side_action, side)):
            action.blockSignals(True)
            action.setChecked(on)
            action.blockSignals(False)
        on = (split or side) and self.document is not None
        if on:
            self._load_before()
        else:
            self.canvas.set_before(None)
        self.canvas.split = 0.5 if split and on else None
        self.canvas.side_by_side = side and on
        self.canvas.viewport().update()

    def _retouch(self, tool: str, stroke, offset) -> None:
        """A clone or heal stroke was released: compute it off the GUI thread, then install
        it as one undo step."""
        from photoforge.ops.retouch import clone_region, heal_region

        document, pixels, rect = self.document, self.document.image.pixels, stroke.rect
        alpha = stroke.coverage()
        label = "Clone stamp" if tool == "clone" else "Healing brush"

        def work(progress):
            if tool == "clone":
                return rect, clone_region(pixels, rect, alpha, offset)
            return heal_region(pixels, rect, alpha, offset)

        def land(result) -> None:
            (y0, _, x0, _), region = result
            self.canvas.set_preview(None)
            if document is self.document and document.image.pixels is pixels:
                document.apply_region(y0, x0, region, label)

        if not self.jobs.start(label, work, land, quiet=True):
            self.canvas.set_preview(None)
            self.statusBar().showMessage("Busy: the stroke was not applied", 5000)

    def canvas_key_pressed(self, event) -> None:
        if event.key() == Qt.Key.Key_Backslash and not event.isAutoRepeat() \
                and self.canvas.before_pyramid is None and self.document is not None:
            self._load_before()  # for as long as the key is held, unless Compare keeps it
        self.canvas.key_pressed(event)

    def canvas_key_released(self, event) -> None:
        self.canvas.key_released(event)
        if event.key() == Qt.Key.Key_Backslash and not event.isAutoRepeat() \
                and not (self.compare_action.isChecked() or self.side_action.isChecked()):
            self.canvas.set_before(None)

    def panel(self, title: str):
        return next(p for p in self.action_panels if p.title.lower() == title.lower())

    def show_action_panel(self, title: str) -> None:
        self.action_box.setCurrentWidget(self.panel(title))

    def _remember_panel(self) -> None:
        self.prefs.last_panel = self.action_box.currentWidget().title
        self.prefs.save()

    def _layers_for_geometry(self):
        """The mask, with the painted areas stacked behind it as channels (a geometry op moves
        an H×W×C mask like an H×W one), and how to split them again after the move."""
        document = self.document
        painted = document.painted_areas()
        if not painted:
            return document.mask.copy(), lambda moved: (moved, None)
        names = list(painted)
        stacked = np.dstack([document.mask, *painted.values()])

        def split(moved):
            areas = {n: moved[..., 1 + names.index(n)] if n in names else None for n in AREAS}
            return np.ascontiguousarray(moved[..., 0]), {n: None if a is None else np.ascontiguousarray(a)
                                                         for n, a in areas.items()}
        return stacked, split

    def change_geometry(self, label: str, fn) -> bool:
        """Rotate, flip, crop or straighten (fn(image, mask, infrared) -> ops.geometry.Moved)
        as one step, the mask, the fill's areas and the scan's infrared moving with the
        photo; off the GUI thread like every pixel change."""
        if self.document is None or self.jobs.busy:
            return False
        document, image, infrared = self.document, self.document.image, self.document.infrared_levels
        layers, split = self._layers_for_geometry()

        def land(moved) -> None:
            if document is self.document:
                self.canvas.crop_rect = None
                document.apply_image(moved.image, label, *split(moved.mask), new_infrared=moved.infrared)

        return self.jobs.start(label, lambda progress: fn(image, layers, infrared), land)

    def crop_to_selection(self) -> bool:
        from photoforge.ops.geometry import crop

        rect = self.canvas.crop_rect
        if rect is None:
            return False
        y0, y1, x0, x1 = rect
        return self.change_geometry(f"Crop to {x1 - x0} × {y1 - y0}",
                                    lambda im, m, ir: crop(im, m, rect, infrared=ir))

    def _straighten_along(self, x0: float, y0: float, x1: float, y1: float) -> None:
        from photoforge.ops.geometry import line_angle

        self.straighten_by(line_angle(x0, y0, x1, y1))

    def straighten_by(self, degrees: float) -> bool:
        from photoforge.ops.geometry import MAX_STRAIGHTEN, straighten

        if abs(degrees) < 0.01 or abs(degrees) > MAX_STRAIGHTEN:
            self.statusBar().showMessage("Already level" if abs(degrees) < 0.01 else
                                         f"A {degrees:.1f}° turn is a rotation, not a straightening", 5000)
            return False
        return self.change_geometry(f"Straighten ({degrees:+.2f}°)",
                                    lambda im, m, ir: straighten(im, m, degrees, infrared=ir))

    def auto_straighten(self) -> None:
        """Straighten by the photo's dominant near-level or near-plumb lines, if they agree."""
        from photoforge.ops.geometry import straighten, suggest_angle

        if self.document is None or self.jobs.busy:
            return
        document, image, infrared = self.document, self.document.image, self.document.infrared_levels
        layers, split = self._layers_for_geometry()

        def work(progress):
            angle = suggest_angle(image.pixels)
            return angle, (None if angle is None else straighten(image, layers, angle, infrared=infrared))

        def land(outcome) -> None:
            angle, moved = outcome
            if moved is None:
                self.statusBar().showMessage("No level or plumb lines to go by: draw one with the "
                                             "Straighten tool (T)", 8000)
            elif document is self.document:
                document.apply_image(moved.image, f"Straighten ({angle:+.2f}°)", *split(moved.mask),
                                     new_infrared=moved.infrared)

        self.jobs.start("Auto straighten", work, land)

    def date_and_caption(self, dialog=None) -> bool:
        """Set when the photo was taken and its caption, as one undo step; `dialog` (a
        DateCaptionDialog already filled in, for tests) skips showing one."""
        from photoforge.core.photo_date import read_date_caption, set_date_caption
        from photoforge.ui.date_dialog import DateCaptionDialog

        doc = self.document
        if doc is None or self.jobs.busy:
            return False
        if dialog is None:
            dialog = DateCaptionDialog(*read_date_caption(doc.image), self)
            if dialog.exec() != DateCaptionDialog.DialogCode.Accepted:
                return False
        date, caption = dialog.values()
        dated = set_date_caption(doc.image, date, caption, clear=True)
        for notice in dated.notices[len(doc.image.notices):]:
            self.statusBar().showMessage(notice, 8000)
        return doc.apply_image(dated, "Date and caption")

    def remove_masked(self) -> None:
        """Enter: crop to the rectangle with the crop tool; else inpaint what the mask covers
        with the Inpaint panel's settings."""
        from photoforge.ui.actions import InpaintPanel

        if self.canvas.tool == "crop" and self.canvas.crop_rect is not None:
            self.crop_to_selection()
            return

        panel = next(p for p in self.action_panels if isinstance(p, InpaintPanel))
        self.action_box.setCurrentWidget(panel)
        self.run_action(panel)

    def detect_damage(self, panel) -> None:
        """Fill the mask with what the detector finds, for the user to review and edit."""
        from photoforge.ops.restore import find_damage

        if self.document is None or self.jobs.busy:
            return
        document, image = self.document, self.document.image
        options = panel.options(self.prefs)  # looked for as Restore will: detector, denoiser

        def land(mask) -> None:
            if document is self.document:
                document.apply_mask(mask, "Detect damage")
                panel.reviewed_for = document
                self.statusBar().showMessage(
                    f"Damage mask: {100 * (mask > 0).mean():.2f} % of the photo. "
                    "Paint or erase to adjust, then Restore.", 8000)

        infrared = panel.infrared_of(document)
        self.jobs.start("Detect damage", lambda progress: find_damage(image, options, progress, infrared=infrared),
                        land)

    # ----- jobs -----------------------------------------------------------------------
    def run_action(self, panel: ActionPanel) -> None:
        if self.document is None or self.jobs.busy:
            return
        try:
            label, fn = panel.make_job(self.document, self.prefs)
        except ValueError as error:  # settings that cannot run (AdjustError, StyleError, …)
            self.error(panel.title, str(error))
            return
        except Exception as error:  # noqa: BLE001 - a bug: shown, and logged with its traceback
            log.exception("preparing %s", panel.title)
            self.error(panel.title, str(error))
            return
        document = self.document

        def work(progress):
            result = fn(progress)
            # Build the result's display tiles here, off the GUI thread, when the size
            # changes (the view would otherwise rebuild them while the window waits).
            pixels = getattr(result, "pixels", None)
            same = pixels is None or pixels.shape == document.image.pixels.shape
            return result, (None if same else Pyramid(pixels))

        def land(outcome) -> None:
            result, pyramid = outcome
            if document is self.document:  # the window may hold another photo by now
                self.canvas.prepared_pyramid = pyramid
                panel.land(document, label, result)

        self.jobs.start(label, work, land)

    def _job_started(self, label: str) -> None:
        self.progress.setValue(0)
        self.progress.setFormat(f"{label} %p%")
        for w in (self.progress, self.eta_label, self.cancel_button):
            w.show()
        self._refresh_actions()

    def _job_progress(self, fraction: float, message: str, seconds_left: float) -> None:
        self.progress.setValue(int(fraction * 1000))
        if message:
            self.progress.setFormat(f"{message} %p%")
        self.eta_label.setText(f"{seconds_left:.0f} s left" if seconds_left >= 0 else "")

    def _job_ended(self, message: str) -> None:
        for w in (self.progress, self.eta_label, self.cancel_button):
            w.hide()
        self._device_label_refresh()
        if not self.jobs.quiet:
            self.statusBar().showMessage(message, 6000)
        self._refresh_actions()
        for panel in self.action_panels:
            panel.job_ended()

    def _job_failed(self, label: str, message: str) -> None:
        log.error("%s failed: %s\n%s", label, message, self.jobs.last_traceback)
        self._job_ended(f"{label}: failed")
        self.error(label, f"{label} failed; the image is unchanged.\n\n{message}")

    # ----- preferences, licences --------------------------------------------------------
    def preferences(self) -> None:
        from photoforge.ui.dialogs import PreferencesDialog

        dialog = PreferencesDialog(self.prefs, self)
        if dialog.exec() == PreferencesDialog.DialogCode.Accepted:
            self.prefs = dialog.result_prefs()
            self.prefs.save()
            if self.document is not None:
                self.document.history.memory_budget = self.prefs.history_mb << 20
            self.autosave.set_interval(self.prefs.autosave_seconds)
            self._device_label_refresh()

    def _fit_mask_colour(self, document) -> None:
        from photoforge.ui.canvas import contrasting_colour

        chosen = QColor(self.prefs.mask_color)
        colour = contrasting_colour(document.image.pixels, chosen)
        self.canvas.set_mask_style(colour, chosen=False)  # for this photo only
        if colour != chosen:
            self.statusBar().showMessage(f"Mask shown in {_hue_name(colour)}: the photo has much "
                                         f"{_hue_name(chosen)} in it (Mask colour in the tool bar)", 6000)

    def _remember_mask_style(self, chosen: bool) -> None:
        if not chosen:
            return
        self.prefs.mask_color = self.canvas.mask_color.name()
        self.prefs.mask_opacity = self.canvas.mask_opacity
        self.prefs.save()

    def show_shortcuts(self) -> None:
        from photoforge.ui.dialogs import ShortcutsDialog

        ShortcutsDialog(self.shortcut_list(), self).exec()

    def shortcut_list(self) -> list[tuple[str, str]]:
        """(keys, what they do) for every shortcut: the menus' and tools', then the canvas's."""
        from photoforge.ui.keys import CANVAS_HELP

        rows, seen = [], set()
        for action in self.findChildren(QAction):
            keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
            if keys and id(action) not in seen:
                seen.add(id(action))
                rows.append((keys, action.text().replace("&", "").rstrip("…")))
        return rows + list(CANVAS_HELP)

    def show_about(self) -> None:
        from photoforge import __version__

        QMessageBox.about(self, "About PhotoForge",
                          f"PhotoForge {__version__}\n\nRestoration, upscaling, inpainting and "
                          "stylisation of scanned photos.\nModels and their licences: Help ▸ Model licences.")

    def show_licences(self) -> None:
        from photoforge.engine.registry import origin
        from photoforge.engine.catalog import all_models

        models = all_models()
        summary = "\n".join(f"{m.title}: {m.licence.split(' (')[0]}" for m in models)
        box = QMessageBox(QMessageBox.Icon.Information, "Model licences",
                          f"The models PhotoForge runs and their licences:\n\n{summary}",
                          QMessageBox.StandardButton.Close, self)
        # where each comes from, and what the packages themselves say, on demand
        box.setDetailedText("\n\n".join(f"{m.title} ({m.id}): {m.licence}\n{origin(m)}" for m in models))
        box.exec()

    # ----- drag and drop ----------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        event.acceptProposedAction()
        # Let the drop finish before a dialog opens (some platforms block the source otherwise).
        QTimer.singleShot(0, lambda: self.handle_drop(paths))

    def handle_drop(self, paths: list[Path]) -> None:
        if len(paths) == 1 and paths[0].is_file():
            self.open_path(paths[0])
        elif paths:
            self.start_batch(paths)

    def start_batch(self, paths: list[Path], dialog=None) -> bool:
        """Run one action panel, with its settings now, over dropped files and folders;
        the panel shown at the time is offered first."""
        from photoforge.app.batch import BatchAction, UsageError, plan_jobs, run_batch
        from photoforge.ui.dialogs import BatchDialog

        if self.jobs.busy:
            self.error("Batch", "Another job is running; wait for it or cancel it first.")
            return False
        if dialog is None:
            panels = [p for p in self.action_panels if p.batchable]
            dialog = BatchDialog(paths, panels, self.action_box.currentWidget(), self.prefs, self)
            if dialog.exec() != BatchDialog.DialogCode.Accepted:
                return False
        fmt = dialog.format.currentData() or None
        try:
            label, process = dialog.panel.batch_process(self.prefs)
            jobs = plan_jobs([str(p) for p in paths], dialog.folder.text(), fmt)
            if len(paths) == 1 and not paths[0].is_dir():
                jobs = plan_jobs([str(paths[0]), str(paths[0])], dialog.folder.text(), fmt)[:1]
        except (UsageError, ValueError) as error:
            self.error("Batch", str(error))
            return False
        action = process if isinstance(process, BatchAction) else BatchAction(process)
        notices = []
        if action.select is not None:
            jobs, notices = action.select(jobs)

        def work(progress):
            report = run_batch(jobs, action.process, progress=progress, fmt=fmt, check=action.check)
            report.notes = notices + action.notes(report.done)
            return report

        return self.jobs.start(f"{label}: batch of {len(jobs)}", work, self._batch_done)

    def _batch_done(self, report) -> None:
        text = report.summary()
        if report.failures:
            text += "\n\n" + "\n".join(message for _, message in report.failures[:20])
        if report.notes:  # e.g. each scan's infrared source: worth reading, so not a status line
            text += "\n\n" + "\n".join(report.notes[:40]) + ("\n…" if len(report.notes) > 40 else "")
        if report.failures:
            QMessageBox.warning(self, "Batch finished", text)
        elif report.notes:
            QMessageBox.information(self, "Batch finished", text)
        else:
            self.statusBar().showMessage(text, 8000)
        self.last_batch = report
