"""Synthetic old-print damage with exact masks, deterministic from a seed (numpy + OpenCV).

    sample = synthesize(rgb_uint8, seed, kinds=KINDS)
    sample.image   damaged uint8 RGB          sample.base   the aged print, undamaged
    sample.masks   {kind: bool mask}          sample.mask   union of the kind masks

Order of work, as a print ages and is scanned:
  1. the photo gets its own bright points (specular glints, eye highlights) and bright
     smooth areas (blown sky, bare paper, lit skin) — hard negatives, real content that a
     detector must leave alone (emulsion loss is paper-white too, so a detector that has
     only seen white as damage flags every bright smooth area);
  2. it is aged: monochrome, sepia or faded colour, lifted blacks, less contrast;
  3. the print gets a border (white or black) and handwriting/text — more hard negatives;
  4. emulsion grain and the print's slight softness;
  5. damage, kind by kind (cracks/craquelure, creases, scratches, dust, hairs/lint,
     spots/stains/foxing, flaking/silvering, tears/missing corners), blurred like the print;
  6. the scan: the same noise field over base and damaged image, then JPEG of both.
The mask is what the damage changed: pixels where some channel of the damaged image differs
from the base by ≥ CHANGE (≈ 10/255) after step 6. Everything else is set back to the
base exactly, so outside the mask the damaged image *is* the base (JPEG ringing below the
threshold is not left as a half-labelled halo). Each kind's mask is the part of the union
within 1 px of what that kind changed, so the kinds add up to the union.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from training import synth_draw as d

KINDS = ("crack", "crease", "scratch", "dust", "hair", "spot", "flake", "tear")
CHANGE = 0.04
_DRAW = {"crack": d.cracks, "crease": d.creases, "scratch": d.scratches, "dust": d.dust,
         "hair": d.hairs, "spot": d.spots, "tear": d.tears}


@dataclass
class Sample:
    image: np.ndarray          # damaged, uint8 RGB
    base: np.ndarray           # aged print with hard negatives, undamaged, uint8 RGB
    masks: dict                # kind → bool mask (only the kinds asked for)
    mask: np.ndarray           # union, bool
    negatives: np.ndarray      # where hard negatives were drawn (glints, eyes, border, text), bool


def channel_max(img: np.ndarray) -> np.ndarray:
    """max over the colour axis: numpy reduces a length-3 last axis ~15× slower than this,
    and it was a third of the synthesiser's time (training/profile_step.py)."""
    return np.maximum(np.maximum(img[..., 0], img[..., 1]), img[..., 2])


def luminance(img: np.ndarray) -> np.ndarray:
    return img @ np.float32([0.299, 0.587, 0.114])


# --- the print before damage -------------------------------------------------------------

def glints(img: np.ndarray, neg: np.ndarray, rng) -> None:
    """Specular glints (soft bright dots) and eye-like highlights (a dark iris disc with a
    bright catch-light), both with soft falloff, as real optics make them."""
    h, w = neg.shape
    for _ in range(int(rng.poisson(4 * h * w / 512 ** 2))):
        cx, cy, s = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.7, 2.5)
        _soft_dot(img, neg, cx, cy, s, np.float32([1, 1, 1]), rng.uniform(0.6, 1.0))
    for _ in range(int(rng.poisson(0.8 * h * w / 512 ** 2))):
        r = rng.uniform(2.5, 8)
        gap = r * rng.uniform(4, 9)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        for ex in (cx, cx + gap):
            _soft_dot(img, neg, ex, cy, r / 1.6, np.float32([0.08, 0.06, 0.05]), 0.85)
            _soft_dot(img, neg, ex + r * 0.3, cy - r * 0.3, max(0.6, r / 5), np.float32([1, 1, 1]), 0.95)


