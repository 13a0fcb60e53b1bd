"""The action framework: a panel of options plus a function from ops/ run as one job.

Restore, inpaint and stylize plug in by subclassing `ActionPanel`: describe the options
with widgets, and return from `make_job` a label and a function of (Progress) that
returns the new ImageData. The window runs it on the worker thread and applies the result
as one undoable step.
"""
from __future__ import annotations

import weakref
from typing import Callable

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog,
                               QFormLayout, QGridLayout, QHBoxLayout, QInputDialog, QLabel, QMessageBox, QPushButton,
                               QSlider, QVBoxLayout, QWidget)

from photoforge.engine.progress import Progress
from photoforge.engine.catalog import models_for

Job = tuple[str, Callable[[Progress], object]]


def _combo() -> QComboBox:
    """A combo box that does not widen the panel to its longest entry (the dock is narrow)."""
    box = QComboBox()
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(12)
    return box


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

    batchable = False  # runs on files without a document (inpaint needs a mask: it does not)

    def batch_process(self, prefs) -> tuple[str, Callable]:
        """What the panel does to any image with its settings now, for a batch of files:
        a label and process(image, progress) -> ImageData. Reads the widgets, so call it on
        the GUI thread; raises (with the reason) if the settings cannot run."""
        raise NotImplementedError

    def result_mask(self, document):
        """A mask to change in the same undo step as the result (None: leave it)."""
        return None

    def attach(self, window) -> None:
        """Called once the window holds the panel, for panels that also start their own
        jobs (previews) or follow the view."""

    def land(self, document, label: str, result) -> None:
        """Install the job's result (on the GUI thread): one undoable step by default."""
        document.apply_image(result, label, self.result_mask(document))

    def job_ended(self) -> None:
        """Any job ended (the runner is free again), e.g. to start a preview held back."""

    def document_changed(self) -> None:
        """Another document, or a new step in this one (cheap: called after every step)."""


class UpscalePanel(ActionPanel):
    title = "Upscale"
    batchable = True

    def __init__(self, parent=None):
        super().__init__(parent)
        self.model = _combo()
        for m in models_for("upscale"):
            self.model.addItem(f"{m.title}  ({m.speed})", m.id)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.scale = QDoubleSpinBox()
        self.scale.setRange(0.25, 16.0)
        self.scale.setSingleStep(0.5)
        self.scale.setSuffix(" ×")
        self.tile = _combo()
        for text, value in (("Automatic", -2), ("Preferences", -1), ("No tiling", 0),
                            ("128 px", 128), ("256 px", 256), ("512 px", 512)):
            self.tile.addItem(text, value)
        self.device = _combo()
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
        from photoforge.engine.catalog import get_model

        from photoforge.engine.registry import origin

        model = get_model(self.model.currentData())
        # plain words here; the whole record on hover and in Help ▸ Model licences
        self.description.setText(f"{model.description} Licence: {model.licence.split(' (')[0]}.")
        self.description.setToolTip(f"{model.licence}\n{origin(model)}")
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

    def batch_process(self, prefs):
        from photoforge.ops.upscale import upscale

        options = self.options(prefs)
        return f"Upscale ×{options.scale:g} ({options.model})", \
            lambda image, progress: upscale(image, options, progress)


