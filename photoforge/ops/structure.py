"""Structure before texture for the content-aware fill (photoforge.ops.patchmatch).

After Sun et al. 2005, "Image completion with structure propagation": edges that cross
the hole are continued first, and the texture pass then fills around them, with the
continued edges as fixed context (never as sources). Only numpy and OpenCV: it runs on
the full-resolution crop once per fill, a few milliseconds.
"""
from __future__ import annotations

import itertools
import math

import cv2
import numpy as np

STRUCTURE_BAND = 3  # patches: edges are looked for this far around the hole
STRUCTURE_CONTRAST = 3.0  # an edge's gradient is at least this many times the band's median
STRUCTURE_ANGLE = 25.0  # degrees: two edge ends pair when each points at the other within this
STRUCTURE_COLOUR = 0.15  # and the colours on one side differ by at most this (twice on the other)


def _edge_ends(grey: np.ndarray, known: np.ndarray, away: np.ndarray, p: int) -> list[dict]:
    """Straight edges that reach the hole's border: each with its end on the border, the unit
    direction pointing into the hole and its pixels.

    Edges are Canny edge pixels within STRUCTURE_BAND patches of the hole. Where a chain of
    them touches the hole, its pixels within that same distance of the touching point must
    be many, lie on a line and be much stronger than the texture around: a chain that turns
    a corner farther out (a table's edge meeting a person's outline) still gives its
    straight last stretch."""
    reach = STRUCTURE_BAND * p
    band = known & (away <= reach)
    if band.sum() < 4 * p:
        return []
    g8 = np.rint(np.clip(cv2.GaussianBlur(grey, (0, 0), 1.0), 0, 1) * 255).astype(np.uint8)
    mag = cv2.magnitude(cv2.Sobel(g8, cv2.CV_32F, 1, 0), cv2.Sobel(g8, cv2.CV_32F, 0, 1))
    floor = float(np.median(mag[band]))
    hi = max(40.0, STRUCTURE_CONTRAST * floor)
    edges = (cv2.Canny(g8, hi / 2, hi, L2gradient=True) > 0) & band
    _, labels = cv2.connectedComponents(edges.view(np.uint8), connectivity=8)
    # Where chains touch the hole: one entry per run of touching pixels (the closest one).
    touching = edges & (away <= 2.5)
    count, runs = cv2.connectedComponents(cv2.dilate(touching.view(np.uint8), np.ones((3, 3), np.uint8)),
                                          connectivity=8)
    ends = []
    for i in range(1, count):
        ys, xs = np.nonzero((runs == i) & touching)
        k = int(np.argmin(away[ys, xs]))
        entry = np.array([xs[k], ys[k]], np.float64)
        cy, cx = np.nonzero(labels == labels[ys[k], xs[k]])
        pts = np.stack([cx, cy], axis=1).astype(np.float64)
        pts = pts[np.hypot(*(pts - entry).T) <= reach]
        if len(pts) < 0.6 * reach:
            continue  # short
        centre = pts.mean(axis=0)
        _, sv, vt = np.linalg.svd(pts - centre, full_matrices=False)
        strength = mag[pts[:, 1].astype(int), pts[:, 0].astype(int)].mean()
        if sv[1] / math.sqrt(len(pts)) > 1.2 or strength < STRUCTURE_CONTRAST * floor:
            continue  # curved or broken up, or no stronger than the texture around it
        u = vt[0] if np.dot(entry - centre, vt[0]) >= 0 else -vt[0]  # pointing into the hole
        end = centre + ((pts - centre) @ u).max() * u
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


def _polyline(points: list[np.ndarray], step: float) -> np.ndarray:
    out = [points[0]]
    for p0, p1 in itertools.pairwise(points):
        n = max(1, int(np.ceil(np.hypot(*(p1 - p0)) / step)))
        out += [p0 + (p1 - p0) * k / n for k in range(1, n + 1)]
    return np.array(out)