def foam(img: np.ndarray, neg: np.ndarray, rng) -> None:
    """A patch of foam, froth or sparkle: many small bubbles packed together (each a thin
    bright rim with a darker inside and a catch-light) and tiny glints in clusters, as on
    milk foam, a wet or glossy surface. One such speck looks like dust; a crowd of them is
    texture, and the shipped model flagged exactly this on the coffee sample."""
    h, w = neg.shape
    r = rng.uniform(0.08, 0.3) * min(h, w)
    region, x0, y0 = d.blob(rng, rng.uniform(0, w), rng.uniform(0, h), r, 0.4)
    inside = np.argwhere(region > 0.5)
    if not len(inside):
        return
    bubble = rng.uniform(1.0, 4.5)  # typical radius in this patch
    n = int(len(inside) / (2.2 * bubble) ** 2 * rng.uniform(0.4, 1.0))
    cov = np.zeros((h, w), np.float32)
    dark = np.zeros((h, w), np.float32)
    for yx in inside[rng.integers(0, len(inside), n)]:
        cy, cx = yx[0] + y0 + rng.uniform(-0.5, 0.5), yx[1] + x0 + rng.uniform(-0.5, 0.5)
        rad = bubble * rng.uniform(0.5, 1.5)
        c = (int(round(cx * 8)), int(round(cy * 8)))
        cv2.circle(dark, c, int(rad * 8), float(rng.uniform(0.2, 0.6)), -1, cv2.LINE_AA, d.SHIFT)
        cv2.circle(cov, c, int(rad * 8), float(rng.uniform(0.4, 1.0)), 1, cv2.LINE_AA, d.SHIFT)
        if rng.random() < 0.6:  # catch-light, up and left of the centre
            hx, hy = int(round((cx - rad * 0.35) * 8)), int(round((cy - rad * 0.35) * 8))
            cv2.circle(cov, (hx, hy), max(4, int(rad * 2.5)), float(rng.uniform(0.6, 1.0)), -1, cv2.LINE_AA, d.SHIFT)
    if rng.random() < 0.5:
        dark[:] = 0  # froth seen from above: rims and lights only
    shadow = np.float32([0.35, 0.28, 0.2]) * rng.uniform(0.5, 1.5)
    light = np.float32([1, 0.98, 0.94]) * rng.uniform(0.85, 1.0)
    a = dark[..., None] * rng.uniform(0.3, 0.8)
    img *= 1 - a
    img += a * shadow
    a = cov[..., None] * rng.uniform(0.5, 1.0)
    img *= 1 - a
    img += a * light
    neg |= (cov > 0.05) | (dark > 0.05)


RIM_P = 0.5  # every model up to damage_seg6 was trained with this share


def rim_lights(img: np.ndarray, neg: np.ndarray, rng) -> None:
    """Specular highlights along the photo's own contours: thin soft bright arcs that taper
    at both ends, as on the rim of a cup, a saucer, a spoon, a wet edge. The shipped model
    took exactly these for scratches on the coffee sample (the crema's edge, the saucer's
    rim); a scratch ignores the picture's contours, is sharp across and keeps its width."""
    h, w = neg.shape
    lum = cv2.GaussianBlur(_to_u8(luminance(img)), (0, 0), 1.0)
    edges = cv2.Canny(lum, 40, 100)
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    contours = [c[:, 0].astype(np.float32) for c in contours if len(c) >= 30]
    if not contours:
        return
    cov = np.zeros((h, w), np.float32)
    for i in rng.integers(0, len(contours), int(rng.integers(1, 6))):
        c = contours[i]
        n = int(rng.integers(20, min(len(c), 160) + 1))
        start = int(rng.integers(0, len(c) - n + 1))
        seg = c[start:start + n:2] + rng.normal(0, 0.3, 2).astype(np.float32) * rng.uniform(0, 3)
        taper = np.sin(np.linspace(0, np.pi, len(seg))) ** rng.uniform(0.5, 1.5)
        thick = int(rng.choice([1, 1, 2, 3]))
        for k in range(len(seg) - 1):
            p0, p1 = (tuple(int(v) for v in np.round(q * 8)) for q in (seg[k], seg[k + 1]))
            cv2.line(cov, p0, p1, float(taper[k]), thick, cv2.LINE_AA, d.SHIFT)
    cov = cv2.GaussianBlur(cov, (0, 0), rng.uniform(0.6, 1.4))
    cov = np.clip(cov / max(float(cov.max()), 1e-6), 0, 1) * rng.uniform(0.5, 1.0)
    a = cov[..., None]
    img *= 1 - a
    img += a * (np.float32([1, 1, 1]) * rng.uniform(0.85, 1.0))
    neg |= cov > 0.05


def _soft_dot(img, neg, cx, cy, sigma, tone, peak) -> None:
    h, w = neg.shape
    r = int(3 * sigma) + 2
    x0, x1, y0, y1 = max(0, int(cx) - r), min(w, int(cx) + r + 1), max(0, int(cy) - r), min(h, int(cy) + r + 1)
    if x1 <= x0 or y1 <= y0:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    a = (peak * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma ** 2)))[..., None]
    roi = img[y0:y1, x0:x1]
    roi *= 1 - a
    roi += a * tone
    neg[y0:y1, x0:x1] |= a[..., 0] > 0.05


