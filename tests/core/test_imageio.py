"""Tests for photoforge.core.imageio / png_stream / atomic, on real bytes and pixels."""
from __future__ import annotations

import io
import itertools
import os
import stat
import struct
import tracemalloc
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageFile, ImageOps

from photoforge.core import imageio
from photoforge.core.image import ImageData
from photoforge.core.imageio import (
    DEFAULT_MAX_PIXELS,
    SUPPORTED_SAVE_FORMATS,
    ImageLoadError,
    ImageSaveError,
    format_from_path,
    load_image,
    save_image,
)
from photoforge.core.png_stream import write_png

RNG = np.random.default_rng(1234)
SRGB_ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-'
       b'syntax-ns#"><rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/" dc:format="x"/>'
       b"</rdf:RDF></x:xmpmeta>")


# ---------------------------------------------------------------- helpers

def noise(h, w, c, dtype=np.uint8):
    top = np.iinfo(dtype).max
    return RNG.integers(0, top, (h, w, c), dtype=dtype, endpoint=True)


def blocks(h=32, w=48):
    """Asymmetric RGB image made of flat 8×8 blocks, so even JPEG keeps it nearly exact."""
    colours = np.array([[220, 30, 30], [30, 200, 40], [40, 40, 210], [240, 240, 20],
                        [20, 200, 220], [200, 20, 200], [250, 250, 250], [10, 10, 10]], np.uint8)
    idx = (np.arange(h)[:, None] // 8 * 3 + np.arange(w)[None, :] // 8 * 5) % 8
    return colours[idx]


def make_exif(orientation=None, make="Canon", artist="Ann Smith"):
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x013B] = artist
    if orientation is not None:
        exif[0x0112] = orientation
    exif.get_ifd(0x8769)[0x9003] = "1971:05:06 07:08:09"  # DateTimeOriginal, in the EXIF sub-IFD
    return exif.tobytes()


def parse_exif(raw) -> Image.Exif:
    exif = Image.Exif()
    exif.load(raw)
    return exif


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos < len(data):
        length, tag = struct.unpack_from(">I4s", data, pos)
        out.append((tag, data[pos + 8:pos + 8 + length]))
        pos += 12 + length
    return out


def raw_png(width, height, depth, colour_type, rows: bytes, extra=b"") -> bytes:
    def chunk(tag, body):
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0))
            + extra + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def cv2_rgb(data: bytes) -> np.ndarray:
    """Independent decoder: cv2, channels back in RGB(A) order."""
    values = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    values = values.reshape(values.shape[0], values.shape[1], -1)
    return values[..., [2, 1, 0, 3][: values.shape[2]]] if values.shape[2] >= 3 else values


def cmyk_profile() -> bytes:
    """A tiny but valid CMYK printer profile: the naive CMYK formula with red and green
    swapped, so an ICC-based conversion is distinguishable from the naive one."""
    rgb = []
    for c, m, y, k in itertools.product((0, 1), repeat=4):  # ICC CLUT: first input slowest
        rgb.append(((1 - m) * (1 - k), (1 - c) * (1 - k), (1 - y) * (1 - k)))
    srgb = Image.fromarray((np.array(rgb, np.uint8) * 255).reshape(1, 16, 3))
    to_lab = ImageCms.buildTransform(ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB")
    lab = np.array(ImageCms.applyTransform(srgb, to_lab), np.uint8) ^ np.array([0, 128, 128], np.uint8)
    ramp, d50 = bytes(range(256)), struct.pack(">3i", 63190, 65536, 54061)
    identity = b"".join(struct.pack(">i", v << 16) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    tags = [(b"A2B0", b"mft1" + bytes(4) + bytes([4, 3, 2, 0]) + identity + ramp * 4 + lab.tobytes() + ramp * 3),
            (b"wtpt", b"XYZ " + bytes(4) + d50)]
    offset, table, data = 128 + 4 + 12 * len(tags), b"", b""
    for sig, body in tags:
        body += bytes(-len(body) % 4)
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    header = (struct.pack(">I", offset + len(data)) + bytes(4) + struct.pack(">I", 0x02100000)
              + b"prtrCMYKLab " + bytes(12) + b"acsp" + bytes(28) + d50 + bytes(48))
    return header + struct.pack(">I", len(tags)) + table + data


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".")]


# ---------------------------------------------------------------- 1. formats

@pytest.mark.parametrize("fmt,suffix,kwargs,exact", [
    ("PNG", "png", {}, True),
    ("TIFF", "tif", {}, True),
    ("WEBP", "webp", {"lossless": True}, True),
    ("BMP", "bmp", {}, True),
    ("JPEG", "jpg", {"quality": 100, "subsampling": 0}, False),
])
def test_loads_rgb_formats(tmp_path, fmt, suffix, kwargs, exact):
    pixels = blocks()
    path = tmp_path / f"a.{suffix}"
    Image.fromarray(pixels).save(path, fmt, **kwargs)
    image = load_image(path)
    assert image.pixels.shape == (32, 48, 3) and image.pixels.dtype == np.uint8
    assert image.alpha is None and image.source_format == fmt and image.notices == []
    diff = np.abs(image.pixels.astype(int) - pixels).max()
    assert diff == 0 if exact else diff <= 3


