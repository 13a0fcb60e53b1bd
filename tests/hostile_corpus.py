"""Writes a corpus of bad and odd image files, the kind a user or the internet hands the app.

    python tests/hostile_corpus.py FOLDER     # writes the files and lists them

Every entry in CASES says what the loaders must do with its file: load it (the test
checks the pixels) or refuse it with ImageLoadError naming the file and the reason below.
tests/core/test_hostile_input.py holds the checks; the fuzz harness seeds from this corpus.
"""
from __future__ import annotations

import io
import struct
import sys
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import tifffile
from PIL import Image

if __package__ in (None, ""):  # run as a script: make `tests.` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.core.test_imageio import blocks, cmyk_profile, make_exif, raw_png  # noqa: E402

UPRIGHT = blocks(32, 48)  # non-square and asymmetric: every EXIF transform is distinguishable
HUGE_ALPHA_SIZE = (3000, 4000)  # H, W


class Case(NamedTuple):
    name: str
    write: Callable[[Path], None]
    error: str | None  # None: must load; else a fragment of the ImageLoadError reason


def _encode(pixels: np.ndarray, fmt: str, mode: str | None = None, **kwargs) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels, mode).save(buf, fmt, **kwargs)
    return buf.getvalue()


def _tiff_bytes(pixels: np.ndarray, **kwargs) -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, pixels, **kwargs)
    return buf.getvalue()


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def stored_for(orientation: int) -> np.ndarray:
    """The pixels a camera stores so that `orientation` turns them into UPRIGHT
    (the inverse of the EXIF transform)."""
    u = UPRIGHT
    return {1: u, 2: u[:, ::-1], 3: u[::-1, ::-1], 4: u[::-1], 5: u.swapaxes(0, 1),
            6: u.swapaxes(0, 1)[::-1], 7: u[::-1, ::-1].swapaxes(0, 1),
            8: u.swapaxes(0, 1)[:, ::-1]}[orientation]


def _orientation_jpeg(orientation: int) -> bytes:
    return _encode(np.ascontiguousarray(stored_for(orientation)), "JPEG", quality=100, subsampling=0,
                   exif=make_exif(orientation))


def _tiff_claiming(width: int, height: int, samples: int = 1, bits: int = 8) -> bytes:
    """A little-endian TIFF whose IFD says width×height grey with one tiny strip."""
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, bits), (259, 3, 1, 1),
               (262, 3, 1, 1), (273, 4, 1, 8), (277, 3, 1, samples), (278, 4, 1, height),
               (279, 4, 1, 16)]
    ifd_at = 8 + 16
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        ifd += struct.pack("<HHI", tag, typ, count) + (struct.pack("<HH", value, 0) if typ == 3
                                                        else struct.pack("<I", value))
    return b"II*\0" + struct.pack("<I", ifd_at) + bytes(16) + ifd + bytes(4)


def cmyk_pixels() -> np.ndarray:
    cmyk = np.zeros((16, 32, 4), np.uint8)
    cmyk[:, :16, 0] = 255  # left half pure cyan, right half paper white
    return cmyk


def grey16() -> np.ndarray:
    return (np.arange(24 * 40, dtype=np.uint32).reshape(24, 40) * 68).astype(np.uint16)


def palette_image() -> Image.Image:
    return Image.fromarray(UPRIGHT).quantize(8)


