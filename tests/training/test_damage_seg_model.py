"""The shipped damage-segmentation model: the file is the one its card describes, it keeps
the input/output contract, and it finds damage on photos it was never trained on.

The held-out set is made here: the synthesiser over the two README samples (astronaut,
coffee), which the corpus leaves out of training and threshold tuning entirely.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from photoforge.ops.learned_damage import mask_from_probability
from training import metrics, onnx_infer
from training.synth import synthesize

# Stated F1 at 2 px on the held-out set below, on the mask restore uses (hysteresis, size,
# halo) at the card's threshold, a little under what the shipped pair measured there (crack
# 0.786, scratch 0.829, dust 0.885; training/runs/ensemble, measured with this test's own loop).
# damage_seg5 alone, shipped before it, measured 0.749 / 0.809 / 0.850 (its crack under this bar).
STATED_F1 = {"crack": 0.76, "scratch": 0.80, "dust": 0.85}


@pytest.fixture(scope="module")
def card():
    return onnx_infer.card()


@pytest.fixture(scope="module")
def sess():
    return onnx_infer.session()


def test_the_file_is_the_one_the_card_describes(card):
    blob = onnx_infer.MODEL.read_bytes()
    assert hashlib.sha256(blob).hexdigest() == card["sha256"]
    assert len(blob) == card["bytes"] <= 10 * 2 ** 20
    assert card["licence"].startswith("MIT")
    assert 0 < card["threshold"] < 1 and card["size_multiple"] == 16 and card["context_px"] > 0


def test_input_and_output_contract(sess, small_photos):
    assert [i.name for i in sess.get_inputs()] == ["image"]
    assert [o.name for o in sess.get_outputs()] == ["prob"]
    x = small_photos[1][:96, :160].astype(np.float32).transpose(2, 0, 1)[None] / 255
    x = np.concatenate([x, np.random.default_rng(0).random(x.shape, dtype=np.float32)])
    prob = sess.run(["prob"], {"image": x})[0]
    assert prob.shape == (2, 1, 96, 160) and prob.dtype == np.float32
    assert prob.min() >= 0 and prob.max() <= 1


def test_any_size_runs_through_the_reference_padding(sess, small_photos):
    prob = onnx_infer.predict(sess, small_photos[0][:101, :77])
    assert prob.shape == (101, 77)


@pytest.mark.parametrize("kind", sorted(STATED_F1))
def test_finds_damage_on_held_out_photos(sess, card, held_out_photos, kind):
    c = np.zeros(4, np.int64)
    for i, rgb in enumerate(held_out_photos):
        for seed in (0, 1):
            s = synthesize(rgb, 900 + 10 * i + seed, (kind,))
            prob = onnx_infer.predict(sess, s.image)
            c += metrics.counts(mask_from_probability(prob, 0.5, base=card["threshold"]) > 0, s.mask)
    assert metrics.f1_from_counts(c)[2] >= STATED_F1[kind]


def test_torn_corners_are_found_whole_with_the_photo_and_clean_samples_gain_nothing():
    """The cut of a torn corner is all the network sees of it; with the photo, the lid inside
    the cut is taken too (ops/torn_edges.py). Pooled over the two held-out samples at 512 px
    × 6 seeds, the shipped model's restore mask covered 0.23 of the tear pixels alone and
    0.42 with the photo (where it marks no part of the cut, the corner stays: coffee seed 3), and added no pixel outside the tears (measured when the rule was added)."""
    from photoforge.ops.learned_damage import damage_probability
    from tests.training.conftest import sample

    found = np.zeros(2, np.int64)
    total = 0
    for name in ("astronaut.jpg", "coffee.jpg"):
        rgb = sample(name, 512)
        clean = damage_probability(rgb)
        assert np.array_equal(mask_from_probability(clean), mask_from_probability(clean, pixels=rgb))
        for seed in range(6):
            s = synthesize(rgb, 700 + seed, ("tear",))
            tear = s.masks["tear"]
            prob = damage_probability(s.image)
            alone, with_photo = mask_from_probability(prob) > 0, mask_from_probability(prob, pixels=s.image) > 0
            assert not (with_photo & ~tear & ~alone).sum() > 0.01 * tear.sum()
            found += ((alone & tear).sum(), (with_photo & tear).sum())
            total += tear.sum()
    assert found[1] / total >= 0.38 and found[1] / total >= found[0] / total + 0.15


def test_bench_detector_asks_for_a_threshold_when_the_cards_tta_block_has_none(card, tmp_path):
    """A card whose "tta" block names the views and mean but holds no threshold (the app
    falls back to the photo alone's there) must stop bench_detector with its usage message,
    not run on with a threshold of None (a TypeError once the first map is compared)."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    model = tmp_path / "damage_seg.onnx"
    model.symlink_to(onnx_infer.MODEL)
    aug = {k: v for k, v in card["tta"].items() if k != "threshold"}
    model.with_suffix(".json").write_text(json.dumps({**card, "tta": aug}))
    run = subprocess.run([sys.executable, str(root / "bench" / "bench_detector.py"), "--model", str(model),
                          "--tta", f"{aug['views']}:{aug['mean']}", "--corpus", str(tmp_path / "no-corpus"),
                          "--limit", "1", "--no-classical"],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(root)}, timeout=120)
    assert run.returncode == 2, run.stderr[-2000:]
    assert "give --threshold" in run.stderr