class InpaintPanel(ActionPanel):
    """Removes what the mask covers. Enter in the canvas runs it ("remove")."""

    title = "Inpaint"
    # Short names that fit the narrow dock; what each does is in its tooltip.
    METHODS = (("Automatic", "auto", "Quick heal for thin marks, content-aware fill for areas"),
               ("Quick heal", "quick", "Fast; for scratches and dust"),
               ("Content-aware fill", "fill", "Rebuilds areas from their surroundings"))

    # What the brush paints, as Photoshop's content-aware fill offers: (key, button, tooltip).
    TARGETS = (("mask", "Mask", "Brush (B) and Eraser (E) paint what is to be removed"),
               ("sample", "Sampling area",
                "Green: the fill copies only from here. Paint it with the Brush (B), take parts "
                "away with the Eraser (E). Left empty, the fill samples around the hole by itself"),
               ("exclude", "Exclude", "Violet: the fill never copies from here (a face, a sign, "
                                      "another subject). Brush (B) paints it, Eraser (E) erases it"))
    AREA_METHODS = ("auto", "fill")  # the methods whose content-aware fill honours the areas

    def __init__(self, parent=None):
        super().__init__(parent)
        self.window = None
        self.method = _combo()
        self.clear_after = QCheckBox("Clear the mask afterwards")
        self.clear_after.setChecked(True)
        add = QPushButton("Add inpainting model…")
        add.clicked.connect(self.add_model)
        note = QLabel("Paint over what should go, then press Enter. No learned inpainting "
                      "model ships with PhotoForge; you can add a LaMa- or MI-GAN-style ONNX file.")
        note.setWordWrap(True)
        self.form.addRow("Method", self.method)
        self.form.addRow(self.clear_after)
        self.form.addRow(self._areas_box())
        self.form.addRow(note)
        self.form.addRow(add)
        self.refresh_methods()
        self.method.currentIndexChanged.connect(self._method_changed)
        self._method_changed()

    def _areas_box(self) -> QWidget:
        """Brush targets and Clear buttons for the fill's sampling and exclude areas."""
        self.areas_box = box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 4, 0, 4)
        grid.addWidget(QLabel("Brush paints"), 0, 0, 1, 3)
        self.target_buttons = QButtonGroup(self)
        for column, (key, text, tip) in enumerate(self.TARGETS):
            button = QPushButton(text)
            button.setCheckable(True)
            button.setChecked(key == "mask")
            button.setToolTip(tip)
            button.setProperty("target", key)
            self.target_buttons.addButton(button)
            grid.addWidget(button, 1, column)
        self.target_buttons.buttonToggled.connect(lambda button, on: on and self._target_changed())
        legend = QLabel("Green: the fill copies only from there (none painted: from around the "
                        "hole). Violet stripes: never copied from.")
        legend.setWordWrap(True)
        grid.addWidget(legend, 2, 0, 1, 3)
        self.clear_buttons = {}
        row = QHBoxLayout()
        for key, text in (("sample", "Clear sampling area"), ("exclude", "Clear exclude area")):
            button = QPushButton(text)
            button.setToolTip(f"Empty the {'sampling' if key == 'sample' else 'exclude'} area (undoable)")
            button.clicked.connect(lambda checked=False, k=key: self.clear_area(k))
            self.clear_buttons[key] = button
            row.addWidget(button)
        grid.addLayout(row, 3, 0, 1, 3)
        return box

    @property
    def target(self) -> str:
        """What the brush paints while this panel is open: "mask", "sample" or "exclude"."""
        return self.target_buttons.checkedButton().property("target")

    def set_target(self, key: str) -> None:
        next(b for b in self.target_buttons.buttons() if b.property("target") == key).setChecked(True)

    def _method_changed(self) -> None:
        uses_areas = self.method.currentData() in self.AREA_METHODS
        self.areas_box.setVisible(uses_areas)
        if not uses_areas:
            self.set_target("mask")  # areas a method ignores are not painted unseen
        self._apply_target()

    def _target_changed(self) -> None:
        if self.window is not None and self.target != "mask" and self.window.canvas.tool not in ("brush", "eraser"):
            self.window.select_tool("brush")  # choosing an area means painting it
        self._apply_target()

    def _apply_target(self) -> None:
        """The canvas shows the areas, and paints the chosen layer, only while this panel is
        the open one with a method that uses them (as Photoshop's fill workspace does)."""
        if self.window is not None:
            canvas = self.window.canvas
            shown = self.window.action_box.currentWidget() is self
            canvas.paint_layer = self.target if shown else "mask"
            canvas.show_areas = shown and self.method.currentData() in self.AREA_METHODS
            canvas.viewport().update()

    def attach(self, window) -> None:
        self.window = window
        window.action_box.currentChanged.connect(self._apply_target)
        self._apply_target()

    def clear_area(self, key: str) -> None:
        doc = self.window.document if self.window is not None else None
        if doc is not None and not self.window.jobs.busy:
            name = "sampling" if key == "sample" else "exclude"
            doc.apply_mask(np.zeros_like(doc.mask), f"Clear {name} area", layer=key)

    def refresh_methods(self, select: str | None = None) -> None:
        current = select or self.method.currentData()
        self.method.clear()
        for text, key, tip in self.METHODS:
            self.method.addItem(text, key)
            self.method.setItemData(self.method.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        for m in models_for("inpaint"):
            self.method.addItem(m.title, m.id)
            self.method.setItemData(self.method.count() - 1, f"Added model; licence: {m.licence}",
                                    Qt.ItemDataRole.ToolTipRole)
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
        from photoforge.ops.inpaint import InpaintOptions, check_masks, inpaint

        method = self.method.currentData()
        # copies: the mask and the areas stay paintable while the job runs
        areas = {n: a.copy() for n, a in document.painted_areas().items()} if method in self.AREA_METHODS else {}
        image, mask = document.image, document.mask.copy()
        check_masks(mask.shape, mask, areas.get("sample"), areas.get("exclude"))  # a dialog, no job
        options = InpaintOptions(method=method, device=prefs.device)
        return f"Inpaint ({method})", lambda progress: inpaint(image, mask, options, progress, **areas)

    def result_mask(self, document):
        """The mask to install with the result: cleared if asked."""
        return np.zeros_like(document.mask) if self.clear_after.isChecked() else None


class RestorePanel(ActionPanel):
    """Denoise → damage → repair → colour, with the damage mask reviewable first."""

    title = "Restore"
    batchable = True
    detect_requested = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.preset = _combo()
        for name in ("gentle", "standard", "strong"):
            self.preset.addItem(name.capitalize(), name)
        self.preset.setCurrentIndex(1)
        self.scratches = QCheckBox("Repair scratches and dust")
        self.infrared = QCheckBox("Use the infrared channel")
        self.infrared.setEnabled(False)
        self.infrared.setToolTip("Only for scans that carry one (a 4th TIFF channel, a second page or "
                                 "an _IR.tif beside the scan): dust and scratches are found in it")
        self.detector = _combo()
        for text, key, tip in (
                ("Learned", "learned", "PhotoForge's own network: cracks, creases, scratches, dust, stains"),
                ("Classical", "classical", "Line and speck filters: straight scratches and dust"),
                ("Both", "both", "The classical marks, each followed along what the network sees around it, "
                                 "plus what the network finds alone")):
            self.detector.addItem(text, key)
            self.detector.setItemData(self.detector.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.sensitivity = QSlider(Qt.Orientation.Horizontal)
        self.sensitivity.setRange(0, 100)
        self.denoise = QCheckBox("Remove grain and noise")
        self.sigma = QDoubleSpinBox()
        self.sigma.setRange(0, 75)
        self.sigma.setSpecialValueText("automatic")
        self.denoise_strength = QSlider(Qt.Orientation.Horizontal)
        self.denoise_strength.setRange(0, 100)
        self.color = QCheckBox("Recover faded contrast and colour")
        self.color_strength = QSlider(Qt.Orientation.Horizontal)
        self.color_strength.setRange(0, 100)
        self.keep_mono = QCheckBox("Keep sepia and B&&W tones")
        self.faded_print = QCheckBox("It is a faded colour print")
        self.faded_print.setToolTip("Also set black and white per channel: takes out lifted blacks and a yellowed"
                                    " base, which on their own look like haze or warm light and are left")
        self.separate = QCheckBox("One undo step per stage")
        self.keep_mono.setToolTip("Black-and-white and sepia photos stay monochrome; untick to neutralise their tone")
        self.scratches.setToolTip("Paint or erase the mask after Detect damage: Restore repairs what it shows")
        self.detect_button = detect = QPushButton("Detect damage for review")
        detect.clicked.connect(lambda: self.detect_requested.emit(self))
        for box in (self.scratches, self.denoise, self.color, self.keep_mono):
            box.setChecked(True)
        self.form.addRow("Preset", self.preset)
        self.form.addRow(self.scratches)
        self.form.addRow(self.infrared)
        self.form.addRow("Detector", self.detector)
        self.form.addRow("Sensitivity", self.sensitivity)
        self.form.addRow(detect)
        self.form.addRow(self.denoise)
        self.form.addRow("Noise σ", self.sigma)
        self.form.addRow("Grain strength", self.denoise_strength)
        self.form.addRow(self.color)
        self.form.addRow("Colour strength", self.color_strength)
        self.form.addRow(self.keep_mono)
        self.form.addRow(self.faded_print)
        # What the last restore's colour stage measured ("faded: strong, cast: magenta"),
        # so a photo it left alone says why.
        self.colour_found = QLabel("")
        self.colour_found.setWordWrap(True)
        self._colour_for = None  # (document, image) the readout is about, as weak references
        self._photo = None  # the document the faded-print box speaks for, as a weak reference
        self.form.addRow(self.colour_found)
        self.form.addRow(self.separate)
        self.preset.currentIndexChanged.connect(self._apply_preset)
        self._apply_preset()
        self.reviewed_for = None  # the document whose mask Detect damage filled for review
        self._main = None  # the window (not `window`, which would hide QWidget.window())
        self.infrared.toggled.connect(self._remember_infrared)

    def attach(self, window) -> None:
        self._main = window

    def document_changed(self) -> None:
        doc = self._main.document if self._main is not None else None
        if self._photo is None or doc is not self._photo():
            # "It is a faded colour print" is said of one photo: another one starts unsaid
            self.faded_print.setChecked(False)
            self._photo = weakref.ref(doc) if doc is not None else None
        about = self._colour_for
        if about is None or doc is not about[0]() or doc.image is not about[1]():
            # the readout is of another photo, or of this one before an undo or a later step
            self.colour_found.setText("")
            self.colour_found.setToolTip("")
        # the levels, not doc.infrared: this runs after every step, and a float copy of a
        # scan's channel is worth making only for a job that uses it
        has = doc is not None and doc.infrared_levels is not None
        # Ticked where there is one as the user last chose (by default yes, as `restore
        # --infrared auto`); never where there is none: a greyed tick would read as "in use".
        self.infrared.blockSignals(True)  # this is not the user choosing
        self.infrared.setEnabled(has)
        self.infrared.setChecked(has and self._prefs_use_infrared())
        self.infrared.blockSignals(False)
        if has:
            self.infrared.setToolTip(f"Find dust and scratches in the infrared of {doc.infrared_source}")

    def _prefs_use_infrared(self) -> bool:
        return self._main is None or self._main.prefs.use_infrared

    def _remember_infrared(self, checked: bool) -> None:
        if self._main is not None and self.infrared.isEnabled() and checked != self._main.prefs.use_infrared:
            self._main.prefs.use_infrared = checked
            self._main.prefs.save()

    def infrared_of(self, document):
        """The document's infrared channel if it has one and the box is ticked, else None."""
        if document.infrared is None or not self.infrared.isChecked():
            return None
        return document.infrared.values

    def _apply_preset(self) -> None:
        from photoforge.ops.restore import PRESETS

        p = PRESETS[self.preset.currentData()]
        self.detector.setCurrentIndex(max(0, self.detector.findData(p.detector)))
        self.sensitivity.setValue(int(p.sensitivity * 100))
        self.denoise_strength.setValue(int(p.denoise_strength * 100))
        # The presets give all four colour corrections one strength, which the slider shows.
        self.color_strength.setValue(int(p.color_options.levels * 100))

    def options(self, prefs):
        from dataclasses import replace

        from photoforge.ops.restore import PRESETS

        base = PRESETS[self.preset.currentData()]
        k = self.color_strength.value() / 100
        colour = replace(base.color_options, levels=k, white_balance=k, contrast=k, saturation=k,
                         keep_monochrome=self.keep_mono.isChecked(),
                         neutralise_monochrome=not self.keep_mono.isChecked(),
                         faded_print=self.faded_print.isChecked())
        return replace(base, scratches=self.scratches.isChecked(), detector=self.detector.currentData(),
                       sensitivity=self.sensitivity.value() / 100,
                       denoise=self.denoise.isChecked(), sigma=self.sigma.value() or None,
                       denoise_strength=self.denoise_strength.value() / 100, color=self.color.isChecked(),
                       color_options=colour, device=prefs.device, threads=prefs.threads_option)

    def batch_process(self, prefs):
        """Each file is restored with its own scan's infrared where it has one and the user
        has not turned infrared off (the remembered choice: the box itself only speaks for
        the photo open now)."""
        from photoforge.app.batch import BatchAction
        from photoforge.app.scan_infrared import BatchInfrared, split_sidecars
        from photoforge.ops.restore import restore

        options = self.options(prefs)
        infrared = BatchInfrared(enabled=options.scratches and prefs.use_infrared)
        return f"Restore ({self.preset.currentText().lower()})", BatchAction(
            lambda image, progress: restore(image, options, progress, infrared=infrared.take()).image,
            check=infrared.check, select=split_sidecars if infrared.enabled else None,
            notes=infrared.summary_lines)

    def make_job(self, document, prefs) -> Job:
        from dataclasses import replace

        from photoforge.ops.restore import restore

        options = self.options(prefs)
        image = document.image
        painted = document.mask.any()
        if options.scratches and not painted and self.reviewed_for is document:
            options = replace(options, scratches=False)  # the user erased every detection
        # A mask the user painted or reviewed is what gets repaired (and then cleared);
        # otherwise the pipeline detects. Decided now, not when the result lands.
        mask = document.mask.copy() if options.scratches and painted else None
        separate = self.separate.isChecked()
        infrared = self.infrared_of(document)
        # the strength it ran at, not the slider's when it lands: the readout says whether it corrected
        strength = options.color_options.levels if options.color else 0.0
        return "Restore", lambda progress: (restore(image, options, progress, mask=mask, infrared=infrared),
                                            mask is not None, separate, strength)

    def land(self, document, label: str, outcome) -> None:
        result, clear_mask, separate, strength = outcome
        cleared = np.zeros_like(document.mask) if clear_mask else None
        if separate:
            for stage, image in result.stages:
                document.apply_image(image, stage, cleared if stage == "Repair damage" else None)
        elif result.stages:
            document.apply_image(result.image, label, cleared)
        fade = result.fade
        # the document and the image the readout is about, not kept alive by it
        self._colour_for = (weakref.ref(document), weakref.ref(document.image))
        text = "" if fade is None else f"Colour: {fade.describe()}"
        if fade is not None and fade.faded != "none" and strength == 0:
            text += " (left as is: colour strength 0)"  # measured, but the user asked for no correction
        self.colour_found.setText(text)
        self.colour_found.setToolTip("If it is a faded print, tick \"It is a faded colour print\" and restore "
                                     "again; Adjust ▸ Auto stretches it with one black and one white point for all "
                                     "channels" if fade is not None and fade.lifted else "")


ACTION_PANELS: list[type[ActionPanel]] = [RestorePanel, InpaintPanel, UpscalePanel]
