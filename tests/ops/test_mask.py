"""Whole-mask commands and mask files, on exact pixels."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from photoforge.core.imageio import ImageSaveError
from photoforge.ops import mask as ops


def dot(h=21, w=21, y=10, x=10) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[y, x] = 255
    return m


def test_grow_by_three_turns_a_dot_into_a_disk_of_radius_three():
    grown = ops.grow(dot(), 3)
    yy, xx = np.mgrid[:21, :21]
    np.testing.assert_array_equal(grown, np.where((yy - 10) ** 2 + (xx - 10) ** 2 <= 9, 255, 0))
    assert (grown > 0).sum() == 29
    np.testing.assert_array_equal(ops.shrink(grown, 3), dot())  # closing a dot gives the dot


def test_shrink_does_not_eat_in_from_the_image_border_and_zero_is_a_copy():
    full = ops.select_all(np.zeros((30, 40), np.uint8))
    assert (ops.shrink(full, 5) == 255).all()
    soft = np.arange(30 * 40, dtype=np.uint8).reshape(30, 40)
    out = ops.grow(soft, 0)
    np.testing.assert_array_equal(out, soft)
    assert out is not soft


def test_grow_keeps_soft_values():
    m = np.zeros((9, 9), np.uint8)
    m[4, 4] = 100
    assert set(np.unique(ops.grow(m, 2))) == {0, 100}


def test_invert_twice_is_identity_and_clear_select_all():
    m = np.random.default_rng(0).integers(0, 256, (17, 23), dtype=np.uint8)
    np.testing.assert_array_equal(ops.invert(ops.invert(m)), m)
    np.testing.assert_array_equal(ops.invert(m).astype(int) + m, 255)
    assert not ops.clear(m).any() and (ops.select_all(m) == 255).all()
    with pytest.raises(ValueError):
        ops.invert(m.astype(np.uint16))


def test_feather_softens_the_edge_and_keeps_the_sum():
    m = np.zeros((100, 100), np.uint8)
    m[30:70, 30:70] = 255
    out = ops.feather(m, 6)
    assert abs(int(out.sum()) - int(m.sum())) / m.sum() < 0.01
    assert 0 < out[50, 30] < 255 and out[50, 50] == 255 and out[50, 10] == 0
    edge = out[50, 20:40]
    assert (np.diff(edge.astype(int)) >= 0).all() and len(set(edge.tolist())) > 6


def test_binary_threshold():
    m = np.array([[0, 127, 128, 255]], np.uint8)
    np.testing.assert_array_equal(ops.binary(m), [[0, 0, 255, 255]])
    np.testing.assert_array_equal(ops.binary(m, threshold=1), [[0, 255, 255, 255]])


def test_saved_masks_load_back_identical_as_8_bit_grey(tmp_path):
    m = np.random.default_rng(1).integers(0, 256, (48, 64), dtype=np.uint8)
    path = ops.save_mask(m, tmp_path / "mask.png")
    with Image.open(path) as im:
        assert im.mode == "L" and im.format == "PNG"
    np.testing.assert_array_equal(ops.load_mask(path, (48, 64, 3)), m)
    with pytest.raises(ImageSaveError, match="exists"):
        ops.save_mask(m, path)
    ops.save_mask(ops.invert(m), path, overwrite=True)
    np.testing.assert_array_equal(ops.load_mask(path, (48, 64)), ops.invert(m))


def test_a_sixteen_bit_mask_of_value_one_still_fills(tmp_path):
    from photoforge.core.image import ImageData
    from photoforge.core.imageio import save_image

    values = np.zeros((8, 10, 1), np.uint16)
    values[2:4, 3:6] = 1
    values[5, 5] = 65535
    save_image(ImageData(values), tmp_path / "deep.png")
    mask = ops.load_mask(tmp_path / "deep.png", (8, 10))
    assert mask.dtype == np.uint8 and (mask > 0).sum() == 7
    assert mask[2, 3] == 1 and mask[5, 5] == 255 and mask[0, 0] == 0


def test_rgba_alpha_is_the_mask(tmp_path):
    rgba = np.zeros((20, 30, 4), np.uint8)
    rgba[..., :3] = 0  # painted in black: the colour must not matter
    rgba[5:10, 5:15, 3] = 255
    rgba[12, 3, 3] = 90
    Image.fromarray(rgba).save(tmp_path / "a.png")
    np.testing.assert_array_equal(ops.load_mask(tmp_path / "a.png", (20, 30)), rgba[..., 3])


def test_colour_and_grey_files(tmp_path):
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[2:4, 2:4] = (255, 0, 0)  # red scribble on black
    rgb[10, 10] = (255, 255, 255)
    opaque = np.dstack([rgb, np.full((20, 30), 255, np.uint8)])  # alpha that says nothing
    Image.fromarray(opaque).save(tmp_path / "rgba.png")
    expected = np.zeros((20, 30), np.uint8)
    expected[2:4, 2:4] = expected[10, 10] = 255
    np.testing.assert_array_equal(ops.load_mask(tmp_path / "rgba.png", (20, 30)), expected)
    grey16 = np.zeros((20, 30), np.uint16)
    grey16[5, 5], grey16[6, 6] = 65535, 257 * 100
    Image.fromarray(grey16).save(tmp_path / "g16.png")
    loaded = ops.load_mask(tmp_path / "g16.png", (20, 30))
    assert loaded.dtype == np.uint8 and loaded[5, 5] == 255 and loaded[6, 6] == 100
    assert loaded.sum() == 355


def test_size_mismatch_names_the_file_and_both_sizes(tmp_path):
    path = tmp_path / "m.png"
    Image.fromarray(np.zeros((80, 100), np.uint8)).save(path)
    with pytest.raises(ops.MaskError) as info:
        ops.load_mask(path, (480, 640, 3))
    assert str(info.value) == f"'{path}' is 100×80 but the image is 640×480"


def test_unreadable_file_is_a_mask_error(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"not an image")
    with pytest.raises(ops.MaskError, match="broken.png"):
        ops.load_mask(path, (10, 10))
