"""Drawing of each kind of print damage into a Layer (coverage + tone), numpy/OpenCV only.

Every defect is drawn as a coverage map (anti-aliased, 8× sub-pixel) into a small canvas
around its bounding box, so a 1600 px photo with hundreds of defects stays cheap. A layer
keeps, per pixel, the strongest defect's alpha and its tone; synth.py composes the layers
and derives the masks from what actually changed, so a mask can never disagree with the
drawing.
"""
from __future__ import annotations

import cv2
import numpy as np

SHIFT = 3
PAPER = np.float32([1.0, 0.97, 0.90])  # base paper/emulsion-loss tone, slightly warm


class Layer:
    """Per-pixel alpha (0..1) and RGB tone of one kind of damage."""

    def __init__(self, h: int, w: int):
        self.alpha = np.zeros((h, w), np.float32)
        self.tone = np.zeros((h, w, 3), np.float32)

    def put(self, cov: np.ndarray, x0: int, y0: int, tone, opacity: float) -> None:
        h, w = self.alpha.shape
        ch, cw = cov.shape
        # Clip the canvas to the image (canvases may start outside for edge defects).
        cx0, cy0 = max(0, -x0), max(0, -y0)
        x0, y0 = max(0, x0), max(0, y0)
        cw, ch = min(cw - cx0, w - x0), min(ch - cy0, h - y0)
        if cw <= 0 or ch <= 0:
            return
        a = cov[cy0:cy0 + ch, cx0:cx0 + cw] * np.float32(opacity)
        roi_a = self.alpha[y0:y0 + ch, x0:x0 + cw]
        sel = a > roi_a
        roi_a[sel] = a[sel]
        tone = np.asarray(tone, np.float32)
        if tone.ndim == 3:
            tone = tone[cy0:cy0 + ch, cx0:cx0 + cw][sel]
        self.tone[y0:y0 + ch, x0:x0 + cw][sel] = tone

    def blur(self, sigma: float) -> None:
        """The print's own softness applies to its damage too (sharp damage on a soft photo
        would be a give-away the network could learn instead of the damage itself)."""
        if sigma > 0.3:
            self.alpha = cv2.GaussianBlur(self.alpha, (0, 0), sigma)

    def apply(self, img: np.ndarray) -> None:
        a = self.alpha[..., None]
        img *= 1 - a
        img += a * self.tone


# --- primitives --------------------------------------------------------------------------

def canvas(points: np.ndarray, pad: int) -> tuple[np.ndarray, int, int]:
    x0 = int(np.floor(points[:, 0].min())) - pad
    y0 = int(np.floor(points[:, 1].min())) - pad
    x1 = int(np.ceil(points[:, 0].max())) + pad + 1
    y1 = int(np.ceil(points[:, 1].max())) + pad + 1
    return np.zeros((y1 - y0, x1 - x0), np.uint8), x0, y0


def fixed(points: np.ndarray, x0: int, y0: int) -> np.ndarray:
    return np.round((points - [x0, y0]) * (1 << SHIFT)).astype(np.int32)


def polyline(points: np.ndarray, widths, pad: int = 4) -> tuple[np.ndarray, int, int]:
    """Coverage of a polyline whose width may change per segment."""
    widths = np.broadcast_to(np.asarray(widths, np.float32), (len(points),))
    cv, x0, y0 = canvas(points, int(widths.max()) + pad)
    p = fixed(points, x0, y0)
    if np.all(widths == widths[0]):
        cv2.polylines(cv, [p], False, 255, max(1, int(round(widths[0]))), cv2.LINE_AA, SHIFT)
    else:
        for i in range(len(p) - 1):
            cv2.line(cv, tuple(p[i]), tuple(p[i + 1]), 255, max(1, int(round(widths[i]))), cv2.LINE_AA, SHIFT)
    return cv.astype(np.float32) / 255, x0, y0


