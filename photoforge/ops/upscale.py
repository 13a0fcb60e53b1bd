"""Upscaling: any scale from a model's fixed factor, with grey, alpha and 16-bit kept."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from photoforge.core.image import ImageData
from photoforge.engine.inference import run_tiled
from photoforge.engine.progress import Progress, null_progress
from photoforge.engine.catalog import get_model

DEFAULT_MODEL = "realesrgan-x4plus"
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class UpscaleOptions:
    model: str = DEFAULT_MODEL
    scale: float | None = None  # None: the model's own factor
    tile: int | None = None  # None: automatic; 0: no tiling
    device: str = "auto"
    precision: str = "auto"
    threads: int | None = None


def passes_needed(model_scale: int, scale: float) -> int:
    """How many model passes reach at least `scale` (a final resize takes off the rest)."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    return max(1, math.ceil(math.log(scale) / math.log(model_scale) - 1e-9))


def resize(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """High-quality resize: area averaging down (no aliasing), Lanczos up."""
    h, w = pixels.shape[:2]
    if (w, h) == (width, height):
        return pixels
    shrink = width < w and height < h
    out = cv2.resize(pixels, (width, height),
                     interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LANCZOS4)
    return out.reshape(height, width, *pixels.shape[2:])


def upscale_pixels(pixels: np.ndarray, options: UpscaleOptions, progress: Progress | None = None,
                   notify: Callable[[str], None] | None = None) -> np.ndarray:
    """H×W×C (C = 1 or 3, uint8/uint16) → the same dtype and channels, scaled."""
    progress = progress or null_progress()
    model = get_model(options.model)
    if model.task != "upscale":
        raise ValueError(f"model '{model.id}' is a {model.task} model, not an upscaler")
    scale = float(options.scale or model.scale)
    h, w, channels = pixels.shape
    target = (max(1, round(w * scale)), max(1, round(h * scale)))
    passes = passes_needed(model.scale, scale)
    current = np.repeat(pixels, 3, axis=2) if channels == 1 else pixels
    for i in range(passes):
        part = progress.sub(0.99 * i / passes, 0.99 * (i + 1) / passes)
        ch, cw = current.shape[:2]
        out = np.empty((ch * model.scale, cw * model.scale, 3), pixels.dtype)
        current = run_tiled(model, current, part, out=out, tile=options.tile, device=options.device,
                            precision=options.precision, threads=options.threads, notify=notify)
    progress.check_aborted()
    current = resize(current, *target)
    if channels == 1:
        top = 65535 if pixels.dtype == np.uint16 else 255
        grey = np.clip(np.rint(current.astype(np.float32) @ _LUMA), 0, top)
        current = grey.astype(pixels.dtype)[:, :, None]
    progress.set(1.0)
    return current


def upscale(image: ImageData, options: UpscaleOptions = UpscaleOptions(),
            progress: Progress | None = None, notify: Callable[[str], None] | None = None) -> ImageData:
    """Upscale an image; alpha is resized separately with a smooth filter and re-attached."""
    pixels = upscale_pixels(image.pixels, options, progress, notify)
    alpha = None
    if image.alpha is not None:
        alpha = resize(image.alpha, pixels.shape[1], pixels.shape[0])
    return image.with_pixels(pixels, alpha)
