"""Hard-negative mining: the mined map survives saving, crops placed on it carry it to the
same pixels, and a run without it draws exactly what it drew before."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from training import data, hard_negatives



def test_false_alarms_threshold_and_grow():
    prob = np.zeros((20, 20), np.float32)
    prob[10, 10] = 0.95
    prob[3, 3] = 0.85  # under PROB: not mined
    m = hard_negatives.false_alarms(prob, 0.9, grow=2)
    assert m[10, 10] and m[10, 12] and m[12, 10] and not m[10, 13]
    assert not m[3, 3]
    assert hard_negatives.false_alarms(prob, 0.9, grow=0).sum() == 1


def test_save_and_load_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    masks = {"pkg:/a b.jpg": rng.random((37, 53)) < 0.1, "other": np.zeros((8, 9), bool)}
    path = tmp_path / "mined.npz"
    hard_negatives.save(path, masks, "ab" * 32)
    back = hard_negatives.load(path)
    assert set(back) == set(masks)
    for k in masks:
        assert back[k].dtype == bool and np.array_equal(back[k], masks[k])


def test_mined_and_checked_split_the_train_photos():
    train = [{"id": f"photo{i}"} for i in range(30)]
    mined, checked = hard_negatives.mined_and_checked(train)
    assert len(mined) == 20 and len(checked) == 10
    assert {e["id"] for e in mined}.isdisjoint(e["id"] for e in checked)
    assert hard_negatives.mined_and_checked(list(reversed(train)))[0] == mined  # by id, not by order


def test_a_crop_placed_on_a_mined_region_carries_it_to_the_same_pixels(small_photos):
    """A red square is the 'false alarm': wherever the crop shows red, the carried plane is set,
    through the crop's scale, flip and turn."""
    rgb = cv2.resize(small_photos[0], (512, 512), interpolation=cv2.INTER_CUBIC)
    plane = np.zeros(rgb.shape[:2], bool)
    plane[200:260, 300:340] = True
    rgb[plane] = (255, 0, 0)
    for seed in range(12):
        crop, part = data.random_crop(rgb, np.random.default_rng(seed), 96, (230, 320), plane)
        red = (crop[..., 0] > 200) & (crop[..., 1] < 60) & (crop[..., 2] < 60)
        assert part.shape == (96, 96) and part.any(), seed  # the crop contains the centre
        k = np.ones((5, 5), np.uint8)  # resampling may move the square's edge by a pixel or two
        inner = cv2.erode(red.astype(np.uint8), k).astype(bool)
        near = cv2.dilate(red.astype(np.uint8), k).astype(bool)
        assert part[inner].all() and not part[~near].any(), seed


def test_mined_pixels_join_the_hard_negatives_and_leave_damage_alone(small_photos):
    rgb = cv2.resize(small_photos[1], (400, 300), interpolation=cv2.INTER_CUBIC)
    hard = np.zeros(rgb.shape[:2], bool)
    hard[150:250, 100:300] = True
    img, mask, neg, _ = data.make_example(rgb, [1, 2, 3], 128, hard=hard, p_hard=1.0)
    img0, mask0, neg0, _ = data.make_example(rgb, [1, 2, 3], 128)
    assert neg.sum() > neg0.sum() + 500  # a 100×200 region, at ≥ 0.35 scale, is ≥ 2,400 crop pixels
    assert not (neg & mask).any()


def test_without_mined_maps_a_seed_draws_what_it_drew_before(small_photos):
    rgb = small_photos[1]
    a = data.make_example(rgb, [4, 5, 6], 96)
    b = data.make_example(rgb, [4, 5, 6], 96, hard=np.zeros(rgb.shape[:2], bool), p_hard=1.0)  # nothing mined
    for x, y in zip(a, b):
        assert np.array_equal(x, y)


def test_kind_overrides_change_what_is_drawn():
    rng_draws = [data.choose_kinds(np.random.default_rng(s), {**data.KIND_P, "tear": 1.0}) for s in range(60)]
    drawn = [k for k in rng_draws if k]
    assert drawn and all("tear" in k for k in drawn)


def test_kind_p_is_parsed_and_checked():
    pytest.importorskip("torch")
    from training.train_damage import parse_kind_p

    assert parse_kind_p("flake=0.35, tear=0.3") == {"flake": 0.35, "tear": 0.3}
    assert parse_kind_p("") == {}
    for bad in ("flak=0.3", "tear=1.5", "tear=x", "tear"):
        with pytest.raises(SystemExit, match="--kind-p"):
            parse_kind_p(bad)
