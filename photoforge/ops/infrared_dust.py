"""Dust and scratch masks from a scanner's infrared channel.

Dye images are nearly transparent to infrared while dust, hair, fibres and scratch edges
block it, so in the infrared channel a defect is a dip below the local infrared level and
the photo itself shows only as a faint ghost. The ghost is removed first by subtracting the
part of the channel that follows the luminance (a gain fitted on fine detail, robustly, so
that the defects themselves do not set it); what is left is divided by its local level (a
grey closing, which fills dips narrower than the window) and pixels far below 1 in units
of the measured noise are defects. Weak pixels join only when they touch a strong one
(hysteresis), which keeps the soft rim of a speck without picking up grain.
"""
from __future__ import annotations

import cv2
import numpy as np

from photoforge.core.image import to_float
from photoforge.ops.mask import grow

_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)
_MIN_DIP = 0.04  # a dip shallower than 4 % of the local level is not a defect, whatever the noise


def luminance(pixels: np.ndarray) -> np.ndarray:
    values = to_float(pixels)
    return values[..., 0] if values.shape[2] == 1 else values @ _LUMA


def without_ghost(infrared: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """The infrared channel minus the part of it that follows the photo's luminance."""
    ir = infrared.astype(np.float32, copy=False)
    lum = luminance(pixels)
    fine_ir = ir - cv2.GaussianBlur(ir, (0, 0), 3)
    fine_lum = lum - cv2.GaussianBlur(lum, (0, 0), 3)
    step = max(1, int(np.sqrt(ir.size / 2e6)))  # a regular sample is plenty for one gain
    x, y = fine_lum[::step, ::step].ravel(), fine_ir[::step, ::step].ravel()
    keep = np.ones(x.shape, bool)
    gain = 0.0
    for _ in range(3):  # refit without the outliers (defects) of the previous fit
        xs, ys = x[keep], y[keep]
        gain = float(xs @ ys / max(float(xs @ xs), 1e-12))
        residual = y - gain * x
        spread = 1.4826 * float(np.median(np.abs(residual - np.median(residual)))) + 1e-6
        keep = np.abs(residual) < 3 * spread
    return ir - gain * (lum - float(lum.mean()))


def _window(shape: tuple[int, int]) -> int:
    # wider than the widest speck to be found: 1/60 of the short side, at least 15 px
    return max(15, int(min(shape) / 60)) | 1


def infrared_defects(infrared: np.ndarray, pixels: np.ndarray, sensitivity: float = 0.5) -> np.ndarray:
    """H×W bool: where the infrared is dimmed by dust or a scratch (not dilated)."""
    if infrared.shape != pixels.shape[:2]:
        raise ValueError(f"the infrared channel is {infrared.shape[1]}×{infrared.shape[0]}, the image "
                         f"{pixels.shape[1]}×{pixels.shape[0]}")
    clean = without_ghost(infrared, pixels)
    size = _window(clean.shape)
    level = cv2.morphologyEx(clean, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    level = cv2.GaussianBlur(level, (0, 0), size / 4)
    ratio = clean / np.maximum(level, 1e-3)
    centre = float(np.median(ratio))  # the closing sits a little above the noise: measure from here
    spread = 1.4826 * float(np.median(np.abs(ratio - centre))) + 1e-6
    k = 6.0 - 4.0 * float(np.clip(sensitivity, 0.0, 1.0))  # sensitivity 0.5 → 4σ
    strong = ratio < centre - max(k * spread, _MIN_DIP)
    weak = ratio < centre - max(2.0 * spread, _MIN_DIP / 2)
    count, labels = cv2.connectedComponents(weak.astype(np.uint8), connectivity=8)
    hit = np.zeros(count, bool)
    hit[labels[strong]] = True
    hit[0] = False
    return hit[labels]


def infrared_dust_mask(infrared: np.ndarray, pixels: np.ndarray, sensitivity: float = 0.5,
                       grow_px: int = 1) -> np.ndarray:
    """The repair mask (H×W uint8, 0/255): the defects grown by `grow_px`, so that the
    inpainting also replaces the half-shaded rim around each one."""
    defects = infrared_defects(infrared, pixels, sensitivity).astype(np.uint8) * 255
    return grow(defects, grow_px)

