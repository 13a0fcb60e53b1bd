"""Canvas keys that work whatever widget has focus, and a wheel that scrolls panels.

Qt delivers a key to the focused widget, so `[`, `]`, `\\` and Space used to reach the
canvas only after a click on it (which paints), and Space on a focused button pressed the
button. One application event filter takes these keys while the window is active, unless a
text field has focus (it keeps its own keys). Letter tools (B, E, H) and Ctrl shortcuts are
window-wide QActions already.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (QAbstractScrollArea, QAbstractSlider, QAbstractSpinBox, QApplication,
                               QComboBox, QLineEdit, QPlainTextEdit, QScrollBar, QTextEdit,
                               QWidget)

CANVAS_KEYS = frozenset((Qt.Key.Key_Space, Qt.Key.Key_BracketLeft, Qt.Key.Key_BracketRight,
                         Qt.Key.Key_Backslash))

# (keys, what they do) for Help ▸ Keyboard Shortcuts, besides the menus' own shortcuts.
CANVAS_HELP = (
    ("Space + drag", "Pan (from anywhere in the window)"),
    ("[  /  ]", "Brush smaller / larger"),
    ("\\ (hold)", "Show the photo before the last step"),
    ("Shift + click", "Straight stroke from the last point"),
    ("Ctrl + wheel, pinch", "Zoom at the pointer"),
    ("Alt + click (Clone, Heal)", "Set where to copy from"),
)


def _takes_text(widget: QWidget | None) -> bool:
    if isinstance(widget, QComboBox):
        return widget.isEditable()
    return isinstance(widget, (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox))


class WindowKeys(QObject):
    """Installed on the application by the main window; forwards canvas keys to it."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        QApplication.instance().installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            return self._key(obj, event)
        if kind == QEvent.Type.Wheel:
            return self._wheel(obj, event)
        return False

    def _key(self, obj, event) -> bool:
        window = self.window
        if event.key() not in CANVAS_KEYS or event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier \
                or not isinstance(obj, QWidget) or obj.window() is not window \
                or not window.isActiveWindow():
            return False
        focus = QApplication.focusWidget()
        if obj is not (focus or window) or _takes_text(focus):
            return False  # seen once, at the widget Qt delivers it to; text keeps its keys
        if event.type() == QEvent.Type.KeyPress:
            window.canvas_key_pressed(event)
        else:
            window.canvas_key_released(event)
        return True

    @staticmethod
    def _wheel(obj, event) -> bool:
        """A wheel over a spin box, combo or slider that the user has not clicked into
        scrolls the panel around it instead of changing the value in passing."""
        if not isinstance(obj, (QAbstractSpinBox, QComboBox, QAbstractSlider)) or obj.hasFocus() \
                or isinstance(obj, QScrollBar):
            return False
        area = obj.parent()
        while area is not None and not isinstance(area, QAbstractScrollArea):
            area = area.parent()
        if area is not None:
            QApplication.sendEvent(area.verticalScrollBar(), event)
        return True
