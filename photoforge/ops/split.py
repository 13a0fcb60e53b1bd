"""Scan intake: find the prints on a flatbed scan, straighten and cut them out.

Method (numpy + OpenCV only):
1. A proxy of at most ~2 MP (area-averaged) is what detection looks at.
2. The lid is modelled: its colour from the scan's outer band (`lid="auto"` calls it white
   or black), its lamp fall-off as a quadratic surface fitted to the pixels that look like lid.
3. Evidence of print: pixels that differ from the lid model, plus thin dark ridges (black
   top-hat): the cast shadow at a print's edge on a white lid, the lid seen through the seam
   between two prints. Components whose convex hulls nest or overlap are one print (a
   white border leaves the shadow outline and the photo inside it as separate pieces). On a
   black lid, pieces lying side by side that make one rectangle, with no straight paper edge
   between them, are one print (a dark photo shows only in places); so are two prints found
   at one angle with a side of each on one line and sparse evidence in the gap between them
   (a dark photo's top as dark as the lid: a main piece and a corner piece far apart).
4. A group holding several prints (touching, or a few px apart) is cut along a whole Hough
   line (ridge or photo-content rim) proven a seam at full resolution: along a side of a piece,
   straight to a fraction of a pixel out to the cut's ends (its steps sharp, as cut paper's
   are), and a narrow valley (the lid) unless it runs along both pieces, with unrelated
   photos either side (no edges crossing it at the same places); recursively; pieces
   smaller than `min_size` or longer than 4:1 are not prints.
5. Each group's minimum-area rectangle is the first guess. Each side is then refined at
   full resolution: a strip across the side is resampled (warpAffine of just that strip),
   averaged along the side, and taken as grey or, where paper and lid differ in colour
   more than in brightness and that axis steps more, along their colour difference. In
   each column the paper edge is the innermost step of the lid–shadow–paper transition (on
   a white lid the rise out of a deep shadow, down to 15 % of the fall into it, where the
   points so moved lie on a line of their own), found on
   differences between
   neighbouring rows (placed at the half row between them) and located at the centroid of
   the step's lobe; a robust straight line is fitted to those points (iteratively trimmed
   least squares), twice, the second time in a narrow window. Where the first window shows
   no edge at all (dust touching the print made the guess too large) it looks further in.
   The middle 76 % of each side is used, so rounded corners and dust at a corner do not
   pull the line. The four sides are then fitted as one rectangle, and a side seen in few
   places, or in too few to fit a line of its own, or whose line is skewed from the
   rectangle's (its points all trimmed), is read again along its direction (only its offset
   fitted). A side lying on the scan's border (a print against the glass edge) is
   the border. Corners are where the fitted lines meet.
6. `extract` cuts one print with a single cv2.warpAffine over its own region of the
   full-resolution scan: memory is bounded by the print, never a rotated copy of the scan.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import cv2
import numpy as np

PROXY_PIXELS = 2_000_000
MAX_ASPECT = 4.0  # the longest a print's long side may be, in short sides
# How far from a seam's step the row difference must have fallen (full-resolution px per
# unit of the proxy's factor): 2 px on a 200 dpi A4 scan (factor 1.4), the same ~0.25 mm
# at any resolution. A scanner's optics blur an edge over a width fixed in mm, so a 600 dpi
# scan's paper edge spreads over three times the pixels of a 200 dpi one.
SHARP_REACH = 2.0 / 1.4
RECT_FILL = 0.85  # how much of its minimum-area rectangle a piece cut off as a print fills
_SIDE_SPAN = (0.12, 0.88)  # the part of each side used for the edge fit (corners may be rounded)


class SplitError(ValueError):
    """The scan cannot be split as asked (bad options)."""


@dataclass(frozen=True)
class Print:
    """One print found on a scan.

    `corners`: four (x, y) in full-resolution pixel coordinates (pixel centres at integers),
    clockwise on screen from the top-left: TL, TR, BR, BL. `angle`: degrees the print is
    turned, clockwise on screen positive (the direction of its top side); `extract` turns
    it back by −angle."""
    corners: tuple[tuple[float, float], ...]
    angle: float

    @classmethod
    def from_corners(cls, corners) -> "Print":
        """A Print from any four corners in order around the print (either direction,
        any starting corner): put in TL, TR, BR, BL order, the angle measured from the
        sides. For outlines edited by hand."""
        q = np.asarray(corners, np.float64).reshape(4, 2)
        return _make_print(q)

    @classmethod
    def from_rect(cls, cx: float, cy: float, width: float, height: float, angle: float = 0.0) -> "Print":
        """A width × height print centred at (cx, cy), turned `angle` degrees clockwise."""
        t = math.radians(angle)
        c, s = math.cos(t), math.sin(t)
        local = np.array([[-width, -height], [width, -height], [width, height], [-width, height]]) / 2
        q = local @ np.array([[c, -s], [s, c]]).T + [cx, cy]
        return cls(tuple((float(x), float(y)) for x, y in q), float(angle))

    @property
    def size(self) -> tuple[float, float]:
        """(width, height) in pixels: the mean lengths of opposite sides."""
        q = np.asarray(self.corners)
        w = (np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3])) / 2
        h = (np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) / 2
        return float(w), float(h)

    def scaled(self, factor: float) -> "Print":
        """The same print in an image `factor` times as large (e.g. a view's preview)."""
        q = (np.asarray(self.corners) + 0.5) * factor - 0.5
        return Print(tuple((float(x), float(y)) for x, y in q), self.angle)


# ------------------------------------------------------------------ detection

def find_prints(pixels: np.ndarray, lid: str = "auto", min_size: float | None = None,
                single: bool = False) -> list[Print]:
    """The prints on a scan, in reading order (rows top to bottom, left to right).

    `pixels`: H×W×C (C = 1 or 3) uint8/uint16/float32 in display orientation.
    `lid`: "auto", "white" or "black". `min_size`: the shortest side a print may have, in
    pixels (default 5 % of the scan's shorter side). `single`: the scan holds one print:
    the largest one found is returned, never cut in pieces."""
    if lid not in ("auto", "white", "black"):
        raise SplitError(f"lid must be auto, white or black, not '{lid}'")
    pixels = pixels if pixels.ndim == 3 else pixels[..., None]
    H, W = pixels.shape[:2]
    if min_size is None:
        min_size = 0.05 * min(H, W)
    if min_size <= 0:
        raise SplitError(f"min_size must be positive, not {min_size}")
    proxy = _Proxy(pixels, lid)
    proxy.pixels = pixels
    groups = proxy.groups(min_size / proxy.f, single)
    prints = []
    for hull in groups:
        rect = cv2.minAreaRect(hull.astype(np.float32))
        box = _order(cv2.boxPoints(rect).astype(np.float64))
        if any(hull is whole for whole in proxy.uncut):  # beside a cut, paper can look like lid
            box = proxy.tighten(box)
        full = proxy.to_full(box)
        q = _refine(pixels, full, proxy)
        if q is None:
            continue
        p = _make_print(q)
        if min(p.size) >= min_size:
            prints.append(p)
    prints = _apart_from_neighbours(prints, pixels, proxy)
    if proxy.lid == "black" and not single:
        prints = _join_pieces(prints, pixels, proxy)
    prints = _without_overlaps(prints)
    if single and prints:
        prints = [max(prints, key=lambda p: p.size[0] * p.size[1])]
    order = _reading_order([np.asarray(p.corners) for p in prints])
    return [prints[i] for i in order]


def _apart_from_neighbours(prints: list[Print], pixels: np.ndarray, proxy: "_Proxy") -> list[Print]:
    """The prints with any side that lies on a neighbour's facing side read again past it. Two
    prints cannot share one edge: across a 1 px seam from a neighbour's bright border, a photo
    about as dark as the gap (the lid, or its shadow on a white lid) hides its own edge over
    most of the side, and the side was read on the border's step, 1 px out (touching seed 16,
    black-lid touching seed 50). The step is the print's whose paper lies on its bright side;
    the other's side is read with that step left out, for its offset alone, where its own
    edge shows in a third of the side at least, and must come out inside it."""
    out = list(prints)
    for ia, ib in itertools.permutations(range(len(out)), 2):
        qa, qb = np.asarray(out[ia].corners), np.asarray(out[ib].corners)
        for i, j in itertools.product(range(4), range(4)):
            side = _shared_side(qa[i], qa[(i + 1) % 4], qb[j], qb[(j + 1) % 4])
            if side is None:
                continue
            a, d, n, length = side
            neighbour = (qb[j], (qb[(j + 1) % 4] - qb[j]) / np.linalg.norm(qb[(j + 1) % 4] - qb[j]))
            if _level_inside(pixels, a, d, n, length) >= _level_inside(pixels, qb[j], neighbour[1],
                                                                      np.array([-neighbour[1][1], neighbour[1][0]]),
                                                                      float(np.linalg.norm(qb[(j + 1) % 4] - qb[j]))):
                continue  # the step is this print's own
            again, _, pts = _fit_side(pixels, a, d, n, length, 4.0, proxy, fixed=True, avoid=neighbour)
            if again is None or not 0.3 <= float((again[0] - a) @ n) <= 4.0:
                continue
            # its own edge, not a photo's steps that happen to agree: on one line (within
            # 0.5 px) in a third of the profiles (of at most 400 over the side's middle 76 %)
            if np.sum(np.abs((pts - again[0]) @ n) <= 0.5) < max(6.0, 0.33 * min(400.0, 0.76 * length)):
                continue
            lines = [(qa[k], (qa[(k + 1) % 4] - qa[k]) / np.linalg.norm(qa[(k + 1) % 4] - qa[k])) for k in range(4)]
            lines[i] = (again[0], d)
            corners = [_intersect(lines[k - 1], lines[k]) for k in range(4)]
            if all(c is not None for c in corners):
                out[ia] = _make_print(np.array(corners))
                qa = np.asarray(out[ia].corners)
    return out


def _shared_side(a0, a1, b0, b1, most: float = 0.6):
    """(start, direction, inward normal, length) of side a0–a1 when side b0–b1 of another print
    faces it on its own line (antiparallel to 0.3°, both ends within `most` px of it, alongside
    it over half its length at least), else None."""
    length = float(np.linalg.norm(a1 - a0))
    d = (a1 - a0) / length
    db = (b1 - b0) / np.linalg.norm(b1 - b0)
    if d @ db > -math.cos(math.radians(0.3)):
        return None
    n = np.array([-d[1], d[0]])
    if max(abs(float((b0 - a0) @ n)), abs(float((b1 - a0) @ n))) > most:
        return None
    t0, t1 = sorted((float((b0 - a0) @ d), float((b1 - a0) @ d)))
    if min(length, t1) - max(0.0, t0) < 0.5 * length:
        return None
    return a0, d, n, length


def _level_inside(pixels: np.ndarray, a, d, n, length: float, depth: float = 3.0) -> float:
    """The mean grey `depth` px inside a side (its middle 76 %), from the scan's own pixels."""
    H, W = pixels.shape[:2]
    pts = a + d * (length * np.linspace(_SIDE_SPAN[0], _SIDE_SPAN[1], 64))[:, None] + n * depth
    x = np.clip(np.rint(pts[:, 0]).astype(int), 0, W - 1)
    y = np.clip(np.rint(pts[:, 1]).astype(int), 0, H - 1)
    return float(_grey(pixels[y, x][None]).mean())


def _join_pieces(prints: list[Print], pixels: np.ndarray, proxy: "_Proxy") -> list[Print]:
    """A dark print on a black lid whose top is as dark as the lid falls apart into a main
    piece and a corner piece more than `_merge_pieces`'s gap apart (dev black lid seeds 21,
    28: the main piece's side read on a photo boundary 205–221 px inside, the corner counted
    as a print). Two prints are one print's pieces when they lie at one angle (≤ 0.5°), a
    side of each on one straight line (≤ 3 px: the print's outline runs on across the gap),
    the smaller within the larger's width along that line, ≥ 20 px apart, and the gap
    between them, lid-dark, still holds evidence of print in 4–50 % of its proxy pixels (two
    prints lying one after another have bare lid between them, where evidence is noise at
    6 σ: none; a gap mostly evidence holds a print of its own). The union's rectangle is
    refined again; it must be a print's shape (at most MAX_ASPECT)."""
    evidence = proxy.content | proxy.ridge_mask
    ph, pw = evidence.shape
    tol, shrink = 3.0, 3.0 * max(proxy.sx, proxy.sy)

    def join(A: Print, B: Print) -> Print | None:
        off = abs(A.angle - B.angle) % 90
        if min(off, 90 - off) > 0.5:
            return None
        qa, qb = np.asarray(A.corners), np.asarray(B.corners)
        e1 = (qa[1] - qa[0]) / np.linalg.norm(qa[1] - qa[0])
        e2 = np.array([-e1[1], e1[0]])
        pa, pb = (qa - qa[0]) @ np.stack([e1, e2], 1), (qb - qa[0]) @ np.stack([e1, e2], 1)
        lo_a, hi_a, lo_b, hi_b = pa.min(0), pa.max(0), pb.min(0), pb.max(0)
        joined = None
        for k in (0, 1):  # k: the axis along which they lie one after the other
            o = 1 - k
            if lo_b[o] < lo_a[o] - tol or hi_b[o] > hi_a[o] + tol:
                continue
            if min(abs(lo_b[o] - lo_a[o]), abs(hi_b[o] - hi_a[o])) > tol:
                continue
            if lo_b[k] >= hi_a[k]:
                g0, g1 = hi_a[k], lo_b[k]
            elif hi_b[k] <= lo_a[k]:
                g0, g1 = hi_b[k], lo_a[k]
            else:
                continue
            if g1 - g0 < 20:
                continue
            lo, hi = np.minimum(lo_a, lo_b), np.maximum(hi_a, hi_b)
            if max(hi - lo) > MAX_ASPECT * min(hi - lo):
                continue
            # the gap, a few px in from both pieces and from the print's sides
            glo, ghi = lo_a.copy(), hi_a.copy()
            glo[k], ghi[k] = g0 + shrink, g1 - shrink
            glo[o], ghi[o] = glo[o] + shrink, ghi[o] - shrink
            if ghi[k] - glo[k] < 2 or ghi[o] - glo[o] < 2:
                continue
            frame = np.stack([e1, e2])
            box = np.array([[glo[0], glo[1]], [ghi[0], glo[1]], [ghi[0], ghi[1]], [glo[0], ghi[1]]])
            gap = (box @ frame + qa[0] + 0.5) / [proxy.sx, proxy.sy] - 0.5
            mask = np.zeros((ph, pw), np.uint8)
            cv2.fillConvexPoly(mask, np.rint(gap).astype(np.int32), 1)
            inside = mask > 0
            if inside.sum() < 20 or not 0.04 <= evidence[inside].mean() <= 0.5:
                continue
            box = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
            joined = box @ frame + qa[0]
            break
        if joined is None:
            return None
        q = _refine(pixels, joined, proxy)
        return _make_print(q if q is not None else joined)

    def pairs(prints):  # the larger first, each with every one no larger
        area = [p.size[0] * p.size[1] for p in prints]
        order = sorted(range(len(prints)), key=lambda i: -area[i])
        return ((ia, ib) for ia in order for ib in order if ia != ib and area[ib] <= area[ia])

    return _join_pairs(prints, pairs, join)


def _without_overlaps(prints: list[Print]) -> list[Print]:
    """The prints less any lying mostly on a larger one: prints on the glass do not overlap,
    and a piece of a dark print on a black lid (its lit corner, apart from the rest at the
    proxy) refines to a rectangle inside the whole print's."""
    quads = [np.asarray(p.corners, np.float32) for p in prints]
    areas = [float(cv2.contourArea(q)) for q in quads]
    kept: list[int] = []
    for i in sorted(range(len(prints)), key=lambda i: -areas[i]):
        if all(cv2.intersectConvexConvex(quads[i], quads[k])[0] < 0.3 * areas[i] for k in kept):
            kept.append(i)
    return [prints[i] for i in sorted(kept)]


def _grey(values: np.ndarray) -> np.ndarray:
    """float32 grey in [0, 1] (mean of the channels)."""
    top = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(values.dtype, 1.0)
    v = values.astype(np.float32)
    g = v.mean(axis=2) if v.ndim == 3 and v.shape[2] > 1 else v.reshape(v.shape[0], v.shape[1])
    return g * np.float32(1.0 / top)


class _Proxy:
    """The downscaled scan with its lid model, evidence maps and groups."""

    pixels: np.ndarray | None = None  # the full-resolution scan, for checks of candidate cuts
    # the direction of the edge the last _straight_seam call found straight (full-resolution
    # px, unit vector), None when it found none; and a point on it
    seam_dir: np.ndarray | None = None
    seam_at: np.ndarray | None = None
    steps: np.ndarray | None = None  # _bright_steps, once computed

    def __init__(self, pixels: np.ndarray, lid: str):
        H, W = pixels.shape[:2]
        self.shape = (H, W)
        self.f = max(1.0, math.sqrt(H * W / PROXY_PIXELS))
        pw, ph = max(8, round(W / self.f)), max(8, round(H / self.f))
        self.sx, self.sy = W / pw, H / ph
        small = cv2.resize(pixels, (pw, ph), interpolation=cv2.INTER_AREA) if (pw, ph) != (W, H) else pixels
        small = small.reshape(ph, pw, -1)
        top = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(small.dtype, 1.0)
        self.colour = small.astype(np.float32) / np.float32(top)
        self.grey = self.colour.mean(axis=2)
        g = self.grey
        band = max(2, round(0.015 * min(pw, ph)))
        edge = np.concatenate([g[:band].ravel(), g[-band:].ravel(), g[:, :band].ravel(), g[:, -band:].ravel()])
        level = float(np.median(edge))
        self.lid = lid if lid != "auto" else ("white" if level > 0.45 else "black")
        # noise: robust spread of the difference to a 3×3 mean, on the outer band
        resid = g - cv2.blur(g, (3, 3))
        rb = np.concatenate([resid[:band].ravel(), resid[-band:].ravel()])
        self.noise = float(1.4826 * np.median(np.abs(rb - np.median(rb)))) * 1.5
        self.bg = self._lid_model(level)
        self.lid_level = float(np.median(self.bg))  # grey, for telling lid from paper at a side
        self.diff_thr = max(0.03 if self.lid == "white" else 0.012, 6 * self.noise)
        chroma = self._lid_chroma()
        model = self.bg[..., None] * chroma
        self.diff = np.abs(self.colour - model).max(axis=2)
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
        self.ridge = cv2.morphologyEx(g, cv2.MORPH_BLACKHAT, k)
        self.ridge_thr = max(0.012, 6 * self.noise)

    def _lid_model(self, level: float) -> np.ndarray:
        """Lid brightness over the glass: a quadratic in x, y fitted to lid-like pixels."""
        g = self.grey
        ph, pw = g.shape
        step = max(1, round(math.sqrt(ph * pw / 40000)))
        ys, xs = np.mgrid[0:ph:step, 0:pw:step]
        vals = g[::step, ::step]
        tol = 0.06 if self.lid == "white" else 0.03
        where = np.ones(vals.shape, bool)
        if self.lid == "black":
            # a dark photo is as dark as a black lid: its pixels, taken as lid, bent the
            # surface down under it and the bare lid beside it rose above the model, evidence
            # of print (a dark print found 160 px too large). Only the glass's outer band,
            # where a print covers little, is taken
            rim = max(2, round(0.05 * min(ph, pw)))
            where = (np.minimum(xs, pw - 1 - xs) < rim) | (np.minimum(ys, ph - 1 - ys) < rim)
        sel = (np.abs(vals - level) < tol) & where
        xn, yn = xs / pw - 0.5, ys / ph - 0.5
        basis = lambda x, y: np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], -1)  # noqa: E731
        coef = None
        for _ in range(3):
            if sel.sum() < 50:
                break
            A = basis(xn[sel], yn[sel])
            coef, *_ = np.linalg.lstsq(A, vals[sel], rcond=None)
            fit = basis(xn, yn) @ coef
            sel = (np.abs(vals - fit) < tol * 0.5) & where
        if coef is None:
            return np.full(g.shape, level, np.float32)
        Y, X = np.mgrid[0:ph, 0:pw].astype(np.float32)
        return (basis(X / pw - 0.5, Y / ph - 0.5) @ coef.astype(np.float32)).astype(np.float32)

    def _lid_chroma(self) -> np.ndarray:
        lidlike = np.abs(self.grey - self.bg) < 0.02
        if lidlike.sum() < 50:
            return np.ones(self.colour.shape[2], np.float32)
        c = np.median(self.colour[lidlike], axis=0)
        return (c / max(1e-4, float(c.mean()))).astype(np.float32)

    def tighten(self, box: np.ndarray, most: int = 12) -> np.ndarray:
        """The box (proxy corners, TL TR BR BL) with each side that hardly touches any
        evidence of print moved in to where it does: a dust speck beside a print stretches
        its outline, and the side then runs over bare lid."""
        evidence = self.content | self.ridge_mask
        box = box.copy()
        for i in range(4):
            a, b = box[i], box[(i + 1) % 4]
            d = (b - a) / max(np.linalg.norm(b - a), 1e-6)
            n = np.array([-d[1], d[0]])  # inward
            if _support(evidence, a, b, n, 0.0) >= 0.15:
                continue
            for shift in range(1, most + 1):
                if _support(evidence, a, b, n, float(shift)) >= 0.4:
                    box[i] += n * shift
                    box[(i + 1) % 4] += n * shift
                    break
        return box

    def to_full(self, pts: np.ndarray) -> np.ndarray:
        return (pts + 0.5) * [self.sx, self.sy] - 0.5

    # ---- grouping

    def groups(self, min_p: float, single: bool) -> list[np.ndarray]:
        """Convex hulls (proxy coordinates) of the candidate prints."""
        content = self.diff > self.diff_thr
        ridge = self.ridge > self.ridge_thr
        fg = (content | ridge).astype(np.uint8)
        fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
        hulls = []
        for i in range(1, n):
            x, y, w, h, area = stats[i]
            if max(w, h) < 0.5 * min_p or area < 4:
                continue
            hulls.append(_mask_hull((labels[y:y + h, x:x + w] == i), x, y))
        hulls = _merge_overlapping(hulls, self.grey.shape)
        if self.lid == "black":
            hulls = self._merge_pieces(hulls, min_p)
        self.content, self.ridge_mask = content, ridge
        self.uncut: list[np.ndarray] = []  # groups left whole (no side of theirs is a cut)
        out = []
        for hull in hulls:
            rect = cv2.minAreaRect(hull.astype(np.float32))
            if min(rect[1]) < 0.6 * min_p:
                continue
            parts = [hull] if single else self._split(hull, min_p, depth=0)
            if len(parts) == 1:
                self.uncut.append(parts[0])
            out += parts
        if single and out:
            out = [max(out, key=lambda h: cv2.contourArea(h.astype(np.float32)))]
        return out

    def _merge_pieces(self, hulls: list[np.ndarray], min_p: float, gap: float = 20.0) -> list[np.ndarray]:
        """Union the rectangle pieces of one print: a dark photo on a black lid differs from
        the lid only in places, and its evidence falls apart into strips and blocks lying side
        by side at the print's angle. Two hulls, each as long as a print's shortest side may be
        (a speck of dust is no piece), are one print's pieces when they lie within `gap` proxy
        px of each other, their union is still about a rectangle (its hull fills ≥ 85 % of its
        minimum-area rectangle: the pieces line up along the side they share, and it keeps one
        of the larger piece's lengths) at the larger piece's angle (within 1.5°, unless it is
        too small for its angle to mean much), and no
        paper edge runs between them: the side of each piece facing the other is no edge
        straight at full resolution, as two prints' sides are (between a dark photo's pieces
        lie its dark parts, as flat as the lid but with no straight step)."""
        def rect(h):
            return cv2.minAreaRect(h.astype(np.float32))

        def facing_edge(h, other) -> bool:
            box = _order(cv2.boxPoints(rect(h)).astype(np.float64))
            c = other.mean(axis=0)
            i = min(range(4), key=lambda k: np.linalg.norm((box[k] + box[(k + 1) % 4]) / 2 - c))
            a, b = box[i], box[(i + 1) % 4]
            length = float(np.linalg.norm(b - a))
            return length >= 15 and self._straight_seam(np.array([a, b]), a, (b - a) / length, gap=False)

        def join(a, b):
            if min(max(rect(a)[1]), max(rect(b)[1])) < min_p or _hull_gap(a, b) > gap:
                return None
            merged = cv2.convexHull(np.concatenate([a, b]).astype(np.int32)).reshape(-1, 2)
            (_, _), (w, h), t = rect(merged)
            if cv2.contourArea(merged.astype(np.float32)) < 0.85 * w * h:
                return None
            (_, _), size, t_big = max((rect(a), rect(b)), key=lambda r: r[1][0] * r[1][1])
            off = abs(t % 90 - t_big % 90)
            if min(size) >= 0.5 * min_p and min(off, 90 - off) > 1.5:
                return None
            # side by side: the union keeps one of the larger piece's lengths
            if not any(abs(u - k) <= max(3.0, 0.03 * k) for u in (w, h) for k in size):
                return None
            if facing_edge(a, b) or facing_edge(b, a):
                return None
            return merged

        return _join_pairs(hulls, lambda hs: itertools.combinations(range(len(hs)), 2), join)

    def _split(self, hull: np.ndarray, min_p: float, depth: int) -> list[np.ndarray]:
        """Cut a group along straight ridges that cross it without crossing photo content."""
        if depth > 8:
            return [hull]
        ph, pw = self.grey.shape
        mask = np.zeros((ph, pw), np.uint8)
        cv2.fillConvexPoly(mask, hull.astype(np.int32), 1)
        inner = cv2.erode(mask, np.ones((7, 7), np.uint8))
        # candidate cuts: thin dark lines, and the straight borders of photo content (a
        # seam beside a dark photo shows as the photo's edge, not as a line)
        c8 = self.content.astype(np.uint8)
        rim = cv2.morphologyEx(c8, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
        seeds = ((self.ridge_mask | rim) & (inner > 0)).astype(np.uint8) * 255
        if seeds.sum() == 0:
            return [hull]
        # whole lines (votes over their full course), not segments: a seam's ridge is broken
        # into short pieces, which a busy photo's thousands of segments outnumber
        lines = cv2.HoughLines(seeds, 1, np.pi / 360, threshold=max(10, int(0.5 * min_p)))
        if lines is None:
            return [hull]
        rho, theta = lines[:300, 0, 0].astype(np.float64), lines[:300, 0, 1].astype(np.float64)
        at = np.stack([rho * np.cos(theta), rho * np.sin(theta)], 1)
        along = np.stack([-np.sin(theta), np.cos(theta)], 1)
        lines = np.concatenate([at, at + 100 * along], 1)
        # a seam beside a dark print is no dark ridge but the print's own straight edge: the
        # rim of its content counts as support as well as a ridge does
        ridge_d = cv2.dilate((self.ridge_mask | rim).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        best = None
        segs = _distinct(list(lines), 12)
        # two prints at the group's angle meet along its sides' direction: a photo's stripes at
        # other angles (a leaf's veins, a wing's pattern) filled every place and the seam of a
        # touching pair was never tried, so a few places are kept for lines along those sides,
        # two per side: lines across the seam (a border's rim, a photo's edges) took all four
        # (black lid seed 73)
        segs += _distinct([s for s in lines if _along_side(hull, s[2:] - s[:2], 1.0)], 4, 2, kept=segs)
        step_d = self._bright_steps() if self.lid == "black" else None
        for x0, y0, x1, y1 in segs:
            d = np.array([x1 - x0, y1 - y0], np.float64)
            d /= np.linalg.norm(d)
            p = np.array([x0, y0], np.float64)
            span = math.hypot(pw, ph)
            ts = np.arange(-span, span, 0.5)
            pts = p + ts[:, None] * d
            ok = (pts[:, 0] >= 0) & (pts[:, 0] <= pw - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= ph - 1)
            pts = pts[ok]
            xi, yi = np.rint(pts[:, 0]).astype(int), np.rint(pts[:, 1]).astype(int)
            inside = mask[yi, xi] > 0
            if inside.sum() < min_p:
                continue
            on_ridge = ridge_d[yi, xi] & inside
            if step_d is not None and _along_side(hull, d, 1.0):
                on_ridge |= step_d[yi, xi] & inside
            on_content = self.content[yi, xi] & inside & ~on_ridge
            r, c = int(on_ridge.sum()) / 2, int(on_content.sum()) / 2
            if r < 0.5 * min_p or r < 0.4 * (r + c):
                continue
            if best is not None and r <= best[0]:  # before the cut: it is the costly part
                continue
            parts = self._cut(hull, p, d, min_p)
            if parts is None:
                continue
            ends = pts[inside][[0, -1]]
            # a seam is a paper edge: it runs along a side of at least one of the two pieces
            # (of both when they lie at one angle), where a line in a photo that slants across
            # the print (a wall, a horizon) does not. It is proven by the lid seen along it, or,
            # along both pieces (beside a dark print the gap is no valley), by an edge straight
            # over most of it that reaches out to an end
            along = [_along_side(part, d) for part in parts]
            # a wire or a wall's edge slanting across a print cuts it into trapezoids, each with
            # a side along the cut: the side a seam runs along is a print's, a rectangle's
            if not any(a and _rectangular(part) for a, part in zip(along, parts)):
                continue
            whole = self._straight_seam(ends, p, d, reach=True)
            # the edge two prints at one angle share runs along both their sides; a straight
            # line in one print's photo (a bright stripe, sharp, reaching an end) ran 1° off
            # them, which the Hough line's 0.5° steps and the 1.5° of `along` let pass: the
            # edge's own direction, fitted at full resolution, must keep to the pieces'
            if not whole and not (all(along) and self._straight_seam(ends, p, d, gap=False, run=True, reach=True)
                                  and all(_along_side(part, self.seam_dir, 0.6) for part in parts)):
                continue
            if self._continues_across(ends):
                continue
            best = (r, parts, whole)
        # a seam may run on across a third print (the stacked pair's seam through the print
        # whose corner nearly touches the pair), even one proven straight out to an end: its
        # line is straight through the pair alone. A group far from one rectangle is first cut
        # where it leaves two rectangles, whatever seam it also holds
        best = self._rect_cut(hull, mask, segs, min_p) or best
        if best is None:
            return [hull]
        out = []
        for part in best[1]:
            out += self._split(part, min_p, depth + 1)
        return out

    def _bright_steps(self) -> np.ndarray:
        """Where the proxy steps from bright paper down to dark by at least half the way from the
        brightest paper to the lid (dilated as the ridges are). On a black lid a seam between a
        white border and a photo as dark as the lid shows neither a ridge nor, where that photo
        is a little above the lid, a rim of content: only the border's own edge, which then
        counts as a seam's support along the group's sides (black-lid touching seed 50: the
        1 px pair's seam, a third of it rim, was never tried and the pair found as one)."""
        if self.steps is None:  # once per scan: _split runs on every group and piece
            g = self.grey
            grad = cv2.morphologyEx(g, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
            strong = grad > 0.5 * (float(np.percentile(g, 99.5)) - self.lid_level)
            self.steps = cv2.dilate(strong.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        return self.steps

    def _rect_cut(self, hull, mask, segs, min_p):
        """A cut that leaves two rectangles where the group is far from one: prints on a black
        lid touching at a corner at different angles, with lid but no thin seam between them.
        The cut must run along a paper edge that is straight at full resolution where it shows:
        a photo as dark as a black lid hides it over part of the cut (black lid seed 75, dark
        grass along half the stacked pair's side). (score, parts) or None."""
        filled, (x0, y0) = self._filled(mask)
        whole = _fill_ratio(filled)
        if whole >= 0.93:
            return None
        Y, X = np.mgrid[y0:y0 + filled.shape[0], x0:x0 + filled.shape[1]]
        best = None
        for sx0, sy0, sx1, sy1 in segs:
            d = np.array([sx1 - sx0, sy1 - sy0], np.float64)
            d /= np.linalg.norm(d)
            p = np.array([sx0, sy0], np.float64)
            side = (X - p[0]) * d[1] - (Y - p[1]) * d[0]
            pieces = [filled & (side < -1.5), filled & (side > 1.5)]
            if any(not piece.any() or min(cv2.minAreaRect(cv2.findNonZero(piece.astype(np.uint8)))[1]) < 0.8 * min_p
                   for piece in pieces):
                continue
            score = min(_fill_ratio(piece) for piece in pieces)
            if score < 0.9 or score < whole + 0.05 or (best is not None and score <= best[0]):
                continue
            along = np.abs(side) <= 1.0
            ts = (X[along] - p[0]) * d[0] + (Y[along] - p[1]) * d[1]
            ends = p + np.array([ts.min(), ts.max()])[:, None] * d
            parts = self._cut(hull, p, d, min_p)
            if parts is not None and self._straight_seam(ends, p, d, gap=False, seen=True):
                best = (score, parts)
        return best

    def _filled(self, mask: np.ndarray):
        """The group's evidence in its bounding box, closed and with its holes filled (a dark
        photo on a black lid leaves holes); and the box's top-left."""
        x0, y0, w, h = cv2.boundingRect(mask)
        ev = ((self.content | self.ridge_mask)[y0:y0 + h, x0:x0 + w] & (mask[y0:y0 + h, x0:x0 + w] > 0))
        ev = cv2.morphologyEx(ev.astype(np.uint8), cv2.MORPH_CLOSE,
                              cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
        pad = np.pad(ev, 1)
        cv2.floodFill(pad, None, (0, 0), 2)
        return pad[1:-1, 1:-1] != 2, (x0, y0)

    def _straight_seam(self, ends, p, d, gap: bool = True, run: bool = False, reach: bool = False,
                       seen: bool = False) -> bool:
        """Whether a thin dark line runs straight (residual ≤ 0.5 px at full resolution) along
        the candidate cut: the lid seen between two cut paper edges is that straight; tree
        trunks, waves and other lines in a photo are not. With `run`, a straight stretch of
        the middle is enough. With `reach`, the edge must reach out to the cut's ends (to
        one of them with `run`). With `seen`, see _straight."""
        self.seam_dir = None  # never an earlier seam's
        if self.pixels is None:
            return True
        a, b = self.to_full(ends[0]), self.to_full(ends[1])
        length = float(np.linalg.norm(b - a))
        dd = (b - a) / max(length, 1e-6)
        n = np.array([-dd[1], dd[0]])
        s0, s1 = (0.01, 0.99) if reach else (0.1, 0.9)
        strip, half = _strip(self.pixels, a + s0 * length * dd, dd, n, (s1 - s0) * length,
                             2.0 * max(self.sx, self.sy) + 4, self.shape)
        if strip is None:
            return False
        g = cv2.blur(strip, (5, 1))
        # a seam is where two cut paper edges meet (with the lid between them when they
        # do not touch): the strongest edge across it runs straight to a fraction of a pixel,
        # which lines in a photo (tree trunks, waves, shorelines) do not
        signed = (g[2:] - g[:-2]) / 2
        cols = np.arange(g.shape[1])
        mid = slice(round((0.1 - s0) / (s1 - s0) * cols.size), round((0.9 - s0) / (s1 - s0) * cols.size))
        # the strongest edge, else the strongest falling or rising one: across a gap of a few
        # px the strongest edge hops between its two sides as the photos beside it change
        fit = None
        grads = (np.abs(signed), signed, -signed)
        # per column the strongest step, else the steps nearest the straightest lane through
        # them: where a shadowed gap lies between a white border and a photo darker than the
        # shadow, the strongest step hops between the gap's two sides. Last, the lane next best
        # and clear of that one: such a gap falls twice, into the shadow and into the photo,
        # and the better-voted lane may be the fall that runs on into the other
        tries = [(grad, k) for grad in grads for k in (0, 1)] + [(grad, 2) for grad in grads]
        for grad, k in tries:
            rows = np.argmax(grad, axis=0) + 1 if k == 0 else _lane_rows(grad, self.ridge_thr, lane=k - 1) + 1
            strong = grad[rows - 1, cols] > self.ridge_thr
            # (an edge along a narrow valley short of the lid is a line in a photo even where
            # no gap is asked for: a plank gap, proven as a straight edge along both pieces)
            valley = self._valley(g, rows[mid], cols[mid]) if gap or self.lid == "black" else True
            if valley is None or (gap and not valley):
                continue
            fit = _straight(rows[mid], g[:, mid], strong[mid], run, seen)
            if fit is not None and not _sharp(signed[:, mid], rows[mid] - 1,
                                              max(2, round(SHARP_REACH * self.f)), paper_side=gap):
                fit = None
            if fit is not None:
                break
        if fit is not None:  # the straight edge (full-resolution px), for the caller
            self.seam_dir = (dd + fit[1] * n) / math.hypot(1.0, fit[1])
            self.seam_at = a + (s0 * length + mid.start) * dd + (fit[0] - half) * n
        if fit is None or not reach:
            return fit is not None
        # the edge goes on to the cut's ends, through a print's white border, where a line in
        # the photo inside that border stops short (either side of a gap of a few px will do;
        # the corner's shadow and rounding may hide the outermost 2 %)
        c0, c1 = fit
        held = strong & (np.abs(rows - (c0 + c1 * (cols - mid.start))) <= 3.0)
        if not held.any():
            return False
        end = 0.02 / (s1 - s0) * cols.size
        first, last = int(np.argmax(held)), int(np.argmax(held[::-1]))
        return (min if run else max)(first, last) <= end

    def _continues_across(self, ends) -> bool:
        """Whether the photo beside the straight edge the last _straight_seam call found runs on
        across it: what lies either side of a seam is two prints, unrelated, where a plank gap
        or a door frame in one photo, as straight, sharp and dark, has that photo's edges (a
        plank's end, a towel, the white border) cross it at the same places on both sides.
        The steps along the edge a few px either side of it (past the gap and its shadows)
        are correlated: ≥ 0.25 is a line in one photo (dev touching seeds 12 and 24: 0.32 and
        0.95; the true seams of dev touching seeds 0 and 3–8, both lids: −0.08 to 0.16)."""
        if self.pixels is None or self.seam_dir is None:
            return False
        a, b = self.to_full(ends[0]), self.to_full(ends[1])
        length = float(np.linalg.norm(b - a))
        d = self.seam_dir if self.seam_dir @ (b - a) > 0 else -self.seam_dir
        n = np.array([-d[1], d[0]])
        start = self.seam_at + float((a - self.seam_at) @ d) * d
        reach = max(2, round(SHARP_REACH * self.f))
        # the outermost 3 % left out: there both sides step off the paper at once, at a seam too
        strip, half = _strip(self.pixels, start + 0.03 * length * d, d, n, 0.94 * length,
                             4 * reach + 2, self.shape)
        if strip is None:
            return False
        before = strip[half - 4 * reach:half - 2 * reach + 1].mean(axis=0)
        after = strip[half + 2 * reach:half + 4 * reach + 1].mean(axis=0)
        u, v = (side[2 * reach:] - side[:-2 * reach] for side in (before, after))
        u, v = u - u.mean(), v - v.mean()
        return float(u @ v) >= 0.25 * max(math.sqrt(float(u @ u) * float(v @ v)), 1e-12)

    def _valley(self, g, rows, cols) -> bool | None:
        """Whether the strip g is darker along `rows` (per column) than the paper on both
        sides along much of its length (the shadowed gap, the lid), which a horizon or any
        other step in a photo is not, and narrowly: a gap of a few pixels with its shadows,
        not a stripe in a photo. None for such a valley on a black lid that is not dark
        enough to show the lid."""
        pad = np.pad(g, ((10, 10), (0, 0)), mode="edge")
        r = rows + 10
        low = np.min([pad[r + k, cols] for k in range(-2, 3)], axis=0)
        before = np.max([pad[r - k, cols] for k in range(3, 9)], axis=0)
        after = np.max([pad[r + k, cols] for k in range(3, 9)], axis=0)
        valley = np.minimum(before, after) - low > 1.5 * self.ridge_thr
        level = (np.minimum(before, after) + low) / 2
        below = np.array([pad[r + k, cols] < level for k in range(-9, 10)])
        # the run of dark rows through the valley's bottom (dark photo beside it is not in it)
        width = np.cumprod(below[9:], axis=0).sum(axis=0) + np.cumprod(below[8::-1], axis=0).sum(axis=0)
        if not (valley.any() and valley.mean() >= 0.3 and float(np.median(width[valley])) <= 8):
            return False
        if self.lid != "black":
            return True
        # between prints on a black lid lies the lid: a gap of a pixel or more is dark at least
        # about halfway from the paper beside it down to the lid (a 1 px seam 0.2–0.55 of the
        # way up, a 3 px gap 0); a plank gap in a photo, as narrow, sharp and straight, stayed
        # at 0.7 (touching on a black lid, seed 11: a print cut in two)
        up = (low - self.lid_level) / np.maximum(np.minimum(before, after) - self.lid_level, 1e-3)
        return True if float(np.median(up[valley])) <= 0.6 else None

    def _cut(self, hull, p, d, min_p):
        """The two pieces of the group on either side of the line (hulls of their evidence),
        or None when either is too small to be a print."""
        ph, pw = self.grey.shape
        mask = np.zeros((ph, pw), np.uint8)
        cv2.fillConvexPoly(mask, hull.astype(np.int32), 1)
        x0, y0, w, h = cv2.boundingRect(hull.astype(np.int32))
        evidence = ((self.content | self.ridge_mask) & (mask > 0))[y0:y0 + h, x0:x0 + w]
        Y, X = np.mgrid[y0:y0 + h, x0:x0 + w]
        side = (X - p[0]) * d[1] - (Y - p[1]) * d[0]
        parts = []
        for sel in (side < -3.0, side > 3.0):  # the seam's own shadow belongs to neither
            piece = (evidence & sel).astype(np.uint8)
            n, labels, stats, _ = cv2.connectedComponentsWithStats(piece, connectivity=8)
            if n < 2:
                return None
            # small specks go; a white border's shadow outline is thin (a few thousandths of
            # the piece's evidence) but long, and it is where the paper ends
            long = np.maximum(stats[1:, 2], stats[1:, 3]) >= 0.5 * min_p
            keep = np.nonzero((stats[1:, 4] >= 0.01 * stats[1:, 4].sum()) | long)[0] + 1
            h = _mask_hull(np.isin(labels, keep), x0, y0)
            w_h = cv2.minAreaRect(h.astype(np.float32))[1]
            # photo prints are at most panoramic (~3:1): a sliver cut off along a stripe in a
            # photo is no print
            if min(w_h) < 0.8 * min_p or max(w_h) > MAX_ASPECT * min(w_h):
                return None
            parts.append(h)
        return parts


def _hull_gap(a: np.ndarray, b: np.ndarray) -> float:
    """The distance between two convex hulls (0 where they overlap)."""
    pa, pb = a.astype(np.float32).reshape(-1, 1, 2), b.astype(np.float32).reshape(-1, 1, 2)
    d = [-cv2.pointPolygonTest(pb, (float(x), float(y)), True) for x, y in a] + \
        [-cv2.pointPolygonTest(pa, (float(x), float(y)), True) for x, y in b]
    return max(0.0, min(d))


def _support(evidence: np.ndarray, a, b, n, shift: float) -> float:
    """The share of the middle 80 % of side a–b, moved `shift` px along n, that has evidence
    within 1 px."""
    ph, pw = evidence.shape
    pts = a + (b - a) * np.linspace(0.1, 0.9, 200)[:, None] + n * shift
    hits = np.zeros(len(pts), bool)
    for off in (-1.0, 0.0, 1.0):
        q = np.rint(pts + n * off).astype(int)
        ok = (q[:, 0] >= 0) & (q[:, 0] < pw) & (q[:, 1] >= 0) & (q[:, 1] < ph)
        hits[ok] |= evidence[q[ok, 1], q[ok, 0]]
    return float(hits.mean())


def _rectangular(hull: np.ndarray, least: float = RECT_FILL) -> bool:
    """Whether a convex hull fills at least `least` of its minimum-area rectangle (a print's
    evidence does, its corners rounded or nicked by a cut's margin)."""
    (_, _), (w, h), _ = cv2.minAreaRect(hull.astype(np.float32))
    return cv2.contourArea(hull.astype(np.float32)) >= least * w * h


def _fill_ratio(piece: np.ndarray) -> float:
    """How much of its minimum-area rectangle a blob fills (1 for a rectangle)."""
    (_, _), (w, h), _ = cv2.minAreaRect(cv2.findNonZero(piece.astype(np.uint8)))
    return float(piece.sum()) / ((w + 1) * (h + 1))


def _distinct(segs, most: int, per_direction: int = 4, kept=()) -> list:
    """Hough segments, dropping any on nearly the same line as a longer one kept, and any
    past `per_direction` kept at nearly its direction: a photo's stripes (grass, a diagonal
    pattern) give many parallel lines that outvote a seam at another direction and filled
    all the places, where one cut at a time needs only a few per direction. Segments in
    `kept` are taken as kept already (only their lines count, not their directions)."""
    def line(seg):
        x0, y0, x1, y1 = seg
        a = math.atan2(y1 - y0, x1 - x0) % math.pi
        return a, float(np.array([-math.sin(a), math.cos(a)]) @ [x0, y0])

    def near(a, b) -> bool:
        return min(abs(a - b), math.pi - abs(a - b)) < math.radians(2)

    before = [line(seg) for seg in kept]
    out = []
    for seg in segs:
        a, rho = line(seg)
        parallel = [r for b, r, _ in out if near(a, b)]
        if any(abs(rho - r) < 3 for b, r in before if near(a, b)):
            continue
        if any(abs(rho - r) < 3 for r in parallel) or len(parallel) >= per_direction:
            continue
        out.append((a, rho, seg))
        if len(out) == most:
            break
    return [k[2] for k in out]


def _along_side(hull: np.ndarray, d, tol: float = 1.5) -> bool:
    """Whether direction d runs along a side (within `tol` degrees) of the hull's
    minimum-area rectangle."""
    off = (math.degrees(math.atan2(d[1], d[0])) - cv2.minAreaRect(hull.astype(np.float32))[2]) % 90
    return min(off, 90 - off) <= tol


def _straight(rows: np.ndarray, g: np.ndarray, ok: np.ndarray, run: bool = False, seen: bool = False):
    """The line (c0, c1: row = c0 + c1·column) when the per-column positions `rows` in strip
    g (where `ok`) lie on a straight line: ≥ 85 % of all columns within 1 px of a robust fit,
    RMS ≤ 0.5 px; else None. With `run`, a straight stretch of ≥ 60 % of the columns in one
    piece is enough: a seam between two prints can continue as the edge of only one of them,
    beside bare lid or another print. With `seen`, only the columns where a step shows count
    (at least half of them): where a dark photo meets a black lid there is none to see."""
    cols = np.arange(g.shape[1])
    ok = ok & (rows > 0) & (rows < g.shape[0] - 1)
    if ok.mean() < (0.5 if seen else 0.75):
        return None
    c, i = cols[ok], rows[ok]
    fit = _robust_line(c.astype(np.float64), i.astype(np.float64))
    if fit is None:
        return None
    r = i - (fit[0] + fit[1] * c)
    inl = np.abs(r) <= 1.0
    rms = float(np.sqrt(np.mean(r[inl] ** 2))) if inl.any() else 9.0
    if rms > 0.5:
        return None
    if inl.sum() >= 0.85 * (ok.sum() if seen else ok.size) or (
            run and _longest_run(c[inl], gap=max(3, ok.size // 50)) >= 0.6 * ok.size):
        return fit
    return None


def _sharp(signed: np.ndarray, peaks: np.ndarray, reach: int = 2, paper_side: bool = False) -> bool:
    """Whether the steps at rows `peaks` (per column) of a signed row difference are paper
    edges: cut paper steps within a pixel or two (at 200 dpi), so the difference `reach` rows
    either side of the peak has (in the median column) fallen under half of it, where a soft
    stripe in a photo (a motion-blurred guard rail, a shadow on a wall) is still changing there.
    With `paper_side`, only on the step's bright side: a step down into a gap a few px wide
    may run on into the neighbour's shadow or a photo darker than it, and a soft stripe's side
    is as soft away from the stripe as into it."""
    cols = np.arange(signed.shape[1])
    top = signed.shape[0] - 1
    sign = np.sign(signed[peaks, cols])
    peak = np.abs(signed[peaks, cols])
    before = signed[np.clip(peaks - reach, 0, top), cols] * sign
    after = signed[np.clip(peaks + reach, 0, top), cols] * sign
    # rows run with the strip: a rising step (sign > 0) has its bright side after it
    side = np.where(sign > 0, after, before) if paper_side else np.maximum(before, after)
    return bool(np.median(np.clip(side, 0, None) / np.maximum(peak, 1e-6)) < 0.5)


def _lane_rows(grad: np.ndarray, thr: float, drift: int = 4, lane: int = 0) -> np.ndarray:
    """Per column, the row of the strongest step within 1 row of the straight lane (drifting
    at most `drift` rows over the strip) that passes a step ≥ thr within 1 row in the most
    columns; with `lane` 1, of the best lane at least 2 rows clear of that one."""
    rows, cols = grad.shape
    peak = np.zeros_like(grad, bool)
    peak[1:-1] = (grad[1:-1] >= grad[:-2]) & (grad[1:-1] >= grad[2:]) & (grad[1:-1] > thr)
    # a peak within 1 row of a lane counts: widen the peaks by a row either side
    near = peak.copy()
    near[1:] |= peak[:-1]
    near[:-1] |= peak[1:]
    x = np.arange(cols)
    slopes = np.linspace(-drift, drift, 4 * drift + 1) / max(1, cols - 1)
    xs = x[::max(1, cols // 500)]  # the lane is found on 500–999 columns at most (a 35 MP scan's cuts are long)
    lanes = np.arange(rows)[None, :, None] + np.rint(slopes[:, None, None] * (xs - cols / 2)).astype(int)
    hits = (near[np.clip(lanes, 0, rows - 1), xs] & (lanes >= 0) & (lanes < rows)).sum(axis=2)
    s_best, r_best = np.unravel_index(int(np.argmax(hits)), hits.shape)
    if lane:
        # a shadowed gap 3 px wide between a white border and a photo darker than the shadow
        # falls twice, into the shadow and into the photo: the lane through the first may be
        # the better-voted and yet not the paper edge's (the photo's fall is still steep 2 rows
        # on, so the shadow's is no sharp step), and the lane beside it is
        hits[:, max(0, r_best - 1):r_best + 2] = -1
        s_best, r_best = np.unravel_index(int(np.argmax(hits)), hits.shape)
    best_lane = np.clip(r_best + np.rint(slopes[s_best] * (x - cols / 2)).astype(int), 0, rows - 1)
    window = np.stack([np.clip(best_lane + k, 0, rows - 1) for k in (-1, 0, 1)])
    return window[np.argmax(grad[window, x], axis=0), x]


def _longest_run(cols: np.ndarray, gap: int) -> int:
    """The length of the longest stretch of sorted column indices with no hole over `gap`."""
    if cols.size == 0:
        return 0
    breaks = np.nonzero(np.diff(cols) > gap)[0]
    starts = np.r_[0, breaks + 1]
    stops = np.r_[breaks, cols.size - 1]
    return int((cols[stops] - cols[starts]).max()) + 1


def _mask_hull(mask: np.ndarray, x0: int, y0: int) -> np.ndarray:
    """Convex hull (N×2, offset by x0, y0) of a boolean mask's pixels, from its outer contours."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    pts = np.concatenate([c.reshape(-1, 2) for c in contours]) + [x0, y0]
    return cv2.convexHull(pts.astype(np.int32)).reshape(-1, 2)


def _merge_overlapping(hulls: list[np.ndarray], shape) -> list[np.ndarray]:
    """Union hulls that overlap by ≥ 30 % of the smaller one (a print's outline and the photo
    inside its white border; shadow pieces of one print), until none do."""
    def area(h) -> float:
        return max(1.0, cv2.contourArea(h.astype(np.float32)))

    def pairs(hs):  # the larger first
        order = sorted(range(len(hs)), key=lambda i: -area(hs[i]))
        return itertools.combinations(order, 2)

    def join(a, b):
        inter, _ = cv2.intersectConvexConvex(a.astype(np.float32), b.astype(np.float32))
        if inter < 0.3 * min(area(a), area(b)):
            return None
        return cv2.convexHull(np.concatenate([a, b]).astype(np.int32)).reshape(-1, 2)

    return _join_pairs(hulls, pairs, join)


def _join_pairs(items: list, pairs, join) -> list:
    """`items` with pairs joined one at a time until none joins: the first (i, j) of
    pairs(items) for which join(items[i], items[j]) is not None is replaced by what it
    returns, and the search starts again."""
    items = list(items)
    while len(items) > 1:
        for i, j in pairs(items):
            joined = join(items[i], items[j])
            if joined is not None:
                items = [x for k, x in enumerate(items) if k not in (i, j)] + [joined]
                break
        else:
            break
    return items


# ------------------------------------------------------------------ refinement

def _order(q: np.ndarray) -> np.ndarray:
    """Four corners as TL, TR, BR, BL (clockwise on screen), the top side the one nearer to
    horizontal among the two candidates."""
    c = q.mean(axis=0)
    ang = np.arctan2(q[:, 1] - c[1], q[:, 0] - c[0])
    q = q[np.argsort(ang)]  # clockwise on screen (y down), starting anywhere
    best, best_score = None, None
    for k in range(4):
        r = np.roll(q, -k, axis=0)
        top = r[1] - r[0]
        if top[0] <= 0:
            continue
        score = abs(math.atan2(top[1], top[0]))
        if best_score is None or score < best_score:
            best, best_score = r, score
    return best if best is not None else q


def _make_print(q: np.ndarray) -> Print:
    q = _order(np.asarray(q, np.float64))
    angles, weights = [], []
    for i in range(4):
        a, b = q[i], q[(i + 1) % 4]
        d = b - a
        theta = math.degrees(math.atan2(d[1], d[0])) - 90 * i  # top 0°, right 90°, …
        theta = (theta + 180) % 360 - 180
        angles.append(theta)
        weights.append(float(np.linalg.norm(d)))
    angle = float(np.average(angles, weights=weights))
    return Print(tuple((float(x), float(y)) for x, y in q), angle)


def _refine(pixels: np.ndarray, q: np.ndarray, proxy: _Proxy) -> np.ndarray | None:
    """Each side refined to a fitted line at full resolution; corners where they meet."""
    H, W = proxy.shape
    margin = 1.5 * max(proxy.sx, proxy.sy) + 1.0
    lines, points, weak, unfit, borders = [], {}, [], [], 0
    for i in range(4):
        a, b = q[i], q[(i + 1) % 4]
        border = _on_border(a, b, W, H, margin)
        if border is not None:
            lines.append(border)
            borders += 1
            continue
        length = float(np.linalg.norm(b - a))
        d = (b - a) / length
        n = np.array([-d[1], d[0]])  # inward for a clockwise-on-screen quad (y down)
        wide = 2.5 * max(proxy.sx, proxy.sy) + 6
        # evidence outside a print (dust touching it) only makes its outline larger: where
        # nothing is found around the first guess, the edge lies further in
        fitted, seen, pts = _fit_side(pixels, a, d, n, length, wide, proxy)
        if fitted is None and seen < 0.05:
            fitted, _, pts = _fit_side(pixels, a + n * 1.8 * wide, d, n, length, wide, proxy)
        line = (a, d)
        if fitted is None:
            unfit.append((i, length, wide))
        else:
            d = fitted[1]
            n = np.array([-d[1], d[0]])
            narrow, seen, narrow_pts = _fit_side(pixels, fitted[0], d, n, length, 4.0, proxy)
            line, pts = (narrow, narrow_pts) if narrow is not None else (fitted, pts)
            points[i] = pts
            if seen < 0.6:
                weak.append((i, length))
        lines.append(line)
    if unfit and not points:
        unfit = _read_offsets_alone(pixels, q, unfit, lines, points, proxy)
    lines, skewed = _one_rectangle(lines, points)
    if (weak or unfit or skewed) and len(points) - len(skewed) >= 1:
        # a side seen in few places (a dark photo on a black lid) fitted its own slope to
        # them and read its edge where that slope led, or fitted no line at all and kept the
        # proxy's outline (4 px out at one end), or its line is skewed from the rectangle's
        # (a side facing a print whose corner is 2 px away took that print's edge near the
        # corner): read again along the rectangle's direction that the well-seen sides set,
        # through the middle of what it had, fitting only where the side lies. One side is
        # enough to set it: a dark print on a black lid may show only one well (its others,
        # left on the proxy's outline or a slope of their own, came out 7.8 px off)
        ref = min(i for i in points if i not in skewed)
        # a skewed side is read once, in its wider window (it would win anyway, read last)
        again_list = [(i, length, 4.0) for i, length in weak if i not in skewed]
        again_list += [entry for entry in unfit if entry[0] not in skewed]
        again_list += [(i, float(np.linalg.norm(q[(i + 1) % 4] - q[i])), 6.0) for i in skewed]
        for i, length, window in again_list:
            d = _quarter_turn(i - ref) @ lines[ref][1]
            d = d if d @ (q[(i + 1) % 4] - q[i]) > 0 else -d
            p0, d0 = lines[i]
            p = p0 + d0 * (d0 @ ((q[i] + q[(i + 1) % 4]) / 2 - p0))
            a = p + d * (d @ (q[i] - p))
            n = np.array([-d[1], d[0]])
            again, _, again_pts = _fit_side(pixels, a, d, n, length, window, proxy, fixed=True)
            if again is not None:
                points[i] = again_pts
            elif i not in points:
                # seen nowhere, it is still a side of the rectangle: it keeps its place but not
                # the guess's direction, which turned it 0.1° from the others (black lid seed 58)
                lines[i] = (p, d)
        lines, _ = _one_rectangle(lines, points)
    if borders:
        lines = _flush_with_border(lines, points)
    out = []
    for i in range(4):
        p = _intersect(lines[i - 1], lines[i])
        if p is None:
            return None
        out.append(p)
    out = np.array(out)
    if np.abs(out - q).max() > 6 * max(proxy.sx, proxy.sy) + 20:  # refinement went astray
        return q
    return out


def _read_offsets_alone(pixels, q, unfit: list, lines: list, points: dict, proxy: _Proxy) -> list:
    """Each unfit side read again for its offset alone, along the guess's direction: where no
    side shows a line of its own, none can set the rectangle's direction, and the guess keeps
    the outline it came with (a dark print on a black lid joined from pieces, each piece's
    sides fitted, the whole's in 5–15 % of its profiles: black lid seed 58, 1.0–1.6 px off).
    The guess's direction is the pieces' own. Fills `lines` and `points`; the sides still unfit."""
    left = []
    for i, length, window in unfit:
        a = q[i]
        d = (q[(i + 1) % 4] - a) / length
        again, _, pts = _fit_side(pixels, a, d, np.array([-d[1], d[0]]), length, window, proxy, fixed=True)
        if again is None:
            left.append((i, length, window))
        else:
            lines[i], points[i] = again, pts
    return left


def _quarter_turn(k: int) -> np.ndarray:
    """The rotation by k × 90° (clockwise on screen), exact."""
    c, s = [(1, 0), (0, 1), (-1, 0), (0, -1)][k % 4]
    return np.array([[c, -s], [s, c]], np.float64)


def _one_rectangle(lines: list, points: dict) -> tuple[list, list]:
    """The fitted sides made one rectangle: a print is cut square, so every side's edge
    points (each side's turned by −90° per side to lie like the top) are fitted together with
    one slope and an offset per side, trimming outliers in rounds. A side whose own points are
    few or weak (a dark photo on a black lid) takes its angle from the others. Sides without
    points (on the scan's border) are kept, and so is the line of a side whose points the
    rectangle leaves mostly out (its line skewed from the others'): (lines, those sides)."""
    if len(points) < 2:
        return lines, []
    sides = sorted(points)
    turned = [points[i] @ _quarter_turn(-i).T for i in sides]
    s = np.concatenate([q[:, 0] for q in turned])
    t = np.concatenate([q[:, 1] for q in turned])
    A = np.zeros((s.size, len(sides) + 1))
    A[np.arange(s.size), np.repeat(np.arange(len(sides)), [len(q) for q in turned])] = 1.0
    A[:, -1] = s - s.mean()
    keep = np.ones(s.size, bool)
    for _ in range(4):
        sol, *_ = np.linalg.lstsq(A[keep], t[keep], rcond=None)
        r = t - A @ sol
        mad = 1.4826 * float(np.median(np.abs(r[keep] - np.median(r[keep]))))
        keep = np.abs(r) <= max(0.75, 2.5 * mad)
        if keep.sum() < 2 * len(sides) + 2:
            return lines, []
    slope = sol[-1]
    out, skewed = list(lines), []
    owner = np.repeat(np.arange(len(sides)), [len(q) for q in turned])
    for j, i in enumerate(sides):
        own = keep[owner == j]
        if own.size == 0 or own.mean() < 0.3:  # its offset is no fit to its points
            skewed.append(i)
            continue
        turn = _quarter_turn(i)
        point = turn @ np.array([s.mean(), sol[j]])
        direction = turn @ np.array([1.0, slope])
        out[i] = (point, direction / np.linalg.norm(direction))
    return out, skewed


def _flush_with_border(lines: list, points: dict, most: float = 0.2) -> list:
    """A print against the glass edge (a side on the scan's border) lies flush with it: where
    the fitted sides are square to the scan to `most` degrees, they are made exactly square,
    each side's offset fitted to its points alone. With two sides on the border only two
    are fitted, and a side whose photo is about as dark as its shadow leaves points on two
    parallel lines (the shadow's outer edge and the paper's) that tilted the rectangle between
    them (glass edge seed 11: 0.04°, 1.2 px at a corner)."""
    if not points:
        return lines
    square = {i: _quarter_turn(i) @ np.array([1.0, 0.0]) for i in points}
    if any(abs(square[i][0] * lines[i][1][1] - square[i][1] * lines[i][1][0]) > math.sin(math.radians(most))
           for i in points):
        return lines
    out = list(lines)
    for i, pts in points.items():
        s, t = (pts @ _quarter_turn(-i).T).T
        keep = np.ones(t.size, bool)
        for _ in range(3):  # outliers (dust, the photo's steps) trimmed as the rectangle fit does
            c0 = float(t[keep].mean())
            keep = np.abs(t - c0) <= max(0.75, 2.5 * 1.4826 * float(np.median(np.abs(t[keep] - c0))))
        out[i] = (_quarter_turn(i) @ np.array([s.mean(), float(t[keep].mean())]), square[i])
    return out


def _on_border(a, b, W, H, margin):
    """The scan's border line when side a–b lies along it (a print against the glass edge)."""
    for axis, value in ((0, -0.5), (0, W - 0.5), (1, -0.5), (1, H - 0.5)):
        if abs(a[axis] - value) <= margin and abs(b[axis] - value) <= margin:
            p = np.array([value, 0.0]) if axis == 0 else np.array([0.0, value])
            d = np.array([0.0, 1.0]) if axis == 0 else np.array([1.0, 0.0])
            return p, d
    return None


def _intersect(l1, l2):
    (p1, d1), (p2, d2) = l1, l2
    m = np.array([d1, -d2]).T
    if abs(np.linalg.det(m)) < 1e-9:
        return None
    t = np.linalg.solve(m, p2 - p1)
    return p1 + t[0] * d1


def _strip(pixels, a, d, n, length, window, shape, colour=False):
    """Grey (or with `colour`, rows × cols × C) float32 strip in [0, 1] along a line: column c,
    row r ← image point a + d·c + n·(r − half); only the strip's bounding box of the scan is
    read. (strip, half) or (None, half)."""
    H, W = shape
    half = int(math.ceil(window)) + 3
    cols = max(8, int(length))
    rows = 2 * half + 1
    ends = np.array([a, a + d * cols])[:, None, :] + np.array([-half, half])[None, :, None] * n
    ends = ends.reshape(-1, 2)
    x0 = int(max(0, math.floor(ends[:, 0].min()) - 2))
    x1 = int(min(W, math.ceil(ends[:, 0].max()) + 3))
    y0 = int(max(0, math.floor(ends[:, 1].min()) - 2))
    y1 = int(min(H, math.ceil(ends[:, 1].max()) + 3))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None, half
    origin = a - n * half - [x0, y0]
    M = np.array([[d[0], n[0], origin[0]], [d[1], n[1], origin[1]]], np.float64)
    strip = cv2.warpAffine(np.ascontiguousarray(pixels[y0:y1, x0:x1]), M, (cols, rows),
                           flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    strip = strip.reshape(rows, cols, -1)
    if colour:
        top = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(strip.dtype, 1.0)
        return strip.astype(np.float32) * np.float32(1.0 / top), half
    return _grey(strip), half


def _fit_side(pixels, a, d, n, length, window, proxy, fixed: bool = False, avoid=None):
    """Profiles across the side at full resolution; the paper edge in each; a straight line
    fitted to the edge points (with `fixed`, only its offset: the direction is d's). With
    `avoid` (a line: point, direction), no step within 0.6 px of it counts (a neighbour's
    edge). Returns ((point, direction) or None, the fraction of profiles
    where any edge was seen, the edge points near the line (N × 2, x y) or None)."""
    s0, s1 = _SIDE_SPAN[0] * length, _SIDE_SPAN[1] * length
    found = _axis_profiles(pixels, a + d * s0, d, n, s1 - s0, window, proxy.shape)
    if found is None:
        return None, 0.0, None
    strip, us, base, sgn, half, v = found
    g = _contrast_axis(strip, half, shadowed=proxy.lid != "black", lid_level=proxy.lid_level)
    # differences between neighbouring pixels, each at the half pixel between them: a 1 px
    # dark shadow line beside the paper gives its step exactly where the paper starts, which
    # a central difference (peaks one pixel either side of the line) puts half a pixel inside
    diff = g[1:] - g[:-1]
    if avoid is not None:
        _suppress_line(diff, avoid, us, base, sgn, v)
    grey = strip.mean(axis=2)
    mag = np.abs(diff)
    lo, hi = 1, diff.shape[0] - 2
    # the noise of a difference of two full-resolution pixels (the proxy averages f² of them)
    noise_g = max(proxy.noise * proxy.f / math.sqrt(3), 0.002)
    lid_level = proxy.lid_level
    pts_u, pts_v, pts_before, ramp_at = [], [], [], []
    shadow_at, up, up_before = [], [], []  # per point: the shadow's fall (NaN: none), a rise or not
    black = proxy.lid == "black"
    rising = np.clip(diff, 0, None)
    rise_peak = np.zeros(diff.shape, bool)  # local maxima of the rising differences
    rise_peak[1:-1] = (rising[1:-1] >= rising[:-2]) & (rising[1:-1] > rising[2:])
    for c in range(us.size):
        m = mag[lo:hi + 1, c]
        top = float(m.max())
        if top < 6 * noise_g:
            continue
        peaks = _lobe_peaks(diff[lo:hi + 1, c], max(0.3 * top, 6 * noise_g))
        if peaks.size == 0:
            continue
        k = int(np.argmax(m[peaks]))
        # the transition lid → shadow → paper: extend from the strongest peak over peaks
        # less than 3.5 px apart; the paper edge is the innermost of them
        j = k
        while j + 1 < peaks.size and peaks[j + 1] - peaks[j] <= 3.5:
            j += 1
        edge = int(peaks[j])
        if black and diff[lo + edge, c] < 0:
            # on a black lid (no shadows) a transition that ends falling inward fell into the
            # lid: across a seam from a neighbour's bright border, the paper's own rise lies
            # just inward and may be far weaker than that border's step, so it is looked for
            # at the noise floor
            weak = _lobe_peaks(diff[lo:hi + 1, c], 6 * noise_g)
            rise = weak[(weak > edge) & (weak - edge <= 3.5)]
            rise = rise[(diff[lo + rise, c] > 0) | _into_darker_than_lid(grey[:, c], lo + edge, lo + rise, proxy)]
            if rise.size:
                edge = int(rise[0])
        before = edge
        if not black and diff[lo + edge, c] > 0 and abs(grey[lo + edge + 1, c] - lid_level) < 0.06:
            # a rise to the lid's level is the far side of a gap: the neighbour's edge, where
            # its photo is much darker than the paper's own white border, steps so much more that
            # the shadow this print casts into the gap and the rise out of it to its paper fall
            # under the peaks' threshold (touching seed 19, 2.8 px out); they are looked for at
            # the noise floor, a fall and then a rise
            weak = _lobe_peaks(diff[lo:hi + 1, c], 6 * noise_g)
            later = weak[(weak > edge) & (weak - edge <= 3.5)]
            falls = later[diff[lo + later, c] < 0]
            rises = later[(diff[lo + later, c] > 0) & (later > (falls[0] if falls.size else hi))]
            if rises.size:
                edge = int(rises[0])
        if not black and edge == before and diff[lo + edge, c] < 0:
            # on a white lid, a shadow deep beside a darkish photo: the rise from the shadow
            # to the paper is the edge, though under 30 % of the fall into the shadow
            thr = max(0.15 * top, 6 * noise_g)
            for k in (1, 2):  # the first rising peak 1–2 px inward
                i = lo + edge + k
                if i <= hi and rise_peak[i, c] and diff[i, c] >= thr:
                    edge += k
                    break
        pts_u.append(us[c])
        pts_v.append(base[c] + sgn * _step_centre(diff[:, c], lo + edge, not black))
        at = _ramp_end(diff[:, c], grey[:, c], lo + edge) if not black else None
        ramp_at.append(np.nan if at is None else base[c] + sgn * at)
        pts_before.append(pts_v[-1] if edge == before else base[c] + sgn * _step_centre(diff[:, c], lo + before, not black))
        up.append(diff[lo + edge, c] > 0)
        up_before.append(diff[lo + before, c] > 0)
        fall = None if black else _shadow_fall(diff[:, c], grey[:, c], lo + peaks, lo + before, lid_level)
        shadow_at.append(np.nan if fall is None else base[c] + sgn * _step_centre(diff[:, c], fall, True))
    seen = len(pts_u) / max(1, us.size)
    # a line's slope needs points along much of the side; its offset alone, with the
    # direction given, a few where the edge shows (a dark photo on a black lid, its side as
    # dark as the lid but in 3 % of its profiles, left 5.8 px out on the proxy's outline):
    # the offset then needs them to agree (_robust_offset)
    if len(pts_u) < (6 if fixed else max(6, 0.2 * us.size)):
        return None, seen, None
    pu = np.array(pts_u, np.float64)
    u = 1 - v
    # the weak rise out of a shadow may also be a step in the photo just inside the paper
    # (a print against the glass edge, dev seed 30, put 2.1 px inside): where that rule moved
    # the edge, the points it gave must lie on a line of their own, as a paper edge does and
    # a photo's steps do not; else the side is fitted to the points without it
    pv = np.array(pts_v, np.float64)
    moved = np.abs(pv - np.array(pts_before, np.float64)) > 1e-9
    if moved.sum() >= 6:
        own = _robust_line(pu[moved], pv[moved])
        if own is None or _near_line(pu[moved], pv[moved], own) < 0.5 * moved.sum():
            pv = np.array(pts_before, np.float64)
            up = up_before
    ramps = np.isfinite(np.array(ramp_at, np.float64))
    if ramps.sum() >= 0.5 * ramps.size:
        # a photo at the shadow's own deepest level along most of the side: there the shadow's
        # ramp ends at the paper (a blurred step into a darker photo passes for one in a few
        # profiles, and put a side read on them 0.5 px inside: mixed six seed 28)
        pv = np.where(ramps, np.array(ramp_at, np.float64), pv)
    pv = _one_shadow_width(pu, pv, np.array(shadow_at, np.float64), np.array(up, bool), sgn)
    fit = _robust_offset(pu, pv, d[v] / d[u]) if fixed else _robust_line(pu, pv)
    if fit is None:
        return None, seen, None
    c0, c1 = fit  # v = c0 + c1·u in image coordinates
    p, dd = np.empty(2), np.empty(2)
    p[u], p[v] = a[u], c0 + c1 * a[u]
    dd[u], dd[v] = 1.0, c1
    dd /= np.linalg.norm(dd)
    inliers = np.abs(pv - (c0 + c1 * pu)) <= 1.5
    pts = np.empty((int(inliers.sum()), 2))
    pts[:, u], pts[:, v] = pu[inliers], pv[inliers]
    return (p, dd if dd @ d > 0 else -dd), seen, pts


def _suppress_line(diff: np.ndarray, line, us: np.ndarray, base: np.ndarray, sgn: int, v: int) -> None:
    """Zero, in place, the row differences of profiles (as _axis_profiles gives them) within
    0.6 px of a line: a step there is another print's."""
    p, dd = line
    u = 1 - v
    row = (p[v] + (us - p[u]) * (dd[v] / dd[u]) - base) * sgn
    at = np.arange(diff.shape[0])[:, None] + 0.5
    diff[np.abs(at - row[None, :]) <= 0.6] = 0.0


def _into_darker_than_lid(grey: np.ndarray, fell: int, steps: np.ndarray, proxy: _Proxy) -> np.ndarray:
    """Per step in `steps` (row differences, as `fell`): whether it falls from the lid into a
    photo darker than the lid, after the fall at `fell` ended on the lid. A night shot's blacks
    on glossy paper are darker than a black lid: across a gap from a neighbour's bright border
    the paper's own edge is then a weak fall, not a rise (black-lid touching seed 55: half a
    side read on that border, 3–4 px out, and the print tilted 0.19°)."""
    level, tol = proxy.lid_level, proxy.diff_thr
    if abs(float(grey[fell + 1]) - level) >= tol:
        return np.zeros(steps.shape, bool)
    return (np.abs(grey[steps] - level) < tol) & (grey[steps + 1] < level - tol)


def _shadow_fall(diff: np.ndarray, grey: np.ndarray, peaks: np.ndarray, edge: int, lid_level: float):
    """The row of the outermost fall among `peaks` up to `edge` whose outer side is lid (a
    white lid's fall into a print's shadow), or None."""
    for i in peaks:
        if i > edge:
            break
        if diff[i] < 0 and i > 0 and abs(grey[i - 1] - lid_level) < 0.06:
            return int(i)
    return None


def _one_shadow_width(pu: np.ndarray, pv: np.ndarray, falls: np.ndarray, rises: np.ndarray, sgn: int) -> np.ndarray:
    """Edge points (`pv` at `pu`) put one shadow width inside the shadow's outer edge where
    they lie elsewhere. A print's shadow on a white lid has one width along a side (the
    paper's thickness and the lamp's angle do not change along it): where the paper's rise
    out of the shadow shows, the falls into the shadow (`falls`) give the shadow's outer line
    and the rise its width. A point whose fall lies on that line and which is not that width
    inside it was taken off the paper: the fall itself, where a photo as dark as the shadow
    hides the rise, or a photo's step just inside the paper (mixed six, seed 70: points on
    three lines, the fit 1.55 px inside). A fall one width inside that line is the paper's,
    into a photo darker than the shadow, and is kept. Only where the points do not lie mostly
    (70 %) on one line: there the paper's edge is that line. Half of them are enough where the
    rise shows in under 30 % of the profiles: that line is then the paper's falls into a dark
    photo and the rises are its steps (dust seed 20); at 60 % on one line with rises in 30–40 %
    it was the falls into the shadow (touching seed 32, 1.2 px out). A point is off the width
    by more than 0.5 px: a shadow under a pixel wide left the falls themselves within 1 px of
    it (touching seed 17; seed 12, a 1 px seam beside a photo darker than it, where the
    neighbour's edge was taken). The width is the lower quartile of
    the rises' offsets, not their median: the paper's rise is the first one inside the fall,
    and a photo's steps further in are read as rises too (glass edge seed 55: a median of
    2.4 px put the side 1.64 px out; the lower quartile, 1.2 px, 0.51 px)."""
    own = _robust_line(pu, pv)
    on_one = _near_line(pu, pv, own) / pv.size if own is not None else 0.0
    if on_one >= 0.7:
        return pv  # most points on one line: that is the paper's edge
    off = (pv - falls) * sgn
    with np.errstate(invalid="ignore"):
        seen = rises & (off >= 0.3) & (off <= 3.5)
        if seen.sum() < max(6, 0.1 * pv.size) or (on_one >= 0.5 and seen.sum() < 0.3 * pv.size):
            return pv
        width = float(np.percentile(off[seen], 25))  # the first rise: see above
        outer = _robust_line(pu[seen], falls[seen])
        if outer is None:
            return pv
        on_outer = np.abs(falls - (outer[0] + outer[1] * pu)) <= 0.5
        wrong = on_outer & (np.abs(off - width) > 0.5)
    out = pv.copy()
    out[wrong] = falls[wrong] + sgn * width
    return out


def _near_line(s, t, fit) -> int:
    """How many points lie within 0.5 px of the line t = c0 + c1·s."""
    return int((np.abs(t - (fit[0] + fit[1] * s)) <= 0.5).sum())


def _robust_offset(s, t, c1: float):
    """t = c0 + c1·s with the slope given: c0 where the points are densest (the middle of the
    1 px window holding most of them), then their mean within 0.75 px of it, twice; a weak
    edge's points are few, and photo content beside it pulls a median. None unless 6 points
    at least lie there: noise's steps scatter over the window, an edge's line up."""
    r = np.sort(t - c1 * s)
    if r.size < 6:
        return None
    hi = np.searchsorted(r, r + 1.0, side="right")
    k = int(np.argmax(hi - np.arange(r.size)))
    c0 = float(r[k:hi[k]].mean())
    for _ in range(2):
        near = r[np.abs(r - c0) <= 0.75]
        c0 = float(near.mean())
    if near.size < 6:
        return None
    return c0, float(c1)


def _axis_profiles(pixels, a, d, n, length, window, shape, most: int = 400, spread: int = 1):
    """Profiles across a side at whole pixels, each along the image axis nearest to the side's
    normal (a pixel column for a side nearer horizontal): no resampling, so a shadow 1 px wide
    stays 1 px wide instead of being blurred by an interpolation whose phase drifts along the
    side. At most `most` profiles, evenly spread over the side from `a` for `length` px; each
    reaches `window` px either side of the line and averages 2·`spread` + 1 neighbours. Returns (strip rows × profiles × C float32 in
    [0, 1], rows running inward; us: each profile's image coordinate along the side's axis;
    base: its row 0's coordinate on the profile axis; sgn: ±1, that axis' direction inward;
    half: the row of the line; v: the profile axis, 1 = y), or None."""
    H, W = shape
    v = 1 if abs(d[0]) >= abs(d[1]) else 0
    u = 1 - v
    sgn = 1 if n[v] > 0 else -1
    half = int(math.ceil(window / max(abs(n[v]), 0.5))) + 2
    e = a + d * length
    first, last = sorted((a[u], e[u]))
    us = np.arange(math.ceil(first), math.floor(last) + 1)
    us = us[(us >= 0) & (us < (W if u == 0 else H))]
    if us.size < 8:
        return None
    us = us[np.linspace(0, us.size - 1, min(most, us.size)).round().astype(int)]
    top = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(pixels.dtype, 1.0)
    strip, bases = 0.0, 0.0
    # each profile is the mean of `spread` neighbours either side, each taken at its own whole
    # pixel offset: the step's centroid in the mean is the mean of theirs, so the line is
    # found where the mean of their offsets says, without interpolating any pixel
    for k in range(-spread, spread + 1):
        uk = np.clip(us + k, 0, (W if u == 0 else H) - 1)
        base = np.rint(a[v] + (uk - a[u]) * (d[v] / d[u])).astype(np.int64) - sgn * half
        across = np.clip(base[None, :] + sgn * np.arange(2 * half + 1)[:, None], 0, (H if v == 1 else W) - 1)
        along = np.broadcast_to(uk[None, :], across.shape)
        taken = pixels[across, along] if v == 1 else pixels[along, across]
        strip = strip + taken.reshape(across.shape[0], across.shape[1], -1).astype(np.float32)
        bases = bases + base
    n_k = 2 * spread + 1
    return strip * np.float32(1.0 / (top * n_k)), us, bases / n_k, sgn, half, v


def _contrast_axis(strip: np.ndarray, half: int, shadowed: bool = False, lid_level: float = 0.0) -> np.ndarray:
    """The strip as one channel: grey, or where the paper and what lies outside it differ in
    colour more than in brightness (a dark green photo on a black lid, barely apart in grey)
    its projection on the colour difference between the two sides, only where the outer side
    is as bright as the lid, `lid_level` (with `shadowed`, a white lid: on the part of it
    across the lid's colour)."""
    grey = strip.mean(axis=2)
    if strip.shape[2] < 3 or half < 5:
        return grey
    delta = strip[half + 4:].mean(axis=(0, 1)) - strip[:half - 3].mean(axis=(0, 1))
    norm = float(np.linalg.norm(delta))
    if norm < 0.01 or norm < 1.3 * math.sqrt(3) * abs(float(delta.mean())):
        return grey
    axis = delta / norm
    # the colour difference is the paper's from the lid only where the strip's outer side is
    # lid: across a gap it is the neighbour's print, whose colour edge (not the paper's) the
    # axis would follow (on a black lid, a neighbour's white border 3 px away: the lid and
    # that border one level on the axis, the side put on the border's edge, 3 px out)
    outside = strip[:half - 3].mean(axis=(0, 1))
    if abs(float(outside.mean()) - lid_level) > 0.06:
        return grey
    if shadowed:
        # a shadow only darkens the lid, along the lid's own colour: the colour difference's
        # part along it still showed the shadow's fall, which the edge search took for the
        # paper's beside a photo darker than the shadow (1 px out, touching seed 13); without
        # it, lid and shadow are one level and only the paper steps
        lid = outside / max(float(np.linalg.norm(outside)), 1e-6)
        axis = delta - (delta @ lid) * lid
        if float(np.linalg.norm(axis)) < 0.01:
            return grey
        axis /= np.linalg.norm(axis)
    colour = strip @ axis.astype(np.float32)
    # a shadow is grey: where paper and lid differ only a little in colour (a faded print on
    # a white lid), the shadow's dip in grey is the stronger edge, and the colour axis loses it
    steps = [float(np.median(np.abs(np.diff(c, axis=0)).max(axis=0))) for c in (grey, colour)]
    return colour if steps[1] >= steps[0] else grey


def _lobe_peaks(diff: np.ndarray, thr: float) -> np.ndarray:
    """Indices of the local maxima ≥ thr of the rising and of the falling parts of a row
    difference, in order: the falling slope of a shadow and the rise to the paper right after
    it are two peaks even where |diff| alone has one hump."""
    out = []
    for m in (np.clip(diff, 0, None), np.clip(-diff, 0, None)):
        out.append(np.nonzero((m[1:-1] >= m[:-2]) & (m[1:-1] > m[2:]) & (m[1:-1] >= thr))[0] + 1)
    return np.sort(np.concatenate(out))


def _ramp_end(diff: np.ndarray, grey: np.ndarray, i: int) -> float | None:
    """Where a fall that is a shadow's ramp to its end stops (in rows), or None when the fall
    peaking at diff[i] is no such ramp (`grey`: the profile). On a white lid a print's shadow is
    darkest at the paper and lightens outward; where the photo is as dark as the deepest shadow
    the paper makes no step of its own, and the shadow's fall, steepest at its inner end and
    flat after it, ends at the paper: the centroid of its peak lay 0.4 of the shadow's width
    outside (rounded corners seed 23, 1.03 px). A ramp spans three differences at least (a
    sharp step two at most), each at least a quarter of the peak, ends at the peak or the one
    after it (at half the peak or more), is flat after that, and darkens the lid by a third at
    most, as a shadow does: a deeper fall ends in a photo darker than the shadow, whose step
    is the paper's (a blurred step's three differences read as a ramp put a side 0.4 px
    inside, rounded corners seed 49). It ends inside its last difference as far as that
    difference is of the one before (a pixel only partly on the ramp steps less)."""
    if i < 2 or i + 2 >= diff.size or diff[i] >= 0:
        return None
    fall = -diff
    peak = float(fall[i])
    j = i + 1 if fall[i + 1] >= 0.5 * peak else i
    if abs(float(diff[j + 1])) >= 0.25 * peak or j + 1 >= diff.size:
        return None
    run = 0
    while j - run - 1 >= 0 and fall[j - run - 1] >= 0.25 * peak:
        run += 1
    if run < 2 or run > 4 or grey[j + 1] < (2.0 / 3.0) * grey[j - run]:
        return None
    return j + min(1.0, float(fall[j]) / float(fall[j - 1]))


def _step_centre(diff: np.ndarray, i: int, shadowed: bool = False) -> float:
    """Sub-pixel position (in rows) of the step whose row difference peaks at diff[i]: the
    centroid of that peak and the larger of its neighbours, where of the same sign. An edge
    sampled by pixel area spans at most two differences, and the centroid of its derivative
    is where it is; a third would take in the slope of the shadow beside it. With `shadowed`
    (a white lid), the outer neighbour is corrected for that slope."""
    sign = np.sign(diff[i])
    lo = max(0.0, float(diff[i - 1] * sign)) if i > 0 else 0.0
    hi = max(0.0, float(diff[i + 1] * sign)) if i + 1 < diff.size else 0.0
    peak = float(diff[i] * sign)
    if shadowed and i > 1:
        # on a white lid the shadow deepens up to the paper: the outer neighbour of a rise out
        # of it is understated by the shadow's own fall (its part of the edge pixel is darker
        # than the pixel before), which put rises 0.3 px inside; half the shadow's last fall
        # is given back. The outer neighbour of a fall into a photo darker than the shadow
        # holds the shadow's slope as well (the fall before it): that is taken off
        prev, prev2 = float(diff[i - 1] * sign), float(diff[i - 2] * sign)
        if sign > 0:
            lo += 0.5 * -min(0.0, prev if prev < 0 else prev2)
        else:
            lo = max(0.0, lo - max(0.0, prev2))
    if hi >= lo:
        return i + 0.5 + hi / (peak + hi)
    return i + 0.5 - lo / (peak + lo)


def _robust_line(s, t):
    """t = c0 + c1·s by least squares, trimming outliers (dust, photo edges) in rounds."""
    keep = np.ones(s.size, bool)
    # start from the medians of the two halves: robust to a minority of wrong points
    mid = np.median(s)
    left, right = s <= mid, s > mid
    if left.sum() < 2 or right.sum() < 2:
        return None
    c1 = (np.median(t[right]) - np.median(t[left])) / max(1e-6, np.median(s[right]) - np.median(s[left]))
    c0 = np.median(t - c1 * s)
    for tol in (3.0, 1.5, 1.0, 0.75):
        r = t - (c0 + c1 * s)
        mad = 1.4826 * np.median(np.abs(r - np.median(r)))
        keep = np.abs(r) <= max(tol, 2.5 * mad)
        if keep.sum() < max(4, 0.15 * s.size):
            return None
        A = np.stack([np.ones(keep.sum()), s[keep]], 1)
        (c0, c1), *_ = np.linalg.lstsq(A, t[keep], rcond=None)
    return float(c0), float(c1)


def _reading_order(quads: list[np.ndarray]) -> list[int]:
    """Rows from top to bottom (a print joins a row when its centre lies within the height
    of the row's topmost print), left to right within a row."""
    boxes = [(q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max()) for q in quads]
    left = sorted(range(len(quads)), key=lambda i: boxes[i][1])
    order = []
    while left:
        top, bottom = boxes[left[0]][1], boxes[left[0]][3]
        row = sorted((i for i in left if top <= (boxes[i][1] + boxes[i][3]) / 2 <= bottom),
                     key=lambda i: boxes[i][0])
        order += row
        left = [i for i in left if i not in row]
    return order


# ------------------------------------------------------------------ extraction

def extract(pixels: np.ndarray, pr: Print, trim: float = 0) -> np.ndarray:
    """The print straightened and cut out at full resolution, `trim` px inside its edges.
    Same dtype and channels as `pixels`; bicubic; only the print's region is read."""
    if trim < 0:
        raise SplitError(f"trim must be 0 or more, not {trim}")
    grey_in = pixels.ndim == 3 and pixels.shape[2] == 1
    q = np.asarray(pr.corners, np.float64)
    w, h = pr.size
    ow, oh = int(round(w - 2 * trim)), int(round(h - 2 * trim))
    if ow < 1 or oh < 1:
        raise SplitError(f"trim {trim:g} px leaves nothing of a {w:.0f}×{h:.0f} print")
    # least-squares affine from the print's own frame (0..w, 0..h) to the scan
    local = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    A = np.hstack([local, np.ones((4, 1))])
    coef, *_ = np.linalg.lstsq(A, q, rcond=None)  # 3×2: [x y 1] @ coef = scan point
    # output pixel (i, j) centre ↦ local (i + 0.5 + ox, j + 0.5 + oy), centred slack
    ox, oy = trim + (w - 2 * trim - ow) / 2, trim + (h - 2 * trim - oh) / 2
    H, W = pixels.shape[:2]
    cx, cy = q[:, 0], q[:, 1]
    x0, x1 = max(0, int(math.floor(cx.min())) - 3), min(W, int(math.ceil(cx.max())) + 4)
    y0, y1 = max(0, int(math.floor(cy.min())) - 3), min(H, int(math.ceil(cy.max())) + 4)
    lin = coef[:2].T  # 2×2
    shift = coef[2] + lin @ np.array([0.5 + ox, 0.5 + oy]) - [x0, y0]
    M = np.hstack([lin, shift[:, None]])
    roi = pixels[y0:y1, x0:x1]
    out = cv2.warpAffine(roi, M, (ow, oh), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_REPLICATE)
    if out.ndim == 2:
        out = out[..., None] if (grey_in or pixels.ndim == 2) else out
    return out