def test_gif_first_frame_and_frame_notice(tmp_path):
    frames = [Image.fromarray(blocks()).quantize(8), Image.new("RGB", (48, 32), (255, 0, 0)).quantize(8),
              Image.new("RGB", (48, 32), (0, 0, 255)).quantize(8)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    image = load_image(path)
    assert np.array_equal(image.pixels, blocks())  # 8 colours survive the palette exactly
    assert image.notices == [f"'{path}' has 3 frames; only the first is used"]


def test_single_frame_gif_has_no_notice(tmp_path):
    Image.fromarray(blocks()).quantize(8).save(tmp_path / "one.gif")
    assert load_image(tmp_path / "one.gif").notices == []


# ---------------------------------------------------------------- 2. 16-bit

@pytest.mark.parametrize("channels", [1, 3, 4])
def test_16bit_png_loads_as_uint16(tmp_path, channels):
    values = noise(5, 7, channels, np.uint16)
    bgr = values if channels == 1 else values[..., [2, 1, 0, 3][:channels]]
    path = tmp_path / "deep.png"
    path.write_bytes(cv2.imencode(".png", bgr)[1].tobytes())
    image = load_image(path)
    assert image.pixels.dtype == np.uint16
    assert np.array_equal(image.pixels, values[..., :min(channels, 3)])
    assert (image.alpha is None) == (channels != 4)
    if channels == 4:
        assert np.array_equal(image.alpha, values[..., 3])


def test_16bit_grey_alpha_png(tmp_path):
    values = noise(4, 5, 2, np.uint16)
    rows = b"".join(b"\0" + values[y].astype(">u2").tobytes() for y in range(4))
    path = tmp_path / "ga16.png"
    path.write_bytes(raw_png(5, 4, 16, 4, rows))
    image = load_image(path)
    assert image.is_grey and image.pixels.dtype == np.uint16
    assert np.array_equal(image.pixels[..., 0], values[..., 0]) and np.array_equal(image.alpha, values[..., 1])


def test_16bit_rgb_png_colour_key_becomes_alpha(tmp_path):
    values = np.array([[[1, 2, 3], [4, 5, 6]]], np.uint16)
    trns = struct.pack(">I4sHHH", 6, b"tRNS", 4, 5, 6) + struct.pack(">I", zlib.crc32(b"tRNS" + struct.pack(">HHH", 4, 5, 6)))
    path = tmp_path / "key.png"
    path.write_bytes(raw_png(2, 1, 16, 2, b"\0" + values.astype(">u2").tobytes(), trns))
    image = load_image(path)
    assert np.array_equal(image.pixels, values) and image.alpha.tolist() == [[65535, 0]]


@pytest.mark.parametrize("channels,extras", [(1, None), (3, None), (4, [2]), (2, [2])])
@pytest.mark.parametrize("byteorder", ["<", ">"])
def test_16bit_tiff_loads_as_uint16(tmp_path, channels, extras, byteorder):
    values = noise(6, 5, channels, np.uint16)
    path = tmp_path / "deep.tif"
    tifffile.imwrite(path, values[..., 0] if channels == 1 else values, byteorder=byteorder,
                     photometric="rgb" if channels >= 3 else "minisblack", extrasamples=extras,
                     planarconfig="contig" if channels > 1 else None)
    image = load_image(path)
    n_colour = 3 if channels >= 3 else 1
    assert image.pixels.dtype == np.uint16 and np.array_equal(image.pixels, values[..., :n_colour])
    assert (image.alpha is None) == (extras is None)
    if extras:
        assert np.array_equal(image.alpha, values[..., n_colour])


def test_16bit_lzw_tiff_decodes_without_imagecodecs(tmp_path):
    values = noise(9, 11, 3, np.uint16)
    path = tmp_path / "lzw.tif"
    cv2.imwrite(str(path), values[..., ::-1])  # cv2 writes LZW, which tifffile alone cannot read
    with tifffile.TiffFile(path) as tif:
        assert tif.pages[0].compression == 5
    image = load_image(path)
    assert image.pixels.dtype == np.uint16 and np.array_equal(image.pixels, values)


def test_16bit_planar_tiff(tmp_path):
    values = noise(4, 6, 3, np.uint16)
    path = tmp_path / "planar.tif"
    tifffile.imwrite(path, np.moveaxis(values, -1, 0), photometric="rgb", planarconfig="separate")
    assert np.array_equal(load_image(path).pixels, values)


@pytest.mark.parametrize("alpha", [False, True])
@pytest.mark.parametrize("channels", [1, 3])
def test_uint16_saves_as_16bit_png_and_tiff(tmp_path, channels, alpha):
    pixels = noise(7, 9, channels, np.uint16)
    alpha_values = noise(7, 9, 1, np.uint16)[..., 0] if alpha else None
    image = ImageData(pixels, alpha_values)
    expected = pixels if not alpha else np.concatenate([pixels, alpha_values[..., None]], axis=2)

    png = save_image(image, tmp_path / "out.png")
    data = png.read_bytes()
    assert data[24] == 16  # IHDR bit depth
    decoded = cv2_rgb(data)
    if channels == 1 and alpha:  # cv2 expands grey+alpha to BGRA
        decoded = decoded[..., [0, 3]]
    assert decoded.dtype == np.uint16 and np.array_equal(decoded, expected)

    tif = save_image(image, tmp_path / "out.tif")
    read = tifffile.imread(tif)
    assert read.dtype == np.uint16 and np.array_equal(read.reshape(expected.shape), expected)
    with tifffile.TiffFile(tif) as t:
        assert tuple(t.pages[0].extrasamples) == ((2,) if alpha else ())


def test_16bit_reduced_to_8bit_with_rounding_and_notice(tmp_path):
    row = np.array([0, 128, 129, 25828, 25829, 65407, 65535], np.uint16)
    image = ImageData(np.repeat(row[None, :, None], 3, axis=2))
    save_image(image, tmp_path / "out.bmp")
    assert np.array(Image.open(tmp_path / "out.bmp"))[0, :, 0].tolist() == [0, 0, 1, 100, 101, 255, 255]
    assert "BMP holds 8 bits per channel; the 16-bit image was rounded to 8 bits" in image.notices
    for suffix, label in (("jpg", "JPEG"), ("webp", "WebP")):
        image.notices.clear()
        out = load_image(save_image(image, tmp_path / f"out.{suffix}"))
        assert out.pixels.dtype == np.uint8
        assert f"{label} holds 8 bits per channel; the 16-bit image was rounded to 8 bits" in image.notices


# ---------------------------------------------------------------- PNG writer

@pytest.mark.parametrize("filter_type", [None, 0, 1, 2, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels,alpha", [(1, False), (1, True), (3, False), (3, True)])
def test_png_writer_decodes_exactly(filter_type, dtype, channels, alpha):
    # a gradient plus noise exercises every filter's neighbours, including the strip seams
    pixels = (noise(23, 17, channels, dtype) // 4 + np.arange(17, dtype=dtype)[None, :, None] * 3).astype(dtype)
    alpha_values = noise(23, 17, 1, dtype)[..., 0] if alpha else None
    buf = io.BytesIO()
    write_png(buf, pixels, alpha_values, filter_type=filter_type)
    expected = pixels if not alpha else np.concatenate([pixels, alpha_values[..., None]], axis=2)
    decoded = cv2_rgb(buf.getvalue())
    if channels == 1 and alpha:
        decoded = decoded[..., [0, 3]]
    assert decoded.dtype == dtype and np.array_equal(decoded, expected)
    if dtype == np.uint8:  # a second, independent decoder
        assert np.array_equal(np.array(Image.open(io.BytesIO(buf.getvalue()))).reshape(expected.shape), expected)


def test_png_writer_run_length_deflate_is_lossless_and_barely_larger():
    # The default (RLE) strategy trades a little size for speed: same pixels, and on a real
    # photo no more than a few per cent over zlib's full match search.
    photo = np.asarray(Image.open(Path(__file__).parents[2] / "resources/samples/coffee.jpg").convert("RGB"))
    fast, thorough = io.BytesIO(), io.BytesIO()
    write_png(fast, photo)
    write_png(thorough, photo, strategy=zlib.Z_DEFAULT_STRATEGY)
    assert fast.getvalue() != thorough.getvalue()
    for buf in (fast, thorough):
        assert np.array_equal(cv2_rgb(buf.getvalue()), photo)
    assert len(fast.getvalue()) < 1.08 * len(thorough.getvalue())


def test_png_writer_strips_cover_many_rows(monkeypatch):
    from photoforge.core import png_stream
    monkeypatch.setattr(png_stream, "_STRIP_BYTES", 100)  # forces 3-row strips
    pixels = noise(31, 11, 3)
    buf = io.BytesIO()
    write_png(buf, pixels)
    assert np.array_equal(cv2_rgb(buf.getvalue()), pixels)


def test_png_writer_metadata_chunks_are_read_by_pillow():
    buf = io.BytesIO()
    exif = make_exif()
    write_png(buf, noise(4, 4, 3), icc_profile=SRGB_ICC, exif=exif, xmp=XMP)
    chunks = [tag for tag, _ in png_chunks(buf.getvalue())]
    assert chunks == [b"IHDR", b"iCCP", b"eXIf", b"iTXt", b"IDAT", b"IEND"]
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        im.load()
        assert im.info["icc_profile"] == SRGB_ICC
        assert im.info["exif"] == exif  # Pillow re-adds the "Exif\0\0" prefix we stripped
        assert im.info["xmp"] == XMP


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_png_writer_memory_is_bounded_by_strips_not_image(tmp_path, dtype):
    def peak_for(rows):
        pixels, alpha = noise(rows, 1000, 3, dtype), noise(rows, 1000, 1, dtype)[..., 0]
        with open(tmp_path / "big.png", "wb") as fh:
            tracemalloc.start()
            try:
                write_png(fh, pixels, alpha)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        assert np.array_equal(cv2_rgb((tmp_path / "big.png").read_bytes())[..., 3], alpha)
        return peak, pixels.nbytes + alpha.nbytes

    small, _ = peak_for(1000)
    large, size = peak_for(4000)
    assert large < 0.5 * size, f"peak {large / 1e6:.1f} MB for a {size / 1e6:.1f} MB image"
    assert large < 1.2 * small  # four times the rows, same working memory


# ---------------------------------------------------------------- 3. grey and alpha

def test_grey_stays_grey(tmp_path):
    grey = noise(6, 8, 1)[..., 0]
    Image.fromarray(grey).save(tmp_path / "g.png")
    image = load_image(tmp_path / "g.png")
    assert image.pixels.shape == (6, 8, 1) and np.array_equal(image.pixels[..., 0], grey)
    for suffix in ("png", "tif", "jpg", "bmp"):
        out = load_image(save_image(image, tmp_path / f"o.{suffix}"))
        assert out.is_grey, suffix
        if suffix != "jpg":
            assert np.array_equal(out.pixels, image.pixels), suffix


@pytest.mark.parametrize("mode", ["LA", "RGBA"])
@pytest.mark.parametrize("suffix", ["png", "tif", "webp"])
def test_alpha_split_and_reattached(tmp_path, mode, suffix):
    values = noise(6, 8, len(mode))
    src = tmp_path / f"src.{suffix}"
    if suffix == "webp":
        Image.fromarray(values if mode == "RGBA" else values[..., [0, 0, 0, 1]]).save(src, lossless=True)
        values = values if mode == "RGBA" else values[..., [0, 0, 0, 1]]
    else:
        Image.fromarray(values).save(src)
    image = load_image(src)
    assert np.array_equal(image.alpha, values[..., -1])
    assert np.array_equal(image.pixels, values[..., :-1])
    out = load_image(save_image(image, tmp_path / f"out.{suffix}", quality=100))  # lossless WebP
    assert np.array_equal(out.pixels, image.pixels) and np.array_equal(out.alpha, image.alpha)


def test_jpeg_composites_alpha_on_white(tmp_path):
    pixels = np.zeros((16, 32, 3), np.uint8)
    pixels[..., 0] = 200
    alpha = np.zeros((16, 32), np.uint8)
    alpha[:, 16:] = 255
    image = ImageData(pixels, alpha)
    out = load_image(save_image(image, tmp_path / "flat.jpg"))
    assert out.alpha is None
    assert np.abs(out.pixels[4:12, 2:10].astype(int) - [255, 255, 255]).max() <= 2  # transparent → white
    assert np.abs(out.pixels[4:12, 22:30].astype(int) - [200, 0, 0]).max() <= 3  # opaque untouched
    assert "JPEG has no transparency; transparent areas were filled with white" in image.notices


def test_half_transparent_composite_value(tmp_path):
    image = ImageData(np.full((2, 2, 1), 0, np.uint8), np.full((2, 2), 128, np.uint8))
    save_image(image, tmp_path / "half.bmp")
    assert np.array(Image.open(tmp_path / "half.bmp")).ravel().tolist() == [127] * 4  # 255·127/255


# ---------------------------------------------------------------- 4. modes

def test_palette_without_and_with_transparency(tmp_path):
    rgb = blocks()
    pal = Image.fromarray(rgb).quantize(8)
    pal.save(tmp_path / "p.png")
    image = load_image(tmp_path / "p.png")
    assert image.alpha is None and np.array_equal(image.pixels, rgb)

    index_of_red = int(np.array(pal)[0, 0])
    pal.save(tmp_path / "pt.png", transparency=index_of_red)
    image = load_image(tmp_path / "pt.png")
    red = np.all(rgb == rgb[0, 0], axis=2)
    assert image.alpha is not None and np.array_equal(image.alpha, np.where(red, 0, 255))
    assert np.array_equal(image.pixels[~red], rgb[~red])

    pal.save(tmp_path / "pt.gif", transparency=index_of_red)
    assert np.array_equal(load_image(tmp_path / "pt.gif").alpha, np.where(red, 0, 255))


def test_one_bit_loads_as_grey_uint8(tmp_path):
    bits = (np.arange(40).reshape(5, 8) % 3 == 0)
    Image.fromarray(bits).save(tmp_path / "b.png")
    Image.fromarray(bits).save(tmp_path / "b.tif")
    for name in ("b.png", "b.tif"):
        image = load_image(tmp_path / name)
        assert image.pixels.dtype == np.uint8 and image.is_grey
        assert np.array_equal(image.pixels[..., 0], np.where(bits, 255, 0))


@pytest.mark.parametrize("suffix", ["jpg", "tif"])
def test_cmyk_with_profile_goes_through_icc(tmp_path, suffix):
    cmyk = np.zeros((16, 32, 4), np.uint8)
    cmyk[:, :16, 0] = 255  # left half pure cyan, right half paper white
    path = tmp_path / f"c.{suffix}"
    kwargs = {"quality": 100} if suffix == "jpg" else {}
    Image.fromarray(cmyk, "CMYK").save(path, icc_profile=cmyk_profile(), **kwargs)
    image = load_image(path)
    assert image.pixels.shape == (16, 32, 3)
    # the profile swaps red and green, so cyan becomes magenta; the naive formula would give cyan
    assert np.abs(image.pixels[4:12, 2:10].astype(int) - [255, 0, 255]).max() <= 8
    assert np.abs(image.pixels[4:12, 22:30].astype(int) - [255, 255, 255]).max() <= 8
    assert ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(image.icc_profile))).startswith("sRGB")
    assert image.icc_profile[16:20] == b"RGB " and image.notices == []


def test_cmyk_without_profile_is_converted_naively(tmp_path):
    cmyk = np.zeros((16, 16, 4), np.uint8)
    cmyk[..., 0] = 255
    Image.fromarray(cmyk, "CMYK").save(tmp_path / "c.jpg", quality=100)
    image = load_image(tmp_path / "c.jpg")
    assert np.abs(image.pixels.astype(int) - [0, 255, 255]).max() <= 4
    assert image.icc_profile is None
    assert image.notices == [f"'{tmp_path / 'c.jpg'}' is CMYK without a usable colour profile; it was "
                             "converted to RGB with a simple formula, so colours may be off"]


def test_float_tiff_becomes_uint16_with_notice(tmp_path):
    values = RNG.random((4, 5, 3), dtype=np.float32)
    tifffile.imwrite(tmp_path / "f.tif", values, photometric="rgb")
    image = load_image(tmp_path / "f.tif")
    assert image.pixels.dtype == np.uint16
    assert np.array_equal(image.pixels, np.rint(values * 65535).astype(np.uint16))
    assert image.notices == [f"'{tmp_path / 'f.tif'}' has floating-point samples; they were converted to 16-bit"]

    tifffile.imwrite(tmp_path / "hdr.tif", np.array([[0.0, 2.0, 4.0]], np.float32))
    image = load_image(tmp_path / "hdr.tif")
    assert image.pixels[..., 0].tolist() == [[0, 32768, 65535]]
    assert "(scaled so that 4 becomes white)" in image.notices[0]


def test_miniswhite_16bit_tiff_is_inverted(tmp_path):
    values = np.array([[0, 1000, 65535]], np.uint16)
    tifffile.imwrite(tmp_path / "w.tif", values, photometric="miniswhite")
    assert load_image(tmp_path / "w.tif").pixels[..., 0].tolist() == [[65535, 64535, 0]]


def test_multipage_tiff_notice(tmp_path):
    with tifffile.TiffWriter(tmp_path / "m.tif") as tw:
        for _ in range(3):
            tw.write(noise(4, 4, 3), photometric="rgb")
    assert load_image(tmp_path / "m.tif").notices == [f"'{tmp_path / 'm.tif'}' has 3 pages; only the first is used"]


# ---------------------------------------------------------------- 5. orientation

@pytest.mark.parametrize("orientation", range(1, 9))
def test_all_exif_orientations_match_pillow(tmp_path, orientation):
    pixels = noise(3, 5, 3)  # asymmetric: every transform gives a different array
    path = tmp_path / "o.png"
    Image.fromarray(pixels).save(path, exif=make_exif(orientation))
    image = load_image(path)
    with Image.open(path) as im:
        expected = np.array(ImageOps.exif_transpose(im))
    assert np.array_equal(image.pixels, expected)
    assert image.pixels.shape[:2] == ((5, 3) if orientation >= 5 else (3, 5))


@pytest.mark.parametrize("orientation,turn", [(3, 2), (6, -1), (8, 1)])
def test_jpeg_orientation_applied_and_reset_on_save(tmp_path, orientation, turn):
    pixels = blocks()
    src = tmp_path / "o.jpg"
    Image.fromarray(pixels).save(src, quality=100, subsampling=0, exif=make_exif(orientation))
    image = load_image(src)
    assert np.abs(image.pixels.astype(int) - np.rot90(pixels, turn)).max() <= 3
    for suffix in ("jpg", "png", "tif"):
        out = save_image(image, tmp_path / f"saved.{suffix}")
        with Image.open(out) as im:
            assert im.getexif().get(0x0112, 1) == 1
            assert im.getexif()[0x010F] == "Canon"
        again = load_image(out)
        assert again.pixels.shape == image.pixels.shape  # not rotated a second time
    assert parse_exif(image.exif)[0x0112] == orientation  # the in-memory EXIF is untouched


def test_xmp_orientation_reset_on_save(tmp_path):
    xmp = XMP.replace(b'dc:format="x"', b'dc:format="x" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"')
    path = tmp_path / "x.png"
    Image.fromarray(noise(3, 5, 3)).save(path, pnginfo=_pnginfo_xmp(xmp))
    image = load_image(path)
    assert image.pixels.shape == (5, 3, 3)  # XMP orientation is honoured when EXIF has none
    out = save_image(image, tmp_path / "y.png")
    assert b'tiff:Orientation="1"' in load_image(out).xmp
    assert load_image(out).pixels.shape == (5, 3, 3)


def _pnginfo_xmp(xmp: bytes):
    from PIL.PngImagePlugin import PngInfo
    info = PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp.decode())
    return info


# ---------------------------------------------------------------- 6. metadata

@pytest.mark.parametrize("suffix", ["png", "jpg", "tif", "webp"])
def test_metadata_round_trip(tmp_path, suffix):
    src = tmp_path / "src.png"
    Image.fromarray(blocks()).save(src, icc_profile=SRGB_ICC, exif=make_exif(), pnginfo=_pnginfo_xmp(XMP))
    image = load_image(src)
    assert (image.icc_profile, image.xmp) == (SRGB_ICC, XMP)
    first = save_image(image, tmp_path / f"a.{suffix}")
    second = save_image(load_image(first), tmp_path / f"b.{suffix}")  # survives a second trip too
    for path in (first, second):
        out = load_image(path)
        assert out.icc_profile == SRGB_ICC
        assert out.xmp == XMP
        exif = parse_exif(out.exif)
        assert (exif[0x010F], exif[0x013B]) == ("Canon", "Ann Smith")
        assert exif.get_ifd(0x8769)[0x9003] == "1971:05:06 07:08:09"
    with Image.open(first) as im:  # and an independent reader sees the same
        im.load()
        assert im.info["icc_profile"] == SRGB_ICC
        assert im.getexif()[0x013B] == "Ann Smith"


def test_tiff_metadata_is_standard_tags(tmp_path):
    image = ImageData(noise(4, 6, 3, np.uint16), icc_profile=SRGB_ICC, exif=make_exif(), xmp=XMP)
    path = save_image(image, tmp_path / "m.tif")
    with tifffile.TiffFile(path) as tif:
        tags = tif.pages[0].tags
        assert tags["InterColorProfile"].value == SRGB_ICC
        assert tags["XMP"].value == XMP
        assert tags["Make"].value == "Canon" and tags["Artist"].value == "Ann Smith"
        assert tags["ExifTag"].value["DateTimeOriginal"] == "1971:05:06 07:08:09"
        assert "Software" not in tags
    with Image.open(path) as im:
        assert im.getexif().get_ifd(0x8769)[0x9003] == "1971:05:06 07:08:09"


def test_keep_metadata_false_drops_exif_and_xmp_but_not_icc(tmp_path):
    image = ImageData(blocks(), icc_profile=SRGB_ICC, exif=make_exif(), xmp=XMP)
    for suffix in ("png", "jpg", "tif"):
        out = load_image(save_image(image, tmp_path / f"s.{suffix}", keep_metadata=False))
        assert out.exif is None and out.xmp is None and out.icc_profile == SRGB_ICC, suffix


@pytest.mark.parametrize("suffix,fmt", [("png", "PNG"), ("jpg", "JPEG")])
def test_broken_icc_is_dropped_with_notice(tmp_path, suffix, fmt):
    path = tmp_path / f"bad.{suffix}"
    Image.fromarray(blocks()).save(path, fmt, icc_profile=b"this is not an ICC profile at all" * 8)
    image = load_image(path)
    assert image.icc_profile is None
    assert image.notices == [f"'{path}' has a broken ICC colour profile; it was ignored"]


def test_icc_that_does_not_match_channels_is_not_written(tmp_path):
    image = ImageData(noise(4, 4, 1), icc_profile=SRGB_ICC)
    out = load_image(save_image(image, tmp_path / "g.png"))
    assert out.icc_profile is None
    assert "the ICC colour profile does not match the image's colour channels; it was not written" in image.notices


def test_bmp_notes_dropped_metadata(tmp_path):
    image = ImageData(blocks(), icc_profile=SRGB_ICC, exif=make_exif())
    save_image(image, tmp_path / "m.bmp")
    assert image.notices == ["BMP cannot hold a colour profile or EXIF/XMP metadata; they were left out"]


def test_oversized_jpeg_xmp_is_dropped_with_notice(tmp_path):
    image = ImageData(blocks(), xmp=b"<x>" + b" " * 70000 + b"</x>")
    out = load_image(save_image(image, tmp_path / "big.jpg"))
    assert out.xmp is None
    assert any("XMP data is too large for JPEG" in n for n in image.notices)


# ---------------------------------------------------------------- 7. atomic saves

def test_failed_encode_leaves_previous_file_and_no_temp(tmp_path, monkeypatch):
    dest = tmp_path / "out.png"
    dest.write_bytes(b"previous contents")

    def half_then_fail(fh, *args, **kwargs):
        fh.write(b"\x89PNG partial")
        raise RuntimeError("encoder exploded")

    monkeypatch.setattr(imageio, "write_png", half_then_fail)
    with pytest.raises(ImageSaveError) as info:
        save_image(ImageData(blocks()), dest, overwrite=True)
    assert str(info.value) == f"cannot save '{dest}': encoder exploded"
    assert dest.read_bytes() == b"previous contents"
    assert no_temp_files(tmp_path)


def test_disk_full_during_jpeg_encode(tmp_path, monkeypatch):
    dest = tmp_path / "out.jpg"

    def disk_full(self, fp, *args, **kwargs):
        fp.write(b"\xff\xd8 some")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", disk_full)
    with pytest.raises(ImageSaveError, match="No space left on device") as info:
        save_image(ImageData(blocks()), dest)
    assert str(dest) in str(info.value)
    assert not dest.exists() and no_temp_files(tmp_path)


def test_successful_save_leaves_no_temp_and_normal_permissions(tmp_path):
    path = save_image(ImageData(blocks()), tmp_path / "ok.png")
    assert path == tmp_path / "ok.png" and no_temp_files(tmp_path)
    umask = os.umask(0)
    os.umask(umask)
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_refuses_to_overwrite_without_flag(tmp_path):
    dest = tmp_path / "exists.jpg"
    dest.write_bytes(b"keep me")
    with pytest.raises(ImageSaveError) as info:
        save_image(ImageData(blocks()), dest)
    assert str(info.value) == f"cannot save '{dest}': file exists; use --overwrite"
    assert dest.read_bytes() == b"keep me"
    save_image(ImageData(blocks()), dest, overwrite=True)
    assert np.abs(load_image(dest).pixels.astype(int) - blocks()).max() <= 20


def test_overwrite_keeps_permissions_of_replaced_file(tmp_path):
    dest = tmp_path / "perm.png"
    dest.write_bytes(b"x")
    dest.chmod(0o640)
    save_image(ImageData(blocks()), dest, overwrite=True)
    if os.name == "posix":
        assert stat.S_IMODE(dest.stat().st_mode) == 0o640


def test_protected_input_refused_unless_overwrite(tmp_path, monkeypatch):
    src = tmp_path / "in.png"
    Image.fromarray(blocks()).save(src)
    before = src.read_bytes()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ImageSaveError) as info:
        save_image(load_image(src), "./in.png", protected=[src])  # same file, different spelling
    assert "is one of the input images; use --overwrite to replace it" in str(info.value)
    assert src.read_bytes() == before
    save_image(ImageData(np.zeros((2, 2, 3), np.uint8)), "in.png", protected=[src], overwrite=True)
    assert load_image(src).pixels.shape == (2, 2, 3)


