"""How far a reduced-precision run is from fp32: the fixed probe inputs and the measures.

A reduced precision (bf16, fp16, int8) is used only after it matched fp32 on fixed probes:
a synthetic test card plus photo crops shipped with the package (the val split of the
public corpus, training/int8_photos.py; the int8 builds calibrate on the train split, so
they are judged on photos they never saw). Two numbers decide: the worst probe's PSNR
against fp32, and the worst probe's blockiness of the error (`blockiness`).
"""
from __future__ import annotations

import importlib.resources
from functools import lru_cache

import numpy as np

MIN_PSNR_DB = 40.0
# Error with no grid structure scores ~1.0; int8 error spread by a network's 2×/4× upsampling
# is what this guards against (blocks visible in flat areas).
MAX_BLOCKINESS = 1.25
BLOCK = 8
_INVISIBLE = 2 * (1 / 255) / 40  # summed over both axes
_PHOTOS = "models/int8_photos.npz"


def probe_image(size: int = 64) -> np.ndarray:
    """A fixed photo-like test card (smooth shading, edges, texture): 1×3×size×size in [0, 1]."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    rng = np.random.default_rng(1234)
    r = 0.5 + 0.35 * np.sin(6.0 * x + 2.0 * y)
    g = np.where((x - 0.5) ** 2 + (y - 0.45) ** 2 < 0.08, 0.8, 0.25) + 0.1 * y
    b = 0.3 + 0.4 * x * y + 0.05 * rng.standard_normal((size, size)).astype(np.float32)
    return np.clip(np.stack([r, g, b])[None], 0.0, 1.0).astype(np.float32)


@lru_cache(maxsize=2)
def photo_crops(split: str) -> np.ndarray:
    """The shipped 64×64 crops of one set ("calibration" or "probe"): N×3×64×64 in [0, 1]."""
    resource = importlib.resources.files("photoforge").joinpath(_PHOTOS)
    with resource.open("rb") as f, np.load(f) as data:
        crops = data[split]
    return np.ascontiguousarray(crops.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0


def probes(size: int) -> list[np.ndarray]:
    """The fixed probe inputs (1×3×H×W each): the test card at `size` (≥ 64), and the photo
    crops when the network takes 64×64 inputs (a fixed-size network gets the card only)."""
    card = probe_image(max(64, size))
    if size > 64:
        return [card]
    return [card, *(c[None] for c in photo_crops("probe"))]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.clip(a, 0, 1) - np.clip(b, 0, 1)) ** 2, dtype=np.float64))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def blockiness(out: np.ndarray, reference: np.ndarray, period: int = BLOCK) -> float:
    """Mean gradient magnitude of the error (out − reference) across the lines of a
    `period`-pixel grid, over the same elsewhere: ~1 for error without a grid, above 1 when
    the error has edges on the grid (blocks). 1.0 when the error's steps are too small to
    show at all (under a fortieth of an 8-bit level on average)."""
    error = (np.clip(out, 0, 1) - np.clip(reference, 0, 1)).astype(np.float64)
    on = off = 0.0
    for axis in (-1, -2):
        step = np.abs(np.diff(error, axis=axis))
        lines = np.zeros(step.shape[axis], bool)
        lines[period - 1::period] = True
        shape = [1] * step.ndim
        shape[axis] = lines.size
        lines = lines.reshape(shape)
        on += float(np.mean(step, where=np.broadcast_to(lines, step.shape))) if lines.any() else 0.0
        off += float(np.mean(step, where=np.broadcast_to(~lines, step.shape)))
    return 1.0 if max(on, off) < _INVISIBLE else on / max(off, _INVISIBLE)
