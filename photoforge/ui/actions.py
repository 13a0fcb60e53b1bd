"""The action framework: a panel of options plus a function from ops/ run as one job.

Restore, inpaint and stylize plug in by subclassing `ActionPanel`: describe the options
with widgets, and return from `make_job` a label and a function of (Progress) that
returns the new ImageData. The window runs it on the worker thread and applies the result
as one undoable step.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QInputDialog, QLabel, QMessageBox, QPushButton, QVBoxLayout, QWidget)

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

    def result_mask(self, document):
        """A mask to change in the same undo step as the result (None: leave it)."""
        return None


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


class InpaintPanel(ActionPanel):
    """Removes what the mask covers. Enter in the canvas runs it ("remove")."""

    title = "Inpaint"
    METHODS = (("Automatic (quick for thin marks, fill for areas)", "auto"),
               ("Quick heal (scratches, dust)", "quick"), ("Content-aware fill", "fill"))

    def __init__(self, parent=None):
        super().__init__(parent)
        self.method = QComboBox()
        self.clear_after = QCheckBox("Clear the mask afterwards")
        self.clear_after.setChecked(True)
        add = QPushButton("Add inpainting model…")
        add.clicked.connect(self.add_model)
        note = QLabel("Paint over what should go, then press Enter. No learned inpainting "
                      "model ships with PhotoForge; you can add a LaMa- or MI-GAN-style ONNX file.")
        note.setWordWrap(True)
        self.form.addRow("Method", self.method)
        self.form.addRow(self.clear_after)
        self.form.addRow(note)
        self.form.addRow(add)
        self.refresh_methods()

    def refresh_methods(self, select: str | None = None) -> None:
        current = select or self.method.currentData()
        self.method.clear()
        for text, key in self.METHODS:
            self.method.addItem(text, key)
        for m in models_for("inpaint"):
            self.method.addItem(f"{m.title} (added model, {m.licence})", m.id)
        self.method.setCurrentIndex(max(0, self.method.findData(current)))

    def add_model(self) -> None:
        from photoforge.engine.user_models import ModelSignatureError, add_inpaint_model

        path, _ = QFileDialog.getOpenFileName(self, "Add inpainting model", "", "ONNX models (*.onnx)")
        if not path:
            return
        licence, ok = QInputDialog.getText(self, "Licence", "Licence of the model's weights:")
        if not ok:
            return
        try:
            model = add_inpaint_model(path, licence)
        except (ModelSignatureError, OSError) as error:
            QMessageBox.critical(self, "Cannot add model", str(error))
            return
        self.refresh_methods(select=model.id)

    def make_job(self, document, prefs) -> Job:
        from photoforge.ops.inpaint import InpaintOptions, MaskProblem, inpaint

        if not document.mask.any():
            raise MaskProblem("The mask is empty: paint over what should be removed first.")
        image, mask = document.image, document.mask.copy()  # the mask stays paintable meanwhile
        options = InpaintOptions(method=self.method.currentData(), device=prefs.device)
        label = f"Inpaint ({self.method.currentData()})"
        return label, lambda progress: inpaint(image, mask, options, progress)

    def result_mask(self, document):
        """The mask to install with the result: cleared if asked."""
        import numpy as np

        return np.zeros_like(document.mask) if self.clear_after.isChecked() else None


ACTION_PANELS: list[type[ActionPanel]] = [UpscalePanel, InpaintPanel]