def test_missing_destination_folder(tmp_path):
    with pytest.raises(ImageSaveError, match="does not exist"):
        save_image(ImageData(blocks()), tmp_path / "nope" / "x.png")


# ---------------------------------------------------------------- formats and options

def test_format_from_path_and_aliases(tmp_path):
    assert [format_from_path(f"a.{s}") for s in ("PNG", "jpeg", "jpg", "tiff", "tif", "webp", "bmp")] == \
        ["png", "jpg", "jpg", "tif", "tif", "webp", "bmp"]
    assert SUPPORTED_SAVE_FORMATS == {"png", "jpg", "tif", "webp", "bmp", "jp2", "j2k"}
    with pytest.raises(ImageSaveError, match=r"cannot save 'a\.gif': unknown output format \('\.gif'\)"):
        format_from_path("a.gif")
    with pytest.raises(ImageSaveError, match="no extension"):
        format_from_path("noext")
    out = save_image(ImageData(blocks()), tmp_path / "named.dat", format="TIFF")
    assert out.read_bytes()[:4] == b"II*\0"
    out = save_image(ImageData(blocks()), tmp_path / "named2.dat", format="jpeg")
    assert out.read_bytes()[:2] == b"\xff\xd8"
    with pytest.raises(ImageSaveError, match="unknown format 'gif'"):
        save_image(ImageData(blocks()), tmp_path / "x.png", format="gif")


