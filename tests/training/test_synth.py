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
