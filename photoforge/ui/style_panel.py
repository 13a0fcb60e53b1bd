"""The Stylize panel: a gallery of the 26 styles painted on the current photo, any picture
as the style, strength and keep-colours, a preview of the visible region, then one step.

The network's run (`prepare`) is the expensive part and does not depend on which region is
shown or, for built-in styles, on strength and keep-colours; the panel keeps the last one,
so moving the view or those controls only re-renders (`finish`). Everything that touches a
model runs through the window's one job runner.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QButtonGroup, QCheckBox, QFileDialog, QHBoxLayout,
                               QLabel, QLineEdit, QListWidget, QListWidgetItem, QMessageBox, QPushButton,
                               QRadioButton,
                               QSlider, QSpinBox, QWidget)

from photoforge.ui.pyramid import to_display
from photoforge.ui.actions import ActionPanel, Job

THUMB = 72
PREVIEW_DELAY_MS = 400


def _pixmap(rgb: np.ndarray, size: int) -> QPixmap:
    rgb = np.ascontiguousarray(rgb)
    h, w = rgb.shape[:2]
    image = QImage(rgb.data, w, h, rgb.strides[0], QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation)


class StylePanel(ActionPanel):
    title = "Stylize"
    batchable = True

    def __init__(self, parent=None):
        super().__init__(parent)
        self.window = None
        self.builtin = QRadioButton("Built-in style")
        self.picture_mode = QRadioButton("Style of a picture")
        self.builtin.setChecked(True)
        mode = QButtonGroup(self)
        mode.addButton(self.builtin)
        mode.addButton(self.picture_mode)
        self.gallery = QListWidget()
        self.gallery.setViewMode(QListWidget.ViewMode.IconMode)
        self.gallery.setIconSize(QSize(THUMB, THUMB))
        self.gallery.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.gallery.setMovement(QListWidget.Movement.Static)
        self.gallery.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.gallery.setGridSize(QSize(THUMB + 10, THUMB + 22))
        self.gallery.setUniformItemSizes(True)
        self.gallery.setWordWrap(True)
        self.gallery.setMinimumHeight(2 * (THUMB + 22) + 8)
        self.gallery.setToolTip("Select several (Ctrl+click) to blend them equally")
        from photoforge.ops.stylize import style_names

        for name in style_names():
            self.gallery.addItem(QListWidgetItem(name))
        self.gallery.setCurrentRow(0)
        # Several selected styles blend; their weights are editable here ("3:0.7, 12:0.3").
        self.weights = QLineEdit()
        self.weights.setPlaceholderText("one style")
        self.weights.setToolTip("Weights of the selected styles, e.g. 3:0.7, 12:0.3 (they are scaled to sum to 1)")
        self.gallery.itemSelectionChanged.connect(self._selection_to_weights)
        self.show_styles = QPushButton("Paint the gallery with this photo")
        self.show_styles.clicked.connect(self.render_gallery)
        self.pictures: list[tuple[str, np.ndarray]] = []  # (path, pixels) of up to two pictures
        self.picture_thumb = QLabel()
        self.picture_label = QLabel("No picture chosen")
        self.picture_label.setWordWrap(True)
        choose = QPushButton("Choose picture…")
        choose.clicked.connect(lambda: self.choose_picture(second=False))
        second = QPushButton("Blend with…")
        second.clicked.connect(lambda: self.choose_picture(second=True))
        row = QWidget()
        buttons = QHBoxLayout(row)
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(choose)
        buttons.addWidget(second)
        self.mix = QSlider(Qt.Orientation.Horizontal)
        self.mix.setRange(0, 100)
        self.mix.setValue(50)
        self.mix.setToolTip("How much of the second picture's style")
        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setRange(0, 100)
        self.strength.setValue(100)
        self.keep_colors = QCheckBox("Keep the photo's colours")
        self.work_size = QSpinBox()
        self.work_size.setRange(0, 4096)
        self.work_size.setSingleStep(128)
        self.work_size.setSpecialValueText("automatic")
        self.work_size.setSuffix(" px")
        self.work_size.setToolTip("Long side the network paints at: larger means finer brush strokes")
        self.live = QCheckBox("Live preview of the visible area")
        preview = QPushButton("Preview")
        preview.clicked.connect(self.preview)
        self.form.addRow(self.builtin)
        self.form.addRow(self.gallery)
        self.form.addRow("Blend", self.weights)
        self.form.addRow(self.show_styles)
        self.form.addRow(self.picture_mode)
        self.form.addRow(row)
        self.form.addRow(self.picture_thumb, self.picture_label)
        self.form.addRow("Picture blend", self.mix)
        self.form.addRow("Strength", self.strength)
        self.form.addRow(self.keep_colors)
        self.form.addRow("Working size", self.work_size)
        self.form.addRow(self.live)
        self.form.addRow(preview)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PREVIEW_DELAY_MS)
        self._timer.timeout.connect(self._live_tick)
        for signal in (self.gallery.itemSelectionChanged, self.picture_mode.toggled, self.mix.valueChanged,
                       self.weights.editingFinished,
                       self.strength.valueChanged, self.keep_colors.toggled, self.work_size.valueChanged):
            signal.connect(self._options_changed)
        self.live.toggled.connect(self._options_changed)
        # Caches: thumbnails for one photo, style vectors per picture, the last network run.
        self._gallery_for = None
        self._vectors: dict[str, tuple[float, ...]] = {}
        self._prepared = None  # (pixels it was made from, prepare key, Stylized)

    # ----- wiring -----------------------------------------------------------------------
    def attach(self, window) -> None:
        self.window = window
        window.canvas.view_changed.connect(self._options_changed)
        # The gallery paints itself the first time the panel is opened on a photo.
        box = window.action_box
        box.currentChanged.connect(lambda i: self.render_gallery() if box.widget(i) is self else None)

    def _options_changed(self, *_) -> None:
        if self.live.isChecked():
            self._timer.start()
        elif self.window is not None:
            self.window.canvas.set_preview(None)

    def _live_tick(self) -> None:
        if self.window is None or not self.live.isChecked():
            return
        if self.window.jobs.busy:
            self._timer.start()  # try again once the current job is done
            return
        self.preview()

    # ----- options ----------------------------------------------------------------------
    def _selection_to_weights(self) -> None:
        rows = sorted(i.row() for i in self.gallery.selectedIndexes())
        self.weights.setText(", ".join(f"{r}:{1 / len(rows):.2g}" for r in rows) if len(rows) > 1 else "")

    def selected_styles(self) -> tuple[tuple[int, float], ...]:
        """The selected style, or the blend in the weights field (equal unless edited)."""
        from photoforge.ops.stylize import parse_styles

        if self.weights.text().strip():
            return parse_styles(self.weights.text().replace(" ", ""))  # StyleError: shown by the caller
        rows = sorted(i.row() for i in self.gallery.selectedIndexes()) or [0]
        return tuple((r, 1.0 / len(rows)) for r in rows)

    def options(self, prefs):
        from photoforge.ops.stylize import StylizeOptions

        return StylizeOptions(styles=self.selected_styles(), strength=self.strength.value() / 100,
                              keep_colors=self.keep_colors.isChecked(), work_size=self.work_size.value() or None,
                              device=prefs.device, threads=prefs.threads_option)

    def choose_picture(self, second: bool) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Style picture", "",
                                              "Images (*.jpg *.jpeg *.png *.tif *.tiff *.webp *.bmp *.gif)")
        if path:
            self.set_picture(path, second)

    def set_picture(self, path: str, second: bool = False) -> None:
        """Use the picture at `path` as the style (or as the second one to blend with)."""
        from photoforge.core.imageio import ImageLoadError, load_image

        try:
            pixels = load_image(path).pixels
        except ImageLoadError as error:
            QMessageBox.critical(self, "Style picture", str(error))
            return
        entry = (path, pixels)
        self.pictures = [*self.pictures[:1], entry] if second and self.pictures else [entry]
        names = " + ".join(Path(p).name for p, _ in self.pictures)
        self.picture_label.setText(names)
        self.picture_thumb.setPixmap(_pixmap(to_display(self.pictures[0][1]), THUMB))
        self.picture_mode.setChecked(True)
        self._options_changed()

    def _resolve(self, prefs):
        """Options, and a function for the worker that fills in the style pictures' vector.
        Everything it needs from the widgets is read here, on the GUI thread; the vectors
        it computes come back in `self._vectors` only through `remember_vectors`."""
        from photoforge.ops.stylize import mix_vectors, style_vector

        options = self.options(prefs)
        if not self.picture_mode.isChecked():
            return options, lambda progress: (options, {})
        if not self.pictures:
            raise ValueError("Choose a style picture first (or pick a built-in style).")
        pictures, known, k = list(self.pictures), dict(self._vectors), self.mix.value() / 100

        def resolve(progress):
            new = {path: style_vector(pixels, options, progress) for path, pixels in pictures if path not in known}
            vectors = [known.get(path) or new[path] for path, _ in pictures]
            vector = vectors[0] if len(vectors) == 1 else mix_vectors([(vectors[0], 1.0 - k), (vectors[1], k)])
            return replace(options, vector=vector), new

        return options, resolve

    def remember_vectors(self, new: dict) -> None:
        self._vectors.update(new)

    @staticmethod
    def _prepare_key(options):
        # What the network run depends on; strength of a picture style moves its vector.
        return replace(options, keep_colors=False, strip_rows=None,
                       strength=options.strength if options.uses_picture else 1.0)

    # ----- jobs -------------------------------------------------------------------------
    def make_job(self, document, prefs) -> Job:
        from photoforge.ops.stylize import finish, prepare

        _, resolve = self._resolve(prefs)
        image = document.image
        pixels = image.pixels
        known = self._prepared

        def run(progress):
            options, new = resolve(progress.sub(0.0, 0.05))
            if options.strength == 0.0:
                return image, new
            key = self._prepare_key(options)
            base = known[2] if known is not None and known[0] is pixels and known[1] == key else \
                prepare(pixels, options, progress.sub(0.05, 0.6))
            return image.with_pixels(finish(pixels, base, options, progress=progress.sub(0.6, 1.0)), image.alpha), new

        if self.window is not None:
            self.window.canvas.set_preview(None)
        return "Stylize", run

    def land(self, document, label: str, outcome) -> None:
        result, new = outcome
        self.remember_vectors(new)
        super().land(document, label, result)

    def batch_process(self, prefs):
        import threading

        from photoforge.ops.stylize import stylize

        _, resolve = self._resolve(prefs)
        resolved, lock = [], threading.Lock()

        def process(image, progress):
            with lock:  # the style pictures' vector, worked out once for the whole batch
                if not resolved:
                    resolved.append(resolve(progress.sub(0.0, 0.05))[0])
            return stylize(image, resolved[0], progress)
        return "Stylize", process

    def preview(self) -> None:
        """Render the visible region (at screen resolution) over the canvas."""
        window = self.window
        if window is None or window.document is None or window.jobs.busy:
            return
        region = window.canvas.visible_rect()
        if region is None:
            return
        from photoforge.ops.stylize import StyleError, work_shape

        try:
            options, resolve = self._resolve(window.prefs)
            work_shape(*window.document.image.pixels.shape[:2], options)  # too small? say so here
        except (ValueError, StyleError) as error:
            # In the status bar, not a dialog: a live preview would raise one per scroll.
            window.statusBar().showMessage(f"No preview: {error}", 5000)
            return
        document, pixels = window.document, window.document.image.pixels
        zoom = min(1.0, window.canvas.zoom)
        known = self._prepared

        def work(progress):
            from photoforge.ops.stylize import finish, prepare

            options, new = resolve(progress.sub(0.0, 0.05))
            key = self._prepare_key(options)
            base = known[2] if known is not None and known[0] is pixels and known[1] == key else \
                prepare(pixels, options, progress.sub(0.05, 0.8))
            view, shown = pixels, base
            if zoom < 1.0:
                # The painting is a function of position, so it can be rendered straight
                # at the zoom the view shows: the network's run is shared, only the
                # guide (the photo) comes in at screen resolution.
                h, w = pixels.shape[:2]
                size = (max(1, round(w * zoom)), max(1, round(h * zoom)))
                view = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], -1)
                shown = replace(base, full_shape=(size[1], size[0]))
            y0, y1, x0, x1 = region
            f_y, f_x = view.shape[0] / pixels.shape[0], view.shape[1] / pixels.shape[1]
            part = (int(y0 * f_y), max(int(y0 * f_y) + 1, round(y1 * f_y)),
                    int(x0 * f_x), max(int(x0 * f_x) + 1, round(x1 * f_x)))
            out = finish(view, shown, options, region=part, progress=progress.sub(0.8, 1.0))
            return (pixels, key, base), to_display(out), region, new

        def land(outcome) -> None:
            prepared, rgb, shown_region, new = outcome
            self._prepared = prepared
            self.remember_vectors(new)
            if window.document is document and document.image.pixels is pixels:
                window.canvas.set_preview(rgb, shown_region)

        window.jobs.start("Stylize preview", work, land)

    def render_gallery(self) -> None:
        """Paint each style's thumbnail with the current photo (cached per photo)."""
        window = self.window
        if window is None or window.document is None or window.jobs.busy:
            return
        pixels = window.document.image.pixels
        if self._gallery_for is pixels:
            return
        from photoforge.ops.stylize import StylizeOptions

        options = StylizeOptions(device=window.prefs.device, threads=window.prefs.threads_option)

        def work(progress):
            from photoforge.ops.stylize import style_thumbnails

            return style_thumbnails(pixels, size=THUMB * 2, options=options, progress=progress)

        def land(thumbs) -> None:
            self._gallery_for = pixels
            for i, thumb in enumerate(thumbs):
                h, w = thumb.shape[:2]
                side = min(h, w)  # square icons keep the grid even
                square = thumb[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
                self.gallery.item(i).setIcon(QIcon(_pixmap(square, THUMB)))
            self.gallery.doItemsLayout()

        window.jobs.start("Style gallery", work, land)
