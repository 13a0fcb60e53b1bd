"""The learned detector's post-processing (speck rule) and the `--detector both` fusion:
the classical mask seeds the network's hysteresis."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from photoforge.ops.learned_damage import POST, find_damage_mask, fuse, mask_from_probability, thresholds
from tests.ops.test_restore import with_scratch

BASE = 0.5  # the high threshold at sensitivity 0.5


def levels(rules=POST):
    high, low = thresholds(0.5, BASE, rules.low_fraction)
    return high, low, rules.seed_low_fraction * high


def test_fusion_without_a_gate_keeps_every_classical_mark_as_it_is():
    rng = np.random.default_rng(3)
    prob = (rng.random((90, 120)) ** 4).astype(np.float32)
    classical = np.where(rng.random((90, 120)) < 0.02, 255, 0).astype(np.uint8)
    for alone_logit in (0.0, 2.0):
        rules = replace(POST, alone_logit=alone_logit, seed_gate=0.0)
        out = fuse(prob, classical, 0.5, base=BASE, rules=rules)
        assert out.dtype == np.uint8 and out.shape == prob.shape
        assert (out[classical > 0] == 255).all()
    # With no extra bar, all the network finds alone is in as well.
    out = fuse(prob, classical, 0.5, base=BASE, rules=replace(POST, alone_logit=0.0, seed_gate=0.0))
    assert (out >= mask_from_probability(prob, 0.5, base=BASE, rules=replace(POST, alone_logit=0.0))).all()


def test_fusion_with_a_gate_keeps_only_the_classical_marks_the_network_confirms():
    rules = replace(POST, seed_gate=0.2)
    high, _, _ = levels(rules)
    prob = np.zeros((40, 80), np.float32)
    classical = np.zeros(prob.shape, np.uint8)
    classical[5:8, 5:8] = 255  # a speck the network gives nothing
    classical[20:23, 40:43] = 255  # a speck the network half-sees at one pixel
    prob[21, 41] = 0.25 * high
    classical[30:33, 60:63] = 255  # just under the gate everywhere
    prob[30:33, 60:63] = 0.19 * high
    out = fuse(prob, classical, 0.5, base=BASE, rules=rules)
    assert out[5:8, 5:8].max() == 0 and out[30:33, 60:63].max() == 0
    assert (out[20:23, 40:43] == 255).all()  # the whole mark, not just the confirming pixel
    # with no gate every mark stays, as before
    assert (fuse(prob, classical, 0.5, base=BASE, rules=replace(rules, seed_gate=0.0))[classical > 0] == 255).all()


def test_fusion_holds_what_the_network_finds_away_from_every_mark_to_a_higher_bar():
    rules = replace(POST, alone_logit=1.0)
    high, _, _ = levels(rules)
    prob = np.zeros((40, 80), np.float32)
    prob[20, 5:75] = high + (1 - high) * 0.1  # over the high threshold, by less than a logit
    classical = np.zeros(prob.shape, np.uint8)
    classical[2:4, 2:4] = 255
    assert (mask_from_probability(prob, 0.5, base=BASE, rules=rules)[20, 5:75] == 255).all()
    assert fuse(prob, classical, 0.5, base=BASE, rules=rules)[20].max() == 0
    prob[20, 40] = 0.999
    assert (fuse(prob, classical, 0.5, base=BASE, rules=rules)[20, 5:75] == 255).all()


def test_fusion_grows_a_classical_mark_along_the_networks_weak_probability():
    rules = replace(POST, low_fraction=0.5, seed_low_fraction=0.3, seed_gate=0.0)
    high, low, seed_low = levels(rules)
    weak = (seed_low + low) / 2
    prob = np.zeros((60, 120), np.float32)
    prob[30, 10:110] = weak  # a crack the network is unsure of, all along
    prob[10, 10:110] = weak  # the same, with no classical mark on it
    classical = np.zeros(prob.shape, np.uint8)
    classical[29:32, 55:60] = 255  # the classical detector caught a bit of the first one
    learned = mask_from_probability(prob, 0.5, base=BASE, rules=rules)
    assert learned.max() == 0  # on its own the network's probability is too weak anywhere
    out = fuse(prob, classical, 0.5, base=BASE, rules=rules)
    assert (out[30, 10:110] == 255).all()  # grown from the seed along the whole crack
    assert out[31, 20] == 255  # with the 1 px halo
    assert out[10].max() == 0  # the unseeded one stays out
    far = np.zeros_like(prob)
    far[30, 10:110] = seed_low * 0.8  # below the seed floor: the seed does not grow into it
    grown = fuse(far, classical, 0.5, base=BASE, rules=rules)
    np.testing.assert_array_equal(grown > 0, classical > 0)


def test_an_isolated_weak_speck_is_dropped_and_a_strong_one_kept():
    rules = replace(POST, speck_peak=0.8, speck_max=32)
    high, low, _ = levels(rules)
    prob = np.zeros((40, 80), np.float32)
    prob[10:13, 10:13] = low + 0.01  # faint 9 px speck…
    prob[11, 11] = 0.7 * high  # …whose peak stays under 0.8 × high
    prob[10:13, 50:53] = low + 0.01  # the same speck…
    prob[11, 51] = 0.85 * high  # …with a peak over 0.8 × high: dust
    prob[30, 10:70] = low + 0.01  # a long faint line…
    prob[30, 40] = 0.85 * high  # …is not a speck: its peak must reach high itself
    mask = mask_from_probability(prob, 0.5, base=BASE, rules=rules)
    assert mask[9:14, 9:14].max() == 0
    assert (mask[10:13, 50:53] == 255).all()
    assert mask[29:32].max() == 0
    prob[30, 40] = high
    assert (mask_from_probability(prob, 0.5, base=BASE, rules=rules)[30, 10:70] == 255).all()


def test_a_speck_needs_more_than_the_high_threshold_when_the_rule_asks_it():
    rules = replace(POST, speck_peak=1.2, speck_max=32)
    high, low, _ = levels(rules)
    prob = np.zeros((20, 20), np.float32)
    prob[8:11, 8:11] = min(1.0, high * 1.1)
    assert mask_from_probability(prob, 0.5, base=BASE, rules=rules).max() == 0
    assert mask_from_probability(prob, 0.5, base=BASE, rules=replace(rules, speck_peak=1.0)).max() == 255


def test_a_long_thin_trace_may_peak_under_the_high_threshold_a_blob_may_not():
    rules = replace(POST, line_length=40, line_logit=2.0, line_width=4.0)
    high, low, _ = levels(rules)
    under = 1 / (1 + np.exp(-(np.log(high / (1 - high)) - 1.0)))  # one logit under high
    prob = np.zeros((60, 120), np.float32)
    prob[10, 10:110] = low + 0.01  # a 100 px scratch, 1 px wide…
    prob[10, 60] = under  # …whose peak is a logit short of high
    prob[30:45, 10:55] = low + 0.01  # a 15×45 blob (area far over 4 × its length)…
    prob[37, 30] = under  # …with the same peak
    prob[52, 10:35] = low + 0.01  # a thin trace, but 25 px: shorter than a line
    prob[52, 20] = under
    mask = mask_from_probability(prob, 0.5, base=BASE, rules=rules)
    assert (mask[10, 10:110] == 255).all()
    assert mask[28:47].max() == 0
    assert mask[50:55].max() == 0
    # off at line_length 0, and a line whose peak is more logits short than the rule allows stays out
    assert mask_from_probability(prob, 0.5, base=BASE, rules=replace(rules, line_length=0)).max() == 0
    assert mask_from_probability(prob, 0.5, base=BASE, rules=replace(rules, line_logit=0.5)).max() == 0


def test_both_finds_at_least_what_classical_finds_on_a_scratched_photo(photo):
    damaged, scratch = with_scratch(photo)
    crop, truth = np.ascontiguousarray(damaged[280:480, 0:320]), scratch[280:480, 0:320]
    classical = find_damage_mask(crop, detector="classical")
    both = find_damage_mask(crop, detector="both", device="cpu")
    assert both.shape == crop.shape[:2] and both.dtype == np.uint8
    assert (both[classical > 0] == 255).all()
    assert (both[truth] > 0).mean() >= (classical[truth] > 0).mean() > 0.5


def test_bench_record_merges_into_the_model_card_instead_of_replacing_it():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / "bench_detector.py"
    spec = importlib.util.spec_from_file_location("bench_detector_under_test", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    old = {"f1": {"learned": {"crack": 0.5}, "classical": {"crack": 0.4}},
           "restore_psnr_db": {"damaged": 21.0}, "threshold": 0.97}
    new = {"f1": {"learned": {"crack": 0.6}, "both": {"crack": 0.7}}, "threshold": 0.98}
    out = bench.merged(old, new)
    assert out == {"f1": {"learned": {"crack": 0.6}, "classical": {"crack": 0.4}, "both": {"crack": 0.7}},
                   "restore_psnr_db": {"damaged": 21.0}, "threshold": 0.98}
    assert old["f1"]["learned"] == {"crack": 0.5}  # the card read in is not changed in place


def test_bench_puts_the_restores_error_on_the_kind_that_left_it():
    import importlib.util
    from pathlib import Path

    from training.synth import KINDS, Sample

    path = Path(__file__).resolve().parents[2] / "bench" / "bench_detector.py"
    spec = importlib.util.spec_from_file_location("bench_detector_under_test", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    base = np.full((20, 20, 3), 100, np.uint8)
    masks = {k: np.zeros((20, 20), bool) for k in KINDS}
    masks["crack"][2:4, 2:10] = True  # 16 px, found and repaired exactly
    masks["tear"][10:14, 10:14] = True  # 16 px, missed: left 60 levels off
    masks["dust"][10:12, 10:12] = True  # 4 px drawn into the tear: they count for dust (earlier in KINDS)
    union = masks["crack"] | masks["tear"] | masks["dust"]
    restored = base.copy()
    restored[masks["tear"]] = 160
    restored[0, 19] = 130  # a change where nothing was damaged: 30 levels, 1 px
    damage = np.where(masks["crack"], 255, 0).astype(np.uint8)
    smp = Sample(restored, base, masks, union, np.zeros((20, 20), bool))
    shares, found = {}, {k: np.zeros(2, np.int64) for k in KINDS}
    bench.where_the_error_is(restored, damage, smp, shares, found)
    tear, dust, other = 12 * 3 * 60 ** 2, 4 * 3 * 60 ** 2, 3 * 30 ** 2
    total = tear + dust + other
    assert shares["tear"] == [tear / total] and shares["dust"] == [dust / total]
    assert shares["no kind"] == [other / total]
    assert shares["crack"] == [0.0]
    assert abs(sum(v[0] for v in shares.values()) - 1.0) < 1e-12
    assert found["crack"].tolist() == [16, 16] and found["tear"].tolist() == [0, 16]