def _edge_pairs(colour: np.ndarray, known: np.ndarray, hole: np.ndarray, ends: list[dict], step: float
                ) -> list[tuple[dict, dict, np.ndarray]]:
    """Pairs of edge ends that continue each other, with the path joining them (points
    `step` px apart): the colours on either side must agree (left of one = right of the
    other as seen from it; one side may differ more, as lighting changes along an edge
    between an object and its backdrop), and either each end points at the other within STRUCTURE_ANGLE
    (joined by a cubic Hermite curve leaving each end along its own direction) or their
    rays meet inside the hole at a corner of up to 135° (joined by straight lines through
    it: a table's top and side edges meeting behind what is removed). Greedy, straight
    continuations before corners; an end joins at most one pair."""
    cos_max = math.cos(math.radians(STRUCTURE_ANGLE))
    sides = [_side_colours(colour, known, e) for e in ends]
    h, w = hole.shape
    found = []
    for i in range(len(ends)):
        for j in range(i + 1, len(ends)):
            a, b = ends[i], ends[j]
            if sides[i] is None or sides[j] is None:
                continue
            near, far = sorted(np.abs(sides[i] - sides[j][::-1]).max(axis=1))
            colours = float(near + far) / 2
            v = b["end"] - a["end"]
            dist = float(np.hypot(*v))
            if near > STRUCTURE_COLOUR or far > 2 * STRUCTURE_COLOUR or dist < 1:
                continue
            ca, cb = float(a["dir"] @ v) / dist, float(-b["dir"] @ v) / dist
            if ca >= cos_max and cb >= cos_max:
                t = np.linspace(0, 1, max(2, int(dist / step) + 1))[:, None]
                path = ((2 * t**3 - 3 * t**2 + 1) * a["end"] + (t**3 - 2 * t**2 + t) * dist * a["dir"]
                        + (-2 * t**3 + 3 * t**2) * b["end"] + (t**3 - t**2) * dist * b["dir"])
                found.append(((1 - ca) + (1 - cb) + colours, i, j, path))
                continue
            # a.end + s·a.dir = b.end + t·b.dir with s, t > 0: a corner
            m = np.stack([a["dir"], -b["dir"]], axis=1)
            if abs(np.linalg.det(m)) < 1e-6:
                continue
            s_, t_ = np.linalg.solve(m, v)
            turn = float(a["dir"] @ -b["dir"])  # cos of the turn: 1 straight on, 0 a right angle
            corner = a["end"] + s_ * a["dir"]
            x, y = (round(float(c)) for c in corner)
            if s_ > 0 and t_ > 0 and turn >= math.cos(math.radians(135)) and 0 <= x < w and 0 <= y < h \
                    and hole[y, x]:
                # Each edge up to a patch short of the corner; the texture pass turns it
                # (a straight edge's patches copied onto the corner put backdrop inside it).
                legs = [_polyline([e["end"], corner - step * e["dir"]], step)[::order]  # a's end to b's
                        for e, order in ((a, 1), (b, -1)) if np.hypot(*(corner - e["end"])) > step]
                if legs:
                    found.append((2 + colours, i, j, np.concatenate(legs)))
    pairs, used = [], set()
    for _, i, j, path in sorted(found, key=lambda f: f[0]):
        if i not in used and j not in used:
            used |= {i, j}
            pairs.append((ends[i], ends[j], path))
    return pairs


def continue_edges(img: np.ndarray, hole: np.ndarray, known: np.ndarray, valid: np.ndarray, p: int
               ) -> np.ndarray:
    """Structure before texture (after Sun et al. 2005, "Image completion with structure
    propagation"): edges that cross the hole are continued first, and texture then fills
    around them.

    Paired edge ends are joined (`_edge_pairs`). Along the path, from both ends towards the
    middle, each patch is copied from the best-matching source patch on the known parts of
    those two edges (compared on the pixels already known or copied), into the hole pixels
    within a patch radius of the path. Writes into `img`; returns the pixels it filled."""
    r = p // 2
    h, w = hole.shape
    colour = img[..., :min(3, img.shape[2])]
    away = cv2.distanceTransform((~hole).view(np.uint8), cv2.DIST_L2, 5)
    done = np.zeros_like(hole)
    ends = _edge_ends(colour.mean(axis=2), known, away, p)
    for a, b, curve in _edge_pairs(colour, known, hole, ends, max(1, r)):
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
        offsets = np.arange(-r, r + 1)
        rows = cand[:, 1, None, None] + offsets[None, :, None]
        cols = cand[:, 0, None, None] + offsets[None, None, :]
        patches = img[rows, cols]  # N×p×p×C: every candidate source patch
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
            care = known[win] | done[win]
            if not care.any():
                continue
            d = ((patches[:, care] - img[win][care]) ** 2).sum(axis=(1, 2))
            best = patches[int(np.argmin(d))]
            img[win][todo] = best[todo]
            done[win] |= todo
    return done