def blob(rng, cx: float, cy: float, r: float, rough: float = 0.35) -> tuple[np.ndarray, int, int]:
    """Irregular filled blob: a polygon whose radius wanders around r."""
    n = max(12, int(r * 1.5))
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    rad = r * (1 + rough * smooth_1d(rng, n, max(3, n // 5), periodic=True))
    pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], 1)
    cv, x0, y0 = canvas(pts, 3)
    cv2.fillPoly(cv, [fixed(pts, x0, y0)], 255, cv2.LINE_AA, SHIFT)
    return cv.astype(np.float32) / 255, x0, y0


def smooth_1d(rng, n: int, knots: int, periodic: bool = False) -> np.ndarray:
    """Smooth random signal in [-1, 1] of length n."""
    k = rng.uniform(-1, 1, knots + (1 if periodic else 0))
    if periodic:
        k[-1] = k[0]
    return np.interp(np.linspace(0, len(k) - 1, n), np.arange(len(k)), k).astype(np.float32)


def smooth_noise(rng, h: int, w: int, cell: float) -> np.ndarray:
    """Smooth noise in [0, 1] with features about `cell` px across."""
    gh, gw = max(2, int(h / cell) + 2), max(2, int(w / cell) + 2)
    return cv2.resize(rng.random((gh, gw)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def roughen(cov: np.ndarray, rng, amp: float, cell: float = 4.0) -> np.ndarray:
    """Jagged edges: displace the coverage by a smooth random field of `amp` px."""
    if amp <= 0:
        return cov
    h, w = cov.shape
    dx = (smooth_noise(rng, h, w, cell) - 0.5) * 2 * amp
    dy = (smooth_noise(rng, h, w, cell) - 0.5) * 2 * amp
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(cov, gx + dx, gy + dy, cv2.INTER_LINEAR, borderValue=0)


def walk(rng, start, heading: float, length: float, step: float, turn: float, jag: float) -> np.ndarray:
    """Jagged random walk: heading drifts by `turn` per step, points jitter by `jag` px."""
    n = max(2, int(length / step))
    ang = heading + np.cumsum(rng.normal(0, turn, n))
    d = np.stack([np.cos(ang), np.sin(ang)], 1) * step
    pts = np.asarray(start, np.float32) + np.vstack([[0, 0], np.cumsum(d, 0)])
    normal = np.stack([-np.sin(ang), np.cos(ang)], 1)
    pts[1:] += normal * rng.normal(0, jag, (n, 1))
    return pts.astype(np.float32)


def light_or_dark(rng, p_light: float) -> np.ndarray:
    if rng.random() < p_light:
        return PAPER * rng.uniform(0.85, 1.0)
    return np.full(3, rng.uniform(0.0, 0.22), np.float32)


def count(rng, area_px: float, per_512: float) -> int:
    """How many defects for this image: per_512 per 512² px, Poisson-distributed."""
    return int(rng.poisson(per_512 * area_px / 512 ** 2))


# --- kinds -------------------------------------------------------------------------------

def cracks(layer: Layer, rng, density: float) -> None:
    """Branching cracks (curved, jagged, 1–10 px, tapering) and patches of craquelure."""
    h, w = layer.alpha.shape
    for _ in range(max(1, count(rng, h * w, 2.0 * density))):
        tone, op = light_or_dark(rng, 0.6), rng.uniform(0.7, 1.0)
        width = float(rng.choice([1, 1.5, 2, 3, 4, 6, 8, 10], p=[.2, .15, .2, .15, .1, .1, .05, .05]))
        stack = [(rng.uniform([0, 0], [w, h]), rng.uniform(0, 2 * np.pi), rng.uniform(min(60, 0.4 * max(h, w)), 0.8 * max(h, w)), width, 0)]
        while stack:
            start, heading, length, wd, depth = stack.pop()
            pts = walk(rng, start, heading, length, rng.uniform(3, 6), 0.18, 0.6)
            taper = np.minimum(1, np.minimum(np.arange(len(pts)), np.arange(len(pts))[::-1]) / 6 + 0.3)
            widths = np.maximum(1, wd * (0.75 + 0.25 * smooth_1d(rng, len(pts), 4)) * taper)
            cov, x0, y0 = polyline(pts, widths)
            cov = roughen(cov, rng, min(2.0, 0.3 + wd / 4))
            layer.put(cov, x0, y0, tone, op)
            if depth < 3:
                for k in np.flatnonzero(rng.random(len(pts)) < 0.03)[:3]:
                    stack.append((pts[k], heading + rng.choice([-1, 1]) * rng.uniform(0.4, 1.3),
                                  length * rng.uniform(0.2, 0.6), max(1, wd * 0.6), depth + 1))
    if rng.random() < 0.5:
        craquelure(layer, rng)


def craquelure(layer: Layer, rng) -> None:
    """A patch of polygonal cells (dried emulsion), cell edges thin and wobbly."""
    h, w = layer.alpha.shape
    r = rng.uniform(40, max(60, 0.35 * min(h, w)))
    cov_region, x0, y0 = blob(rng, rng.uniform(0, w), rng.uniform(0, h), r, 0.4)
    ch, cw = cov_region.shape
    cell = rng.uniform(10, 35)
    seeds = np.ones((ch, cw), np.uint8)
    n = max(4, int(ch * cw / cell ** 2))
    seeds[rng.integers(0, ch, n), rng.integers(0, cw, n)] = 0
    _, labels = cv2.distanceTransformWithLabels(seeds, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
    edge = np.zeros((ch, cw), np.uint8)
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    edge[:-1] |= labels[:-1] != labels[1:]
    edge = roughen(edge.astype(np.float32), rng, 1.2, 6)
    if rng.random() < 0.4:
        edge = cv2.dilate(edge, np.ones((2, 2), np.uint8))
    cov = np.minimum(edge, 1) * (cov_region > 0.5)
    layer.put(cov, x0, y0, light_or_dark(rng, 0.6), rng.uniform(0.5, 1.0))


def creases(layer: Layer, rng, density: float) -> None:
    """Folds: a long gently curved line with a highlight on one side and a shadow on the
    other, often with broken emulsion (light cracks) along the ridge."""
    h, w = layer.alpha.shape
    for _ in range(max(1, count(rng, h * w, 0.6 * density))):
        length = rng.uniform(0.4, 1.3) * max(h, w)
        c = rng.uniform([0, 0], [w, h])
        ang = rng.uniform(0, np.pi)
        d = np.array([np.cos(ang), np.sin(ang)])
        nrm = np.array([-d[1], d[0]])
        t = np.linspace(-0.5, 0.5, max(8, int(length / 6)))[:, None]
        bend = rng.uniform(-0.04, 0.04) * length
        pts = c + t * length * d + nrm * bend * (1 - 4 * t ** 2) + nrm * rng.normal(0, 0.4, t.shape)
        off = rng.uniform(0.8, 2.0)
        for side, tone in ((1, PAPER * rng.uniform(0.85, 1.0)), (-1, np.full(3, rng.uniform(0.05, 0.3), np.float32))):
            cov, x0, y0 = polyline((pts + side * off * nrm).astype(np.float32), rng.choice([1, 2, 3]))
            layer.put(cov, x0, y0, tone, rng.uniform(0.35, 0.8))
        if rng.random() < 0.6:  # broken emulsion along the ridge, in dashes
            gate = smooth_1d(rng, len(pts), max(3, len(pts) // 8)) > 0.1
            cov, x0, y0 = polyline(pts.astype(np.float32), rng.choice([1, 2]))
            keep = np.zeros_like(cov)
            for i in np.flatnonzero(gate):
                px, py = int(pts[i, 0] - x0), int(pts[i, 1] - y0)
                keep[max(0, py - 5):py + 6, max(0, px - 5):px + 6] = 1
            layer.put(roughen(cov * keep, rng, 0.8), x0, y0, PAPER * rng.uniform(0.9, 1.0), rng.uniform(0.7, 1.0))


def scratches(layer: Layer, rng, density: float) -> None:
    """Straight scratches, 1–3 px, long or short, sometimes broken along their length."""
    h, w = layer.alpha.shape
    for _ in range(max(1, count(rng, h * w, 4.0 * density))):
        length = rng.uniform(0.3, 1.0) * max(h, w) if rng.random() < 0.5 else rng.uniform(30, 150)
        ang = rng.normal(np.pi / 2, 0.2) if rng.random() < 0.4 else rng.uniform(0, np.pi)
        c = rng.uniform([0, 0], [w, h])
        d = np.array([np.cos(ang), np.sin(ang)]) * length / 2
        t = np.linspace(0, 1, max(4, int(length / 8)))[:, None]
        bow = rng.uniform(-0.01, 0.01) * length * 4 * t * (1 - t)
        pts = (c - d + 2 * d * t + np.array([-d[1], d[0]]) / (length / 2) * bow).astype(np.float32)
        cov, x0, y0 = polyline(pts, rng.choice([1, 1, 2, 3]))
        if rng.random() < 0.3:
            ch, cw = cov.shape
            cov *= smooth_noise(rng, ch, cw, 25) > 0.35
        layer.put(cov, x0, y0, light_or_dark(rng, 0.6), rng.uniform(0.5, 1.0))


def curved_scratches(layer: Layer, rng, density: float) -> None:
    """Short scratches bent into an arc (a fingernail, a grain of grit dragged in a curve)
    and hairline ones, 1 px and sometimes faint: the straight kind alone left the network
    missing both (F1 0.50/0.63 on bench_restore's scratches, which have a bent third)."""
    h, w = layer.alpha.shape
    for _ in range(max(1, count(rng, h * w, 3.0 * density))):
        length = rng.uniform(30, 160)
        ang = rng.uniform(0, np.pi)
        c = rng.uniform([0, 0], [w, h])
        d = np.array([np.cos(ang), np.sin(ang)]) * length / 2
        bend = rng.uniform(-0.3, 0.3) * length if rng.random() < 0.7 else 0.0
        t = np.linspace(0, 1, max(8, int(length / 4)))[:, None]
        # quadratic Bézier through the chord's ends, its middle pushed out by `bend`
        mid = c + np.array([-d[1], d[0]]) / (length / 2) * bend
        pts = ((1 - t) ** 2 * (c - d) + 2 * t * (1 - t) * mid + t ** 2 * (c + d)).astype(np.float32)
        cov, x0, y0 = polyline(pts, rng.choice([1, 1, 1, 2]))
        layer.put(cov, x0, y0, light_or_dark(rng, 0.6), rng.uniform(0.35, 1.0))


def dust(layer: Layer, rng, density: float) -> None:
    """Dust specks 1.5–7 px, irregular, light (on the negative) or dark (on the print)."""
    h, w = layer.alpha.shape
    for _ in range(max(1, count(rng, h * w, 60 * density))):
        r = rng.uniform(0.8, 3.5)
        cov, x0, y0 = blob(rng, *rng.uniform([0, 0], [w, h]), r, 0.3)
        if r < 1.5:
            cov = cv2.GaussianBlur(cov, (0, 0), 0.4)
        layer.put(cov, x0, y0, light_or_dark(rng, 0.5), rng.uniform(0.65, 1.0))


def hairs(layer: Layer, rng, density: float) -> None:
    """Long smooth hairs and short curly lint fibres, 1–2 px."""
    h, w = layer.alpha.shape
    for i in range(max(1, count(rng, h * w, 3.0 * density))):
        start = rng.uniform([0, 0], [w, h])
        if i % 2 == 0:
            pts = walk(rng, start, rng.uniform(0, 2 * np.pi), rng.uniform(50, 300), 2, 0.05, 0)
            tone = light_or_dark(rng, 0.25)
        else:
            pts = walk(rng, start, rng.uniform(0, 2 * np.pi), rng.uniform(10, 45), 1.5, 0.35, 0.1)
            tone = light_or_dark(rng, 0.5)
        cov, x0, y0 = polyline(pts, rng.choice([1, 1, 2]))
        layer.put(cov, x0, y0, tone, rng.uniform(0.55, 0.95))


def spots(layer: Layer, rng, density: float) -> None:
    """Foxing (clusters of rusty spots), chemical spots, and stains with a darker tide line."""
    h, w = layer.alpha.shape
    rust = np.float32([0.55, 0.36, 0.16])
    for _ in range(max(1, count(rng, h * w, 1.0 * density))):
        cx, cy = rng.uniform([0, 0], [w, h])
        kind = rng.random()
        if kind < 0.45:  # foxing cluster
            for _ in range(int(rng.integers(3, 15))):
                px, py = cx + rng.normal(0, 25), cy + rng.normal(0, 25)
                cov, x0, y0 = blob(rng, px, py, rng.uniform(1.5, 7), 0.35)
                cov = cv2.GaussianBlur(cov, (0, 0), 0.8)
                layer.put(cov, x0, y0, rust * rng.uniform(0.7, 1.3), rng.uniform(0.45, 0.9))
        elif kind < 0.75:  # spot
            cov, x0, y0 = blob(rng, cx, cy, rng.uniform(2, 12), 0.25)
            layer.put(roughen(cov, rng, 1.0), x0, y0, light_or_dark(rng, 0.5), rng.uniform(0.7, 1.0))
        else:  # stain with tide line
            r = rng.uniform(15, 90)
            cov, x0, y0 = blob(rng, cx, cy, r, 0.45)
            cov = roughen(cov, rng, 2.0, 8)
            rim = np.clip(cov - cv2.erode(cov, np.ones((5, 5), np.uint8)), 0, 1)
            tone = rust * rng.uniform(0.9, 1.5)
            layer.put(np.clip(0.5 * cov + rim, 0, 1), x0, y0, np.clip(tone, 0, 1), rng.uniform(0.45, 0.8))


def flakes(layer: Layer, rng, density: float, lum: np.ndarray) -> None:
    """Flaking (patches of emulsion gone to bare paper, ragged) and silvering (a bluish
    metallic sheen over the darker parts, strongest towards the print's edges)."""
    h, w = layer.alpha.shape
    for _ in range(max(1, count(rng, h * w, 1.5 * density))):
        cov, x0, y0 = blob(rng, *rng.uniform([0, 0], [w, h]), rng.uniform(3, 35), 0.5)
        cov = roughen(cov, rng, 2.5, 5)
        ch, cw = cov.shape
        paper = PAPER * rng.uniform(0.82, 1.0) * (0.96 + 0.04 * smooth_noise(rng, ch, cw, 3))[..., None]
        layer.put(cov, x0, y0, paper, rng.uniform(0.85, 1.0))
    if rng.random() < 0.35:
        edge = min(h, w) * rng.uniform(0.1, 0.3)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        dist = np.minimum(np.minimum(xx, w - 1 - xx), np.minimum(yy, h - 1 - yy))
        falloff = np.clip(1 - dist / edge, 0, 1)
        sheen = falloff * (smooth_noise(rng, h, w, 30) > 0.45) * np.clip(1.2 - 1.5 * lum, 0, 1)
        layer.put(cv2.GaussianBlur(sheen.astype(np.float32), (0, 0), 3), 0, 0,
                  np.float32([0.62, 0.66, 0.74]) * rng.uniform(0.9, 1.1), rng.uniform(0.4, 0.8))


def tears(layer: Layer, rng, density: float) -> None:
    """Missing corners and torn edges: a ragged cut, beyond it the scanner lid or backing
    (white, grey or black), along it a fringe of white paper core."""
    h, w = layer.alpha.shape
    back = np.full(3, rng.choice([rng.uniform(0.9, 1.0), rng.uniform(0.0, 0.1), rng.uniform(0.4, 0.6)]), np.float32)
    for _ in range(max(1, int(rng.poisson(0.8 * density)))):
        if rng.random() < 0.6:  # missing corner
            a, b = rng.uniform(0.05, 0.3) * w, rng.uniform(0.05, 0.3) * h
            p0, p1 = np.array([a, -2.0]), np.array([-2.0, b])
            cut = p0 + (p1 - p0) * np.linspace(0, 1, 24)[:, None]
            cut += rng.normal(0, 0.015 * (a + b), cut.shape)
            poly = np.vstack([cut, [[-4, -4]]])
            flip_x, flip_y = rng.random() < 0.5, rng.random() < 0.5
        else:  # torn strip along the top edge, then flipped/rotated into place
            x0, x1 = sorted(rng.uniform(0, w, 2))
            depth = rng.uniform(3, 25)
            xs = np.linspace(x0, x1, max(6, int((x1 - x0) / 6)))
            ys = depth * (0.5 + 0.5 * smooth_1d(rng, len(xs), 5)) * np.sin(np.linspace(0, np.pi, len(xs))) ** 0.3
            cut = np.stack([xs, ys + rng.normal(0, 1.0, len(xs))], 1)
            poly = np.vstack([cut, [[x1, -4], [x0, -4]]])
            flip_x, flip_y = False, rng.random() < 0.5
        pts = poly.copy()
        if flip_x:
            pts[:, 0] = w - 1 - pts[:, 0]
            cut = cut.copy(); cut[:, 0] = w - 1 - cut[:, 0]
        if flip_y:
            pts[:, 1] = h - 1 - pts[:, 1]
            cut = cut.copy(); cut[:, 1] = h - 1 - cut[:, 1]
        cv, cx0, cy0 = canvas(pts.astype(np.float32), 3)
        cv2.fillPoly(cv, [fixed(pts, cx0, cy0)], 255, cv2.LINE_AA, SHIFT)
        layer.put(cv.astype(np.float32) / 255, cx0, cy0, back, 1.0)
        fringe, fx0, fy0 = polyline(cut.astype(np.float32), rng.uniform(1, 3))
        layer.put(roughen(fringe, rng, 1.0), fx0, fy0, PAPER * rng.uniform(0.92, 1.0), rng.uniform(0.8, 1.0))
