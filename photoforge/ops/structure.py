"""Structure before texture for the content-aware fill (photoforge.ops.patchmatch).

After Sun et al. 2005, "Image completion with structure propagation": edges that cross
the hole are continued first, and the texture pass then fills around them, with the
continued edges as fixed context (never as sources). Only numpy and OpenCV: it runs on
the full-resolution crop once per fill, a few milliseconds.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

STRUCTURE_BAND = 3  # patches: edges are looked for this far around the hole
STRUCTURE_CONTRAST = 3.0  # an edge's gradient is at least this many times the band's median
STRUCTURE_ANGLE = 25.0  # degrees: two edge ends pair when each points at the other within this
STRUCTURE_COLOUR = 0.15  # and the colours on their sides differ by at most this much


def _edge_ends(grey: np.ndarray, known: np.ndarray, away: np.ndarray, p: int) -> list[dict]:
    """Straight edges that reach the hole's border: each with its end on the border, the unit
    direction pointing into the hole and its pixels (a chain of Canny edge pixels within
    STRUCTURE_BAND patches of the hole, long, straight and much stronger than the texture)."""
    band = known & (away <= STRUCTURE_BAND * p)
    if band.sum() < 4 * p:
        return []
    g8 = np.rint(np.clip(cv2.GaussianBlur(grey, (0, 0), 1.0), 0, 1) * 255).astype(np.uint8)
    mag = cv2.magnitude(cv2.Sobel(g8, cv2.CV_32F, 1, 0), cv2.Sobel(g8, cv2.CV_32F, 0, 1))
    floor = float(np.median(mag[band]))
    hi = max(40.0, STRUCTURE_CONTRAST * floor)
    edges = (cv2.Canny(g8, hi / 2, hi, L2gradient=True) > 0) & band
    count, labels = cv2.connectedComponents(edges.view(np.uint8), connectivity=8)
    ends = []
    for i in range(1, count):
        ys, xs = np.nonzero(labels == i)
        if len(ys) < STRUCTURE_BAND * p * 0.6 or away[ys, xs].min() > 2.5:
            continue  # short, or does not reach the hole
        pts = np.stack([xs, ys], axis=1).astype(np.float64)
        centre = pts.mean(axis=0)
        _, sv, vt = np.linalg.svd(pts - centre, full_matrices=False)
        if sv[1] / math.sqrt(len(pts)) > 1.2 or mag[ys, xs].mean() < STRUCTURE_CONTRAST * floor:
            continue  # curved or broken up, or no stronger than the texture around it
        u = vt[0]
        k = int(np.argmin(away[ys, xs]))
        if np.dot(pts[k] - centre, u) < 0:
            u = -u  # point into the hole
        t = (pts - centre) @ u
        end = centre + t.max() * u
        ends.append({"end": end, "dir": u, "pts": pts})
    return ends


def _side_colours(colour: np.ndarray, known: np.ndarray, e: dict) -> np.ndarray | None:
    """Median colours on the left and right of an edge (seen along its direction), a few px off it."""
    h, w = known.shape
    normal = np.array([-e["dir"][1], e["dir"][0]])
    sides = []
    for sign in (1, -1):
        q = np.rint(e["pts"] + sign * 3 * normal).astype(int)
        ok = (q[:, 0] >= 0) & (q[:, 0] < w) & (q[:, 1] >= 0) & (q[:, 1] < h)
        q = q[ok]
        q = q[known[q[:, 1], q[:, 0]]]
        if len(q) < 3:
            return None
        sides.append(np.median(colour[q[:, 1], q[:, 0]], axis=0))
    return np.stack(sides)


def _edge_pairs(colour: np.ndarray, known: np.ndarray, ends: list[dict]) -> list[tuple[dict, dict]]:
    """Pairs of edge ends that continue each other: each points at the other within
    STRUCTURE_ANGLE and the colours on either side agree (left of one = right of the other
    as seen from it). Greedy, best first; an end joins at most one pair."""
    cos_max = math.cos(math.radians(STRUCTURE_ANGLE))
    sides = [_side_colours(colour, known, e) for e in ends]
    found = []
    for i in range(len(ends)):
        for j in range(i + 1, len(ends)):
            a, b = ends[i], ends[j]
            if sides[i] is None or sides[j] is None:
                continue
            v = b["end"] - a["end"]
            dist = float(np.hypot(*v))
            if dist < 1:
                continue
            ca, cb = float(a["dir"] @ v) / dist, float(-b["dir"] @ v) / dist
            colours = float(np.abs(sides[i] - sides[j][::-1]).max())
            if ca >= cos_max and cb >= cos_max and colours <= STRUCTURE_COLOUR:
                found.append(((1 - ca) + (1 - cb) + colours, i, j))
    pairs, used = [], set()
    for _, i, j in sorted(found):
        if i not in used and j not in used:
            used |= {i, j}
            pairs.append((ends[i], ends[j]))
    return pairs


def continue_edges(img: np.ndarray, hole: np.ndarray, known: np.ndarray, valid: np.ndarray, p: int
               ) -> np.ndarray:
    """Structure before texture (after Sun et al. 2005, "Image completion with structure
    propagation"): edges that cross the hole are continued first, and texture then fills
    around them.

    Paired edge ends are joined by a cubic Hermite curve leaving each end along its own
    direction. Along it, from both ends towards the middle, each patch is copied from the
    best-matching source patch on the known parts of those two edges (compared on the
    pixels already known or copied), into the hole pixels within a patch radius of the
    curve. Writes into `img`; returns the pixels it filled."""
    r = p // 2
    h, w = hole.shape
    colour = img[..., :min(3, img.shape[2])]
    away = cv2.distanceTransform((~hole).view(np.uint8), cv2.DIST_L2, 5)
    done = np.zeros_like(hole)
    ends = _edge_ends(colour.mean(axis=2), known, away, p)
    for a, b in _edge_pairs(colour, known, ends):
        # Source centres: on the two edges (±1 px across them), whole patches known and allowed.
        cand = []
        for e in (a, b):
            normal = np.array([-e["dir"][1], e["dir"][0]])
            for off in (-1, 0, 1):
                q = np.rint(e["pts"] + off * normal).astype(int)
                q = q[(q[:, 0] >= 0) & (q[:, 0] < w) & (q[:, 1] >= 0) & (q[:, 1] < h)]
                cand.append(q[valid[q[:, 1], q[:, 0]]])
        cand = np.unique(np.concatenate(cand), axis=0)
        if len(cand) == 0:
            continue
        p0, p1 = a["end"], b["end"]
        length = float(np.hypot(*(p1 - p0)))
        t = np.linspace(0, 1, max(2, int(length / max(1, r)) + 1))[:, None]
        curve = ((2 * t**3 - 3 * t**2 + 1) * p0 + (t**3 - 2 * t**2 + t) * length * a["dir"]
                 + (-2 * t**3 + 3 * t**2) * p1 + (t**3 - t**2) * length * b["dir"])
        order = [k for pair in zip(range(len(curve)), range(len(curve) - 1, -1, -1)) for k in pair]
        seen = set()
        for k in order:
            if k in seen:
                continue
            seen.add(k)
            cx, cy = (int(v) for v in np.rint(curve[k]))
            cx, cy = min(max(cx, r), w - 1 - r), min(max(cy, r), h - 1 - r)
            win = (slice(cy - r, cy + r + 1), slice(cx - r, cx + r + 1))
            todo = hole[win] & ~done[win]
            if not todo.any():
                continue
            care = (known[win] | done[win]).astype(np.float32)
            if care.sum() == 0:
                continue
            target = img[win]
            best, best_d = None, np.inf
            for sx, sy in cand:
                src = img[sy - r:sy + r + 1, sx - r:sx + r + 1]
                d = float((care[..., None] * (src - target) ** 2).sum())
                if d < best_d:
                    best, best_d = src, d
            img[win][todo] = best[todo]
            done[win] |= todo
    return done
