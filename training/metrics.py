"""F1 at a pixel tolerance, as bench/bench_damage.py scores the classical detector.

precision = detected pixels within T of a true pixel / detected pixels;
recall    = true pixels within T of a detected pixel / true pixels.
A detector that dilates its mask by a pixel on purpose (so a repair covers the halo) is not
punished for it at T = 2 px.
"""
from __future__ import annotations

import cv2
import numpy as np


def near(mask: np.ndarray, tol: float) -> np.ndarray:
    """Pixels within `tol` (Euclidean) of a True pixel of `mask`."""
    if not mask.any():
        return np.zeros_like(mask, bool)
    dist = cv2.distanceTransform(np.where(mask, 0, 255).astype(np.uint8), cv2.DIST_L2, 5)
    return dist <= tol + 1e-3


def counts(det: np.ndarray, truth: np.ndarray, tol: float = 2.0) -> np.ndarray:
    """[true-positive detections, detections, found truth, truth] — sum these over images
    and call f1_from_counts for a pooled score."""
    return np.array([(det & near(truth, tol)).sum(), det.sum(), (truth & near(det, tol)).sum(), truth.sum()],
                    np.int64)


def f1_from_counts(c) -> tuple[float, float, float]:
    tp_d, n_d, tp_t, n_t = (float(v) for v in c)
    p = tp_d / n_d if n_d else 1.0
    r = tp_t / n_t if n_t else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def f1(det: np.ndarray, truth: np.ndarray, tol: float = 2.0) -> float:
    return f1_from_counts(counts(det, truth, tol))[2]
