"""Test-time augmentation of the learned detector: the network also sees the photo flipped
and the maps are averaged (photoforge.ops.learned_damage.TTA_VIEWS)."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from photoforge.engine.progress import Aborted, Progress
from photoforge.ops.learned_damage import (damage_probability, find_damage_mask, recommended_threshold, tta_mean,
                                           to_logit)


@pytest.fixture(scope="module")
def damaged(photo) -> np.ndarray:
    """A crop of the astronaut with a bright bent scratch, a dark crack and dust."""
    img = np.ascontiguousarray(photo[40:232, 96:336]).copy()
    cv2.polylines(img, [np.array([[10, 20], [90, 60], [200, 70], [230, 150]], np.int32)], False,
                  (245, 245, 240), 1, cv2.LINE_AA)
    cv2.polylines(img, [np.array([[30, 180], [60, 120], [70, 100], [140, 20]], np.int32)], False, (20, 15, 10), 2)
    for x, y in ((50, 40), (170, 140), (120, 170), (200, 30)):
        cv2.circle(img, (x, y), 2, (250, 250, 250), -1)
    return img


def test_the_mean_of_one_map_is_that_map_and_logits_average_in_logit_space():
    p = np.array([[0.1, 0.5, 0.9, 0.999]], np.float32)
    np.testing.assert_allclose(tta_mean([p, p], "logit"), p, rtol=1e-5)
    np.testing.assert_array_equal(tta_mean([p, p], "prob"), p)
    q = np.array([[0.9, 0.5, 0.1, 0.5]], np.float32)
    np.testing.assert_allclose(to_logit(tta_mean([p, q], "logit")), (to_logit(p) + to_logit(q)) / 2, atol=1e-4)
    np.testing.assert_allclose(tta_mean([p, q], "prob"), (p + q) / 2)
    np.testing.assert_array_equal(tta_mean([p, q], "min"), np.minimum(p, q))
    np.testing.assert_array_equal(tta_mean([p, q, q, p * 0.5], "min"), np.minimum(p * 0.5, q))
    with pytest.raises(ValueError, match="logit, prob, min"):
        tta_mean([p, q], "median")


@pytest.mark.parametrize("mean", ["logit", "prob", "min"])
def test_the_mean_in_strips_equals_the_whole_map_and_stays_small(mean, monkeypatch):
    import tracemalloc

    from photoforge.ops import learned_damage

    rng = np.random.default_rng(5)
    maps = [rng.random((301, 257), dtype=np.float32) for _ in range(4)]
    whole4, whole2 = tta_mean(maps, mean), tta_mean(maps[:2], mean)
    monkeypatch.setattr(learned_damage, "_STRIP_PIXELS", 257 * 7)  # 7 rows a strip, the last one short
    np.testing.assert_array_equal(tta_mean(maps, mean), whole4)
    np.testing.assert_array_equal(tta_mean(maps[:2], mean), whole2)
    big = [rng.random((2000, 1000), dtype=np.float32) for _ in range(2)]  # 8 MB a map
    monkeypatch.setattr(learned_damage, "_STRIP_PIXELS", 1 << 16)
    tracemalloc.start()
    tta_mean(big, mean)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 8e6 + 2e6  # the output and a strip's temporaries, not several whole maps


@pytest.mark.parametrize("tta", ["h", "hv"])
def test_tiled_equals_untiled_with_tta(damaged, tta):
    whole = damage_probability(damaged, device="cpu", tta=tta, tile=0)
    tiled = damage_probability(damaged, device="cpu", tta=tta, tile=64)
    assert whole.shape == damaged.shape[:2] and whole.dtype == np.float32
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    # the views were really averaged: not the photo alone's map
    assert np.abs(whole - damage_probability(damaged, device="cpu", tta="off", tile=0)).max() > 1e-3


@pytest.mark.parametrize("tta, flips", [("h", ("h",)), ("hv", ("h", "v", "hv"))])
def test_the_mask_of_a_flipped_photo_is_the_flipped_mask(damaged, tta, flips):
    def flip(a, f):
        return a[:, ::-1] if f == "h" else a[::-1] if f == "v" else a[::-1, ::-1]

    prob = damage_probability(damaged, device="cpu", tta=tta)
    mask = find_damage_mask(damaged, detector="learned", device="cpu", tta=tta)
    assert 0 < (mask > 0).mean() < 0.2  # it finds the drawn damage, not everything
    for f in flips:
        seen = np.ascontiguousarray(flip(damaged, f))
        np.testing.assert_array_equal(damage_probability(seen, device="cpu", tta=tta), flip(prob, f))
        np.testing.assert_array_equal(find_damage_mask(seen, detector="learned", device="cpu", tta=tta),
                                      flip(mask, f))


def test_tta_reports_progress_over_its_passes_and_cancels(damaged):
    fractions = []
    damage_probability(damaged, Progress(lambda f, m: fractions.append(f)), device="cpu", tta="h", tile=64)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(0.4 < f < 0.6 for f in fractions)  # the first pass ends half way

    def on_progress(fraction, message):
        if fraction >= 0.5:
            progress.cancel()

    progress = Progress(on_progress)
    with pytest.raises(Aborted):
        damage_probability(damaged, progress, device="cpu", tta="h", tile=64)
    assert progress.fraction < 0.6  # the second pass stopped within its first tile


def test_the_shipped_pair_runs_without_tta_at_its_cards_threshold():
    import json
    from importlib import resources

    card = json.loads(resources.files("photoforge").joinpath("models/damage_seg.json").read_text())
    # the pair's second network already sees the mirrored photo: flip TTA on top would be four
    # passes, and the card chose no threshold for it, so asking for it falls back to the pair's
    assert card["combine"].startswith("B sees the photo mirrored") and len(card["members"]) == 2
    assert not card["tta"]["default"] and card["tta"]["threshold"] is None
    assert recommended_threshold() == recommended_threshold("off") == card["threshold"]
    assert recommended_threshold(card["tta"]["views"], card["tta"]["mean"]) == card["threshold"]


@pytest.mark.parametrize("tta_block, card_threshold, expected", [
    ({"views": "h", "mean": "logit", "threshold": None}, 0.9996, 0.9996),  # null: the photo alone's
    ({"views": "h", "mean": "logit", "threshold": "high"}, 0.9996, 0.9996),
    ({"views": "h", "mean": "logit", "threshold": 1.5}, 0.9996, 0.9996),  # not a probability
    ({"views": "h", "mean": "logit", "threshold": 0.998}, 0.9996, 0.998),
    (None, 0.9996, 0.9996),
    ({"views": "h", "mean": "logit"}, None, 0.5),  # nothing usable at all
])
def test_a_card_without_a_usable_tta_threshold_falls_back_to_the_photo_alones(monkeypatch, tta_block, card_threshold,
                                                                              expected):
    import json

    from photoforge.ops import learned_damage

    card = {"threshold": card_threshold, **({"tta": tta_block} if tta_block is not None else {})}

    class _Files:
        def joinpath(self, _):
            return self

        def read_text(self):
            return json.dumps(card)

    monkeypatch.setattr(learned_damage.resources, "files", lambda _: _Files())
    learned_damage._card_threshold.cache_clear()
    try:
        assert learned_damage.recommended_threshold("h", "logit") == expected
    finally:
        monkeypatch.undo()
        learned_damage._card_threshold.cache_clear()
