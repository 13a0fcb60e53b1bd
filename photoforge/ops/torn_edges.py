"""Torn corners and torn edges: where a print is missing, the scan shows the lid or backing.

The damage network sees 192 px crops. It marks the ragged cut of a torn corner, but the
inside of a large one is a flat grey, white or black area, and a flat area is no damage
to a network that cannot see where the area ends. On the round-2 check photos it found
44 % of the synthetic tears' pixels, and the missed ones were the largest share of the
restore's remaining error (repairing the whole tear closed 2.3 of the 4.0 dB between the
learned detector's restore and Telea given the true mask, on 6 check photos).

What tells a missing piece from a flat part of the picture (a wall, a sky, a black studio
backdrop, a black print border):
- it touches the photo's edge and is at most 6 % of it;
- it is neutral, and flatter than a photographed surface: a lid under the scanner's light
  has a grey standard deviation of 2.5 of 255 or less over the whole region, where a sky
  or a wall has a gradient;
- the network outlines it inside the photo, along the torn cut: 70 % of the boundary within
  2 px at probability ≥ 0.05, and 10 % of it in the damage mask itself (a dark
  background's outline gets a faint response too, but not a mark);
- across the marks lies something else, the photo: at most 20 % of the pixels 5–14 px
  beyond the region, near the marks and not marked, within 8 levels of its grey. A crack
  network or scratches over a black print border cut it into cells outlined by marks, and
  across those lies more of the same border. (The cost: a grey lid beside a photo of the
  same tone is left to the network's own mark.)

Chosen on the round-2 check photos (40: damaged, aged and as stored, at 800 and 256 px),
never on a validation photo: tears found 44 % → 90 % of their pixels; on clean photos one
small photo had 0.007 % flagged, the README samples nothing at 256 px, 512 px or full size;
and with one kind of damage at a time (cracks, scratches, dust), 35 px added outside the
damage in 120 photos (20,349 and 22,989 before the last rule).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class TornRules:
    ring_p: float = 0.05  # the network's probability that counts as marking the cut…
    ring_tol: int = 2  # …within this many px of the region's boundary
    ring_cover: float = 0.7  # share of the boundary (inside the photo) that must be marked
    mask_cover: float = 0.1  # share of it that the damage mask itself must reach
    local_std: float = 5.0  # of 255: a pixel is flat if its 5×5 grey std is at most this…
    chroma: float = 8.0  # …and neutral if its channels spread at most this (of 255)
    region_std: float = 2.5  # of 255: a lid is flat as a whole, a sky or a wall has a gradient
    alike_max: float = 0.2  # share of what lies across the marks that may look like the region…
    alike_levels: float = 8.0  # …"look like": grey within this (of 255) of the region's mean
    max_share: float = 0.06  # of the photo: a corner torn off is smaller than this
    min_area: int = 30  # px


TORN = TornRules()
ACROSS = 14  # px: how far beyond a region what lies across its marks is read


def torn_regions(pixels: np.ndarray, prob: np.ndarray, found: np.ndarray, rules: TornRules = TORN) -> np.ndarray:
    """H×W bool: the flat, neutral regions at the photo's edge whose boundary the network
    marks (`prob`, H×W) and the damage mask `found` (H×W bool) reaches. `pixels` is H×W×C,
    uint8 or uint16."""
    h, w = prob.shape
    scale = np.float32(255.0 / 65535.0 if pixels.dtype == np.uint16 else 1.0)
    planes = [pixels[:, :, c].astype(np.float32) * scale for c in range(pixels.shape[2])]
    # per-plane arithmetic: numpy's reductions over a 3-long last axis cost 9× more at 2 MP
    grey = sum(planes[1:], planes[0]) / np.float32(len(planes))
    chroma = np.maximum.reduce(planes) - np.minimum.reduce(planes) if len(planes) > 1 else np.zeros_like(grey)
    mean = cv2.boxFilter(grey, -1, (5, 5))
    var = cv2.boxFilter(grey * grey, -1, (5, 5)) - mean * mean
    flat = (var <= rules.local_std ** 2) & (chroma <= rules.chroma)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(flat.view(np.uint8), connectivity=4)
    out = np.zeros((h, w), bool)
    x, y, bw, bh, area = (stats[:, i] for i in range(5))
    at_edge = (x == 0) | (y == 0) | (x + bw == w) | (y + bh == h)
    candidates = np.flatnonzero(at_edge & (area >= rules.min_area) & (area <= rules.max_share * h * w))
    if not len(candidates):
        return out
    weak = prob >= rules.ring_p
    if not weak.any():
        return out
    k = 2 * rules.ring_tol + 1
    marked = cv2.dilate(weak.view(np.uint8), np.ones((k, k), np.uint8)) > 0
    sure = cv2.dilate(found.view(np.uint8), np.ones((k, k), np.uint8)) > 0
    by_marks = cv2.dilate(found.view(np.uint8), np.ones((11, 11), np.uint8)) > 0
    cross = np.ones((3, 3), np.uint8)
    for i in candidates[candidates > 0]:
        x0, y0 = max(x[i] - ACROSS, 0), max(y[i] - ACROSS, 0)
        x1, y1 = min(x[i] + bw[i] + ACROSS, w), min(y[i] + bh[i] + ACROSS, h)
        region = labels[y0:y1, x0:x1] == i
        ring = (cv2.dilate(region.view(np.uint8), cross) > 0) & ~region
        if ring.sum() < 8 or marked[y0:y1, x0:x1][ring].mean() < rules.ring_cover:
            continue
        if sure[y0:y1, x0:x1][ring].mean() < rules.mask_cover:
            continue
        inside = grey[y0:y1, x0:x1][region]
        if inside.std() > rules.region_std:
            continue
        if rules.alike_max < 1:  # what lies across the marks: the photo, or more of the same?
            near = cv2.dilate(region.view(np.uint8), np.ones((9, 9), np.uint8)) > 0
            band = ((cv2.dilate(region.view(np.uint8), np.ones((2 * ACROSS + 1, 2 * ACROSS + 1), np.uint8)) > 0) & ~near
                    & ~found[y0:y1, x0:x1] & by_marks[y0:y1, x0:x1])
            if band.sum() >= 8 and (np.abs(grey[y0:y1, x0:x1][band] - inside.mean())
                                    <= rules.alike_levels).mean() > rules.alike_max:
                continue
        out[y0:y1, x0:x1] |= region
    return out
