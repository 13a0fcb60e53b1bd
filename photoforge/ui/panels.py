"""Docked panels and the tool options bar."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QCheckBox, QColorDialog, QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel,
                               QListWidget, QListWidgetItem, QPushButton, QSlider, QToolBar, QWidget)


class HistoryPanel(QListWidget):
    """Lists the steps; clicking one goes there (the steps after it stay redoable)."""

    goto_requested = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.itemClicked.connect(lambda item: self.goto_requested.emit(item.data(Qt.ItemDataRole.UserRole)))

    def show_history(self, labels: list[str], index: int, pruned: int) -> None:
        self.blockSignals(True)
        self.clear()
        first = "Open" if not pruned else f"Open (+{pruned} older steps discarded)"
        for i, label in enumerate([first, *labels]):
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, i)
            if i > index:
                item.setForeground(QColor(140, 140, 140))  # undone, still redoable
            self.addItem(item)
        self.setCurrentRow(index)
        self.blockSignals(False)


def _slider(value: int) -> QSlider:
    s = QSlider(Qt.Orientation.Horizontal)
    s.setRange(0, 100)
    s.setValue(value)
    s.setFixedWidth(90)
    return s


class ToolOptionsBar(QToolBar):
    """Brush size, hardness, opacity; mask colour and opacity."""

    def __init__(self, canvas, parent=None):
        super().__init__("Tool options", parent)
        self.canvas = canvas
        self.size = QDoubleSpinBox()
        self.size.setRange(1, 2000)
        self.size.setDecimals(0)
        self.size.setSuffix(" px")
        self.size.setValue(canvas.brush_size)
        self.size.setFixedWidth(80)
        self.size.valueChanged.connect(lambda v: setattr(canvas, "brush_size", v))
        canvas.brush_size_changed.connect(lambda v: (self.size.blockSignals(True), self.size.setValue(v),
                                                     self.size.blockSignals(False)))
        self.hardness = _slider(int(canvas.brush_hardness * 100))
        self.hardness.valueChanged.connect(lambda v: setattr(canvas, "brush_hardness", v / 100))
        self.opacity = _slider(int(canvas.brush_opacity * 100))
        self.opacity.valueChanged.connect(lambda v: setattr(canvas, "brush_opacity", max(0.01, v / 100)))
        self.mask_opacity = _slider(int(canvas.mask_opacity * 100))
        self.mask_opacity.valueChanged.connect(lambda v: canvas.set_mask_style(opacity=v / 100))
        self.colour = QPushButton()
        self.colour.setFixedWidth(28)
        self.colour.setToolTip("Mask colour")
        self.colour.clicked.connect(self._pick_colour)
        self._show_colour(canvas.mask_color)
        canvas.mask_style_changed.connect(lambda chosen: self._show_colour(canvas.mask_color))
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(4, 0, 4, 0)
        for label, widget in (("Size", self.size), ("Hardness", self.hardness), ("Opacity", self.opacity),
                              ("Mask", self.colour), ("Overlay", self.mask_opacity)):
            row.addWidget(QLabel(label))
            row.addWidget(widget)
            row.addSpacing(10)
        self.aligned = QCheckBox("Aligned")
        self.aligned.setChecked(canvas.clone_aligned)
        self.aligned.setToolTip("Clone and Heal: keep the source moving with the brush across strokes "
                                "(off: every stroke starts again at the source point)")
        self.aligned.toggled.connect(lambda on: setattr(canvas, "clone_aligned", on))
        row.addWidget(self.aligned)
        row.addSpacing(10)
        self.aspect = QComboBox()
        self.aspect.setToolTip("Crop (C): the rectangle's proportions; a drag's shape picks portrait or landscape")
        for text, value in (("Free", None), ("Original", "original"), ("1:1", 1.0), ("3:2", 1.5),
                            ("4:3", 4 / 3), ("5:4", 1.25), ("7:5", 1.4), ("16:9", 16 / 9)):
            self.aspect.addItem(text, value)
        self.aspect.currentIndexChanged.connect(self._aspect_changed)
        row.addWidget(QLabel("Crop"))
        row.addWidget(self.aspect)
        row.addStretch(1)
        self.addWidget(box)

    def _aspect_changed(self) -> None:
        value = self.aspect.currentData()
        if value == "original":
            w, h = self.canvas.image_size()
            value = w / h if w and h else None
        self.canvas.crop_aspect = value

    def _show_colour(self, colour: QColor) -> None:
        self.colour.setStyleSheet(f"background-color: {colour.name()}")

    def _pick_colour(self) -> None:
        colour = QColorDialog.getColor(self.canvas.mask_color, self, "Mask colour")
        if colour.isValid():
            self.canvas.set_mask_style(color=colour)
            self._show_colour(colour)
