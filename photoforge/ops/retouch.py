"""Clone stamp and healing brush: a stroke's coverage, a source offset, and the pixels
they make in the stroke's rectangle.

Both read the image as it was before the stroke (sampling from what the stroke has just
painted would smear). Cloning copies the source; healing keeps the source's texture and
takes its tone from the destination: in the stroke, out = source + m, where m is the
smooth (harmonic) membrane that equals destination − source on the stroke's rim, i.e. the
gradient-domain (Poisson) blend.
"""
from __future__ import annotations

import numpy as np

Rect = tuple[int, int, int, int]  # (y0, y1, x0, x1)
_MARGIN = 2  # rim pixels around a healed stroke, for the membrane's boundary values


def _shifted(pixels: np.ndarray, rect: Rect, offset: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """float64 source pixels for each pixel of `rect` (image pixel + offset (dy, dx)), and
    where that source lies inside the image."""
    y0, y1, x0, x1 = rect
    dy, dx = offset
    h, w = pixels.shape[:2]
    out = np.zeros((y1 - y0, x1 - x0, pixels.shape[2]), np.float64)
    valid = np.zeros((y1 - y0, x1 - x0), bool)
    sy0, sy1 = max(0, y0 + dy), min(h, y1 + dy)
    sx0, sx1 = max(0, x0 + dx), min(w, x1 + dx)
    if sy0 < sy1 and sx0 < sx1:
        ty, tx = sy0 - dy - y0, sx0 - dx - x0
        out[ty:ty + sy1 - sy0, tx:tx + sx1 - sx0] = pixels[sy0:sy1, sx0:sx1]
        valid[ty:ty + sy1 - sy0, tx:tx + sx1 - sx0] = True
    return out, valid


def _finish(dst: np.ndarray, new: np.ndarray, alpha: np.ndarray, dtype) -> np.ndarray:
    top = np.iinfo(dtype).max
    out = dst + (new - dst) * alpha[..., None]
    return np.clip(np.rint(out), 0, top).astype(dtype)


def clone_region(pixels: np.ndarray, rect: Rect, alpha: np.ndarray, offset: tuple[int, int]) -> np.ndarray:
    """`rect` of `pixels` with the source (at + offset) laid over it by `alpha` (float 0–1,
    the rect's shape). Where the source falls off the image nothing changes."""
    y0, y1, x0, x1 = rect
    src, valid = _shifted(pixels, rect, offset)
    dst = pixels[y0:y1, x0:x1].astype(np.float64)
    return _finish(dst, src, alpha * valid, pixels.dtype)


def heal_region(pixels: np.ndarray, rect: Rect, alpha: np.ndarray, offset: tuple[int, int],
                iterations: int = 400) -> tuple[Rect, np.ndarray]:
    """The healed pixels of `rect` grown by a small rim (returned with its rect): the
    source's detail with the destination's tone, blended in by `alpha`."""
    h, w = pixels.shape[:2]
    y0, y1, x0, x1 = rect
    grown = (max(0, y0 - _MARGIN), min(h, y1 + _MARGIN), max(0, x0 - _MARGIN), min(w, x1 + _MARGIN))
    gy0, gy1, gx0, gx1 = grown
    a = np.zeros((gy1 - gy0, gx1 - gx0), np.float64)
    a[y0 - gy0:y1 - gy0, x0 - gx0:x1 - gx0] = alpha
    src, valid = _shifted(pixels, grown, offset)
    dst = pixels[gy0:gy1, gx0:gx1].astype(np.float64)
    inside = (a > 0) & valid
    if not inside.any():
        return grown, pixels[gy0:gy1, gx0:gx1].copy()
    membrane = _membrane(np.where(valid[..., None], dst - src, 0.0), inside, iterations)
    healed = src + membrane
    return grown, _finish(dst, np.where(inside[..., None], healed, dst), a * inside, pixels.dtype)


def _neighbours(array: np.ndarray, fill=0.0) -> list[np.ndarray]:
    """The array shifted by one pixel up, down, left and right (edges padded with `fill`)."""
    pad = [(1, 1), (1, 1)] + [(0, 0)] * (array.ndim - 2)
    p = np.pad(array, pad, constant_values=fill)
    return [p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:]]


def _membrane(boundary: np.ndarray, inside: np.ndarray, iterations: int) -> np.ndarray:
    """Solve Δm = 0 in `inside` with m = `boundary` on the pixels around it (the image edge
    is a free, Neumann side), by conjugate gradients from a push–pull first guess."""
    in_img = np.ones(inside.shape, bool)
    deg = sum(n.astype(np.float64) for n in _neighbours(in_img, False))  # neighbours in the image
    rim = ~inside
    b = sum(nr[..., None] * nb for nr, nb in zip(_neighbours(rim, False), _neighbours(boundary)))
    mask = inside[..., None]

    def apply(u: np.ndarray) -> np.ndarray:
        out = deg[..., None] * u - sum(_neighbours(u * mask))
        return out * mask

    u = _push_pull(boundary, rim) * mask
    r = (b - apply(u)) * mask
    p = r.copy()
    rr = float(np.vdot(r, r))
    scale = max(1e-12, float(np.abs(boundary).max()))
    for _ in range(iterations):
        if rr <= (1e-6 * scale) ** 2 * inside.sum():
            break
        ap = apply(p)
        step = rr / max(float(np.vdot(p, ap)), 1e-300)
        u += step * p
        r -= step * ap
        rr, rr_old = float(np.vdot(r, r)), rr
        p = r + (rr / rr_old) * p
    return np.where(mask, u, boundary)


def _push_pull(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """A smooth fill of the unknown pixels from the known ones: average down a pyramid,
    then take each level's values where nothing was known finer up."""
    levels = [(values * known[..., None], known.astype(np.float64))]
    while min(levels[-1][1].shape) > 2:
        f, k = levels[-1]
        hh, ww = (f.shape[0] + 1) // 2 * 2, (f.shape[1] + 1) // 2 * 2
        f = np.pad(f, [(0, hh - f.shape[0]), (0, ww - f.shape[1]), (0, 0)])
        k = np.pad(k, [(0, hh - k.shape[0]), (0, ww - k.shape[1])])
        levels.append((f.reshape(hh // 2, 2, ww // 2, 2, -1).sum(axis=(1, 3)),
                       k.reshape(hh // 2, 2, ww // 2, 2).sum(axis=(1, 3))))
    f, k = levels[-1]
    total = max(k.sum(), 1e-12)
    filled = np.broadcast_to(f.sum(axis=(0, 1)) / total, f.shape).copy()
    filled = np.where(k[..., None] > 0, f / np.maximum(k, 1e-12)[..., None], filled)
    for f, k in reversed(levels[:-1]):
        up = np.repeat(np.repeat(filled, 2, axis=0), 2, axis=1)[:f.shape[0], :f.shape[1]]
        weight = np.minimum(k, 1.0)[..., None]
        filled = weight * (f / np.maximum(k, 1e-12)[..., None]) + (1 - weight) * up
    return filled
