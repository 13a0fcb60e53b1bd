"""A baseline JPEG encoder that works in row strips.

Pillow encodes whole images only, and handing it a 192-megapixel result means a second,
padded copy (RGBX) of it. But with a restart marker after every MCU row each row of MCUs is
coded independently of the others (the DC predictors reset), so strips of whole MCU rows can
go through Pillow one at a time and be spliced: the headers of the first strip with the
frame height patched to the full height, then each strip's entropy-coded data with its
RSTn markers renumbered where the strip sits in the image, then one EOI. Quantisation and
Huffman tables are the fixed ones for the quality (no optimisation pass), so every strip
uses the same tables and the result is byte for byte what libjpeg writes for the whole image
with `restart_marker_rows=1`, and decodes to exactly the pixels of the default encoder
(restart markers change the coding, not the coefficients).

Progressive JPEG cannot be spliced this way (each scan covers the whole image), so streamed
files are baseline, as every JPEG PhotoForge has written.
"""
from __future__ import annotations

import io
import struct
from collections.abc import Callable
from typing import BinaryIO

import numpy as np
from PIL import Image

from .ordered_map import ordered_map

_STRIP_PIXELS = 1 << 20  # per strip; its copies (16→8 bit, Pillow's RGBX) are a few bytes × this
_ENCODERS = 2  # strips encoded at once (libjpeg lets go of the GIL)
_SOF0, _SOS, _EOI = 0xC0, 0xDA, b"\xff\xd9"
MAX_SIDE = 65535  # the frame header's 16-bit fields


def _mcu_height(mode: str, subsampling: int) -> int:
    # subsampling as Pillow takes it: 0 = 4:4:4, 1 = 4:2:2, 2 = 4:2:0 (vertical halving)
    return 16 if mode != "L" and subsampling == 2 else 8


def _split(data: bytes) -> tuple[bytes, int, int]:
    """(headers up to and including the SOS segment, SOF height offset, end of entropy data)."""
    pos, sof = 2, -1
    while True:
        if data[pos] != 0xFF:
            raise ValueError("unexpected bytes between JPEG markers")
        marker = data[pos + 1]
        length = struct.unpack_from(">H", data, pos + 2)[0]
        if marker == _SOF0:
            sof = pos + 5  # length (2) and precision (1) come before the height
        pos += 2 + length
        if marker == _SOS:
            break
    if sof < 0 or not data.endswith(_EOI):
        raise ValueError("the JPEG encoder did not write a baseline frame")
    return data[:pos], sof, len(data) - 2


def _renumbered(scan: memoryview, shift: int) -> bytes:
    """Entropy-coded data with every RSTn marker moved on by `shift` (mod 8). In this data
    0xFF is only ever followed by 0x00 (stuffing) or a marker, so the match is exact."""
    shift %= 8
    if shift == 0:
        return bytes(scan)
    codes = np.frombuffer(scan, np.uint8).copy()
    at = np.flatnonzero((codes[:-1] == 0xFF) & ((codes[1:] & 0xF8) == 0xD0)) + 1
    codes[at] = 0xD0 + (codes[at] - 0xD0 + shift) % 8
    return codes.tobytes()


def write_jpeg(fh: BinaryIO, height: int, width: int, mode: str, strip: Callable[[int, int], np.ndarray],
               *, quality: int, subsampling: int, strip_rows: int | None = None, **pillow_options) -> None:
    """Write a `height`×`width` baseline JPEG whose rows r0:r1 are `strip(r0, r1)` (uint8,
    H×W for mode "L", H×W×3 for "RGB"). `pillow_options` (icc_profile, exif, xmp, dpi…)
    go into the headers as Pillow writes them for a whole image. `strip_rows` is rounded
    to whole MCU rows; by default strips hold about a million pixels."""
    if not (0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE):
        raise ValueError(f"JPEG images can be at most {MAX_SIDE} pixels on a side, this one is "
                         f"{width}×{height}")
    mcu = _mcu_height(mode, subsampling)
    rows = strip_rows or _STRIP_PIXELS // width
    rows = max(mcu, rows // mcu * mcu)

    def piece(r0: int) -> bytes:
        buf = io.BytesIO()
        # the metadata goes into the first strip's headers, which become the file's
        Image.fromarray(strip(r0, min(height, r0 + rows))).save(
            buf, "JPEG", quality=quality, subsampling=subsampling, restart_marker_rows=1,
            **(pillow_options if r0 == 0 else {}))
        data = buf.getvalue()
        headers, sof, end = _split(data)
        scan = memoryview(data)[len(headers):end]
        if r0 == 0:
            head = bytearray(headers)
            struct.pack_into(">H", head, sof, height)
            return bytes(head + scan)
        previous = r0 // mcu  # restart intervals (MCU rows) before this strip
        return bytes((0xFF, 0xD0 + (previous - 1) % 8)) + _renumbered(scan, previous)

    for data in ordered_map(piece, range(0, height, rows), _ENCODERS):
        fh.write(data)
    fh.write(_EOI)
