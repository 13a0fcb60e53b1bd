"""Damage found by the project's own segmentation network (training/, shipped as
photoforge/models/damage_seg.onnx), and the choice between it and the classical detector.

The network gives a probability per pixel; a mask is made from it with hysteresis (a
component is kept only if some pixel of it passes the high threshold, and it is grown into
neighbours above the low one), which follows a faint crack from its clear parts without
taking faint texture elsewhere. `sensitivity` moves the high threshold in logit space
around the one chosen on the training split.
"""
from __future__ import annotations

import json
import math
from functools import lru_cache
from importlib import resources

import cv2
import numpy as np

from photoforge.engine.progress import Progress, null_progress
from photoforge.ops.mask import grow

MODEL_ID = "damage-seg"
DETECTORS = ("learned", "classical", "both")
MIN_AREA = 4  # px: a component smaller than this is noise, not dust
LOGIT_SPAN = 2.0  # sensitivity 0 … 1 moves the high threshold by ±this many logits
LOW_FRACTION = 0.5  # the hysteresis low threshold, as a fraction of the high one


@lru_cache(maxsize=1)
def recommended_threshold() -> float:
    """The probability threshold chosen on the training split (the model's sidecar)."""
    try:
        sidecar = resources.files("photoforge").joinpath("models/damage_seg.json").read_text()
        return float(json.loads(sidecar)["threshold"])
    except (FileNotFoundError, KeyError, ValueError, TypeError):
        return 0.5


def thresholds(sensitivity: float, base: float | None = None) -> tuple[float, float]:
    """(high, low) probability thresholds for a sensitivity in 0–1 (0.5 = the base)."""
    base = recommended_threshold() if base is None else base
    base = min(max(base, 1e-4), 1 - 1e-4)
    logit = math.log(base / (1 - base)) - LOGIT_SPAN * (2 * float(np.clip(sensitivity, 0, 1)) - 1)
    high = 1 / (1 + math.exp(-logit))
    return high, high * LOW_FRACTION


def mask_from_probability(prob: np.ndarray, sensitivity: float = 0.5, base: float | None = None) -> np.ndarray:
    """H×W uint8 mask (255 = damage) from an H×W probability map, by hysteresis and a
    minimum size, grown by 1 px to cover the halo as the classical detector's is."""
    high, low = thresholds(sensitivity, base)
    weak = (prob >= low).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(weak, connectivity=8)
    if n <= 1:
        return np.zeros(prob.shape, np.uint8)
    peak = np.zeros(n, np.float32)
    np.maximum.at(peak, labels.ravel(), prob.ravel().astype(np.float32))
    keep = (peak >= high) & (stats[:, cv2.CC_STAT_AREA] >= MIN_AREA)
    keep[0] = False
    return grow(np.where(keep[labels], 255, 0).astype(np.uint8), 1)


def damage_probability(pixels: np.ndarray, progress: Progress | None = None, *, device: str = "auto",
                       precision: str = "auto", threads: int | None = None, notify=None) -> np.ndarray:
    """The network's H×W float32 probability of damage, in tiles (progress and cancel per tile)."""
    from photoforge.engine.inference import run_tiled
    from photoforge.engine.catalog import get_model

    rgb = np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels
    return run_tiled(get_model(MODEL_ID), rgb, progress, device=device, precision=precision,
                     threads=threads, notify=notify)


def find_damage_mask(pixels: np.ndarray, sensitivity: float = 0.5, detector: str = "learned",
                     progress: Progress | None = None, *, device: str = "auto", precision: str = "auto",
                     threads: int | None = None, notify=None) -> np.ndarray:
    """The damage mask by the chosen detector: "learned", "classical" or "both" (union)."""
    from photoforge.ops.damage import detect_damage

    if detector not in DETECTORS:
        raise ValueError(f"detector must be one of {', '.join(DETECTORS)}, not {detector!r}")
    progress = progress or null_progress()
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if detector == "classical":
        return detect_damage(pixels, sensitivity, progress)
    split = 0.6 if detector == "both" else 1.0
    prob = damage_probability(pixels, progress.sub(0.0, split), device=device, precision=precision,
                              threads=threads, notify=notify)
    mask = mask_from_probability(prob, sensitivity)
    if detector == "both":
        np.maximum(mask, detect_damage(pixels, sensitivity, progress.sub(split, 1.0)), out=mask)
    return mask
