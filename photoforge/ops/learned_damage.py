"""Damage found by the project's own segmentation network (training/, shipped as
photoforge/models/damage_seg.onnx), and the choice between it and the classical detector.

The network gives a probability per pixel; a mask is made from it with hysteresis (a
component is kept only if some pixel of it passes the high threshold, and it is grown into
neighbours above the low one), which follows a faint crack from its clear parts without
taking faint texture elsewhere; small components (specks) have their own bar.
`sensitivity` moves the high threshold in logit space around the one chosen on the
training split. `--detector both` (`fuse`) lets the classical marks seed that hysteresis.
Test-time augmentation (`tta`: the map averaged over the photo and its mirror image, at
its own threshold in the card) is on by default: see TTA_VIEWS and the card's "tta" block.
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
from photoforge.ops.torn_edges import torn_regions

MODEL_ID = "damage-seg"
DETECTORS = ("learned", "classical", "both")
LOGIT_SPAN = 2.0  # sensitivity 0 … 1 moves the high threshold by ±this many logits
# Test-time augmentation: the network also sees the photo flipped, and the maps (each
# flipped back) are averaged before the post-processing. "h": the photo and its mirror
# image; "hv": also upside down and both (a 180° turn). "off": the photo alone.
TTA_VIEWS = {"off": ("",), "h": ("", "h"), "hv": ("", "h", "v", "hv")}
# average the logits (then the sigmoid) or the probabilities, or keep the lowest (a mark every view agrees on)
TTA_MEANS = ("logit", "prob", "min")
# "off" by default: the shipped model is a pair (its card's "combine") whose second network
# already sees the mirrored photo, and at equal clean flags it beat one network with flip TTA
# on the same two passes (training/runs/ensemble/). TTA over the pair would be four passes.
TTA = "off"
TTA_MEAN = "logit"
_EPS = 2.0 ** -24  # float32: 1 - _EPS is the largest probability under 1
_STRIP_PIXELS = 1 << 20  # tta_mean works on this many pixels at a time


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
    # fusion: a classical mark is kept only if the network's peak on it reaches this × high
    # (0: every mark kept). With flip TTA, 0.75 halved the clean pixels "both" flags at equal
    # F1, on the tuning photos (0.089 → 0.044 %, mean F1 0.703 → 0.705) and on 20 train photos
    # (0.390 → 0.188 %, 0.867 → 0.872); a wider seed growth (0.1) scored the same there but
    # flagged more of the README's clean astronaut. training/runs/tta/fusion_gate_*.log.
    seed_gate: float = 0.75
    # The line rule: a thin component at least line_length px long (its box's diagonal) is
    # kept with a peak line_logit logits under the high threshold. Off (0): on the tuning
    # photos 96 px / 2 logits raised scratch F1 at equal false alarms (0.493 → 0.520,
    # detector_sweep.py --line-only), but on validation it also flagged a little more of the
    # clean photos (0.343 → 0.357 %, training/runs/damage_seg4/), the goal it is furthest from.
    line_length: int = 0  # px (0 = off)
    line_logit: float = 2.0
    line_width: float = 4.0  # px: "thin" is area ≤ this × length


POST = PostRules()


def recommended_threshold(tta: str | None = None, mean: str | None = None) -> float:
    """The probability threshold chosen on the training split (the model's sidecar) for
    the test-time augmentation `tta` averaged by `mean` (default TTA, TTA_MEAN): the card's
    "tta" block's when it names them, else the one for the photo alone."""
    return _card_threshold(TTA if tta is None else tta, TTA_MEAN if mean is None else mean)


@lru_cache(maxsize=8)
def _card_threshold(tta: str, mean: str) -> float:
    try:
        card = json.loads(resources.files("photoforge").joinpath("models/damage_seg.json").read_text())
    except (FileNotFoundError, ValueError):
        return 0.5
    aug = card.get("tta") if isinstance(card.get("tta"), dict) else {}
    if tta != "off" and aug.get("views") == tta and aug.get("mean") == mean:
        chosen = _probability(aug.get("threshold"))
        if chosen is not None:
            return chosen
    photo_alone = _probability(card.get("threshold"))  # the nearest there is
    return 0.5 if photo_alone is None else photo_alone


def _probability(value) -> float | None:
    """`value` as a threshold in (0, 1), or None if it is not one (missing, null, text)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if 0 < v < 1 else None


def thresholds(sensitivity: float, base: float | None = None, low_fraction: float = POST.low_fraction
               ) -> tuple[float, float]:
    """(high, low) probability thresholds for a sensitivity in 0–1 (0.5 = the base)."""
    base = recommended_threshold() if base is None else base
    base = min(max(base, 1e-4), 1 - 1e-4)
    logit = math.log(base / (1 - base)) - LOGIT_SPAN * (2 * float(np.clip(sensitivity, 0, 1)) - 1)
    high = 1 / (1 + math.exp(-logit))
    return high, high * low_fraction


def mask_from_probability(prob: np.ndarray, sensitivity: float = 0.5, base: float | None = None,
                          seeds: np.ndarray | None = None, rules: PostRules = POST,
                          pixels: np.ndarray | None = None) -> np.ndarray:
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
    of them are in the result, unless rules.seed_gate asks the network to confirm each.
    With the photo's `pixels` (H×W×C) the torn corners and edges whose cut the network
    marks are added whole (ops/torn_edges.py)."""
    high, low = thresholds(sensitivity, base, rules.low_fraction)
    if seeds is None or not seeds.any():
        found = _hysteresis(prob >= low, prob, high, rules)
        if pixels is not None:
            found |= torn_regions(pixels, prob, found)
        return grow(np.where(found, 255, 0).astype(np.uint8), 1)
    seeds = seeds > 0
    if rules.seed_gate > 0:
        seeds = _confirmed(seeds, prob, rules.seed_gate * high)
    alone = _shift(high, rules.alone_logit)
    found = _hysteresis(prob >= low, prob, alone, rules)
    found |= _touching(prob >= rules.seed_low_fraction * high, seeds) & ~seeds
    if pixels is not None:
        found |= torn_regions(pixels, prob, found | seeds)
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


def _confirmed(marks: np.ndarray, prob: np.ndarray, gate: float) -> np.ndarray:
    """The components of `marks` whose peak probability reaches `gate`."""
    n, labels = cv2.connectedComponents(marks.view(np.uint8), connectivity=8)
    peak = np.zeros(n, np.float32)
    np.maximum.at(peak, labels[marks], prob[marks].astype(np.float32, copy=False))
    keep = peak >= gate
    keep[0] = False
    return keep[labels]


def _touching(weak: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The components of weak | seeds that hold a seed."""
    n, labels = cv2.connectedComponents((weak | seeds).view(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[labels[seeds]] = True
    keep[0] = False
    return keep[labels]


def fuse(prob: np.ndarray, classical: np.ndarray, sensitivity: float = 0.5, base: float | None = None,
         rules: PostRules = POST, pixels: np.ndarray | None = None) -> np.ndarray:
    """`--detector both`: the classical mask seeds the network's hysteresis, so a crack the
    classical detector caught in part is followed along the network's weaker probability,
    and every classical mark the network confirms (rules.seed_gate) is kept whole."""
    return mask_from_probability(prob, sensitivity, base, seeds=classical, rules=rules, pixels=pixels)


def flipped(a: np.ndarray, view: str) -> np.ndarray:
    """`a` (H×W or H×W×C) as seen in `view` ("", "h", "v", "hv"); each view is its own inverse."""
    if "h" in view:
        a = a[:, ::-1]
    if "v" in view:
        a = a[::-1]
    return a


def to_logit(prob: np.ndarray) -> np.ndarray:
    p = np.clip(prob.astype(np.float32, copy=False), _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def tta_mean(maps: list[np.ndarray], mean: str = TTA_MEAN) -> np.ndarray:
    """The H×W float32 probability averaged over the views' probability maps (each already
    flipped back), as logits or as probabilities, or their minimum. The sum goes in pairs that a flip swaps,
    so the result of a flipped photo is the flipped result, bit for bit. Worked in strips
    of rows: whole-map temporaries cost ~5 maps more (460 MB at 24 MP)."""
    if mean not in TTA_MEANS:
        raise ValueError(f"TTA mean must be one of {', '.join(TTA_MEANS)}, not {mean!r}")
    if len(maps) == 1:
        return maps[0]
    if len(maps) not in (2, 4):
        raise ValueError(f"TTA over {len(maps)} views")
    h, w = maps[0].shape
    out = np.empty((h, w), np.float32)
    rows = max(1, _STRIP_PIXELS // max(w, 1))
    for r in range(0, h, rows):
        v = [m[r:r + rows] for m in maps]
        if mean == "min":
            out[r:r + rows] = np.minimum(np.minimum(v[0], v[1]), np.minimum(v[-2], v[-1]))
            continue
        v = [to_logit(x) if mean == "logit" else x.astype(np.float32, copy=False) for x in v]
        if len(v) == 2:
            s = (v[0] + v[1]) * np.float32(0.5)
        else:
            s = ((v[0] + v[1]) + (v[2] + v[3])) * np.float32(0.25)
        out[r:r + rows] = 1 / (1 + np.exp(-s)) if mean == "logit" else s
    return out


def tta_probability(predict, rgb: np.ndarray, tta: str = TTA, mean: str = TTA_MEAN,
                    progress: Progress | None = None) -> np.ndarray:
    """tta_mean of predict(view of rgb, progress share) over the views of `tta` (TTA_VIEWS)."""
    if tta not in TTA_VIEWS:
        raise ValueError(f"TTA must be one of {', '.join(TTA_VIEWS)}, not {tta!r}")
    views = TTA_VIEWS[tta]
    progress = progress or null_progress()
    maps = []
    for k, view in enumerate(views):
        part = progress.sub(k / len(views), (k + 1) / len(views))
        out = predict(np.ascontiguousarray(flipped(rgb, view)), part)
        maps.append(flipped(out, view))
    return tta_mean(maps, mean)


def damage_probability(pixels: np.ndarray, progress: Progress | None = None, *, device: str = "auto",
                       precision: str = "auto", threads: int | None = None, notify=None,
                       tta: str | None = None, mean: str | None = None, tile: int | None = None
                       ) -> np.ndarray:
    """The network's H×W float32 probability of damage, in tiles (progress and cancel per
    tile), averaged over the flipped views of `tta` (default TTA) by `mean` (default TTA_MEAN).
    `tile`: run_tiled's (None = automatic, 0 = in one piece)."""
    from photoforge.engine.inference import run_tiled
    from photoforge.engine.catalog import get_model

    rgb = np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels
    model = get_model(MODEL_ID)

    def predict(view: np.ndarray, part: Progress) -> np.ndarray:
        return run_tiled(model, view, part, device=device, precision=precision, threads=threads,
                         notify=notify, tile=tile)

    return tta_probability(predict, rgb, TTA if tta is None else tta, TTA_MEAN if mean is None else mean,
                           progress)


def find_damage_mask(pixels: np.ndarray, sensitivity: float = 0.5, detector: str = "learned",
                     progress: Progress | None = None, *, device: str = "auto", precision: str = "auto",
                     threads: int | None = None, notify=None, tta: str | None = None,
                     mean: str | None = None) -> np.ndarray:
    """The damage mask by the chosen detector: "learned", "classical" or "both" (`fuse`);
    the network's map averaged over the views of `tta` by `mean` (default TTA, TTA_MEAN),
    at the threshold chosen for them."""
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
                              threads=threads, notify=notify, tta=tta, mean=mean)
    base = recommended_threshold(tta, mean)
    if detector == "both":
        return fuse(prob, detect_damage(pixels, sensitivity, progress.sub(split, 1.0)), sensitivity, base,
                    pixels=pixels)
    return mask_from_probability(prob, sensitivity, base, pixels=pixels)
