"""The action framework: a panel of options plus a function from ops/ run as one job.

Restore, inpaint and stylize plug in by subclassing `ActionPanel`: describe the options
with widgets, and return from `make_job` a label and a function of (Progress) that
returns the new ImageData. The window runs it on the worker thread and applies the result
as one undoable step.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QComboBox, QDoubleSpinBox, QFormLayout, QLabel, QPushButton,
                               QVBoxLayout, QWidget)

from photoforge.engine.progress import Progress
from photoforge.engine.registry import models_for

Job = tuple[str, Callable[[Progress], object]]


class ActionPanel(QWidget):
    run_requested = Signal(object)  # the panel itself
    title = "Action"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.form = QFormLayout()
        self.run_button = QPushButton(self.title)
        self.run_button.clicked.connect(lambda: self.run_requested.emit(self))
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.run_button)
        layout.addStretch(1)

    def make_job(self, document, prefs) -> Job:
        raise NotImplementedError


class UpscalePanel(ActionPanel):
    title = "Upscale"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.model = QComboBox()
        for m in models_for("upscale"):
            self.model.addItem(f"{m.title}  ({m.speed})", m.id)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.scale = QDoubleSpinBox()
        self.scale.setRange(0.25, 16.0)
        self.scale.setSingleStep(0.5)
        self.scale.setSuffix(" ×")
        self.tile = QComboBox()
        for text, value in (("Automatic", -2), ("Preferences", -1), ("No tiling", 0),
                            ("128 px", 128), ("256 px", 256), ("512 px", 512)):
            self.tile.addItem(text, value)
        self.device = QComboBox()
        from photoforge.engine.runtime import DEVICES

        self.device.addItem("Preferences", "")
        for name in ("auto", *DEVICES):
            self.device.addItem(name, name)
        self.form.addRow("Model", self.model)
        self.form.addRow(self.description)
        self.form.addRow("Scale", self.scale)
        self.form.addRow("Tile size", self.tile)
        self.form.addRow("Device", self.device)
        self.model.currentIndexChanged.connect(self._model_changed)
        default = self.model.findData("realesrgan-x4plus")
        self.model.setCurrentIndex(max(0, default))
        self._model_changed()

    def _model_changed(self) -> None:
        from photoforge.engine.registry import get_model

        model = get_model(self.model.currentData())
        self.description.setText(f"{model.description} Weights: {model.licence}.")
        self.scale.setValue(model.scale)

    def options(self, prefs):
        from photoforge.ops.upscale import UpscaleOptions

        tile = self.tile.currentData()
        return UpscaleOptions(
            model=self.model.currentData(), scale=self.scale.value(),
            tile=prefs.tile_option if tile == -1 else (None if tile == -2 else tile),
            device=self.device.currentData() or prefs.device, threads=prefs.threads_option)

    def make_job(self, document, prefs) -> Job:
        from photoforge.ops.upscale import upscale

        options = self.options(prefs)
        image = document.image
        label = f"Upscale ×{options.scale:g} ({options.model})"
        return label, lambda progress: upscale(image, options, progress)


ACTION_PANELS: list[type[ActionPanel]] = [UpscalePanel]
