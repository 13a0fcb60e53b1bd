"""A file's resolution (DPI): read from a scan, written into files saved from it.

ImageData does not carry it yet, so `split` reads it from the scan and stamps it into each
file save_image wrote: JPEG (the JFIF density, patched in place), TIFF (the XResolution,
YResolution and ResolutionUnit tags tifffile always writes, patched in place), PNG (a pHYs
chunk, inserted by rewriting the file atomically) and BMP (pixels per metre in the header).
WebP and JPEG 2000 as written here hold no resolution.
"""
from __future__ import annotations

import os
import struct
import tempfile
import zlib
from pathlib import Path

_INCH_PER_M = 39.37007874


def read_dpi(path: str | os.PathLike[str]) -> tuple[float, float] | None:
    """(x, y) dots per inch the file states, or None (none stated, or unreadable)."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
        if head in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                tags = tif.pages[0].tags
                if "XResolution" not in tags:
                    return None
                unit = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 2
                per = {2: 1.0, 3: 2.54}.get(unit)
                if per is None:
                    return None
                x = _ratio(tags["XResolution"].value)
                y = _ratio(tags["YResolution"].value) if "YResolution" in tags else x
                return (x * per, y * per) if x > 0 and y > 0 else None
        from PIL import Image

        with Image.open(path) as im:
            dpi = im.info.get("dpi")
        if dpi and float(dpi[0]) > 1 and float(dpi[1]) > 1:  # JFIF aspect-only files say (1, 1)
            return float(dpi[0]), float(dpi[1])
    except Exception:  # noqa: BLE001 - resolution is optional: an unreadable header means none
        return None
    return None


def _ratio(value) -> float:
    if isinstance(value, tuple):
        return value[0] / value[1] if value[1] else 0.0
    return float(value)


def write_dpi(path: str | os.PathLike[str], dpi: tuple[float, float]) -> bool:
    """Stamp `dpi` into a file save_image wrote; False for formats that cannot hold it."""
    path = Path(path)
    with open(path, "rb") as fh:
        head = fh.read(32)
    if head[:4] == b"\x89PNG":
        _png(path, dpi)
    elif head[:2] == b"\xff\xd8" and head[2:4] == b"\xff\xe0" and head[6:11] == b"JFIF\0":
        with open(path, "r+b") as fh:
            fh.seek(13)
            fh.write(struct.pack(">BHH", 1, *(min(65535, round(v)) for v in dpi)))
    elif head[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
        _tiff(path, dpi)
    elif head[:2] == b"BM":
        with open(path, "r+b") as fh:
            fh.seek(38)
            fh.write(struct.pack("<ii", *(round(v * _INCH_PER_M) for v in dpi)))
    else:
        return False
    return True


def _png(path: Path, dpi: tuple[float, float]) -> None:
    """Insert pHYs after IHDR (it must precede IDAT), copying the rest in blocks."""
    data = struct.pack(">IIB", *(round(v * _INCH_PER_M) for v in dpi), 1)
    chunk = struct.pack(">I", len(data)) + b"pHYs" + data + struct.pack(">I", zlib.crc32(b"pHYs" + data))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".dpi.tmp", dir=path.parent)
    try:
        with open(path, "rb") as src, os.fdopen(fd, "wb") as dst:
            head = src.read(8 + 25)  # signature + IHDR (13 bytes of data)
            if head[12:16] != b"IHDR":
                raise ValueError("not a PNG written by PhotoForge")
            dst.write(head + chunk)
            while block := src.read(1 << 20):
                dst.write(block)
        os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _tiff(path: Path, dpi: tuple[float, float]) -> None:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        tags = tif.pages[0].tags
        order = "<" if tif.byteorder == "<" else ">"
        spots = {name: tags[name].valueoffset for name in ("XResolution", "YResolution", "ResolutionUnit")
                 if name in tags}
    if len(spots) < 3:
        raise ValueError("the TIFF has no resolution tags to set")
    with open(path, "r+b") as fh:
        for name, value in (("XResolution", dpi[0]), ("YResolution", dpi[1])):
            fh.seek(spots[name])
            fh.write(struct.pack(order + "II", round(value * 1000), 1000))
        fh.seek(spots["ResolutionUnit"])
        fh.write(struct.pack(order + "H", 2))
