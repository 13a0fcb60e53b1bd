"""Guards against a Qt binding that leaks references to None/True (PySide6 6.12.0 on
Python 3.11 aborts the process after about a thousand signal emissions)."""
import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget


class _Emitter(QObject):
    fired = Signal(int)


def test_signals_and_calls_keep_refcounts_of_singletons(qapp):
    emitter = _Emitter()
    emitter.fired.connect(lambda value: None)
    widget = QWidget()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(200):
        widget.update()
        emitter.fired.emit(1)
    # A few references may come and go elsewhere; a leak loses one per call (hundreds).
    assert abs(sys.getrefcount(None) - none_before) < 50
    assert abs(sys.getrefcount(True) - true_before) < 50
