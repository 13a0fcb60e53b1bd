"""The damage synthesiser: masks are exactly what it drew, by seed, kind by kind."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from training.synth import CHANGE, KINDS, synthesize

LEVEL = round(CHANGE * 255)


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).max(2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_outside_the_mask_the_image_is_the_aged_base_and_inside_it_changed(small_photos, seed):
    for rgb in small_photos:
        s = synthesize(rgb, seed)
        assert s.mask.any()
        diff = changed(s.image, s.base)
        assert (diff[~s.mask] == 0).all()
        assert (diff[s.mask] >= LEVEL).all()


def test_kind_masks_add_up_to_the_union(small_photos):
    s = synthesize(small_photos[0], 5)
    union = np.zeros_like(s.mask)
    for m in s.masks.values():
        union |= m
    assert (union == s.mask).all()


def test_the_same_seed_draws_the_same_damage_and_another_seed_does_not(small_photos):
    a, b, c = (synthesize(small_photos[1], seed) for seed in (7, 7, 8))
    assert (a.image == b.image).all() and (a.mask == b.mask).all()
    assert all((a.masks[k] == b.masks[k]).all() for k in KINDS)
    assert not (a.image == c.image).all()


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_draws_its_own_kind_only(small_photos, kind):
    found = False
    for seed in range(4):
        s = synthesize(small_photos[0], seed, (kind,))
        assert set(s.masks) == {kind}
        assert (s.masks[kind] == s.mask).all()
        found |= s.mask.any()
    assert found, f"{kind}: nothing drawn in 4 seeds"


def test_a_kind_draws_the_same_defects_whatever_else_is_drawn(small_photos):
    """Each kind has its own random stream, so a bench scenario of one kind sees the same
    scratches as the mixed one."""
    alone = synthesize(small_photos[0], 3, ("scratch",), jpeg=False)
    mixed = synthesize(small_photos[0], 3, ("scratch", "dust"), jpeg=False)
    assert (alone.masks["scratch"] & ~mixed.mask).sum() == 0


def test_hard_negatives_are_drawn_but_never_masked(small_photos):
    """Glints, eye highlights, borders and text change the photo but are not damage."""
    seen = 0
    for seed in range(12):
        s = synthesize(small_photos[0], seed, ())
        assert not s.mask.any() and (s.image == s.base).all()
        seen += int(s.negatives.sum())
        damaged = synthesize(small_photos[0], seed)
        assert not (damaged.negatives & damaged.mask).any()
    assert seen > 0


def test_synth_needs_no_torch():
    code = "import sys, training.synth, training.metrics; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_broad_styles_keep_the_mask_exact_and_their_negatives_unmasked(small_photos, seed):
    for rgb in small_photos:
        s = synthesize(rgb, seed, broad=True)
        diff = changed(s.image, s.base)
        assert (diff[~s.mask] == 0).all()
        assert (diff[s.mask] >= LEVEL).all()
        assert not (s.negatives & s.mask).any()


def test_without_the_broad_styles_a_seed_draws_what_it_always_drew(small_photos):
    """The validation bench calls synthesize without broad: its photos must not change under
    the models measured on it. The broad styles draw from streams of their own, so the
    straight scratches of a seed are all still there beside the curved ones."""
    plain = synthesize(small_photos[0], 4, ("scratch",), jpeg=False)
    again = synthesize(small_photos[0], 4, ("scratch",), jpeg=False, broad=False)
    assert (plain.image == again.image).all()
    broad = synthesize(small_photos[0], 4, ("scratch",), jpeg=False, broad=True)
    assert broad.mask.sum() > plain.mask.sum()
    assert (plain.mask & ~broad.mask).sum() <= 0.01 * plain.mask.sum()


def test_rim_lights_are_bright_and_follow_the_photos_own_contours(small_photos):
    import cv2

    from training.synth import _to_u8, luminance, rim_lights

    rgb = small_photos[1]  # coffee: a cup and saucer with glossy rims
    img = rgb.astype(np.float32) / 255
    lum = cv2.GaussianBlur(_to_u8(luminance(img)), (0, 0), 1.0)
    near_edge = cv2.dilate(cv2.Canny(lum, 40, 100), np.ones((9, 9), np.uint8)) > 0
    drawn = 0
    for seed in range(5):
        out, neg = img.copy(), np.zeros(img.shape[:2], bool)
        rim_lights(out, neg, np.random.default_rng(seed))
        lighter = luminance(out) - luminance(img)
        assert (lighter[neg] >= -1e-6).all()
        assert (neg & near_edge).sum() >= 0.9 * neg.sum()
        drawn += int(neg.sum())
    assert drawn > 100


def test_curved_scratches_bend_and_are_mostly_hairline(monkeypatch):
    """Each drawn path: how far its middle leaves the chord, and its width. The straight kind
    never leaves it by more than 1 % of its length."""
    from training import synth_draw

    paths = []
    real = synth_draw.polyline

    def record(points, widths, pad=4):
        paths.append((points.copy(), float(np.max(widths))))
        return real(points, widths, pad)

    monkeypatch.setattr(synth_draw, "polyline", record)
    synth_draw.curved_scratches(synth_draw.Layer(512, 512), np.random.default_rng(0), 4.0)
    assert len(paths) >= 5
    bends, widths = [], []
    for pts, width in paths:
        a, b = pts[0], pts[-1]
        chord = np.linalg.norm(b - a)
        d, r = b - a, pts - a
        off = np.abs(d[0] * r[:, 1] - d[1] * r[:, 0]) / chord
        bends.append(off.max() / chord)
        widths.append(width)
    assert max(bends) > 0.05
    assert np.mean(np.array(widths) == 1) >= 0.5


def test_rim_p_sets_how_many_broad_prints_get_rim_lights(small_photos):
    """rim_p = 0 draws none and 1 draws them on every print; the default draws what every model up
    to damage_seg6 was trained on."""
    from training.synth import RIM_P

    rgb = small_photos[1]
    default = synthesize(rgb, 3, ("dust",), jpeg=False, broad=True)
    same = synthesize(rgb, 3, ("dust",), jpeg=False, broad=True, rim_p=RIM_P)
    assert RIM_P == 0.5 and (default.image == same.image).all() and (default.negatives == same.negatives).all()
    never = sum(int(synthesize(rgb, s, (), jpeg=False, broad=True, rim_p=0.0).negatives.sum()) for s in range(4))
    always = sum(int(synthesize(rgb, s, (), jpeg=False, broad=True, rim_p=1.0).negatives.sum()) for s in range(4))
    assert always > never + 100
