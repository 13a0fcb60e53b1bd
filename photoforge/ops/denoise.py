"""Denoising: FFDNet colour at a noise level σ that is measured from the image itself.

σ is always in 8-bit units (0–255), also for 16-bit images, because that is the scale the
network was trained on and the one users know from other tools.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from photoforge.core.image import ImageData, from_float, to_float
from photoforge.engine.inference import run_tiled
from photoforge.engine.progress import Progress, null_progress
from photoforge.engine.catalog import get_model

MODEL = "ffdnet-color"
MIN_SIGMA = 1.0  # below this the network only softens; JPEG-clean photos measure ~0.5
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)

# Estimator (bench_denoise.py compares it with Immerkær's mean, wavelet MAD and PCA): the
# Immerkær Laplacian-difference response, whose std is 6σ for white noise, scored by its
# median absolute value on the flattest pixels. For Gaussian noise the (odd) Sobel gradient
# and the (even) Laplacian at the same pixel are independent, so choosing pixels by
# gradient removes texture without biasing the noise measured there.
_LAP = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
_LAP_GAIN = 6.0  # sqrt of the sum of squared mask weights
_MAD_TO_SIGMA = 1.0 / 0.6744897501960817
_FLAT_FRACTION = 0.3  # keep the 30 % lowest-gradient pixels
_BLOCK, _GRID = 256, 8  # above _GRID² blocks' worth of pixels, measure on sampled blocks
_K3 = np.ones((3, 3), np.uint8)


@dataclass(frozen=True)
class DenoiseOptions:
    sigma: float | None = None  # noise level in 0–255 units; None = estimate from the image
    strength: float = 1.0  # 1 = the network's result, 0 = the input, between = a blend
    device: str = "auto"
    precision: str = "auto"
    threads: int | None = None
    tile: int | None = None  # None: automatic; 0: no tiling


def _blocks(h: int, w: int):
    """The whole image, or an even grid of blocks: the statistic needs ~10⁵ samples, not
    the 400 MB per channel that a 100 MP image's float responses would take."""
    if h * w <= (_BLOCK * _GRID) ** 2:
        return [(slice(0, h), slice(0, w))]
    ys = np.linspace(0, max(0, h - _BLOCK), _GRID).astype(int)
    xs = np.linspace(0, max(0, w - _BLOCK), _GRID).astype(int)
    return [(slice(y, y + _BLOCK), slice(x, x + _BLOCK)) for y in ys for x in xs]


