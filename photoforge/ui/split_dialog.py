"""File ▸ Split scan…: the prints found on a flatbed scan, as outlines on the scan that can
be moved, corner-dragged, added or removed, then opened (each in its own window) or saved.

Detection and cutting are ops/split.py's; the dialog only edits the outlines, on a
preview of the scan small enough to draw at once."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout,
                               QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget)

from photoforge.ui.pyramid import _shrink, to_display

PREVIEW_SIDE = 900
HANDLE = 7  # screen px: how near a corner a press must be to take it


class OutlineEditor(QWidget):
    """The scan's preview with one quadrilateral per print. Drag a corner to move it, drag
    inside an outline to move the whole outline; a click selects one (for Remove)."""

    changed = Signal()

    def __init__(self, preview: np.ndarray, factor: float, parent=None):
        super().__init__(parent)
        self.preview = np.ascontiguousarray(preview)
        self.factor = factor  # preview pixels per scan pixel
        h, w = self.preview.shape[:2]
        self.qimage = QImage(self.preview.data, w, h, self.preview.strides[0], QImage.Format.Format_RGB888)
        # The preview is drawn scaled to whatever room the dialog has: a fixed 900 px view
        # pushed the buttons off a laptop screen. Outlines stay in preview coordinates.
        self.setMinimumSize(max(1, min(w, 240)), max(1, min(h, 240)))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # Delete removes the selected outline
        self.quads: list[np.ndarray] = []  # 4×2, preview coordinates
        self.selected: int | None = None
        self._drag: tuple[int, int | None, np.ndarray] | None = None  # quad, corner (None: all), last point

    def set_prints(self, prints) -> None:
        self.quads = [np.asarray(p.scaled(self.factor).corners, np.float64) for p in prints]
        self.selected = None
        self.update()
        self.changed.emit()

    def prints(self):
        from photoforge.ops.split import Print

        return [Print.from_corners(Print(tuple(map(tuple, q)), 0.0).scaled(1 / self.factor).corners)
                for q in self.quads]

    def add(self) -> None:
        h, w = self.preview.shape[:2]
        cx, cy, hw, hh = w / 2, h / 2, w / 6, h / 6
        self.quads.append(np.array([[cx - hw, cy - hh], [cx + hw, cy - hh], [cx + hw, cy + hh], [cx - hw, cy + hh]]))
        self.selected = len(self.quads) - 1
        self.update()
        self.changed.emit()

    def remove_selected(self) -> None:
        if self.selected is not None:
            del self.quads[self.selected]
            self.selected = None
            self.update()
            self.changed.emit()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        h, w = self.preview.shape[:2]
        return QSize(w, h)

    def _view(self) -> tuple[float, float, float]:
        """Scale and offset from preview to widget pixels (the preview centred, aspect kept)."""
        h, w = self.preview.shape[:2]
        scale = min(self.width() / w, self.height() / h)
        return scale, (self.width() - w * scale) / 2, (self.height() - h * scale) / 2

    def _to_preview(self, pos: QPointF) -> np.ndarray:
        scale, dx, dy = self._view()
        return np.array([(pos.x() - dx) / scale, (pos.y() - dy) / scale])

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        scale, dx, dy = self._view()
        h, w = self.preview.shape[:2]
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.drawImage(QRectF(dx, dy, w * scale, h * scale), self.qimage)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = p.font()
        font.setBold(True)
        p.setFont(font)
        for n, q in enumerate(self.quads):
            v = q * scale + (dx, dy)
            colour = QColor(255, 200, 0) if n == self.selected else QColor(0, 200, 255)
            p.setPen(QPen(colour, 2))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPolygon(QPolygonF([QPointF(x, y) for x, y in v]))
            p.setBrush(colour)
            for x, y in v:
                p.drawRect(QRectF(x - 3, y - 3, 6, 6))
            # The number is the file's: <scan>_<n>. A badge reads on any photo, plain text
            # vanished on dark ones.
            cx, cy = v.mean(axis=0)
            badge = QRectF(cx - 12, cy - 12, 24, 24)
            p.setPen(QPen(QColor(255, 255, 255), 1.5))
            p.drawEllipse(badge)
            p.setPen(QPen(QColor(0, 0, 0)))
            p.drawText(badge, Qt.AlignmentFlag.AlignCenter, str(n + 1))

    def _hit(self, point: np.ndarray) -> tuple[int, int | None] | None:
        handle = HANDLE / self._view()[0]
        for n, q in enumerate(self.quads):
            corner = int(np.argmin(np.linalg.norm(q - point, axis=1)))
            if np.linalg.norm(q[corner] - point) <= handle:
                return n, corner
        for n, q in enumerate(self.quads):
            if QPolygonF([QPointF(x, y) for x, y in q]).containsPoint(QPointF(*point), Qt.FillRule.OddEvenFill):
                return n, None
        return None

    def mousePressEvent(self, event) -> None:  # noqa: N802
        point = self._to_preview(event.position())
        hit = self._hit(point)
        self.selected = None if hit is None else hit[0]
        self._drag = None if hit is None else (hit[0], hit[1], point)
        self.update()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if self._drag is None:
            return
        n, corner, start = self._drag
        point = self._to_preview(event.position())
        delta = point - start
        h, w = self.preview.shape[:2]
        if corner is None:
            self.quads[n] = self.quads[n] + delta
        else:
            self.quads[n][corner] = self.quads[n][corner] + delta
        self.quads[n] = np.clip(self.quads[n], [0, 0], [w - 1, h - 1])
        self._drag = (n, corner, point)
        self.update()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if self._drag is not None:
            self._drag = None
            self.changed.emit()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.remove_selected()
        else:
            super().keyPressEvent(event)


class SplitDialog(QDialog):
    """Runs detection (off the GUI thread, through the window's job runner) and lets the
    user correct it; `chosen` is "open" or "save" when accepted."""

    def __init__(self, window, path: Path, image, parent=None):
        super().__init__(parent or window)
        from photoforge.ops.split import find_prints  # noqa: F401 - fail early if missing

        self.window, self.path, self.image = window, Path(path), image
        self.setWindowTitle(f"Split scan — {self.path.name}")
        h, w = image.pixels.shape[:2]
        factor = min(1.0, PREVIEW_SIDE / max(h, w))
        preview = to_display(_shrink(image.pixels, max(1, round(w * factor)), max(1, round(h * factor))))
        self.editor = OutlineEditor(preview, preview.shape[1] / w)
        self.lid = QComboBox()
        for text in ("auto", "white", "black"):
            self.lid.addItem(text.capitalize(), text)
        self.trim = QDoubleSpinBox()
        self.trim.setRange(0, 200)
        self.trim.setSuffix(" px")
        self.trim.setToolTip("An inward margin, to lose a scanner's edge shadow")
        self.count = QLabel()
        self.editor.changed.connect(lambda: self.count.setText(f"{len(self.editor.quads)} print(s)"))
        detect, add, remove = QPushButton("Detect again"), QPushButton("Add outline"), QPushButton("Remove")
        detect.clicked.connect(self.detect)
        add.clicked.connect(self.editor.add)
        remove.clicked.connect(self.editor.remove_selected)
        self.chosen = None
        buttons = QDialogButtonBox()
        open_button = buttons.addButton("Open prints", QDialogButtonBox.ButtonRole.AcceptRole)
        save_button = buttons.addButton("Save prints…", QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        open_button.clicked.connect(lambda: self._choose("open"))
        save_button.clicked.connect(lambda: self._choose("save"))
        buttons.rejected.connect(self.reject)
        row = QWidget()
        tools = QHBoxLayout(row)
        tools.setContentsMargins(0, 0, 0, 0)
        form = QFormLayout()
        form.addRow("Lid", self.lid)
        form.addRow("Trim", self.trim)
        tools.addLayout(form)
        for b in (detect, add, remove):
            tools.addWidget(b)
        tools.addWidget(self.count)
        tools.addStretch(1)
        layout = QVBoxLayout(self)
        hint = QLabel("Drag a corner to adjust it, or the inside of an outline to move it; "
                      "Delete removes the selected one. Files are numbered as shown.")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addWidget(self.editor, 1)
        layout.addWidget(row)
        layout.addWidget(buttons)

    def _choose(self, what: str) -> None:
        self.chosen = what
        self.accept()

    def detect(self) -> None:
        from photoforge.ops.split import find_prints

        pixels, lid = self.image.pixels, self.lid.currentData()

        def land(prints) -> None:
            self.editor.set_prints(prints)
            if not prints:
                self.window.statusBar().showMessage(f"No print found on {self.path.name}: add outlines by hand", 8000)

        self.window.jobs.start("Find prints", lambda progress: find_prints(pixels, lid=lid), land)

    def outlines(self) -> tuple[list, float]:
        """What to cut (read here, on the GUI thread): the prints and the trim."""
        return self.editor.prints(), self.trim.value()


def cut_infrared(path, image, prints, trim: float) -> tuple[list, str | None]:
    """Each print's piece of the scan's infrared (H×W uint16, cut exactly as its pixels
    are), or Nones where the scan has none or it cannot be used; and where it came from."""
    from photoforge.app.split_cli import infrared_levels
    from photoforge.core.infrared import InfraredError
    from photoforge.ops.split import extract

    try:
        found = infrared_levels(path, image.pixels.shape[:2])
    except InfraredError:
        found = None  # the prints open without it, as the scan itself would
    if found is None:
        return [None] * len(prints), None
    levels, source = found
    return [extract(levels, p, trim)[..., 0] for p in prints], source


def cut_prints(image, prints, trim: float, progress=None) -> list:
    """Each outline straightened and cut from the full-resolution scan, as ImageData that
    carries the scan's profile and metadata (for a job: no widgets touched)."""
    from dataclasses import replace

    from photoforge.ops.split import extract

    out = []
    for n, p in enumerate(prints):
        if progress is not None:
            progress.check_aborted()
            progress.set(n / max(1, len(prints)))
        out.append(replace(image, pixels=extract(image.pixels, p, trim), alpha=None, notices=[]))
    return out
