"""Synthetic flatbed scans with exact truth, for the split tests and bench/bench_split.py.

Prints (photo crops, optional white border, optional rounded corners) are laid on a lid
(white or black) at any angle, with a cast shadow 1–3 px wide just outside each paper edge
(darker on the sides facing away from the lamp, as a moving scanner lamp casts it), lamp
fall-off across the glass, dust specks on the glass, sensor noise, and 8- or 16-bit
quantisation. Coordinates follow OpenCV: pixel (i, j) has its centre at x = i, y = j, so
the scan covers [-0.5, W - 0.5]. Each print's truth is its paper outline: corners TL, TR, BR,
BL (clockwise on screen) where the straight sides meet, and its angle (degrees, the top
side's direction, clockwise on screen positive). A print pushed against the glass edge is
cut by the scan's border; its truth is the visible part.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "resources" / "samples"
CORPUS = Path.home() / ".cache" / "photoforge-corpus"
MANIFEST = ROOT / "training" / "corpus_manifest.json"
A4 = (8.27, 11.69)  # inches


@dataclass
class PrintSpec:
    size: tuple[float, float]  # inches, width × height as laid on the glass (before rotation)
    center: tuple[float, float]  # inches from the scan's top-left
    angle: float = 0.0  # degrees, clockwise on screen
    content: str = "photo"  # photo | dark | light
    border: float = 0.0  # white border, inches
    radius: float = 0.0  # corner radius, inches
    seed: int = 0


@dataclass
class Scan:
    pixels: np.ndarray
    corners: list[np.ndarray]  # per print, 4×2 float64 (TL, TR, BR, BL), in reading order
    angles: list[float]
    lid: str
    dpi: float
    notes: dict = field(default_factory=dict)


def _photo_pool() -> list[Path]:
    """The sample photos and the first 40 of the corpus's first round (the manifest's photos
    without "since"): the corpus grew from 81 to 284 photos in its second round, and every
    scan drawn, the tests' seeds among them, must stay the one its figures were measured on."""
    pool = sorted(SAMPLES.glob("*.jpg"))
    if CORPUS.is_dir():
        listed = ({p["file"] for p in json.loads(MANIFEST.read_text())["photos"] if "since" not in p}
                  if MANIFEST.is_file() else None)
        pool += [p for p in sorted(CORPUS.glob("*.jpg")) if listed is None or p.name in listed][:40]
    return pool


_CACHE: dict[Path, np.ndarray] = {}


