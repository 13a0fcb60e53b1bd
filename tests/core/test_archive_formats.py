"""Formats archives hand over (issue 16 item 2): JPEG 2000 in and out, TGA, PSD (flattened),
QOI, PCX; Lab TIFFs through LittleCMS; signed TIFFs offset to unsigned. Every file here is
made by the test itself."""
from __future__ import annotations

import struct

import numpy as np
import pytest
import tifffile
from PIL import Image, features

from photoforge.core.image import ImageData
from photoforge.core.imageio import ImageLoadError, load_image, save_image

RNG = np.random.default_rng(16)
JP2 = pytest.mark.skipif(not features.check("jpg_2000"), reason="Pillow built without OpenJPEG")


def rgb(h=24, w=40):
    return RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("suffix,fmt,mode", [
    (".tga", "TGA", "RGB"), (".tga", "TGA", "RGBA"), (".tga", "TGA", "L"),
    (".pcx", "PCX", "RGB"), (".pcx", "PCX", "L"),
    (".qoi", "QOI", "RGB"), (".qoi", "QOI", "RGBA"),
    pytest.param(".jp2", "JPEG2000", "RGB", marks=JP2), pytest.param(".j2k", "JPEG2000", "RGBA", marks=JP2),
])
def test_archive_formats_load_pixel_exact(tmp_path, suffix, fmt, mode):
    pixels = RNG.integers(0, 256, (24, 40, len(mode)), dtype=np.uint8)
    path = tmp_path / f"scan{suffix}"
    Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode).save(path, fmt)
    image = load_image(path)
    colour = pixels[..., :1] if mode == "L" else pixels[..., :3]
    assert np.array_equal(image.pixels, colour)
    if mode == "RGBA":
        assert np.array_equal(image.alpha, pixels[..., 3])
    else:
        assert image.alpha is None
    assert image.notices == []


def psd(pixels: np.ndarray) -> bytes:
    """A minimal Photoshop file: header, empty sections, raw planar composite."""
    h, w, c = pixels.shape
    head = b"8BPS" + struct.pack(">H6xHIIHH", 1, c, h, w, 8, 3)
    return head + struct.pack(">III", 0, 0, 0) + struct.pack(">H", 0) + \
        np.ascontiguousarray(pixels.transpose(2, 0, 1)).tobytes()


def test_psd_gives_its_flattened_image_with_a_notice(tmp_path):
    pixels = rgb()
    path = tmp_path / "retouch.psd"
    path.write_bytes(psd(pixels))
    image = load_image(path)
    assert np.array_equal(image.pixels, pixels)
    assert image.notices == [f"'{path}' is a Photoshop document: its flattened image was read"]


@JP2
@pytest.mark.parametrize("suffix,signature", [(".jp2", b"\0\0\0\x0cjP  \r\n\x87\n"), (".j2k", b"\xff\x4f\xff\x51")])
@pytest.mark.parametrize("kind", ["rgb8", "rgba8", "grey16"])
def test_jpeg2000_is_written_lossless_and_reads_back_identical(tmp_path, suffix, signature, kind):
    if kind == "grey16":
        image = ImageData(RNG.integers(0, 65536, (20, 30, 1), dtype=np.uint16))
    else:
        image = ImageData(rgb(20, 30), RNG.integers(0, 256, (20, 30), dtype=np.uint8) if kind == "rgba8" else None)
    path = save_image(image, tmp_path / f"archive{suffix}")
    assert path.read_bytes()[:len(signature)] == signature
    back = load_image(path)
    assert back.pixels.dtype == image.pixels.dtype and np.array_equal(back.pixels, image.pixels)
    assert (back.alpha is None) == (image.alpha is None)
    if image.alpha is not None:
        assert np.array_equal(back.alpha, image.alpha)


@JP2
def test_jpeg2000_says_what_it_leaves_out(tmp_path):
    exif = Image.Exif()
    exif[0x010F] = "ScanCo"
    image = ImageData(rgb(), exif=exif.tobytes())
    save_image(image, tmp_path / "a.jp2")
    assert image.notices == ["JPEG 2000 as written here cannot hold a colour profile or EXIF/XMP metadata; "
                             "they were left out"]


def test_lab_tiff_becomes_srgb_through_littlecms(tmp_path):
    # TIFF's 8-bit CIELab: L scaled to 0–255, a and b signed bytes. D50 Lab of sRGB red,
    # white and a mid grey (a = b = 0).
    lab = np.array([[[138, 81, 70], [255, 0, 0], [136, 0, 0]]], np.int16).astype(np.uint8)
    path = tmp_path / "lab.tif"
    tifffile.imwrite(path, lab, photometric="cielab")
    image = load_image(path)
    expected = np.array([[[255, 0, 0], [255, 255, 255], [128, 128, 128]]])
    assert np.abs(image.pixels.astype(int) - expected).max() <= 6, image.pixels.tolist()
    assert image.icc_profile is not None and image.icc_profile[16:20] == b"RGB "
    assert image.notices == [f"'{path}' holds CIE L*a*b* colour; it was converted to sRGB"]


@pytest.mark.parametrize("dtype,unsigned,offset", [(np.int16, np.uint16, 32768), (np.int8, np.uint8, 128)])
def test_signed_tiff_is_offset_to_unsigned_with_a_notice(tmp_path, dtype, unsigned, offset):
    info = np.iinfo(dtype)
    values = np.array([[info.min, -1, 0, 1, info.max]], dtype)
    path = tmp_path / "signed.tif"
    tifffile.imwrite(path, values)
    image = load_image(path)
    assert image.pixels.dtype == unsigned
    assert image.pixels[..., 0].tolist() == (values.astype(np.int64) + offset).tolist()
    bits = 8 * np.dtype(dtype).itemsize
    assert image.notices == [f"'{path}' has signed {bits}-bit samples; they were offset by {offset} to unsigned"]


def test_formats_without_a_signature_are_trusted_only_under_their_own_name(tmp_path):
    path = tmp_path / "scan.tga"
    Image.fromarray(rgb()).save(path, "TGA")
    disguised = tmp_path / "scan.png"
    disguised.write_bytes(path.read_bytes())
    with pytest.raises(ImageLoadError, match=r"scan\.png': not a recognised image format"):
        load_image(disguised)
