"""A plain text progress bar for the CLI (stderr, redrawn in place on a terminal)."""
from __future__ import annotations

import sys
import time


class TextBar:
    """Shows the current file's progress and, in a batch, the whole batch's."""

    def __init__(self, label: str, stream=None, width: int = 24):
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.files = 1
        self.restart(label)

    def restart(self, label: str) -> None:
        self.label = label
        self.start = time.monotonic()
        self._last_draw = 0.0
        self._last_percent = -10

    def batch(self, files: int):
        """A Progress callback for a whole batch of `files` equal parts."""
        self.files = files
        return self

    def __call__(self, fraction: float, message: str = "") -> None:
        part = min(1.0, fraction * self.files - int(min(fraction * self.files, self.files - 1)))
        percent = int(part * 100)
        now = time.monotonic()
        # On a terminal redraw at most 10×/s; in a log, one line per 10 %.
        if self.tty and now - self._last_draw < 0.1 and part < 1.0:
            return
        if not self.tty and percent // 10 == self._last_percent // 10:
            return
        self._last_draw, self._last_percent = now, percent
        elapsed = now - self.start
        eta = f"{elapsed * (1 - part) / part:4.0f}s left" if 0.02 < part < 1 else " " * 9
        filled = int(self.width * part)
        overall = f"  batch {int(fraction * 100):3d}%" if self.files > 1 else ""
        line = f"{self.label} |{'█' * filled}{' ' * (self.width - filled)}| {percent:3d}% {eta}{overall}"
        self.stream.write(("\r" + line) if self.tty else line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
