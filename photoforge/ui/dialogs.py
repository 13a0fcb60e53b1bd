"""Preferences, Export and Batch dialogs."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
                               QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
                               QPushButton, QSpinBox, QVBoxLayout, QWidget)

from photoforge.engine.registry import models_for
from photoforge.engine.runtime import DEVICES
from photoforge.ui.settings import Preferences


def _buttons(dialog: QDialog) -> QDialogButtonBox:
    box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    box.accepted.connect(dialog.accept)
    box.rejected.connect(dialog.reject)
    return box


class PreferencesDialog(QDialog):
    def __init__(self, prefs: Preferences, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.device = QComboBox()
        for name in ("auto", *DEVICES):
            self.device.addItem(name)
        self.device.setCurrentText(prefs.device)
        self.threads = QSpinBox()
        self.threads.setRange(0, 256)
        self.threads.setSpecialValueText("all cores")
        self.threads.setValue(prefs.threads)
        self.tile = QSpinBox()
        self.tile.setRange(-1, 4096)
        self.tile.setSingleStep(64)
        self.tile.setSpecialValueText("automatic")
        self.tile.setValue(prefs.tile)
        self.tile.setToolTip("0 = no tiling")
        self.history = QSpinBox()
        self.history.setRange(64, 1 << 20)
        self.history.setSuffix(" MB")
        self.history.setValue(prefs.history_mb)
        self.autosave = QSpinBox()
        self.autosave.setRange(0, 3600)
        self.autosave.setSuffix(" s")
        self.autosave.setSpecialValueText("only after each step")
        self.autosave.setValue(prefs.autosave_seconds)
        form = QFormLayout(self)
        form.addRow("Device for models", self.device)
        form.addRow("CPU threads", self.threads)
        form.addRow("Tile size", self.tile)
        form.addRow("Undo memory (then spilled to disk)", self.history)
        form.addRow("Autosave while painting every", self.autosave)
        form.addRow(_buttons(self))
        self.prefs = prefs

    def result_prefs(self) -> Preferences:
        p = self.prefs
        p.device, p.threads = self.device.currentText(), self.threads.value()
        p.tile, p.history_mb = self.tile.value(), self.history.value()
        p.autosave_seconds = self.autosave.value()
        return p


class ExportDialog(QDialog):
    """Format options; the path is asked for after."""

    def __init__(self, bit_depth: int, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.format = QComboBox()
        for label, key in (("PNG", "png"), ("JPEG", "jpg"), ("TIFF", "tif"), ("WebP", "webp")):
            self.format.addItem(label, key)
        self.quality = QSpinBox()
        self.quality.setRange(1, 100)
        self.quality.setValue(92)
        self.sixteen = QCheckBox("16 bits per channel (PNG, TIFF)")
        self.sixteen.setChecked(bit_depth == 16)
        self.metadata = QCheckBox("Keep metadata (EXIF, XMP)")
        self.metadata.setChecked(True)
        form = QFormLayout(self)
        form.addRow("Format", self.format)
        form.addRow("JPEG/WebP quality", self.quality)
        form.addRow(self.sixteen)
        form.addRow(self.metadata)
        form.addRow(_buttons(self))
        self.format.currentIndexChanged.connect(self._sync)
        self._sync()

    def _sync(self) -> None:
        lossy = self.format.currentData() in ("jpg", "webp")
        self.quality.setEnabled(lossy)
        self.sixteen.setEnabled(not lossy)


class BatchDialog(QDialog):
    """A batch of dropped files or folders: which action (with its panel's settings now),
    the output folder and format."""

    _FOLDERS = {"Restore": "restored", "Adjust": "adjusted", "Upscale": "upscaled", "Stylize": "stylized"}

    def __init__(self, inputs: list[Path], panels: list, current=None, prefs=None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Batch")
        self.inputs, self.prefs = inputs, prefs
        self.action = QComboBox()
        for panel in panels:
            self.action.addItem(panel.title, panel)
        start = current if current is not None and current in panels else panels[0]
        self.action.setCurrentIndex(panels.index(start))
        self.settings = QLabel()
        self.settings.setWordWrap(True)
        self.format = QComboBox()
        for label, key in (("Same as input", ""), ("PNG", "png"), ("JPEG", "jpg"), ("TIFF", "tif"), ("WebP", "webp")):
            self.format.addItem(label, key)
        first = inputs[0] if inputs else Path.home()
        self._base = first.parent
        self.folder = QLineEdit()
        browse = QPushButton("…")
        browse.clicked.connect(self._browse)
        row = QWidget()
        h = QHBoxLayout(row)
        h.setContentsMargins(0, 0, 0, 0)
        h.addWidget(self.folder)
        h.addWidget(browse)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{len(inputs)} item(s): " + ", ".join(p.name for p in inputs[:4])
                                + (" …" if len(inputs) > 4 else "")))
        form = QFormLayout()
        form.addRow("Action", self.action)
        form.addRow("Settings", self.settings)
        form.addRow("Output folder", row)
        form.addRow("Format", self.format)
        layout.addLayout(form)
        layout.addWidget(_buttons(self))
        self.action.currentIndexChanged.connect(self._action_changed)
        self._action_changed()

    @property
    def panel(self):
        return self.action.currentData()

    def _action_changed(self) -> None:
        panel = self.panel
        folder = self._FOLDERS.get(panel.title, panel.title.lower())
        if not self.folder.text() or Path(self.folder.text()).parent == self._base:
            self.folder.setText(str(self._base / folder))
        try:
            label, _ = panel.batch_process(self.prefs)
            self.settings.setText(f"{label}, as set in the {panel.title} panel")
        except Exception as error:  # noqa: BLE001 - shown, and refused again on OK
            self.settings.setText(f"Cannot run: {error}")

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.folder.text())
        if folder:
            self.folder.setText(folder)


class ShortcutsDialog(QDialog):
    """Help ▸ Keyboard Shortcuts: every shortcut in one table."""

    def __init__(self, rows: list[tuple[str, str]], parent=None):
        from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout

        super().__init__(parent)
        self.setWindowTitle("Keyboard Shortcuts")
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Keys", "Action"])
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, (keys, text) in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(keys))
            self.table.setItem(row, 1, QTableWidgetItem(text))
        self.table.resizeColumnToContents(0)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        layout.addWidget(close)
        self.resize(520, 560)