def huge_alpha() -> tuple[np.ndarray, np.ndarray]:
    """Colour and alpha of the 4000×3000 RGBA case: a ramp of alpha, so it is not trivial."""
    h, w = HUGE_ALPHA_SIZE
    rgb = np.empty((h, w, 3), np.uint8)
    rgb[...] = (np.arange(w, dtype=np.uint32) * 255 // (w - 1)).astype(np.uint8)[None, :, None]
    alpha = np.broadcast_to((np.arange(h, dtype=np.uint32) * 255 // (h - 1)).astype(np.uint8)[:, None], (h, w))
    return rgb, np.ascontiguousarray(alpha)


def frames() -> list[np.ndarray]:
    first = UPRIGHT
    return [first, 255 - first, np.roll(first, 8, axis=1)]


def _write(data: bytes | Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data() if callable(data) else data)


def _animated(fmt: str) -> bytes:
    ims = [Image.fromarray(f) for f in frames()]
    buf = io.BytesIO()
    kwargs = {"lossless": True} if fmt == "WEBP" else {}
    ims[0].save(buf, fmt, save_all=True, append_images=ims[1:], duration=100, loop=0, **kwargs)
    return buf.getvalue()


def _palette_trns() -> bytes:
    pal = palette_image()
    buf = io.BytesIO()
    pal.save(buf, "PNG", transparency=int(np.array(pal)[0, 0]))
    return buf.getvalue()


def _huge_alpha_png() -> bytes:
    rgb, alpha = huge_alpha()
    return _encode(np.dstack([rgb, alpha]), "PNG", compress_level=1)


_RNG_BYTES = np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes()
_BROKEN_ICC = b"\0\0\1\0" + b"not really a colour profile" * 8

CASES: list[Case] = [
    Case("empty.jpg", _write(b""), "file is empty"),
    Case("truncated.jpg", _write(lambda: _half(_encode(UPRIGHT, "JPEG"))), "truncated or corrupt"),
    Case("truncated.png", _write(lambda: _half(_encode(UPRIGHT, "PNG"))), "truncated or corrupt"),
    Case("truncated.tif", _write(lambda: _half(_tiff_bytes(UPRIGHT, photometric="rgb"))), "truncated"),
    Case("random.png", _write(_RNG_BYTES), "not a recognised image format"),
    Case("random_tiff_header.tif", _write(b"II*\0" + _RNG_BYTES), "truncated or corrupt"),
    Case("png_named.jpg", _write(lambda: _encode(UPRIGHT, "PNG")), None),
    Case("jpeg_named.tif", _write(lambda: _encode(UPRIGHT, "JPEG", quality=100, subsampling=0)), None),
    Case("bomb_100000.png", _write(lambda: raw_png(100000, 100000, 8, 2, b"\0" * 4)),
         "image is 100000×100000 = 10000 MP, above the limit"),
    Case("bomb_100000.tif", _write(lambda: _tiff_claiming(100000, 100000)),
         "image is 100000×100000 = 10000 MP, above the limit"),
    # found by fuzzing: few pixels but 65,281 samples each, 6.5 GB for tifffile to allocate
    Case("samples_65281.tif", _write(lambda: _tiff_claiming(1, 100000, samples=65281, bits=1)),
         "unsupported TIFF layout (65281 samples per pixel)"),
    Case("cmyk.jpg", _write(lambda: _encode(cmyk_pixels(), "JPEG", "CMYK", quality=100)), None),
    Case("cmyk_icc.jpg", _write(lambda: _encode(cmyk_pixels(), "JPEG", "CMYK", quality=100, icc_profile=cmyk_profile())), None),
    Case("grey16.png", _write(lambda: _encode(grey16(), "PNG")), None),
    Case("grey16.tif", _write(lambda: _tiff_bytes(grey16(), photometric="minisblack")), None),
    Case("palette_trns.png", _write(_palette_trns), None),
    Case("animated.gif", _write(lambda: _animated("GIF")), None),
    Case("animated.webp", _write(lambda: _animated("WEBP")), None),
    *[Case(f"orientation_{o}.jpg", _write(lambda o=o: _orientation_jpeg(o)), None) for o in range(1, 9)],
    Case("corrupt_icc.jpg", _write(lambda: _encode(UPRIGHT, "JPEG", quality=100, subsampling=0,
                                                   icc_profile=_BROKEN_ICC)), None),
    Case("corrupt_icc.png", _write(lambda: _encode(UPRIGHT, "PNG", icc_profile=_BROKEN_ICC)), None),
    Case("one_pixel.png", _write(lambda: _encode(np.array([[[10, 20, 30]]], np.uint8), "PNG")), None),
    Case("one_pixel.jpg", _write(lambda: _encode(np.full((1, 1, 3), 200, np.uint8), "JPEG", quality=100)), None),
    Case("huge_alpha.png", _write(_huge_alpha_png), None),
]
FAILING = {c.name: c.error for c in CASES if c.error is not None}
LOADING = [c.name for c in CASES if c.error is None]


def build_corpus(folder: str | Path) -> dict[str, Path]:
    """Write every case into `folder` (created if needed); name → path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for case in CASES:
        path = folder / case.name
        case.write(path)
        paths[case.name] = path
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for name, path in build_corpus(sys.argv[1]).items():
        print(f"{path}  ({FAILING.get(name) and 'must fail: ' + FAILING[name] or 'must load'})")
