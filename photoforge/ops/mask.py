"""Whole-mask commands on H×W uint8 soft masks (0 = untouched, 255 = selected).

Each returns a new array and leaves its input alone, so the GUI can hand the result to
Document.apply_mask, which records only the changed region for undo.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from photoforge.core.image import ImageData
from photoforge.core.imageio import ImageLoadError, load_image, save_image


class MaskError(Exception):
    """A mask file cannot be used; the message names the file and the reason."""


def _check(mask: np.ndarray) -> np.ndarray:
    if mask.ndim != 2 or mask.dtype != np.uint8:
        raise ValueError(f"a mask must be H×W uint8, not {mask.shape} {mask.dtype}")
    return mask


def clear(mask: np.ndarray) -> np.ndarray:
    return np.zeros_like(_check(mask))


def select_all(mask: np.ndarray) -> np.ndarray:
    return np.full_like(_check(mask), 255)


def invert(mask: np.ndarray) -> np.ndarray:
    return 255 - _check(mask)


def disk(px: int) -> np.ndarray:
    """Structuring element of the pixels within Euclidean distance `px` of the centre.

    cv2's MORPH_ELLIPSE is fatter than a disk at small sizes (7×7 has full rows at ±1 and
    ±2), so "grow by 3" would not mean "every pixel within 3 px" with it."""
    yy, xx = np.mgrid[-px:px + 1, -px:px + 1]
    return (yy * yy + xx * xx <= px * px).astype(np.uint8)


def grow(mask: np.ndarray, px: int) -> np.ndarray:
    """Max filter over a disk: soft edges move outwards and stay soft."""
    _check(mask)
    return mask.copy() if px <= 0 else cv2.dilate(mask, disk(int(px)))


def shrink(mask: np.ndarray, px: int) -> np.ndarray:
    """Min filter over a disk; the image border does not eat into the mask."""
    _check(mask)
    return mask.copy() if px <= 0 else cv2.erode(mask, disk(int(px)))


def feather(mask: np.ndarray, px: float) -> np.ndarray:
    """Gaussian blur whose ±2σ spans `px` on each side of the edge."""
    _check(mask)
    if px <= 0:
        return mask.copy()
    return cv2.GaussianBlur(mask, (0, 0), sigmaX=px / 2.0, borderType=cv2.BORDER_REFLECT)


def binary(mask: np.ndarray, threshold: int = 128) -> np.ndarray:
    return np.where(_check(mask) >= threshold, np.uint8(255), np.uint8(0))


def _size(width: int, height: int) -> str:
    return f"{width}×{height}"


def load_mask(path: str | os.PathLike[str], shape: tuple[int, ...]) -> np.ndarray:
    """Read any image as a mask for an image of `shape` (H, W[, C]).

    Transparency, where the file has any, is the mask (painted = opaque); otherwise the
    brightest channel is, so white, or any colour, on black marks the area and grey
    levels stay soft (a mask saved by save_mask comes back identical)."""
    path = Path(path)
    try:
        image = load_image(path)
    except ImageLoadError as exc:
        raise MaskError(str(exc)) from exc
    height, width = shape[:2]
    if (image.height, image.width) != (height, width):
        raise MaskError(f"'{path}' is {_size(image.width, image.height)} but the image is "
                        f"{_size(width, height)}")
    top = np.iinfo(image.pixels.dtype).max
    if image.alpha is not None and image.alpha.min() < top:
        values = image.alpha
    else:
        values = image.pixels.max(axis=2)
    if values.dtype == np.uint16:  # rounded to 8 bits, but what was non-zero stays non-zero
        values = np.where(values > 0, np.maximum((values.astype(np.uint32) + 128) // 257, 1), 0)
    return np.ascontiguousarray(values, dtype=np.uint8)


def save_mask(mask: np.ndarray, path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Write the mask as an 8-bit grey PNG, atomically (ImageSaveError on failure)."""
    return save_image(ImageData(_check(mask)[:, :, None]), path, format="png", overwrite=overwrite)