def test_quality_changes_jpeg_and_is_validated(tmp_path):
    image = ImageData(noise(64, 64, 3))
    low = save_image(image, tmp_path / "low.jpg", quality=20).stat().st_size
    high = save_image(image, tmp_path / "high.jpg", quality=95).stat().st_size
    assert low < high / 2
    with pytest.raises(ImageSaveError, match="quality must be between 1 and 100"):
        save_image(image, tmp_path / "bad.jpg", quality=0)


def test_webp_quality_100_is_lossless(tmp_path):
    pixels = noise(16, 16, 3)
    assert np.array_equal(load_image(save_image(ImageData(pixels), tmp_path / "l.webp", quality=100)).pixels, pixels)


# ---------------------------------------------------------------- 8. bad files

def expect_load_error(path, reason, **kwargs):
    with pytest.raises(ImageLoadError) as info:
        load_image(path, **kwargs)
    assert str(info.value).startswith(f"cannot open '{path}': "), str(info.value)
    assert reason in str(info.value), str(info.value)
    return str(info.value)


def test_missing_file(tmp_path):
    assert expect_load_error(tmp_path / "nope.png", "no such file") == f"cannot open '{tmp_path / 'nope.png'}': no such file"


def test_directory(tmp_path):
    expect_load_error(tmp_path, "it is a folder, not an image file")


