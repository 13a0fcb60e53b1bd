"""From the network's probability map to a mask: hysteresis, size, sensitivity."""
from __future__ import annotations

import numpy as np
import pytest

from photoforge.ops.learned_damage import find_damage_mask, mask_from_probability, thresholds


def test_sensitivity_moves_the_threshold_around_the_trained_one():
    assert thresholds(0.5, base=0.4)[0] == pytest.approx(0.4)
    assert thresholds(1.0, base=0.4)[0] < 0.4 < thresholds(0.0, base=0.4)[0]
    high, low = thresholds(0.5, base=0.4, low_fraction=0.5)
    assert low == pytest.approx(high / 2)


def test_hysteresis_follows_a_faint_crack_from_its_clear_part_and_drops_faint_texture():
    prob = np.zeros((60, 100), np.float32)
    prob[20, 10:90] = 0.3  # a faint crack…
    prob[20, 40:45] = 0.9  # …clear in one place
    prob[45:48, 60:63] = 0.3  # faint texture, alone
    prob[5, 5] = 0.95  # a single hot pixel
    mask = mask_from_probability(prob, 0.5, base=0.5)
    assert (mask[20, 10:90] == 255).all()  # the whole crack
    assert mask[45:48, 60:63].max() == 0 and mask[4:7, 4:7].max() == 0
    assert mask[21, 50] == 255  # grown by 1 px for the halo


def test_more_sensitivity_never_finds_less():
    rng = np.random.default_rng(0)
    prob = rng.random((80, 80)).astype(np.float32) ** 3
    counts = [(mask_from_probability(prob, s, base=0.5) > 0).sum() for s in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert counts == sorted(counts) and counts[-1] > counts[0]


def test_an_unknown_detector_is_refused_by_name():
    with pytest.raises(ValueError, match="learned, classical, both"):
        find_damage_mask(np.zeros((8, 8, 3), np.uint8), detector="magic")


def test_the_shipped_detector_runs_through_the_engine_and_sees_16_bit_as_8_bit(photo):
    from photoforge.ops.learned_damage import damage_probability

    pixels = np.ascontiguousarray(photo[:200, :240])
    prob = damage_probability(pixels, device="cpu")
    assert prob.shape == (200, 240) and prob.dtype == np.float32
    assert 0.0 <= prob.min() and prob.max() <= 1.0
    deep = damage_probability(pixels.astype(np.uint16) * 257, device="cpu")
    # float rounding of the two inputs only (measured 1.8e-5: the flip average goes through
    # logits, which stretch a difference near p = 1)
    np.testing.assert_allclose(deep, prob, atol=1e-4)
    assert find_damage_mask(pixels, detector="learned", device="cpu").shape == (200, 240)
