"""Damage found by the project's own segmentation network (training/, shipped as
photoforge/models/damage_seg.onnx), and the choice between it and the classical detector.

The network gives a probability per pixel; a mask is made from it with hysteresis (a
component is kept only if some pixel of it passes the high threshold, and it is grown into
neighbours above the low one), which follows a faint crack from its clear parts without
taking faint texture elsewhere; small components (specks) have their own bar.
`sensitivity` moves the high threshold in logit space around the one chosen on the
training split. `--detector both` (`fuse`) lets the classical marks seed that hysteresis.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import cv2
import numpy as np

from photoforge.engine.progress import Progress, null_progress
from photoforge.ops.mask import grow

MODEL_ID = "damage-seg"
DETECTORS = ("learned", "classical", "both")
LOGIT_SPAN = 2.0  # sensitivity 0 … 1 moves the high threshold by ±this many logits


@dataclass(frozen=True)
class PostRules:
    """How a probability map becomes a mask. The defaults were chosen on the tuning photos
    of the train split by bench/detector_sweep.py (never on validation photos)."""
    low_fraction: float = 0.3  # the hysteresis low threshold, as a fraction of the high one
    min_area: int = 2  # px: smaller components are noise
    speck_max: int = 64  # px: a component up to this size is a speck (dust)…
    speck_peak: float = 0.9  # …kept if its peak reaches this × the high threshold
    seed_low_fraction: float = 0.2  # fusion: around a classical mark, grow into prob ≥ this × high
    alone_logit: float = 0.0  # fusion: what the network finds away from any mark needs this many more logits
    # The line rule: a thin component at least line_length px long (its box's diagonal) is
    # kept with a peak line_logit logits under the high threshold. Off (0): on the tuning
    # photos 96 px / 2 logits raised scratch F1 at equal false alarms (0.493 → 0.520,
    # detector_sweep.py --line-only), but on validation it also flagged a little more of the
    # clean photos (0.343 → 0.357 %, training/runs/damage_seg4/), the goal it is furthest from.
    line_length: int = 0  # px (0 = off)
    line_logit: float = 2.0
    line_width: float = 4.0  # px: "thin" is area ≤ this × length


POST = PostRules()


@lru_cache(maxsize=1)
def recommended_threshold() -> float:
    """The probability threshold chosen on the training split (the model's sidecar)."""
    try:
        sidecar = resources.files("photoforge").joinpath("models/damage_seg.json").read_text()
        return float(json.loads(sidecar)["threshold"])
    except (FileNotFoundError, KeyError, ValueError, TypeError):
        return 0.5


def thresholds(sensitivity: float, base: float | None = None, low_fraction: float = POST.low_fraction
               ) -> tuple[float, float]:
    """(high, low) probability thresholds for a sensitivity in 0–1 (0.5 = the base)."""
    base = recommended_threshold() if base is None else base
    base = min(max(base, 1e-4), 1 - 1e-4)
    logit = math.log(base / (1 - base)) - LOGIT_SPAN * (2 * float(np.clip(sensitivity, 0, 1)) - 1)
    high = 1 / (1 + math.exp(-logit))
    return high, high * low_fraction


def mask_from_probability(prob: np.ndarray, sensitivity: float = 0.5, base: float | None = None,
                          seeds: np.ndarray | None = None, rules: PostRules = POST) -> np.ndarray:
    """H×W uint8 mask (255 = damage) from an H×W probability map, grown by 1 px to cover
    the halo as the classical detector's is.

    Hysteresis: a component of prob ≥ low is kept if its peak reaches the high threshold.
    A small one (a speck) is held to its own peak rule: isolated specks of middling
    probability are mostly texture, dust is mostly confident; a long thin one (a line) may
    have a lower peak (rules.line_logit). `seeds` (H×W, nonzero = a
    mark found some other way) are strong seeds: whatever touches one through
    prob ≥ seed_low_fraction × high is kept, and components away from every seed need
    alone_logit more logits (0: the same bar as without seeds). Seeds are not grown where
    the network does not see damage too (the classical mask already has its halo), and all
    of them are in the result."""
    high, low = thresholds(sensitivity, base, rules.low_fraction)
    if seeds is None or not seeds.any():
        return grow(np.where(_hysteresis(prob >= low, prob, high, rules), 255, 0).astype(np.uint8), 1)
    seeds = seeds > 0
    alone = _shift(high, rules.alone_logit)
    found = _hysteresis(prob >= low, prob, alone, rules)
    found |= _touching(prob >= rules.seed_low_fraction * high, seeds) & ~seeds
    out = grow(np.where(found, 255, 0).astype(np.uint8), 1)
    out[seeds] = 255
    return out


def _hysteresis(weak: np.ndarray, prob: np.ndarray, high: float, rules: PostRules) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(weak.view(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros(weak.shape, bool)
    peak = np.zeros(n, np.float32)
    np.maximum.at(peak, labels[weak], prob[weak].astype(np.float32, copy=False))
    area = stats[:, cv2.CC_STAT_AREA]
    bar = np.full(n, high)
    if rules.line_length:
        # A long thin trace of middling probability is a scratch or crack the network saw
        # all along but not quite confidently (their peaks sit just under the threshold);
        # texture it is unsure of comes in short or blobby pieces.
        length = np.hypot(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
        line = (length >= rules.line_length) & (area <= rules.line_width * length)
        bar[line] = _shift(high, -rules.line_logit)
    bar[area <= rules.speck_max] = rules.speck_peak * high
    keep = (peak >= bar) & (area >= rules.min_area)
    keep[0] = False
    return keep[labels]


def _shift(p: float, logits: float) -> float:
    return 1 / (1 + math.exp(-(math.log(p / (1 - p)) + logits))) if logits else p


def _touching(weak: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The components of weak | seeds that hold a seed."""
    n, labels = cv2.connectedComponents((weak | seeds).view(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[labels[seeds]] = True
    keep[0] = False
    return keep[labels]


def fuse(prob: np.ndarray, classical: np.ndarray, sensitivity: float = 0.5, base: float | None = None,
         rules: PostRules = POST) -> np.ndarray:
    """`--detector both`: the classical mask seeds the network's hysteresis, so a crack the
    classical detector caught in part is followed along the network's weaker probability,
    and every classical mark is kept."""
    return mask_from_probability(prob, sensitivity, base, seeds=classical, rules=rules)


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
    """The damage mask by the chosen detector: "learned", "classical" or "both" (`fuse`)."""
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
    if detector == "both":
        return fuse(prob, detect_damage(pixels, sensitivity, progress.sub(split, 1.0)), sensitivity)
    return mask_from_probability(prob, sensitivity)
