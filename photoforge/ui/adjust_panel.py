"""Image ▸ Adjust: levels over a histogram, curves, a white-balance eyedropper, exposure,
contrast, saturation and vibrance, previewed live on the visible region (off the GUI
thread) and applied as one undo step whose label holds the settings."""
from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QLabel, QPushButton,
                               QSlider, QWidget)

from photoforge.ops.adjust import (CHANNELS, IDENTITY_CURVE, AdjustError, Adjustments, Levels,
                                   apply_adjustments, curve_lut, histogram, load_preset,
                                   neutral_gains, save_preset)
from photoforge.ui.actions import ActionPanel
from photoforge.ui.pyramid import to_display

_CHANNEL_COLOURS = (QColor(200, 200, 200), QColor(230, 80, 80), QColor(80, 200, 90), QColor(90, 130, 240))
PREVIEW_DELAY_MS = 20  # coalesces a slider drag into a few previews (one runs at a time besides)


class LevelsEditor(QWidget):
    """A histogram with three handles under it: black, gamma (midtones) and white."""

    changed = Signal(object)  # Levels

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumSize(200, 110)
        self.counts = np.zeros(256)
        self.colour = _CHANNEL_COLOURS[0]
        self.levels = Levels()
        self._drag: str | None = None

    def set_data(self, counts: np.ndarray, colour: QColor, levels: Levels) -> None:
        self.counts, self.colour, self.levels = counts, colour, levels
        self.update()

    def _plot(self) -> QRectF:
        return QRectF(6, 4, self.width() - 12, self.height() - 24)

    def _gamma_x(self) -> float:
        # where the midtone handle sits: the input that maps to 0.5
        lv = self.levels
        return lv.black + (lv.white - lv.black) * 0.5 ** lv.gamma

    def _handles(self) -> dict[str, float]:
        return {"black": self.levels.black, "gamma": self._gamma_x(), "white": self.levels.white}

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(40, 40, 40))
        r = self._plot()
        peak = np.sort(self.counts)[-3] if self.counts.any() else 1  # a spike must not flatten the rest
        heights = np.minimum(self.counts / max(peak, 1), 1.0) * r.height()
        path = QPainterPath(QPointF(r.left(), r.bottom()))
        for i, h in enumerate(heights):
            path.lineTo(r.left() + r.width() * i / 255, r.bottom() - h)
        path.lineTo(r.right(), r.bottom())
        path.closeSubpath()
        p.fillPath(path, self.colour.darker(130))
        for name, x in self._handles().items():
            cx = r.left() + r.width() * x
            tri = QPolygonF([QPointF(cx, r.bottom() + 3), QPointF(cx - 6, r.bottom() + 14),
                             QPointF(cx + 6, r.bottom() + 14)])
            p.setPen(QPen(QColor(220, 220, 220)))
            p.setBrush({"black": QColor(0, 0, 0), "gamma": QColor(128, 128, 128),
                        "white": QColor(255, 255, 255)}[name])
            p.drawPolygon(tri)

    def mousePressEvent(self, event) -> None:  # noqa: N802
        x = (event.position().x() - self._plot().left()) / self._plot().width()
        self._drag = min(self._handles().items(), key=lambda kv: abs(kv[1] - x))[0]
        self.mouseMoveEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._drag is None:
            return
        x = min(1.0, max(0.0, (event.position().x() - self._plot().left()) / self._plot().width()))
        lv = self.levels
        try:
            if self._drag == "black":
                lv = Levels(min(x, lv.white - 1 / 255), lv.white, lv.gamma)
            elif self._drag == "white":
                lv = Levels(lv.black, max(x, lv.black + 1 / 255), lv.gamma)
            else:
                t = min(0.98, max(0.02, (x - lv.black) / (lv.white - lv.black)))
                lv = Levels(lv.black, lv.white, min(10.0, max(0.1, np.log(0.5) / np.log(t))))
        except AdjustError:
            return
        self.levels = lv
        self.update()
        self.changed.emit(lv)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        self._drag = None


