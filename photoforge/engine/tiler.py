"""Tiled inference that joins without seams and keeps memory bounded.

Geometry: equal-sized windows on a grid whose neighbours overlap by `overlap` input pixels
(the last window in a row or column is shifted back inside the image rather than shrunk,
so every window has one shape). Each window is run with `context` extra pixels around it
(clamped at the image edge, exactly where an untiled run has no context either) and that
margin is thrown away. Overlaps are blended with complementary linear ramps.

Assembly: one row of windows accumulates into a float strip; rows that no later window
touches are normalised and written to the caller's output array at once, so the working
memory is one strip, whatever the image size.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from photoforge.core.image import from_float, to_float
from photoforge.engine.progress import Progress, null_progress
from photoforge.engine.runtime import OutOfMemory

MIN_TILE = 32

# fn(C×H×W float32 crop) -> C'×(H·scale)×(W·scale) float32
InferFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class TileSpec:
    tile: int  # window edge in input pixels; 0 = whole image in one go
    overlap: int
    context: int
    scale: int
    multiple: int = 1


def windows(length: int, tile: int, overlap: int, multiple: int = 1) -> list[tuple[int, int]]:
    """(start, end) of each window along one axis.

    As few windows as `tile` allows, all the same size (so no window is mostly a copy of
    its neighbour). Starts are multiples of `multiple`, so a model that works on 2×2 cells
    (FFDNet) sees the same cell phase as in an untiled run; the last window ends at the
    image edge and may be up to multiple−1 pixels longer than the rest.
    """
    if tile <= 0 or tile >= length:
        return [(0, length)]
    count = -(-(length - overlap) // max(1, tile - overlap))
    size = -(-(length + (count - 1) * overlap) // count)
    size = -(-size // multiple) * multiple
    stride = max(multiple, (size - overlap) // multiple * multiple)
    last = max(0, (length - size) // multiple * multiple)
    starts = sorted({min(i * stride, last) for i in range(count)} | {last})
    return [(a, a + size) for a in starts[:-1]] + [(last, length)]


def ramp(length: int, before: int, after: int) -> np.ndarray:
    """1 in the middle, rising over `before` pixels and falling over `after` pixels.

    Linear ramps of equal width from two neighbours add up to 1 across their overlap;
    the half-pixel offset keeps every weight strictly positive.
    """
    w = np.ones(length, np.float32)
    if before > 0:
        w[:before] = (np.arange(before, dtype=np.float32) + 0.5) / before
    if after > 0:
        w[length - after:] = np.minimum(w[length - after:], ((np.arange(after, 0, -1, dtype=np.float32) - 0.5) / after))
    return w


def _pad_to_multiple(x: np.ndarray, multiple: int) -> np.ndarray:
    if multiple <= 1:
        return x
    h, w = x.shape[1:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    mode = "reflect" if h > ph and w > pw else "edge"
    return np.pad(x, ((0, 0), (0, ph), (0, pw)), mode=mode)


class TiledRunner:
    def __init__(self, infer: InferFn, spec: TileSpec, progress: Progress | None = None):
        self.infer = infer
        self.spec = spec
        self.progress = progress or null_progress()
        self.split_depth = 0  # raised after an out-of-memory, for all later windows too
        self.channels = 3  # of the output; set by run()

    def _crop(self, image: np.ndarray, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Window plus context, as float32 C×H×W; returns the crop and the margins used."""
        c = self.spec.context
        h, w = image.shape[:2]
        cy0, cy1, cx0, cx1 = max(0, y0 - c), min(h, y1 + c), max(0, x0 - c), min(w, x1 + c)
        crop = image[cy0:cy1, cx0:cx1]
        crop = to_float(crop) if crop.dtype != np.float32 else crop
        return np.ascontiguousarray(crop.transpose(2, 0, 1)), (y0 - cy0, x0 - cx0)

    def _run_window(self, image: np.ndarray, y0: int, y1: int, x0: int, x1: int, depth: int) -> np.ndarray:
        s = self.spec.scale
        if depth > 0:
            return self._run_split(image, y0, y1, x0, x1, depth)
        crop, (my, mx) = self._crop(image, y0, y1, x0, x1)
        ch, cw = crop.shape[1:]
        try:
            out = self.infer(_pad_to_multiple(crop, self.spec.multiple))
        except OutOfMemory:
            if min(y1 - y0, x1 - x0) < 2 * MIN_TILE:
                raise
            self.split_depth = max(self.split_depth, 1)
            return self._run_split(image, y0, y1, x0, x1, 1)
        out = out[:, : ch * s, : cw * s]
        return out[:, my * s: (my + y1 - y0) * s, mx * s: (mx + x1 - x0) * s]

    def _run_split(self, image, y0, y1, x0, x1, depth):
        """Run a window as four quarters (each with full context) and butt them together."""
        s = self.spec.scale
        m = self.spec.multiple
        ym, xm = (y0 + y1) // 2 // m * m, (x0 + x1) // 2 // m * m
        out = np.empty((self.channels, (y1 - y0) * s, (x1 - x0) * s), np.float32)
        for a0, a1 in ((y0, ym), (ym, y1)):
            for b0, b1 in ((x0, xm), (xm, x1)):
                self.progress.check_aborted()
                part = self._run_window(image, a0, a1, b0, b1, depth - 1 if depth > 1 else 0)
                out[:, (a0 - y0) * s: (a1 - y0) * s, (b0 - x0) * s: (b1 - x0) * s] = part
        return out

    def run(self, image: np.ndarray, out: np.ndarray) -> np.ndarray:
        """image: H×W×C (uint8/uint16/float32). out: preallocated (H·s)×(W·s)×C' of any of
        those, C' being what the network gives (3 for an image, 1 for a map)."""
        spec, s = self.spec, self.spec.scale
        h, w = image.shape[:2]
        if out.ndim != 3 or out.shape[:2] != (h * s, w * s):
            raise ValueError(f"output must be {h * s}×{w * s}×channels, got {out.shape}")
        self.channels = out.shape[2]
        ys = windows(h, spec.tile, spec.overlap, spec.multiple)
        xs = windows(w, spec.tile, spec.overlap, spec.multiple)
        if len(ys) == len(xs) == 1:
            # One window has all-ones weights: blending it through the strip (a float copy
            # of the output, a multiply, an add and a divide) would give back the same pixels.
            self.progress.check_aborted()
            self._emit(self._run_window(image, 0, h, 0, w, self.split_depth), None, h * s, out, 0)
            self.progress.set(1.0)
            return out
        total, done = len(ys) * len(xs), 0
        # One strip, allocated once, as tall as the tallest row of windows; finished rows
        # leave from the top and the rest moves up, so nothing grows or is copied whole.
        height = max(b - a for a, b in ys) * s
        strip = np.zeros((self.channels, height, w * s), np.float32)
        weight = np.zeros((height, w * s), np.float32)
        strip_y0 = 0  # input row at the top of the strip
        for i, (y0, y1) in enumerate(ys):
            above = (ys[i - 1][1] - y0) if i > 0 else 0
            below = (y1 - ys[i + 1][0]) if i + 1 < len(ys) else 0
            wy = ramp((y1 - y0) * s, above * s, below * s)[:, None]
            rows = slice((y0 - strip_y0) * s, (y1 - strip_y0) * s)
            for j, (x0, x1) in enumerate(xs):
                self.progress.check_aborted()
                left = (xs[j - 1][1] - x0) if j > 0 else 0
                right = (x1 - xs[j + 1][0]) if j + 1 < len(xs) else 0
                wxy = wy * ramp((x1 - x0) * s, left * s, right * s)[None, :]
                tile_out = self._run_window(image, y0, y1, x0, x1, self.split_depth)
                cols = slice(x0 * s, x1 * s)
                strip[:, rows, cols] += tile_out * wxy
                weight[rows, cols] += wxy
                done += 1
                self.progress.set(done / total)
            final = ((ys[i + 1][0] if i + 1 < len(ys) else h) - strip_y0) * s
            self._emit(strip, weight, final, out, strip_y0 * s)
            filled = (y1 - strip_y0) * s
            rest = filled - final
            strip[:, :rest] = strip[:, final:filled]
            weight[:rest] = weight[final:filled]
            strip[:, rest:] = 0
            weight[rest:] = 0
            strip_y0 += final // s
        return out

    @staticmethod
    def _emit(strip, weight, rows: int, out: np.ndarray, out_y0: int, chunk: int = 32) -> None:
        """Normalise finished strip rows (weight None: already whole) and store them, a few
        rows at a time so the temporaries stay small."""
        for r in range(0, rows, chunk):
            n = min(chunk, rows - r)
            block = strip[:, r:r + n] if weight is None else strip[:, r:r + n] / weight[None, r:r + n]
            block = block.transpose(1, 2, 0)
            dst = out[out_y0 + r: out_y0 + r + n]
            dst[...] = block if out.dtype == np.float32 else from_float(block, out.dtype)
