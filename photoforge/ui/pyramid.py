"""Display tiles for the canvas, made on demand from the document's pixels (numpy only).

Nothing converts the whole image for display. Level L shows the image at 1/2^L; a tile is
TILE×TILE display pixels. Levels at or above `overview_level` are cut from one small
overview made once (≤ OVERVIEW_SIDE px); finer levels are made per tile from the source
when they first become visible, then cached by the canvas.
"""
from __future__ import annotations

import cv2
import numpy as np

TILE = 256
OVERVIEW_SIDE = 2048


def to_display(pixels: np.ndarray) -> np.ndarray:
    """Any document pixels → H×W×3 uint8 RGB (16-bit is scaled for display only)."""
    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.shape[2] == 1:
        pixels = np.repeat(pixels, 3, axis=2)
    return np.ascontiguousarray(pixels)


def _shrink(region: np.ndarray, width: int, height: int) -> np.ndarray:
    if region.shape[1] == width and region.shape[0] == height:
        return region
    out = cv2.resize(region, (max(1, width), max(1, height)), interpolation=cv2.INTER_AREA)
    return out.reshape(max(1, height), max(1, width), *region.shape[2:])


class Pyramid:
    """Tiles of one H×W(×C) array at power-of-two reductions."""

    def __init__(self, source: np.ndarray, convert=to_display):
        self.source = source
        self.convert = convert
        self.height, self.width = source.shape[:2]
        side = max(self.height, self.width)
        self.overview_level = 0
        while side > OVERVIEW_SIDE:
            side = (side + 1) // 2
            self.overview_level += 1
        self.overview = self._make_overview()

    def _make_overview(self) -> np.ndarray:
        f = 1 << self.overview_level
        w, h = -(-self.width // f), -(-self.height // f)
        if self.source.ndim == 2 and not self.source.any():  # an empty mask: skip the resize
            return self.convert(np.zeros((h, w), self.source.dtype))
        return self.convert(_shrink(self.source, w, h))

    def level_size(self, level: int) -> tuple[int, int]:
        f = 1 << level
        return -(-self.width // f), -(-self.height // f)

    def tile(self, level: int, ty: int, tx: int) -> np.ndarray:
        """Display tile (row ty, column tx) of a level; edge tiles are smaller."""
        lw, lh = self.level_size(level)
        x0, y0 = tx * TILE, ty * TILE
        x1, y1 = min(lw, x0 + TILE), min(lh, y0 + TILE)
        if level >= self.overview_level:
            k = 1 << (level - self.overview_level)
            ov = self.overview[y0 * k: y1 * k, x0 * k: x1 * k]
            return np.ascontiguousarray(_shrink(ov, x1 - x0, y1 - y0))
        f = 1 << level
        region = self.source[y0 * f: min(self.height, y1 * f), x0 * f: min(self.width, x1 * f)]
        return self.convert(_shrink(region, x1 - x0, y1 - y0))

    def update(self, rect: tuple[int, int, int, int] | None) -> None:
        """The source changed inside rect (y0, y1, x0, x1), or everywhere if None."""
        if rect is None or self.overview_level == 0:
            self.overview = self._make_overview()
            return
        f = 1 << self.overview_level
        y0, y1, x0, x1 = rect
        oy0, ox0 = y0 // f, x0 // f
        oy1, ox1 = min(self.overview.shape[0], -(-y1 // f)), min(self.overview.shape[1], -(-x1 // f))
        region = self.source[oy0 * f: min(self.height, oy1 * f), ox0 * f: min(self.width, ox1 * f)]
        self.overview[oy0:oy1, ox0:ox1] = self.convert(_shrink(region, ox1 - ox0, oy1 - oy0))
