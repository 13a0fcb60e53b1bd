"""Netpbm pixmaps and greymaps keep their real bit depth (Pillow cuts 16-bit PPM to 8)."""
from __future__ import annotations

import numpy as np
import pytest

from photoforge.app.batch import IMAGE_SUFFIXES
from photoforge.core.imageio import ImageLoadError, load_image

RNG = np.random.default_rng(7)


def write_pnm(path, values, maxval, magic=None, comment=b""):
    channels = 1 if values.ndim == 2 else values.shape[2]
    magic = magic or (b"P6" if channels == 3 else b"P5")
    height, width = values.shape[:2]
    header = magic + b"\n" + comment + b"%d %d\n%d\n" % (width, height, maxval)
    body = values.astype(">u2" if maxval > 255 else np.uint8).tobytes()
    path.write_bytes(header + body)
    return path


def test_16bit_ppm_is_read_at_16_bits(tmp_path):
    values = RNG.integers(0, 65536, (5, 7, 3), dtype=np.uint16)
    image = load_image(write_pnm(tmp_path / "scan.ppm", values, 65535, comment=b"# dcraw -4\n"))
    assert image.pixels.dtype == np.uint16 and image.pixels.shape == (5, 7, 3)
    np.testing.assert_array_equal(image.pixels, values)


def test_12bit_pgm_is_stretched_to_the_full_16_bit_range(tmp_path):
    values = np.array([[0, 2048, 4095]], dtype=np.uint16)
    image = load_image(write_pnm(tmp_path / "grey.pgm", values, 4095))
    assert image.pixels.dtype == np.uint16 and image.pixels.shape == (1, 3, 1)
    np.testing.assert_array_equal(image.pixels[0, :, 0], [0, round(2048 * 65535 / 4095), 65535])


def test_8bit_ppm(tmp_path):
    values = RNG.integers(0, 256, (4, 3, 3), dtype=np.uint8)
    image = load_image(write_pnm(tmp_path / "a.ppm", values, 255))
    assert image.pixels.dtype == np.uint8
    np.testing.assert_array_equal(image.pixels, values)


def test_plain_16bit_pgm_goes_through_pillow_at_16_bits(tmp_path):
    path = tmp_path / "plain.pgm"
    path.write_bytes(b"P2\n# plain\n3 1\n65535\n0 1000 65535\n")
    image = load_image(path)
    assert image.pixels.dtype == np.uint16
    np.testing.assert_array_equal(image.pixels[0, :, 0], [0, 1000, 65535])


def test_truncated_pixmap_is_named(tmp_path):
    path = write_pnm(tmp_path / "cut.ppm", np.zeros((10, 10, 3), np.uint16), 65535)
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(ImageLoadError, match=r"cannot open '.*cut\.ppm': file is truncated \(592 of 600 bytes"):
        load_image(path)


@pytest.mark.parametrize("header, reason", [
    (b"P6\n0 5\n255\n", "empty image"),
    (b"P6\n5 5\n70000\n", "maximum value 70000 is outside"),
    (b"P6\n5 x\n255\n", "damaged Netpbm header"),
])
def test_bad_headers_are_named(tmp_path, header, reason):
    path = tmp_path / "bad.ppm"
    path.write_bytes(header + b"\0" * 100)
    with pytest.raises(ImageLoadError, match=reason):
        load_image(path)


def test_pixel_limit_checked_from_the_header(tmp_path):
    path = tmp_path / "bomb.ppm"
    path.write_bytes(b"P6\n60000 60000\n65535\n" + b"\0" * 64)
    with pytest.raises(ImageLoadError, match="bomb.ppm"):
        load_image(path, max_pixels=1_000_000)


def test_folder_batches_take_netpbm_files():
    assert {".ppm", ".pgm", ".pnm"} <= IMAGE_SUFFIXES
