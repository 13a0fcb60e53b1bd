"""Rotate, flip, crop and straighten: the image, its alpha, the user's mask and the scan's
infrared channel move together. The mask may be H×W×C, to move several masks (the fill's
sampling and exclude areas) at once. The infrared is moved exactly as the pixels are (the
same resampling when straightening), so that dust found in it lands on the dust in them.

Quarter turns, flips and crops are exact (they move pixels, never resample them).
Straightening resamples (bicubic for pixels and alpha, nearest for the mask) and crops to
the largest upright rectangle inside the turned photo, so no empty corners appear.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from photoforge.core.image import ImageData

MAX_STRAIGHTEN = 45.0  # degrees; beyond this it is a rotation, not a straightening


@dataclass(frozen=True)
class Moved:
    image: ImageData
    mask: np.ndarray
    infrared: np.ndarray | None = None  # H×W, moved like the pixels; None if none was given


def _each(image: ImageData, mask: np.ndarray, fn, mask_fn=None, infrared: np.ndarray | None = None) -> Moved:
    mask_fn = mask_fn or fn
    pixels = np.ascontiguousarray(fn(image.pixels))
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    alpha = None if image.alpha is None else np.ascontiguousarray(fn(image.alpha))
    if infrared is not None and infrared.shape != image.pixels.shape[:2]:
        raise ValueError(f"the infrared channel is {infrared.shape[1]}×{infrared.shape[0]}, the image "
                         f"{image.width}×{image.height}")
    return Moved(replace(image, pixels=pixels, alpha=alpha, notices=[]), np.ascontiguousarray(mask_fn(mask)),
                 None if infrared is None else np.ascontiguousarray(fn(infrared)))


def rotate90(image: ImageData, mask: np.ndarray, clockwise: bool = True, *,
             infrared: np.ndarray | None = None) -> Moved:
    k = -1 if clockwise else 1
    return _each(image, mask, lambda a: np.rot90(a, k, axes=(0, 1)), infrared=infrared)


def flip(image: ImageData, mask: np.ndarray, horizontal: bool = True, *,
         infrared: np.ndarray | None = None) -> Moved:
    axis = 1 if horizontal else 0
    return _each(image, mask, lambda a: np.flip(a, axis=axis), infrared=infrared)


def crop(image: ImageData, mask: np.ndarray, rect: tuple[int, int, int, int], *,
         infrared: np.ndarray | None = None) -> Moved:
    """rect = (y0, y1, x0, x1), clipped to the image; refused if nothing is left."""
    h, w = mask.shape[:2]
    y0, y1, x0, x1 = max(0, rect[0]), min(h, rect[1]), max(0, rect[2]), min(w, rect[3])
    if y1 - y0 < 1 or x1 - x0 < 1:
        raise ValueError("the crop leaves nothing of the photo")
    return _each(image, mask, lambda a: a[y0:y1, x0:x1], infrared=infrared)


def inscribed_size(w: int, h: int, degrees: float) -> tuple[int, int]:
    """Width and height of the largest axis-aligned rectangle inside a w×h rectangle turned
    by `degrees` (centred on it)."""
    a = abs(math.radians(degrees)) % math.pi
    a = min(a, math.pi - a)
    if a == 0:
        return w, h
    long, short = max(w, h), min(w, h)
    sin, cos = math.sin(a), math.cos(a)
    if short <= 2 * sin * cos * long or abs(sin - cos) < 1e-10:
        x = 0.5 * short
        wr, hr = (x / sin, x / cos) if w >= h else (x / cos, x / sin)
    else:
        cos2 = cos * cos - sin * sin
        wr, hr = (w * cos - h * sin) / cos2, (h * cos - w * sin) / cos2
    return max(1, int(wr)), max(1, int(hr))


def straighten(image: ImageData, mask: np.ndarray, degrees: float, *,
               infrared: np.ndarray | None = None) -> Moved:
    """Turn the photo by `degrees` (positive = counter-clockwise, as the eye sees it) and crop
    to the largest upright rectangle inside."""
    if not math.isfinite(degrees) or abs(degrees) > MAX_STRAIGHTEN:
        raise ValueError(f"straightening turns by at most {MAX_STRAIGHTEN:g}°, not {degrees:g}°")
    h, w = mask.shape[:2]
    cw, ch = inscribed_size(w, h, degrees)
    centre = ((w - 1) / 2, (h - 1) / 2)
    m = cv2.getRotationMatrix2D(centre, degrees, 1.0)
    m[0, 2] += (cw - w) / 2  # the inscribed rectangle's corner becomes (0, 0)
    m[1, 2] += (ch - h) / 2

    def turn(a: np.ndarray, interpolation=cv2.INTER_CUBIC) -> np.ndarray:
        out = cv2.warpAffine(a, m, (cw, ch), flags=interpolation, borderMode=cv2.BORDER_REPLICATE)
        return out.reshape(ch, cw, *a.shape[2:])

    return _each(image, mask, turn, lambda a: turn(a, cv2.INTER_NEAREST), infrared)


def line_angle(x0: float, y0: float, x1: float, y1: float) -> float:
    """The turn (degrees, counter-clockwise positive) that makes the line from (x0, y0) to
    (x1, y1) level if it is nearer horizontal, plumb if nearer vertical."""
    angle = math.degrees(math.atan2(y1 - y0, x1 - x0))  # image y points down
    angle = (angle + 90) % 180 - 90  # −90…90
    if abs(angle) > 45:  # nearer vertical: make it plumb
        angle = angle - 90 if angle > 0 else angle + 90
    return angle


def suggest_angle(pixels: np.ndarray, max_side: int = 1024) -> float | None:
    """The straightening the photo's dominant near-level or near-plumb lines ask for, or
    None when no lines agree (a portrait, a landscape without a horizon)."""
    step = max(1, math.ceil(max(pixels.shape[:2]) / max_side))
    proxy = pixels[::step, ::step]
    if proxy.dtype == np.uint16:
        proxy = (proxy >> 8).astype(np.uint8)
    grey = proxy[..., 0] if proxy.shape[2] == 1 else cv2.cvtColor(np.ascontiguousarray(proxy), cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(cv2.GaussianBlur(grey, (3, 3), 0), 60, 160)
    side = max(grey.shape)
    lines = cv2.HoughLinesP(edges, 1, np.pi / 720, threshold=60, minLineLength=side // 6, maxLineGap=4)
    if lines is None:
        return None
    angles, weights = [], []
    for x0, y0, x1, y1 in lines.reshape(-1, 4):  # (N, 1, 4) or (N, 4) by OpenCV version
        a = line_angle(x0, y0, x1, y1)
        if abs(a) <= 10:  # only lines that are nearly level or plumb already
            angles.append(a)
            weights.append(math.hypot(x1 - x0, y1 - y0))
    if sum(weights) < side / 2:
        return None
    order = np.argsort(angles)
    angles, weights = np.asarray(angles)[order], np.asarray(weights)[order]
    median = angles[np.searchsorted(np.cumsum(weights), weights.sum() / 2)]
    return None if abs(median) < 0.05 else float(median)
