"""A plain text progress bar for the CLI (stderr, redrawn in place on a terminal)."""
from __future__ import annotations

import sys
import time


class TextBar:
    def __init__(self, label: str, stream=None, width: int = 28):
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.start = time.monotonic()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_draw = 0.0
        self._last_percent = -1

    def __call__(self, fraction: float, message: str = "") -> None:
        percent = int(fraction * 100)
        now = time.monotonic()
        # On a terminal redraw at most 10×/s; in a log, one line per 10 %.
        if self.tty and now - self._last_draw < 0.1 and fraction < 1.0:
            return
        if not self.tty and percent // 10 == self._last_percent // 10 and fraction < 1.0:
            return
        self._last_draw, self._last_percent = now, percent
        elapsed = now - self.start
        eta = f"{elapsed * (1 - fraction) / fraction:5.0f}s left" if 0.02 < fraction < 1 else " " * 10
        filled = int(self.width * fraction)
        line = f"{self.label} |{'█' * filled}{' ' * (self.width - filled)}| {percent:3d}% {eta}"
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