SMOOTH_TONES = (np.float32([1.0, 1.0, 1.0]), np.float32([1.0, 0.97, 0.90]),  # white, paper
                np.float32([0.93, 0.96, 1.0]), np.float32([0.95, 0.80, 0.70]))  # pale sky, skin


def bright_areas(img: np.ndarray, neg: np.ndarray, rng) -> None:
    """Large soft regions pushed towards white, paper, pale sky or skin, flat inside (the
    texture under them is washed out, as in an over-exposed sky or a lit cheek)."""
    h, w = neg.shape
    for _ in range(int(rng.integers(1, 3))):
        r = rng.uniform(0.08, 0.35) * min(h, w)
        cov, x0, y0 = d.blob(rng, rng.uniform(0, w), rng.uniform(0, h), r, 0.4)
        cov = cv2.GaussianBlur(cov, (0, 0), max(1.0, r * rng.uniform(0.1, 0.4)))
        layer = d.Layer(h, w)
        tone = SMOOTH_TONES[int(rng.integers(len(SMOOTH_TONES)))] * rng.uniform(0.8, 1.0)
        layer.put(cov, x0, y0, tone, rng.uniform(0.6, 1.0))
        layer.apply(img)
        neg |= layer.alpha > 0.3


def age(img: np.ndarray, rng) -> np.ndarray:
    """Monochrome, sepia, faded colour or as-is; lifted blacks and lower contrast."""
    # Colour as-is is common enough that unaged scans (and the stored photos) are in range.
    look = rng.choice(["mono", "sepia", "faded", "colour"], p=[0.25, 0.25, 0.25, 0.25])
    y = luminance(img)[..., None]
    if look == "mono":
        img = np.repeat(y, 3, 2)
    elif look == "sepia":
        tint = np.float32([1.0, 0.86, 0.66]) * rng.uniform(0.95, 1.05, 3).astype(np.float32)
        img = np.clip(y * tint + (1 - tint) * y * y * 0.3, 0, 1)
    elif look == "faded":
        sat = rng.uniform(0.3, 0.8)
        cast = np.float32([1.0, 0.95, 0.8]) if rng.random() < 0.6 else np.float32([1.0, 0.85, 0.95])
        img = (y + sat * (img - y)) * cast
    lo, hi = rng.uniform(0.0, 0.15), rng.uniform(0.85, 1.0)
    return (lo + (hi - lo) * img).astype(np.float32)


def border(img: np.ndarray, neg: np.ndarray, rng) -> None:
    """A print's border: white (often cream) or black, straight, a few % of the side."""
    h, w = neg.shape
    b = max(2, int(min(h, w) * rng.uniform(0.02, 0.08)))
    tone = d.PAPER * rng.uniform(0.85, 1.0) if rng.random() < 0.75 else np.full(3, rng.uniform(0.02, 0.12), np.float32)
    sides = rng.random(4) < 0.7  # crops often show only some of the border
    for on, sl in zip(sides, ((slice(0, b), slice(None)), (slice(h - b, h), slice(None)),
                              (slice(None), slice(0, b)), (slice(None), slice(w - b, w)))):
        if on:
            img[sl] = tone
            neg[sl] = True


def text(img: np.ndarray, neg: np.ndarray, rng) -> None:
    """Handwritten-ish captions and printed dates: thin strokes that are not damage."""
    h, w = neg.shape
    for _ in range(int(rng.integers(1, 4))):
        word = "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz0123456789 .,'-ABCDEFGHJKLMNPRSTUVW"),
                                  int(rng.integers(3, 14))))
        scale = rng.uniform(0.35, 1.4)
        font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
                               cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_COMPLEX_SMALL]))
        thick = int(rng.choice([1, 1, 2]))
        org = (int(rng.uniform(-0.1, 0.8) * w), int(rng.uniform(0.05, 1.0) * h))
        cov = np.zeros((h, w), np.uint8)
        cv2.putText(cov, word, org, font, scale, 255, thick, cv2.LINE_AA)
        a = cov.astype(np.float32)[..., None] / 255 * rng.uniform(0.6, 1.0)
        tone = np.float32([0.05, 0.05, 0.12]) if rng.random() < 0.7 else np.float32([0.95, 0.95, 0.95])
        img *= 1 - a
        img += a * tone
        neg |= cov > 12


