"""Binary Netpbm (P5 greymap, P6 pixmap) read at their real depth.

Raw converters (dcraw -4, RawTherapee, some scanner tools) write 16-bit PPM. Pillow reduces
16-bit pixmaps to 8 bits, so these two are decoded here; the ASCII and bitmap variants (P1–P4)
never carry more than Pillow keeps and are left to it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .decoding import _check_size, _load_error

MAGICS = (b"P5", b"P6")
_WHITESPACE = b" \t\n\r\v\f"


def _header(path: Path, data: memoryview) -> tuple[int, int, int, int, int]:
    """(width, height, channels, maxval, offset of the first sample)."""
    pos, fields = 2, []
    while len(fields) < 3:
        while pos < len(data) and data[pos] in _WHITESPACE:
            pos += 1
        if pos < len(data) and data[pos] == ord("#"):  # a comment runs to the end of its line
            while pos < len(data) and data[pos] not in b"\n\r":
                pos += 1
            continue
        start = pos
        while pos < len(data) and data[pos] in b"0123456789":
            pos += 1
        if start == pos or pos - start > 9:
            raise _load_error(path, "damaged Netpbm header (width, height and maximum value expected)")
        fields.append(int(bytes(data[start:pos])))
    if pos >= len(data) or data[pos] not in _WHITESPACE:
        raise _load_error(path, "damaged Netpbm header (no separator before the pixels)")
    width, height, maxval = fields
    if width == 0 or height == 0:
        raise _load_error(path, f"the Netpbm header gives an empty image ({width}×{height})")
    if not 1 <= maxval <= 65535:
        raise _load_error(path, f"the Netpbm maximum value {maxval} is outside 1–65535")
    channels = 3 if bytes(data[:2]) == b"P6" else 1
    return width, height, channels, maxval, pos + 1


def load_pnm(path: Path, max_pixels: int) -> tuple[np.ndarray, list[str]]:
    """Pixels (uint8 for a maximum value up to 255, else uint16, scaled to the full range of
    the dtype) and notices."""
    with open(path, "rb") as fh:
        head = fh.read(1024)
        width, height, channels, maxval, offset = _header(path, memoryview(head))
        _check_size(path, width, height, max_pixels)
        dtype = np.dtype(np.uint8) if maxval < 256 else np.dtype(">u2")
        count = width * height * channels
        fh.seek(offset)
        samples = np.fromfile(fh, dtype=dtype, count=count)
    if samples.size < count:
        raise _load_error(path, f"file is truncated ({samples.size * dtype.itemsize} of "
                                f"{count * dtype.itemsize} bytes of pixels)")
    notices: list[str] = []
    if int(samples.max()) > maxval:
        notices.append(f"'{path}' has samples above its maximum value {maxval}; they were clipped")
        np.minimum(samples, maxval, out=samples)
    full = 255 if maxval < 256 else 65535
    out_dtype = np.uint8 if full == 255 else np.uint16
    if maxval == full:
        pixels = samples.astype(out_dtype)
    else:  # e.g. 12-bit scanner data in a 4095 pixmap: stretched so white stays white
        pixels = np.round(samples.astype(np.float64) * (full / maxval)).astype(out_dtype)
    return pixels.reshape(height, width, channels), notices