class CurveEditor(QWidget):
    """Click to add a point, drag to move it, double-click (or drag it out) to remove it."""

    changed = Signal(object)  # points, in 0–1

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMinimumSize(200, 200)
        self.points = list(IDENTITY_CURVE)
        self.colour = _CHANNEL_COLOURS[0]
        self._drag: int | None = None

    def set_points(self, points, colour: QColor) -> None:
        self.points, self.colour = [tuple(p) for p in points], colour
        self.update()

    def _box(self) -> QRectF:
        side = min(self.width(), self.height()) - 8
        return QRectF(4, 4, side, side)

    def _to_view(self, x: float, y: float) -> QPointF:
        b = self._box()
        return QPointF(b.left() + x * b.width(), b.bottom() - y * b.height())

    def _to_curve(self, pos) -> tuple[float, float]:
        b = self._box()
        return (min(1.0, max(0.0, (pos.x() - b.left()) / b.width())),
                min(1.0, max(0.0, (b.bottom() - pos.y()) / b.height())))

    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        b = self._box()
        p.fillRect(b, QColor(40, 40, 40))
        p.setPen(QPen(QColor(70, 70, 70)))
        for k in range(1, 4):
            p.drawLine(self._to_view(k / 4, 0), self._to_view(k / 4, 1))
            p.drawLine(self._to_view(0, k / 4), self._to_view(1, k / 4))
        xs = np.linspace(0, 1, 129)
        ys = curve_lut(self.points, xs)
        path = QPainterPath(self._to_view(xs[0], ys[0]))
        for x, y in zip(xs[1:], ys[1:]):
            path.lineTo(self._to_view(x, y))
        p.setPen(QPen(self.colour, 2))
        p.drawPath(path)
        p.setBrush(self.colour)
        for x, y in self.points:
            p.drawEllipse(self._to_view(x, y), 4, 4)

    def _nearest(self, pos) -> int | None:
        best = min(range(len(self.points)), key=lambda i: (self._to_view(*self.points[i]) - pos).manhattanLength())
        return best if (self._to_view(*self.points[best]) - pos).manhattanLength() < 10 else None

    def mousePressEvent(self, event) -> None:  # noqa: N802
        pos = event.position()
        self._drag = self._nearest(pos)
        if self._drag is None:
            x, y = self._to_curve(pos)
            if any(abs(x - px) < 0.01 for px, _ in self.points):
                return
            self.points.append((x, y))
            self.points.sort()
            self._drag = self.points.index((x, y))
            self._emit()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._drag is None:
            return
        x, y = self._to_curve(event.position())
        i = self._drag
        lo = self.points[i - 1][0] + 0.01 if i > 0 else 0.0
        hi = self.points[i + 1][0] - 0.01 if i < len(self.points) - 1 else 1.0
        if i in (0, len(self.points) - 1):
            x = self.points[i][0] if lo > hi else min(hi, max(lo, x))
        self.points[i] = (min(hi, max(lo, x)), y)
        self._emit()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        self._drag = None

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802
        i = self._nearest(event.position())
        if i is not None and 0 < i < len(self.points) - 1:
            del self.points[i]
            self._emit()

    def _emit(self) -> None:
        self.update()
        self.changed.emit(tuple(self.points))


def _slider(low: int, high: int) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(low, high)
    return s