def aged_print(rgb: np.ndarray, rng, negatives: bool = True, sheen_rng=None, rim_p: float = RIM_P
               ) -> tuple[np.ndarray, np.ndarray, float]:
    """(aged float image, hard-negative mask, blur sigma of the print). sheen_rng: a stream
    of its own for rim lights (drawn with probability rim_p) and foam (neither without it)."""
    img = rgb.astype(np.float32) / 255
    neg = np.zeros(img.shape[:2], bool)
    if negatives and rng.random() < 0.6:
        glints(img, neg, rng)
    if negatives and rng.random() < 0.35:
        bright_areas(img, neg, rng)
    if negatives and sheen_rng is not None:
        if sheen_rng.random() < rim_p:
            rim_lights(img, neg, sheen_rng)
        if sheen_rng.random() < 0.2:
            for _ in range(int(sheen_rng.integers(1, 4))):
                foam(img, neg, sheen_rng)
    img = age(img, rng)
    if negatives and rng.random() < 0.3:
        border(img, neg, rng)
    if negatives and rng.random() < 0.3:
        text(img, neg, rng)
    grain = rng.uniform(0.0, 0.035)
    if grain > 0.005:
        n = rng.normal(0, grain, img.shape[:2]).astype(np.float32)
        n = cv2.GaussianBlur(n, (0, 0), rng.uniform(0.5, 1.0)) * 1.6  # clumped silver grains
        img += n[..., None] * (0.5 + img)  # grain shows more in the lights of a print
    sigma = float(rng.choice([0.0, rng.uniform(0.4, 1.2)], p=[0.4, 0.6]))
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    return np.clip(img, 0, 1), neg, sigma


# --- damage and masks --------------------------------------------------------------------

def _to_u8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def _jpeg(img: np.ndarray, q: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, q])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]


# Streams of the broad styles, apart from every kind's (KINDS.index) and the print's.
_SHEEN_STREAM, _CURVED_STREAM = 100, 101


def synthesize(rgb: np.ndarray, seed: int, kinds=KINDS, density: float = 1.0,
               negatives: bool = True, jpeg: bool | None = None, broad: bool = False, rim_p: float = RIM_P
               ) -> Sample:
    """Damage drawn over an aged version of `rgb` (H×W×3 uint8). `kinds` chooses which
    kinds are drawn; `density` scales how many defects of each; `jpeg` None = random.

    broad: the training's wider styles on top (rim lights and foam as hard negatives, curved and extra
    hairline scratches), each from a random stream of its own, so with broad=False a seed
    draws exactly what it drew before they existed (the validation bench stays comparable
    with the models measured on it). rim_p: the share of broad prints with rim lights."""
    rng = np.random.default_rng(seed)
    sheen_rng = np.random.default_rng([seed, _SHEEN_STREAM]) if broad else None
    img, neg, sigma = aged_print(rgb, rng, negatives, sheen_rng, rim_p)
    h, w = neg.shape
    base = img.copy()
    changed = {}
    for kind in KINDS:  # fixed order, so the same seed draws the same defects whatever else is asked
        krng = np.random.default_rng([seed, KINDS.index(kind)])
        if kind not in kinds:
            continue
        layer = d.Layer(h, w)
        if kind == "flake":
            d.flakes(layer, krng, density, luminance(img))
        else:
            _DRAW[kind](layer, krng, density)
        if kind == "scratch" and broad:
            d.curved_scratches(layer, np.random.default_rng([seed, _CURVED_STREAM]), density)
        layer.blur(sigma)
        before = img.copy()
        layer.apply(img)
        changed[kind] = channel_max(np.abs(img - before)) >= CHANGE
    scan = rng.normal(0, rng.uniform(0, 0.01), (h, w, 1)).astype(np.float32)
    base_u8, img_u8 = _to_u8(np.clip(base + scan, 0, 1)), _to_u8(np.clip(img + scan, 0, 1))
    if jpeg if jpeg is not None else rng.random() < 0.5:
        q = int(rng.integers(60, 96))
        base_u8, img_u8 = _jpeg(base_u8, q), _jpeg(img_u8, q)
    union = channel_max(cv2.absdiff(img_u8, base_u8)) >= round(CHANGE * 255)
    near = np.ones((3, 3), np.uint8)
    masks = {k: union & cv2.dilate(m.astype(np.uint8), near).astype(bool) for k, m in changed.items()}
    union = np.zeros((h, w), bool)
    for m in masks.values():
        union |= m
    img_u8[~union] = base_u8[~union]
    return Sample(img_u8, base_u8, masks, union, neg & ~union)
