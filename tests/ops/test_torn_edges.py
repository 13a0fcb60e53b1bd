"""Torn corners: a flat, neutral region at the photo's edge whose cut the network marks is
taken whole; flat parts of the picture are not."""
from __future__ import annotations

import cv2
import numpy as np

from photoforge.ops.learned_damage import mask_from_probability
from photoforge.ops.torn_edges import torn_regions

H, W = 240, 320


def textured(seed: int = 0, lo: float = 0.2, hi: float = 0.8) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.random((12, 16, 3), np.float32), (W, H), interpolation=cv2.INTER_CUBIC)
    grain = rng.normal(0, 0.06, (H, W, 3)).astype(np.float32)
    return (np.clip(lo + (hi - lo) * base + grain, 0, 1) * 255).astype(np.uint8)


def corner(a: int = 90, b: int = 70, seed: int = 1) -> np.ndarray:
    """H×W bool: the top-left corner cut off along a ragged line from (a, 0) to (0, b)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, 30)[:, None]
    cut = np.array([a, 0.0]) * (1 - t) + np.array([0.0, b]) * t + rng.normal(0, 3, (30, 2))
    poly = np.vstack([[[a + 2, -2]], cut, [[-2, b + 2], [-2, -2]]]).round().astype(np.int32)
    m = np.zeros((H, W), np.uint8)
    cv2.fillPoly(m, [poly], 1)
    return m.astype(bool)


def cut_line(region: np.ndarray, p: float = 0.6) -> np.ndarray:
    """What the network gives a torn cut: a band of probability p along the region's
    boundary inside the photo, nothing elsewhere."""
    ring = cv2.dilate(region.view(np.uint8), np.ones((5, 5), np.uint8)) > 0
    inner = cv2.erode(region.view(np.uint8), np.ones((5, 5), np.uint8), borderType=cv2.BORDER_REPLICATE) > 0
    return np.where(ring & ~inner, p, 0.001).astype(np.float32)


def marked(region: np.ndarray) -> np.ndarray:
    """The damage mask along the whole cut (what the hysteresis keeps of a clear one)."""
    return cut_line(region) > 0.5


def lid(img: np.ndarray, region: np.ndarray, level: int, noise: float = 1.0, seed: int = 2) -> np.ndarray:
    out = img.copy()
    rng = np.random.default_rng(seed)
    flat = np.clip(level + rng.normal(0, noise, (H, W)), 0, 255).astype(np.uint8)
    out[region] = flat[region][:, None]
    return out


def interior(region: np.ndarray) -> np.ndarray:
    """The region less the 2 px along its cut, where the 5×5 flatness window sees the photo
    (the network's own mark covers those)."""
    return cv2.erode(region.view(np.uint8), np.ones((5, 5), np.uint8), borderType=cv2.BORDER_REPLICATE) > 0


def test_a_missing_corner_showing_the_lid_is_found_whole():
    region = corner()
    for level, photo in ((245, textured()), (128, textured(lo=0.6, hi=1.0)), (12, textured())):
        scan = lid(photo, region, level)  # a white, grey and black lid
        found = torn_regions(scan, cut_line(region), marked(region))
        assert not (found & ~region).any(), level
        assert (found & interior(region)).sum() == interior(region).sum(), level


def test_sixteen_bit_finds_what_eight_bit_finds():
    region = corner()
    scan = lid(textured(), region, 240)
    wide = scan.astype(np.uint16) * 257
    assert np.array_equal(torn_regions(wide, cut_line(region), marked(region)), torn_regions(scan, cut_line(region), marked(region)))


def test_a_cut_the_network_only_half_suspects_is_not_enough():
    region = corner()
    scan = lid(textured(), region, 240)
    assert not torn_regions(scan, cut_line(region), np.zeros((H, W), bool)).any()


def test_a_flat_area_the_network_does_not_outline_is_left():
    region = corner()
    scan = lid(textured(), region, 240)
    assert not torn_regions(scan, np.full((H, W), 0.001, np.float32), marked(region)).any()
    half = cut_line(region)
    ys, xs = np.nonzero(half > 0.5)
    half[ys[xs > np.median(xs)], xs[xs > np.median(xs)]] = 0.001  # the cut marked only half way
    assert not torn_regions(scan, half, marked(region)).any()


def test_a_sky_with_a_gradient_or_colour_is_no_lid():
    region = corner()
    img = textured()
    gradient = img.copy()
    ramp = np.linspace(200, 240, W)[None, :].repeat(H, 0)
    gradient[region] = ramp[region][:, None].astype(np.uint8)  # smooth locally, a gradient as a whole
    assert not torn_regions(gradient, cut_line(region), marked(region)).any()
    blue = lid(img, region, 200)
    blue[region] = (150, 190, 235)  # flat, but a colour no lid has
    assert not torn_regions(blue, cut_line(region), marked(region)).any()


def test_flat_cells_between_marks_are_no_tear():
    """A crack network or scratches over a flat dark area (a black print border) cut it into
    cells whose outline is all marks; across those marks lies more of the same flat area,
    where across a torn cut lies the photo."""
    region = corner()
    block = np.zeros((H, W), bool)
    block[:120, :140] = True
    scan = lid(textured(), block, 20)  # a flat dark area larger than the corner…
    scan[marked(region)] = 200  # …crossed by a light crack along the corner's outline
    assert not torn_regions(scan, cut_line(region), marked(region)).any()
    torn = lid(textured(), region, 20)  # the same outline with the photo across it
    torn[marked(region)] = 200
    assert torn_regions(torn, cut_line(region), marked(region)).sum() > 0.8 * interior(region).sum()


def test_a_lid_the_tone_of_the_photo_beside_it_is_left():
    """The safe side of the rule above: a grey lid beside a mid-grey photo is not told from
    a flat area crossed by a mark, so the corner is left to the network's own mark."""
    region = corner()
    photo = textured(lo=0.45, hi=0.55)
    assert not torn_regions(lid(photo, region, 128), cut_line(region), marked(region)).any()


def test_a_flat_patch_inside_the_photo_is_no_tear():
    inside = np.zeros((H, W), bool)
    cv2.circle(inside.view(np.uint8), (160, 120), 40, 1, -1)
    scan = lid(textured(), inside, 245)
    assert not torn_regions(scan, cut_line(inside), marked(inside)).any()


def test_the_mask_restore_repairs_takes_the_corner_only_with_the_photo():
    region = corner()
    scan = lid(textured(), region, 245)
    prob = cut_line(region, 0.999)
    without = mask_from_probability(prob, 0.5, base=0.99) > 0
    with_photo = mask_from_probability(prob, 0.5, base=0.99, pixels=scan) > 0
    assert (without & region).sum() < 0.5 * region.sum()
    assert (with_photo & region).sum() == region.sum()  # the interior found, the cut marked, 1 px halo
    assert not (with_photo & ~cv2.dilate(region.view(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)).any()
