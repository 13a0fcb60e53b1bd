"""A PNG encoder that works in row strips.

Pillow cannot write 16-bit RGB(A) PNG and cv2 drops metadata, and both need the whole
image converted up front; a 192-megapixel result must not be duplicated just to save it.
So filtering and compression happen a strip of rows at a time, and the only image-sized
array ever touched is the caller's own.

Deflate runs with zlib's RLE strategy (matches only at distance one, i.e. runs): after PNG's
per-row filters a photo has few longer repeats worth searching for, so the files come out
~3 % larger (8-bit photos; smaller on noisy 16-bit scans) for a deflate 5–6× faster (a
1024² ×4 upscale: 35 ms instead of 227 ms, which was most of the save).
"""
from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
FILTERS = (0, 1, 2, 3, 4)  # None, Sub, Up, Average, Paeth
_STRIP_BYTES = 1 << 18  # per-strip temporaries are ~25× this, so keep it modest
_IDAT_BYTES = 1 << 18
_COLOUR_TYPE = {(1, False): 0, (3, False): 2, (1, True): 4, (3, True): 6}


def _chunk(fh: BinaryIO, tag: bytes, data: bytes | memoryview = b"") -> None:
    fh.write(struct.pack(">I", len(data)) + tag)
    fh.write(data)
    fh.write(struct.pack(">I", zlib.crc32(data, zlib.crc32(tag))))


def _paeth(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def _filter_strip(cur: np.ndarray, prev: np.ndarray, bpp: int, only: int | None) -> np.ndarray:
    """Filter rows `cur` (n × L bytes) given the rows above them `prev`; returns n × (1+L).

    Encoding only looks at unfiltered neighbours, so every filter vectorises over the whole
    strip. Without `only`, each row takes the filter with the smallest sum of absolute
    signed residuals (libpng's heuristic), which suits photos better than any fixed one.
    """
    x = cur.astype(np.int16)
    b = prev.astype(np.int16)
    a = np.zeros_like(x)
    a[:, bpp:] = x[:, :-bpp]
    c = np.zeros_like(x)
    c[:, bpp:] = b[:, :-bpp]
    predictors = {0: 0, 1: a, 2: b, 3: (a + b) >> 1, 4: _paeth(a, b, c)}
    kinds = (only,) if only is not None else FILTERS
    residuals = [(x - predictors[k]).astype(np.uint8) for k in kinds]
    if len(kinds) == 1:
        best = np.zeros(len(x), dtype=np.intp)
    else:
        # |signed byte| without widening: min(r, 256 - r) in uint8 arithmetic
        cost = np.stack([np.minimum(r, 0 - r).sum(axis=1, dtype=np.uint32) for r in residuals])
        best = cost.argmin(axis=0)
    out = np.empty((len(x), x.shape[1] + 1), dtype=np.uint8)
    out[:, 0] = np.asarray(kinds, dtype=np.uint8)[best]
    for i, residual in enumerate(residuals):
        rows = best == i
        out[rows, 1:] = residual[rows]
    return out


def _raw_rows(pixels: np.ndarray, alpha: np.ndarray | None, r0: int, r1: int) -> np.ndarray:
    """Rows r0:r1 as PNG's byte layout: channels interleaved, 16-bit big-endian."""
    strip = pixels[r0:r1]
    n, w, ch = strip.shape
    dtype = ">u2" if pixels.dtype == np.uint16 else np.uint8
    buf = np.empty((n, w, ch + (alpha is not None)), dtype=dtype)
    buf[..., :ch] = strip
    if alpha is not None:
        buf[..., ch] = alpha[r0:r1]
    return buf.view(np.uint8).reshape(n, -1)


def write_png(
    fh: BinaryIO,
    pixels: np.ndarray,
    alpha: np.ndarray | None = None,
    *,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
    xmp: bytes | None = None,
    compress_level: int = 6,
    filter_type: int | None = None,
    strategy: int = zlib.Z_RLE,
) -> None:
    """Write H×W×C (C = 1 or 3) uint8/uint16 `pixels`, optional H×W `alpha`, to `fh`.

    `exif` is a TIFF-structured EXIF block (an "Exif\\0\\0" prefix is tolerated).
    `filter_type` forces one PNG filter for every row; None picks per row. `strategy` is
    zlib's (Z_DEFAULT_STRATEGY searches for longer matches: ~3 % smaller, 5–6× slower).
    """
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    h, w, ch = pixels.shape
    if ch not in (1, 3) or pixels.dtype not in (np.uint8, np.uint16) or h == 0 or w == 0:
        raise ValueError(f"cannot write {pixels.dtype} pixels of shape {pixels.shape} as PNG")
    if alpha is not None and alpha.shape != (h, w):
        raise ValueError("alpha must match the pixels' height and width")
    depth = 16 if pixels.dtype == np.uint16 else 8
    fh.write(SIGNATURE)
    colour = _COLOUR_TYPE[ch, alpha is not None]
    _chunk(fh, b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0))
    if icc_profile:
        _chunk(fh, b"iCCP", b"ICC Profile\0\0" + zlib.compress(icc_profile))
    if exif:
        _chunk(fh, b"eXIf", exif[6:] if exif.startswith(b"Exif\0\0") else exif)
    if xmp:
        _chunk(fh, b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + xmp)

    bpp = (ch + (alpha is not None)) * depth // 8
    rows_per_strip = max(1, _STRIP_BYTES // (w * bpp))
    compressor = zlib.compressobj(compress_level, zlib.DEFLATED, zlib.MAX_WBITS, 8, strategy)
    pending: list[bytes] = []
    pending_size = 0
    prev = np.zeros((1, w * bpp), dtype=np.uint8)
    for r0 in range(0, h, rows_per_strip):
        r1 = min(h, r0 + rows_per_strip)
        cur = _raw_rows(pixels, alpha, r0, r1)
        above = np.concatenate([prev, cur[:-1]])
        data = compressor.compress(_filter_strip(cur, above, bpp, filter_type))
        prev = cur[-1:].copy()
        if data:
            pending.append(data)
            pending_size += len(data)
        if pending_size >= _IDAT_BYTES:
            _chunk(fh, b"IDAT", b"".join(pending))
            pending, pending_size = [], 0
    pending.append(compressor.flush())
    _chunk(fh, b"IDAT", b"".join(pending))
    _chunk(fh, b"IEND")