def _load(path: Path) -> np.ndarray:
    if path not in _CACHE:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        small = max(bgr.shape[:2]) > 2400  # the wallpapers are 4K+: keep the cache small
        if small:
            f = 2400 / max(bgr.shape[:2])
            bgr = cv2.resize(bgr, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        _CACHE[path] = bgr[..., ::-1].astype(np.float32) / 255.0
    return _CACHE[path]


def print_content(w: int, h: int, kind: str, border_px: int, rng: np.random.Generator,
                  paper: np.ndarray) -> np.ndarray:
    """h×w×3 float32 in [0, 1]: a crop of a photo (or a very dark / very light one)."""
    pool = _photo_pool()
    src = _load(pool[int(rng.integers(len(pool)))])
    iw, ih = max(1, w - 2 * border_px), max(1, h - 2 * border_px)
    sh, sw = src.shape[:2]
    scale = max(iw / sw, ih / sh) * float(rng.uniform(1.0, 1.6))
    need_w, need_h = min(sw, math.ceil(iw / scale)), min(sh, math.ceil(ih / scale))
    x0 = int(rng.integers(0, sw - need_w + 1))
    y0 = int(rng.integers(0, sh - need_h + 1))
    crop = cv2.resize(src[y0:y0 + need_h, x0:x0 + need_w], (iw, ih),
                      interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC).clip(0, 1)
    if kind == "dark":  # an underexposed night shot: almost black, little contrast
        crop = 0.015 + 0.09 * crop ** 1.5
    elif kind == "light":  # a faded, overexposed print: almost paper white
        crop = 0.86 + 0.1 * crop
    out = np.empty((h, w, 3), np.float32)
    out[:] = paper
    out[border_px:border_px + ih, border_px:border_px + iw] = crop
    return out


def _rounded_box_sdf(u, v, a, b, r):
    """Signed distance (px) to a rounded box of half-sizes a, b and corner radius r."""
    qx = np.abs(u) - (a - r)
    qy = np.abs(v) - (b - r)
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    inside = np.minimum(np.maximum(qx, qy), 0)
    return outside + inside - r, qx > qy


def make_scan(prints: list[PrintSpec], *, dpi: float = 200, size: tuple[float, float] = A4,
              lid: str = "white", dust: int = 0, bits: int = 16, seed: int = 0,
              noise: float = 0.004, shadow: tuple[float, float] = (1.0, 3.0),
              float_only: bool = False) -> Scan:
    rng = np.random.default_rng(seed)
    W, H = round(size[0] * dpi), round(size[1] * dpi)
    lid_rgb = np.array([0.93, 0.925, 0.905] if lid == "white" else [0.035, 0.035, 0.04], np.float32)
    paper = lid_rgb * np.float32(1.005) if lid == "white" else np.array([0.94, 0.93, 0.9], np.float32)
    img = np.empty((H, W, 3), np.float32)
    img[:] = lid_rgb
    truths, angles = [], []
    for spec in prints:
        prng = np.random.default_rng([seed, spec.seed, 7])
        w, h = round(spec.size[0] * dpi), round(spec.size[1] * dpi)
        cx, cy = spec.center[0] * dpi - 0.5, spec.center[1] * dpi - 0.5
        th = math.radians(spec.angle)
        c, s = math.cos(th), math.sin(th)
        content = print_content(w, h, spec.content, round(spec.border * dpi), prng, paper)
        r = spec.radius * dpi
        sw = float(prng.uniform(*shadow))
        # lamp moves along y: the sides facing down/up the glass shadow more than left/right
        depth = {"y": float(prng.uniform(0.3, 0.45)), "x": float(prng.uniform(0.15, 0.25))}
        half = math.hypot(w, h) / 2 + sw + 3
        x0, x1 = max(0, int(cx - half)), min(W, int(cx + half) + 2)
        y0, y1 = max(0, int(cy - half)), min(H, int(cy + half) + 2)
        if x0 >= x1 or y0 >= y1:
            continue
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        dx, dy = xs - cx, ys - cy
        u, v = c * dx + s * dy, -s * dx + c * dy  # print-local, centre 0
        sd, on_x = _rounded_box_sdf(u, v, w / 2, h / 2, r)
        alpha = np.clip(0.5 - sd, 0, 1)
        region = img[y0:y1, x0:x1]
        if lid == "white":
            k = np.where(on_x, depth["x"], depth["y"]).astype(np.float32)
            shade = k * np.clip(1 - (sd - 0.0) / sw, 0, 1) ** 1.5 * (sd > -0.5)
            region *= (1 - shade)[..., None]
        # content pixel (i, j) centre sits at u = i + 0.5 - w/2: warp it into the region
        m = np.array([[c, -s, cx - x0 + c * (0.5 - w / 2) - s * (0.5 - h / 2)],
                      [s, c, cy - y0 + s * (0.5 - w / 2) + c * (0.5 - h / 2)]], np.float64)
        warped = cv2.warpAffine(content, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REPLICATE)
        region[:] = region * (1 - alpha[..., None]) + warped * alpha[..., None]
        corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
        rot = np.array([[c, -s], [s, c]])
        truth = corners @ rot.T + [cx, cy]
        truth = np.clip(truth, -0.5, [W - 0.5, H - 0.5])  # a print cut by the glass edge
        truths.append(truth)
        angles.append(spec.angle)
    # dust on the glass: dark specks on a white lid and on prints, bright on a black lid
    for _ in range(dust):
        x, y = float(rng.uniform(0, W)), float(rng.uniform(0, H))
        rad = float(rng.uniform(0.8, 3.5))
        on = img[min(H - 1, int(y)), min(W - 1, int(x))].mean()
        col = (0.25, 0.25, 0.25) if on > 0.3 else (0.55, 0.55, 0.55)
        cv2.circle(img, (round(x * 16), round(y * 16)), round(rad * 16), col, -1, cv2.LINE_AA, 4)
    # lamp fall-off across the glass and along the travel, then sensor noise
    gx = np.linspace(0, 1, W, dtype=np.float32)
    gy = np.linspace(-1, 1, H, dtype=np.float32)
    img *= (1 - 0.05 * gx)[None, :, None]
    img *= (1 - 0.02 * gy ** 2)[:, None, None]
    if noise:
        for row in range(0, H, 512):  # in bands: a 35 MP float noise field is 420 MB
            band = img[row:row + 512]
            band += rng.normal(0, noise, band.shape).astype(np.float32)
    order = reading_order(truths)
    scan = Scan(img, [truths[i] for i in order], [angles[i] for i in order], lid, dpi)
    if not float_only:
        top = 65535 if bits == 16 else 255
        out = np.empty(img.shape, np.uint16 if bits == 16 else np.uint8)
        for row in range(0, H, 512):
            out[row:row + 512] = np.clip(img[row:row + 512] * top + 0.5, 0, top)
        scan.pixels = out
    return scan


def reading_order(quads: list[np.ndarray]) -> list[int]:
    """Rows from top to bottom (a print joins a row when its centre lies within the row's
    first print's height), left to right within a row."""
    if not quads:
        return []
    boxes = [(q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max()) for q in quads]
    left = sorted(range(len(quads)), key=lambda i: boxes[i][1])
    order = []
    while left:
        first = left[0]
        top, bottom = boxes[first][1], boxes[first][3]
        row = [i for i in left if top <= (boxes[i][1] + boxes[i][3]) / 2 <= bottom]
        row.sort(key=lambda i: boxes[i][0])
        order += row
        left = [i for i in left if i not in row]
    return order


# --------------------------------------------------------------- the hard cases

def hard_cases(dpi: float = 200, bits: int = 16, seed: int = 0, names=None) -> dict[str, Scan]:
    """One scan per hard case of issue 13, plus the mixed everyday case (or only those in
    `names`: each case draws the same scan either way)."""
    P = PrintSpec
    cases = {
        "white_border_white_lid": dict(lid="white", prints=[
            P((3.3, 4.6), (2.05, 2.9), 4.0, border=0.2, seed=1),
            P((3.3, 4.6), (6.15, 3.0), -6.5, border=0.15, content="light", seed=2),
            P((5.0, 3.5), (4.1, 8.2), 9.0, border=0.25, seed=3),
        ]),
        "black_lid": dict(lid="black", prints=[
            P((3.3, 4.6), (2.05, 2.9), -3.0, seed=4),
            P((3.3, 4.6), (6.15, 3.0), 7.5, content="dark", seed=5),
            P((5.0, 3.5), (4.1, 8.4), -9.5, border=0.15, seed=6),
        ]),
        "touching": dict(lid="white", prints=_touching(dpi)),
        "touching_black_lid": dict(lid="black", prints=_touching(dpi)),
        "dust": dict(lid="white", dust=400, prints=[
            P((3.3, 4.6), (2.05, 2.9), 2.0, seed=7),
            P((3.3, 4.6), (6.15, 3.0), -4.0, border=0.15, seed=8),
            P((5.0, 3.5), (4.1, 8.4), 5.5, seed=9),
        ]),
        "glass_edge": dict(lid="white", prints=[
            P((5.0, 3.5), (2.5 - 0.02, 1.75 - 0.015), 0.0, seed=10),  # pushed into the corner, cut by ~3 px
            P((3.5, 5.0), (4.2, 7.6), 3.0, border=0.15, seed=11),
        ]),
        "rounded_corners": dict(lid="white", prints=[
            P((3.3, 4.6), (2.05, 2.9), -5.0, radius=0.25, border=0.12, seed=12),
            P((3.3, 3.3), (6.1, 2.7), 10.0, radius=0.4, seed=13),
            P((5.0, 3.5), (4.1, 8.4), -2.0, radius=0.15, seed=14),
        ]),
        "dark_and_light_white_lid": dict(lid="white", prints=[
            P((3.3, 4.6), (2.05, 2.9), 6.0, content="dark", seed=15),
            P((3.3, 4.6), (6.15, 3.0), -8.0, content="light", seed=16),
            P((5.0, 3.5), (4.1, 8.4), 1.0, content="light", border=0.2, seed=17),
        ]),
        "dark_and_light_black_lid": dict(lid="black", prints=[
            P((3.3, 4.6), (2.05, 2.9), -6.0, content="dark", seed=18),
            P((3.3, 4.6), (6.15, 3.0), 8.0, content="light", seed=19),
            P((5.0, 3.5), (4.1, 8.4), -1.0, content="dark", seed=20),
        ]),
        "mixed_six": dict(lid="white", dust=80, prints=[
            P((3.5, 2.5), (2.1, 1.7), -8.0, border=0.12, seed=21),
            P((3.5, 2.5), (6.1, 1.7), 5.0, radius=0.12, seed=22),
            P((2.5, 3.5), (2.1, 5.3), 3.0, content="dark", seed=23),
            P((2.5, 3.5), (6.0, 5.4), -10.0, border=0.15, content="light", seed=24),
            P((3.5, 3.5), (2.3, 9.4), 0.5, seed=25),
            P((3.0, 3.6), (6.1, 9.6), -2.5, border=0.2, seed=26),
        ]),
    }
    return {name: make_scan(c["prints"], dpi=dpi, lid=c["lid"], dust=c.get("dust", 0), bits=bits,
                            seed=seed + i) for i, (name, c) in enumerate(cases.items())
            if names is None or name in names}


def _touching(dpi: float) -> list[PrintSpec]:
    """Two prints side by side with a 1 px seam, two one above the other 3 px apart, and a
    pair touching at a corner (different angles)."""
    P = PrintSpec
    out = []
    a = 2.0  # a pair at the same angle, 1 px apart (seam = the lid seen through the gap)
    th = math.radians(a)
    w = 3.5
    gap = 1.0 / dpi
    c1 = np.array([2.2, 2.6])
    c2 = c1 + (w + gap) * np.array([math.cos(th), math.sin(th)])
    out += [P((w, 5.0), tuple(c1), a, border=0.15, seed=30),
            P((w, 5.0), tuple(c2), a, seed=31)]
    b = -3.0  # one above the other, 3 px apart
    th = math.radians(b)
    c3 = np.array([2.3, 7.3])
    c4 = c3 + (2.5 + 3.0 / dpi) * np.array([-math.sin(th), math.cos(th)])
    out += [P((3.5, 2.5), tuple(c3), b, seed=32), P((3.5, 2.5), tuple(c4), b, border=0.12, seed=33)]
    # a fifth print at another angle, its top-left corner 2 px from the stacked pair's side
    th5 = math.radians(-6.0)
    half = np.array([1.25, 1.75])
    rot5 = np.array([[math.cos(th5), -math.sin(th5)], [math.sin(th5), math.cos(th5)]])
    rot = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    side = c3 + rot @ np.array([1.75 + 2.0 / dpi, 0.2])  # a point 2 px right of the pair's side
    c5 = side - rot5 @ -half
    out.append(P((2.5, 3.5), tuple(c5), -6.0, seed=34))
    return out


def big_scan(dpi: float = 600, seed: int = 0) -> Scan:
    """A 600 dpi A4 16-bit scan (4962 × 7014, 35 MP) with four prints."""
    P = PrintSpec
    return make_scan([
        P((3.3, 4.6), (2.05, 2.9), 4.0, border=0.2, seed=1),
        P((3.3, 4.6), (6.15, 3.0), -6.5, seed=2),
        P((5.0, 3.5), (4.1, 8.2), 9.0, border=0.25, radius=0.1, seed=3),
    ], dpi=dpi, lid="white", dust=300, bits=16, seed=seed)