def _grouped_median(values: np.ndarray) -> float:
    """Median of non-negative integers, interpolated within its unit bin: a plain median of
    8-bit responses moves in steps of 0.25 σ, too coarse for σ of a few levels."""
    n = values.size
    m0 = int(np.partition(values, n // 2)[n // 2])
    below, at = np.count_nonzero(values < m0), np.count_nonzero(values == m0)
    if m0 == 0:
        return 0.5 * (n / 2) / max(at, 1)
    return m0 - 0.5 + (n / 2 - below) / at


def _channel_sigma(channel: np.ndarray, top: float) -> float | None:
    """σ of one channel in its own units, or None when too few usable pixels remain."""
    parts = []
    for ys, xs in _blocks(*channel.shape):
        x = channel[ys, xs].astype(np.float32)
        if min(x.shape) < 8:
            continue
        inner = (slice(1, -1), slice(1, -1))
        r = np.abs(cv2.filter2D(x, -1, _LAP, borderType=cv2.BORDER_REFLECT))[inner]
        g = cv2.magnitude(cv2.Sobel(x, cv2.CV_32F, 1, 0), cv2.Sobel(x, cv2.CV_32F, 0, 1))[inner]
        # Clipped pixels carry less noise than the rest; leave out anything touching them.
        ok = (cv2.erode(x, _K3)[inner] > 0) & (cv2.dilate(x, _K3)[inner] < top)
        parts.append((r[ok], g[ok], cv2.blur(x, (5, 5))[inner][ok]))
    if not parts or sum(p[0].size for p in parts) < 200:
        return None
    r, g, mean = (np.concatenate(a) for a in zip(*parts))
    flat = g <= np.quantile(g, _FLAT_FRACTION)
    r, mean = np.rint(r[flat]), mean[flat]
    sigma = _grouped_median(r) * _MAD_TO_SIGMA / _LAP_GAIN
    # Pixels within ~2σ of black or white are partly clipped too; σ tells which those are.
    for _ in range(3):
        keep = (mean > 2 * sigma) & (mean < top - 2 * sigma)
        if np.count_nonzero(keep) < 200:
            break
        sigma = _grouped_median(r[keep]) * _MAD_TO_SIGMA / _LAP_GAIN
    return sigma


def estimate_noise(pixels: np.ndarray) -> float:
    """Noise σ (0–255 units) of H×W×C uint8/uint16 pixels; the median over channels, so one
    odd channel (e.g. a noisier blue) does not decide."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    top = 65535.0 if pixels.dtype == np.uint16 else 255.0
    found = [s for c in range(pixels.shape[2]) if (s := _channel_sigma(pixels[:, :, c], top)) is not None]
    return float(np.median(found)) * 255.0 / top if found else 0.0


def denoise_pixels(pixels: np.ndarray, options: DenoiseOptions = DenoiseOptions(),
                   progress: Progress | None = None,
                   notify: Callable[[str], None] | None = None) -> tuple[np.ndarray, float]:
    """H×W×C (C = 1 or 3, uint8/uint16) → (the same shape and dtype, σ used)."""
    progress = progress or null_progress()
    if not 0.0 <= options.strength <= 1.0:
        raise ValueError(f"strength must be between 0 and 1, got {options.strength}")
    if options.sigma is not None and not 0.0 <= options.sigma < float("inf"):
        raise ValueError(f"sigma must be a level from 0 up, got {options.sigma}")
    sigma = estimate_noise(pixels) if options.sigma is None else float(options.sigma)
    # A tenth of a level changes nothing visible (and reported σ reads cleanly).
    sigma = round(sigma, 1)
    if sigma < MIN_SIGMA or options.strength == 0.0:
        progress.set(1.0)
        return pixels, sigma
    channels = pixels.shape[2]
    # Grey copied into R, G and B carries the same noise in all three: to a network trained
    # on independent channel noise that reads as σ·√3 (measured: ~6 dB better than σ at σ = 25).
    net_sigma = round(sigma * 3 ** 0.5, 1) if channels == 1 else sigma
    rgb = np.repeat(pixels, 3, axis=2) if channels == 1 else pixels
    blend = options.strength < 1.0
    # A blend of two 8-bit roundings would be rounded twice; 16 bits in between keeps one.
    out = np.empty(rgb.shape, np.uint16 if blend else pixels.dtype)
    run_tiled(get_model(MODEL), rgb, progress.sub(0.0, 0.98), extra=net_sigma, out=out, tile=options.tile,
              device=options.device, precision=options.precision, threads=options.threads, notify=notify)
    progress.check_aborted()
    if channels == 1 or blend:
        result = np.empty(pixels.shape, pixels.dtype)
        for y in range(0, out.shape[0], 256):  # row chunks keep the float temporaries small
            rows = slice(y, y + 256)
            values = to_float(out[rows])
            if channels == 1:
                values = (values @ _LUMA)[:, :, None]
            if blend:
                source = to_float(pixels[rows])
                values = source + np.float32(options.strength) * (values - source)
            result[rows] = from_float(values, pixels.dtype)
        out = result
    progress.set(1.0)
    return out, sigma


def denoise(image: ImageData, options: DenoiseOptions = DenoiseOptions(),
            progress: Progress | None = None, notify: Callable[[str], None] | None = None) -> ImageData:
    """Denoise the colour (or grey) pixels; alpha and metadata pass through untouched."""
    pixels, _ = denoise_pixels(image.pixels, options, progress, notify)
    return image.with_pixels(pixels, image.alpha)
