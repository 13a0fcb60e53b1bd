"""A print's paper border, the one part of a scan whose true colour is known.

A yellowed base adds the same density to every tone of a print, which in the pixels is
exactly a warm light's gain: nothing inside the picture tells the two apart, so the fade
correction leaves both (README, "Fade correction"). Most prints of the last century have
a white border, though, and a scan that kept it (split's default --trim 0) shows the
paper itself: if the border is yellow, the paper yellowed, since the light of the scene
never fell on it.

`find_border` looks for one on a small float proxy: along three or four sides, a frame of
even, light colour that starts at (or within a few pixels of) the edge and ends at the
same depth all along the side, in a straight line (a print's edge, however crooked the
scan). A uniform backdrop or a sky reaches the edge too, but does not end in a straight
line at one depth on three sides.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

SEGMENTS = 8  # each side is looked at in this many pieces, its corners left out
EDGE_SKIP = 0.02  # the scan may show this much (of the short side) of lid or edge shadow before the paper
MAX_DEPTH = 0.15  # a border is at most this share of the short side deep
MIN_DEPTH = 0.012  # … and at least this share (and MIN_DEPTH_PX)
MIN_DEPTH_PX = 3
SPREAD = 4.0  # Lab ΔE: the 80th percentile of a border row's pixels from the border's colour
STRAIGHT_PX = 1.5  # the border's inner edge may wander this far from a straight line
MAX_TILT = 0.06  # … whose slope (a crooked scan) is at most this (3.4°)
MIN_SIDES = 3
SIDES_AGREE = 5.0  # Lab ΔE between the sides' colours
MIN_LIGHTNESS = 60.0  # paper, not a black mount


@dataclass(frozen=True)
class Border:
    colour: tuple[float, float, float]  # the paper's encoded RGB (0–1), median over the border
    lab: tuple[float, float, float]  # … and its CIELAB
    sides: int  # how many sides showed it
    depth: float  # its mean depth, in proxy pixels
    # each side's depth (top, right, bottom, left; 0 where no border showed), in proxy px
    depths: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def chroma(self) -> float:
        return float(np.hypot(self.lab[1], self.lab[2]))


def find_border(small: np.ndarray) -> Border | None:
    """The paper border of a print on a float32 [0, 1] H×W×3 encoded proxy, or None."""
    if small.ndim != 3 or small.shape[2] != 3 or min(small.shape[:2]) < 48:
        return None
    lab = cv2.cvtColor(np.ascontiguousarray(small, np.float32), cv2.COLOR_RGB2Lab)
    short = min(small.shape[:2])
    found, where = [], []
    for k in range(4):  # each side in turn brought to the top: top, right, bottom, left
        side = _side(np.rot90(lab, k), short)
        if side is not None:
            found.append(side)
            where.append(k)
    if len(found) < MIN_SIDES:
        return None
    colours = np.array([c for c, _, _, _ in found])
    centre = np.median(colours, axis=0)
    agree = np.linalg.norm(colours - centre, axis=1) <= SIDES_AGREE
    if agree.sum() < MIN_SIDES or centre[0] < MIN_LIGHTNESS:
        return None
    pixels = np.concatenate([p for (_, _, p, _), ok in zip(found, agree) if ok])
    lab_med = np.median(pixels, axis=0)
    rgb = cv2.cvtColor(lab_med.reshape(1, 1, 3).astype(np.float32), cv2.COLOR_Lab2RGB).reshape(3)
    depth = float(np.mean([d for (_, d, _, _), ok in zip(found, agree) if ok]))
    depths = [0, 0, 0, 0]
    for k, (_, _, _, deepest), ok in zip(where, found, agree):
        depths[k] = int(math.ceil(deepest)) if ok else 0
    return Border(tuple(float(v) for v in np.clip(rgb, 0, 1)), tuple(float(v) for v in lab_med),
                  int(agree.sum()), depth, tuple(depths))


def inside(small: np.ndarray, border: Border, margin: int = 2) -> np.ndarray:
    """The picture within the border (its depths, plus `margin` px of the inner edge's blur)."""
    top, right, bottom, left = (d + margin if d else 0 for d in border.depths)
    h, w = small.shape[:2]
    if h - top - bottom < 16 or w - left - right < 16:
        return small
    return small[top:h - bottom, left:w - right]


def _side(lab: np.ndarray, short: int):
    """(Lab colour, mean depth, border pixels, deepest point) of a border along the top of
    `lab`, or None."""
    w = lab.shape[1]
    deep = max(MIN_DEPTH_PX + 2, int(MAX_DEPTH * short))
    skip = int(EDGE_SKIP * short)
    margin = deep  # the corners belong to two sides; leave them out of both
    edges = np.linspace(margin, w - margin, SEGMENTS + 1).astype(int)
    if edges[1] - edges[0] < 4:
        return None
    depths, centres, parts = [], [], []
    for a, b in zip(edges[:-1], edges[1:]):
        found = _segment_depth(lab[:deep, a:b], skip, short)
        if found is not None:
            top, depth = found
            depths.append(depth)
            centres.append((a + b) / 2)
            parts.append(lab[top:int(depth), a:b].reshape(-1, 3))
    if len(depths) < SEGMENTS - 2:
        return None
    centres, depths = np.array(centres), np.array(depths)
    slope, offset = np.polyfit(centres, depths, 1)
    if abs(slope) > MAX_TILT or np.abs(depths - (slope * centres + offset)).max() > STRAIGHT_PX:
        return None
    pixels = np.concatenate(parts)
    deepest = max(offset, slope * (w - 1) + offset, depths.max())  # a tilted edge, at its far end
    return np.median(pixels, axis=0), float(depths.mean()), pixels, float(deepest)


def _segment_depth(strip: np.ndarray, skip: int, short: int):
    """(first paper row, depth) of the border in one piece of a side: rows from the edge (after
    at most `skip` rows of something else) whose pixels all lie near one colour, up to
    the first row that does not — the picture. None if there is no such run or it never ends."""
    med = np.median(strip, axis=1)  # rows × 3
    for top in range(skip + 1):
        ref = np.median(strip[top:top + 3].reshape(-1, 3), axis=0)
        if ref[0] < MIN_LIGHTNESS:
            continue
        spread = np.percentile(np.linalg.norm(strip[top:] - ref, axis=2), 80, axis=1)
        off = np.nonzero((spread > SPREAD) | (np.linalg.norm(med[top:] - ref, axis=1) > SPREAD))[0]
        if not len(off):
            return None  # even colour as deep as a border may go: a backdrop, not paper
        end = top + int(off[0])
        if end - top >= max(MIN_DEPTH_PX, MIN_DEPTH * short):
            return top, _subpixel_end(med, ref, end)
    return None


def _subpixel_end(med: np.ndarray, ref: np.ndarray, end: int) -> float:
    """Where between row end − 1 and row end the colour leaves the paper's: the straightness
    test compares depths along a side, and whole rows would hide a tilt under steps."""
    before = float(np.linalg.norm(med[end - 1] - ref))
    after = float(np.linalg.norm(med[end] - ref))
    if after <= before:
        return float(end)
    return end - 1 + float(np.clip((SPREAD - before) / (after - before), 0, 1))