class AdjustPanel(ActionPanel):
    title = "Adjust"
    batchable = True

    def __init__(self, parent=None):
        super().__init__(parent)
        self.run_button.setText("Apply")
        self.window = None
        self.settings = Adjustments()
        self._hist_for = None
        self._counts = np.zeros((4, 256))
        self._pending = False
        self.channel = QComboBox()
        self.channel.addItems([c.capitalize() for c in CHANNELS])
        self.channel.currentIndexChanged.connect(self._show_channel)
        self.levels = LevelsEditor()
        self.levels.changed.connect(self._levels_changed)
        self.curve = CurveEditor()
        self.curve.changed.connect(self._curve_changed)
        self.eyedropper = QPushButton("Pick a neutral…")
        self.eyedropper.setCheckable(True)
        self.eyedropper.setToolTip("Then click something in the photo that should be grey or white")
        self.eyedropper.toggled.connect(self._pick_mode)
        self.sliders = {}
        for name, low, high in (("exposure", -300, 300), ("contrast", -100, 100),
                                ("saturation", -100, 100), ("vibrance", -100, 100)):
            slider = _slider(low, high)
            slider.valueChanged.connect(lambda v, n=name: self._scalar_changed(n, v))
            self.sliders[name] = slider
        self.auto = QPushButton("Auto")
        self.auto.setToolTip("Correct measured fading (per-channel levels and saturation); on a photo whose only"
                             " sign is lifted blacks, stretch its contrast with one black and white point")
        self.auto.clicked.connect(lambda: self.auto_correct())
        self.auto_faded = QPushButton("Auto: faded print")
        self.auto_faded.setToolTip("Auto for a faded colour print: black and white are also set per channel, which"
                                   " takes out a yellowed base and lifted blacks (Auto leaves those: warm light"
                                   " and haze look the same)")
        self.auto_faded.clicked.connect(lambda: self.auto_correct(faded_print=True))
        self._auto_faded = False  # how the last Auto measured: a batch measures each photo the same way
        self.diagnosis = QLabel("")
        self.diagnosis.setWordWrap(True)
        reset, save, load = QPushButton("Reset"), QPushButton("Save preset…"), QPushButton("Load preset…")
        reset.clicked.connect(lambda: self.set_settings(Adjustments()))
        save.clicked.connect(self.save_preset)
        load.clicked.connect(self.load_preset)
        self.live = QCheckBox("Live preview")
        self.live.setToolTip("Preview the visible area as the settings change")
        self.live.setChecked(True)
        self.live.toggled.connect(lambda on: self.schedule_preview() if on else self._clear_preview())
        self._timer = QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS, timeout=self.preview)
        auto_row = QWidget()
        row = QHBoxLayout(auto_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.auto)
        row.addWidget(self.auto_faded)
        row.addWidget(reset)
        presets = QWidget()
        row = QHBoxLayout(presets)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(save)
        row.addWidget(load)
        self.form.addRow("Channel", self.channel)
        for text, widget, tip in (
                ("Levels", self.levels, "Drag the black, midtone and white handles under the histogram"),
                ("Curve", self.curve, "Click to add a point, drag to move it, double-click to remove it")):
            label = QLabel(text)
            label.setToolTip(tip)
            widget.setToolTip(tip)
            self.form.addRow(label)
            self.form.addRow(widget)
        self.form.addRow("White balance", self.eyedropper)
        for name, slider in self.sliders.items():
            self.form.addRow(name.capitalize(), slider)
        self.form.addRow(auto_row)
        self.form.addRow(self.diagnosis)
        self.form.addRow(presets)
        self.form.addRow(self.live)

    # ----- window ---------------------------------------------------------------------
    def attach(self, window) -> None:
        self.window = window
        window.canvas.picked.connect(self._picked)
        window.canvas.view_changed.connect(lambda: self.isVisible() and self.schedule_preview())

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.refresh_histogram()
        self.schedule_preview()

    def hideEvent(self, event) -> None:  # noqa: N802
        super().hideEvent(event)
        self.eyedropper.setChecked(False)
        self._clear_preview()

    def document_changed(self) -> None:
        if self.isVisible():
            self.refresh_histogram()

    def refresh_histogram(self) -> None:
        doc = self.window.document if self.window is not None else None
        if doc is None or doc.image.pixels is self._hist_for:
            return
        self._hist_for = doc.image.pixels
        self._counts = histogram(doc.image.pixels).astype(np.float64)
        self._show_channel()

    # ----- settings -------------------------------------------------------------------
    def set_settings(self, settings: Adjustments) -> None:
        self.settings = settings
        for name, slider in self.sliders.items():
            slider.blockSignals(True)
            slider.setValue(round(getattr(settings, name) * 100))
            slider.blockSignals(False)
        self.diagnosis.setText("\n".join(settings.notes))
        self._show_channel()
        self.schedule_preview()

    def _show_channel(self) -> None:
        c = self.channel.currentIndex()
        self.levels.set_data(self._counts[c], _CHANNEL_COLOURS[c], self.settings.levels[c])
        self.curve.set_points(self.settings.curves[c], _CHANNEL_COLOURS[c])

    def _levels_changed(self, levels: Levels) -> None:
        c = self.channel.currentIndex()
        values = list(self.settings.levels)
        values[c] = levels
        self._change(levels=tuple(values))

    def _curve_changed(self, points) -> None:
        c = self.channel.currentIndex()
        values = list(self.settings.curves)
        values[c] = tuple(points)
        self._change(curves=tuple(values))

    def _scalar_changed(self, name: str, value: int) -> None:
        self._change(**{name: value / 100})

    def _change(self, **fields) -> None:
        try:
            self.settings = replace(self.settings, notes=(), **fields)
        except AdjustError as error:
            self._say(str(error))
            return
        self.schedule_preview()

    def _say(self, text: str) -> None:
        if self.window is not None:
            self.window.statusBar().showMessage(text, 6000)

    # ----- eyedropper and auto --------------------------------------------------------
    def _pick_mode(self, on: bool) -> None:
        if self.window is not None:
            self.window.canvas.set_picking(on)

    def _picked(self, x: int, y: int) -> None:
        if not self.eyedropper.isChecked() or self.window.document is None:
            return
        self.eyedropper.setChecked(False)
        try:
            gains = neutral_gains(self.window.document.image.pixels, x, y)
        except AdjustError as error:
            self._say(f"White balance: {error}")
            return
        self._change(wb=gains)
        self._say("White balance: ×" + " / ".join(f"{g:.2f}" for g in gains))

    def auto_correct(self, faded_print: bool = False) -> None:
        from photoforge.ops.adjust import auto_adjustments

        doc = self.window.document if self.window is not None else None
        if doc is None:
            return
        # Both measure on a proxy or a grid of samples: fast enough for the GUI thread.
        self._auto_faded = faded_print
        self.set_settings(auto_adjustments(doc.image.pixels, self.settings, faded_print=faded_print))

    # ----- presets --------------------------------------------------------------------
    def save_preset(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save adjustment preset", "adjustment.json",
                                              "Adjustment presets (*.json)")
        if path:
            try:
                save_preset(self.settings, path)
            except OSError as error:
                self.window.error("Cannot save preset", f"{path}: {error.strerror or error}")

    def load_preset(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load adjustment preset", "",
                                              "Adjustment presets (*.json);;All files (*)")
        if path:
            try:
                self.set_settings(load_preset(path))
            except AdjustError as error:
                self.window.error("Cannot load preset", str(error))

    # ----- preview and apply ----------------------------------------------------------
    def schedule_preview(self) -> None:
        if self.live.isChecked() and self.window is not None:
            self._timer.start()

    def _clear_preview(self) -> None:
        if self.window is not None:
            self.window.canvas.set_preview(None)

    def preview(self) -> None:
        """The visible region, at the zoom it is shown, adjusted (a job: off the GUI thread)."""
        window = self.window
        if window is None or window.document is None or not self.isVisible():
            return
        if window.jobs.busy:
            self._pending = True  # once the running job ends
            return
        region = window.canvas.visible_rect()
        if region is None or self.settings.is_identity:
            self._clear_preview()
            return
        document, pixels, settings = window.document, window.document.image.pixels, self.settings
        zoom = min(1.0, window.canvas.zoom)
        source, scale = pixels, 1
        pyramid = window.canvas.image_pyramid
        if (pyramid is not None and pyramid.source is pixels and pixels.dtype == np.uint8 and pixels.ndim == 3
                and pixels.shape[2] == 3 and zoom * (1 << pyramid.overview_level) <= 1.0):
            # Zoomed out at least as far as the display overview (8-bit RGB, the same pixels
            # area-averaged, what the canvas shows there): adjust it as it is, not the whole
            # photo shrunk again (24 MP at fit: that resize alone took ~200 ms of the 280).
            source, scale = pyramid.overview, 1 << pyramid.overview_level
            # Widened to whole overview pixels, so the preview lands where those pixels lie
            # (placed on the unwidened region, it was stretched by up to a screen pixel).
            y0, y1, x0, x1 = region
            height, width = pixels.shape[:2]
            region = (y0 - y0 % scale, min(height, -(-y1 // scale) * scale),
                      x0 - x0 % scale, min(width, -(-x1 // scale) * scale))

        def work(progress):
            y0, y1, x0, x1 = region
            crop = source[y0 // scale:-(-y1 // scale), x0 // scale:-(-x1 // scale)]
            if zoom < 1.0 and scale == 1:
                size = (max(1, round((x1 - x0) * zoom)), max(1, round((y1 - y0) * zoom)))
                crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], -1)
            return to_display(apply_adjustments(crop, settings, progress))

        def land(rgb) -> None:
            if window.document is document and document.image.pixels is pixels and self.isVisible():
                window.canvas.set_preview(rgb, region)

        self._pending = False
        window.jobs.start("Adjust preview", work, land, quiet=True)

    def job_ended(self) -> None:
        if self._pending:
            self.schedule_preview()

    def make_job(self, document, prefs):
        from photoforge.ops.adjust import adjust_image

        settings, image = self.settings, document.image
        if settings.is_identity:
            raise AdjustError("nothing to apply: every setting is at its neutral value")
        self._clear_preview()
        return settings.label(), lambda progress: adjust_image(image, settings, progress)

    def batch_process(self, prefs):
        from photoforge.ops.adjust import adjust_image, auto_adjustments

        settings = self.settings
        per_photo = bool(settings.notes)  # Auto was the last word: measure each photo anew
        faded = self._auto_faded
        if settings.is_identity and not per_photo:
            raise AdjustError("nothing to apply: every setting is at its neutral value")

        def process(image, progress):
            adjustments = settings
            if per_photo:
                adjustments = auto_adjustments(image.pixels, settings, faded_print=faded)
            return adjust_image(image, adjustments, progress)
        return ("Auto adjust, then " if per_photo else "") + settings.label(), process

    def land(self, document, label: str, result) -> None:
        super().land(document, label, result)
        self.settings = replace(Adjustments(), notes=())  # applied: start again from neutral
        self.set_settings(self.settings)
        self.refresh_histogram()