def test_empty_file(tmp_path):
    (tmp_path / "x.png").write_bytes(b"")
    assert expect_load_error(tmp_path / "x.png", "file is empty") == f"cannot open '{tmp_path / 'x.png'}': file is empty"


@pytest.mark.parametrize("suffix,fmt", [("png", "PNG"), ("jpg", "JPEG"), ("webp", "WEBP"), ("gif", "GIF")])
def test_truncated_file(tmp_path, suffix, fmt):
    buf = io.BytesIO()
    image = Image.fromarray(noise(64, 64, 3))
    (image.quantize(256) if fmt == "GIF" else image).save(buf, fmt)
    data = buf.getvalue()
    path = tmp_path / f"cut.{suffix}"
    path.write_bytes(data[: len(data) // 2])
    expect_load_error(path, "truncated or corrupt")


def test_truncated_16bit_png_and_tiff(tmp_path):
    data = cv2.imencode(".png", noise(64, 64, 3, np.uint16))[1].tobytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    expect_load_error(tmp_path / "cut.png", "truncated or corrupt")
    buf = io.BytesIO()
    tifffile.imwrite(buf, noise(64, 64, 3, np.uint16), photometric="rgb")
    (tmp_path / "cut.tif").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    expect_load_error(tmp_path / "cut.tif", "file is truncated")


def test_pillow_truncation_leniency_is_overridden(tmp_path, monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # as some other library might
    buf = io.BytesIO()
    Image.fromarray(noise(64, 64, 3)).save(buf, "JPEG")
    (tmp_path / "cut.jpg").write_bytes(buf.getvalue()[:2000])
    expect_load_error(tmp_path / "cut.jpg", "truncated or corrupt")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # restored afterwards


def test_text_file(tmp_path):
    (tmp_path / "notes.jpg").write_text("shopping list:\n- milk\n- bread\n")
    expect_load_error(tmp_path / "notes.jpg", "not an image (it looks like a text file)")


def test_unknown_binary(tmp_path):
    (tmp_path / "blob.png").write_bytes(bytes(range(256)) * 4)
    expect_load_error(tmp_path / "blob.png", "not a recognised image format (supported: JPEG, PNG, TIFF, WebP, BMP, GIF, "
                                              "JPEG 2000, TGA, PSD, QOI, PCX, PPM/PGM)")


def test_recognised_but_unsupported_format(tmp_path):
    Image.fromarray(blocks()).save(tmp_path / "x.ico")
    expect_load_error(tmp_path / "x.ico", "ICO images are not supported")


def test_decompression_bomb_checked_from_header(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(raw_png(20000, 20000, 8, 0, b"\0\0"))  # header only; the data would never do
    message = expect_load_error(path, "")
    assert message == (f"cannot open '{path}': image is 20000×20000 = 400 MP, above the limit of "
                       "300 MP (--max-pixels)")
    assert DEFAULT_MAX_PIXELS == 300_000_000


def test_max_pixels_parameter_and_tiff_header(tmp_path):
    Image.fromarray(blocks()).save(tmp_path / "s.png")
    tifffile.imwrite(tmp_path / "s.tif", noise(32, 48, 3, np.uint16), photometric="rgb")
    for name in ("s.png", "s.tif"):
        message = expect_load_error(tmp_path / name, "image is 48×32 = 0.0015 MP, above the limit of 0.001 MP",
                                    max_pixels=1000)
        assert message.endswith("(--max-pixels)")
        assert load_image(tmp_path / name, max_pixels=1536).pixels.shape[:2] == (32, 48)


def test_pillow_bomb_check_does_not_fire_below_our_limit(tmp_path):
    side = 9500  # 90.25 MP: above Pillow's default warning limit, below ours
    path = tmp_path / "large.png"
    path.write_bytes(raw_png(side, side, 1, 0, bytes(1 + (side + 7) // 8) * side))
    before = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = load_image(path)
    assert image.pixels.shape == (side, side, 1)
    assert Image.MAX_IMAGE_PIXELS == before


def test_tiff_layouts_pillow_cannot_open_fall_back_to_tifffile(tmp_path):
    values = noise(4, 6, 3)  # grey + alpha + one unspecified extra sample
    tifffile.imwrite(tmp_path / "extra.tif", values, photometric="minisblack", extrasamples=[2, 0],
                     planarconfig="contig")
    image = load_image(tmp_path / "extra.tif")
    assert np.array_equal(image.pixels[..., 0], values[..., 0]) and np.array_equal(image.alpha, values[..., 1])
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(values[..., :2], -1, 0), photometric="minisblack",
                     extrasamples=[2], planarconfig="separate")
    image = load_image(tmp_path / "planar.tif")
    assert np.array_equal(image.pixels[..., 0], values[..., 0]) and np.array_equal(image.alpha, values[..., 1])
    with pytest.raises(Exception):  # the premise: Pillow really cannot read these
        Image.open(tmp_path / "extra.tif")


def test_concurrent_loads_restore_pillow_globals(tmp_path):
    from concurrent.futures import ThreadPoolExecutor
    Image.fromarray(blocks()).save(tmp_path / "a.png")
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: load_image(tmp_path / "a.png").pixels.shape, range(40)))
    assert results == [(32, 48, 3)] * 40
    assert (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES) == before
