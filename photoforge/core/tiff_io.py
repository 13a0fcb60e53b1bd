"""TIFF reading and writing for imageio.

tifffile rather than Pillow decodes deep (16-bit/float) samples, which Pillow would reduce
to 8 bits, and writes every TIFF. The EXIF/GPS sub-IFDs are appended by hand afterwards
because tifffile will not write their pointer tags.
"""
from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import tifffile
from PIL import Image, UnidentifiedImageError

from .decoding import _check_size, _finish, _load_error, _Meta, _pixels_from_pillow, _valid_icc
from .image import ImageData, from_float
from .ordered_map import ordered_map


_EXIF_IFD, _GPS_IFD, _INTEROP_IFD = 0x8769, 0x8825, 0xA005
# IFD0 tags of a TIFF that describe the photo rather than the file's layout.
_TIFF_PHOTO_TAGS = (270, 271, 272, 274, 305, 306, 315, 33432)
_TIFF_TEXT_TAGS = (271, 272, 306, 315, 33432)  # written as extratags; 270/305 have parameters
# tifffile refuses to write the EXIF/GPS pointer tags, so these stand in (sorted where the
# real ones belong) and are rewritten once the sub-IFDs are appended.
_POINTER_STAND_INS = {_EXIF_IFD: 34664, _GPS_IFD: 34852}
_STRIP_BYTES = 262144  # uncompressed bytes per strip: tifffile's default when compressing
_ENCODERS = 2  # threads compressing strips
_MAX_SAMPLES = 16  # per pixel (incl. depth): RGB/CMYK + alpha + extras fits with room to spare
# tifffile logs its complaints about a damaged file (e.g. "invalid offset to first page")
# as warnings; with no handler configured Python prints them to stderr, where they land
# in the CLI's output above our own error for the same file. The error says it already.
logging.getLogger("tifffile").addHandler(logging.NullHandler())


def load_tiff(path: Path, max_pixels: int) -> ImageData:

    notices: list[str] = []
    with tifffile.TiffFile(path) as tif:
        if not tif.pages:  # a TIFF header whose first IFD offset points nowhere
            raise _load_error(path, "file is truncated or corrupt (its TIFF structure holds no image)")
        page = tif.pages[0]
        _check_size(path, page.imagewidth, page.imagelength, max_pixels)
        # The pixel limit alone let a damaged header ask for 65,281 samples per pixel (found
        # by fuzzing), which tifffile allocates in full (GBs) before anything looks at them.
        per_pixel = page.size // max(1, page.imagewidth * page.imagelength)
        if per_pixel > _MAX_SAMPLES:
            raise _load_error(path, f"unsupported TIFF layout ({per_pixel} samples per pixel)")
        if len(tif.pages) > 1:
            notices.append(f"'{path}' has {len(tif.pages)} pages; only the first is used")
        end = max((o + n for o, n in zip(page.dataoffsets, page.databytecounts)), default=0)
        if end > os.path.getsize(path):
            raise _load_error(path, "file is truncated (its image data runs past the end of the file)")
        icc = _valid_icc(path, _tag_bytes(page, 34675), notices)
        xmp = _tag_bytes(page, 700)
        deep = page.bitspersample > 8 or int(page.sampleformat) != 1
        if not deep:  # Pillow already handles palette, CMYK, YCbCr, 1-bit and JPEG-in-TIFF
            try:
                with Image.open(path) as im:
                    im.load()
                    pixels, alpha, icc = _pixels_from_pillow(path, im, icc, notices)
            except (UnidentifiedImageError, ValueError):  # a sample layout Pillow has no mode for
                deep = True
        if deep:
            pixels, alpha = _tiff_pixels(path, page, notices)
    return _finish(pixels, alpha, icc, _tiff_exif(path), xmp, "TIFF", notices)


def _tag_bytes(page, code: int) -> bytes | None:
    tag = page.tags.get(code)
    if tag is None:
        return None
    value = tag.value
    return value.encode("utf-8") if isinstance(value, str) else bytes(value) or None


def _portable_exif(source: Image.Exif, tags: Iterable[int]) -> Image.Exif:
    """Copy `tags` plus the EXIF/GPS sub-IFDs into a fresh little-endian Exif."""
    out = Image.Exif()
    out.endian = "<"
    for tag in tags:
        if tag in source:
            out[tag] = source[tag]
    for tag in (_EXIF_IFD, _GPS_IFD):
        sub = dict(source.get_ifd(tag)) if tag in source else {}
        if tag == _EXIF_IFD and _INTEROP_IFD in sub:  # a bare offset would dangle
            sub[_INTEROP_IFD] = source.get_ifd(_INTEROP_IFD)
        if sub:
            out[tag] = sub
    return out


def _tiff_exif(path: Path) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            source = Image.Exif()
            source.load_from_fp(fh)
            out = _portable_exif(source, _TIFF_PHOTO_TAGS)
            return out.tobytes() if len(out) else None
    except Exception:  # noqa: BLE001 - EXIF in TIFF is optional; a bad one must not block the pixels
        return None


def _tiff_pixels(path: Path, page, notices: list[str]):

    try:
        values = page.asarray()
        if int(page.planarconfig) == 2 and values.ndim == 3:
            values = np.moveaxis(values, 0, -1)
    except ValueError as exc:
        if "imagecodecs" not in str(exc):
            raise
        import cv2  # decodes LZW/PackBits/JPEG, which tifffile needs imagecodecs for

        values = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
        if values is None:
            raise _load_error(path, "cannot decode this TIFF's compression") from exc
        values = values.reshape(values.shape[0], values.shape[1], -1)
        values = values[..., [2, 1, 0, 3][: values.shape[2]]] if values.shape[2] >= 3 else values
        if values.shape[2] == 4 and page.samplesperpixel == 2:
            values = values[..., [0, 3]]
    values = values.reshape(page.imagelength, page.imagewidth, -1)
    photometric = int(page.photometric)
    n_colour = {0: 1, 1: 1, 2: 3}.get(photometric, 0)  # MINISWHITE, MINISBLACK, RGB
    if not n_colour or values.shape[2] < n_colour:
        raise _load_error(path, f"unsupported TIFF colour layout ({page.photometric.name}, "
                                f"{page.bitspersample}-bit)")
    extras = tuple(page.extrasamples)
    has_alpha = bool(extras) and extras[0] in (1, 2) and values.shape[2] > n_colour
    colour = _to_uint16(path, values[..., :n_colour], page.bitspersample, notices)
    alpha = _to_uint16(path, values[..., n_colour], page.bitspersample, notices) if has_alpha else None
    if photometric == 0:
        colour = np.iinfo(colour.dtype).max - colour
    if has_alpha and extras[0] == 1:  # associated alpha: undo the premultiplication
        top = float(np.iinfo(colour.dtype).max)
        scale = np.where(alpha > 0, top / np.maximum(alpha, 1).astype(np.float32), 0)[..., None]
        colour = np.minimum(colour * scale + 0.5, top).astype(colour.dtype)
    return np.ascontiguousarray(colour), None if alpha is None else np.ascontiguousarray(alpha)


def _to_uint16(path: Path, values: np.ndarray, bits: int, notices: list[str]) -> np.ndarray:

    if values.dtype.kind == "f":
        values = np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        top = float(values.max()) if values.size else 1.0
        note = f"'{path}' has floating-point samples; they were converted to 16-bit"
        if top > 1.0:  # not 0–1 data: keep the brightest value rather than clip everything
            values *= np.float32(1.0 / top)
            note += f" (scaled so that {top:g} becomes white)"
        if note not in notices:
            notices.append(note)
        return from_float(values, np.uint16)
    if not values.dtype.isnative:
        values = values.astype(values.dtype.newbyteorder("="))
    if values.dtype in (np.int8, np.int16):  # signed: shift the range, keep every level
        unsigned = np.uint8 if values.dtype == np.int8 else np.uint16
        offset = 1 << (8 * values.dtype.itemsize - 1)
        note = (f"'{path}' has signed {8 * values.dtype.itemsize}-bit samples; they were offset by "
                f"{offset} to unsigned")
        if note not in notices:
            notices.append(note)
        values = (values.view(unsigned) ^ unsigned(offset))  # two's complement + offset, exactly
    if values.dtype == np.uint8:
        return values
    if values.dtype != np.uint16:
        raise _load_error(path, f"unsupported TIFF sample format ({values.dtype}, {bits}-bit)")
    if bits < 16:  # e.g. 12-bit scanner data: stretch to the full 16-bit range
        return (values.astype(np.uint32) * 65535 // ((1 << bits) - 1)).astype(np.uint16)
    return values


def write_tiff(image: ImageData, fh: BinaryIO, quality: int, meta: _Meta) -> None:
    """Strip by strip: only one strip of the image is ever copied or encoded at a time."""
    options, exif, subs = tiff_options(image, meta)
    tifffile.imwrite(fh, _deflated_strips(image.pixels, image.alpha, options["rowsperstrip"]), **options)
    if subs:
        _append_sub_ifds(fh, exif, subs)


def tiff_options(image: ImageData, meta: _Meta) -> tuple[dict, Image.Exif | None, list[int]]:
    """tifffile.imwrite's arguments for `image` except the data (shape and dtype included),
    the parsed EXIF, and the EXIF/GPS sub-IFDs to append after it."""
    pixels, alpha = image.pixels, image.alpha
    samples = pixels.shape[2] + (alpha is not None)
    shape = (image.height, image.width, samples) if samples > 1 else (image.height, image.width)
    # tifffile's own default strip height, so the file is the one it writes from a whole array
    rows = max(1, _STRIP_BYTES // (image.width * samples * pixels.dtype.itemsize))
    exif = None
    if meta.exif:
        exif = Image.Exif()
        exif.load(meta.exif)
    tags = [(700, "B", len(meta.xmp), meta.xmp, True)] if meta.xmp else []
    text = {code: exif.get(code) for code in (*_TIFF_TEXT_TAGS, 270, 305)} if exif else {}
    tags += [(code, "s", 0, text[code], True) for code in _TIFF_TEXT_TAGS if isinstance(text.get(code), str)]
    bigtiff = image.height * image.width * samples * pixels.dtype.itemsize > 2**32 - 2**25
    subs = [t for t in (_EXIF_IFD, _GPS_IFD) if exif and t in exif and exif.get_ifd(t)]
    if subs and bigtiff:
        image.notices.append("this TIFF is too large for the EXIF camera/GPS details; only the "
                             "basic EXIF tags were written")
        subs = []
    tags += [(_POINTER_STAND_INS[t], "I", 1, 0, True) for t in subs]
    options = dict(
        shape=shape, dtype=pixels.dtype, rowsperstrip=rows,
        photometric="minisblack" if pixels.shape[2] == 1 else "rgb",
        planarconfig="contig" if samples > 1 else None,
        extrasamples=[2] if alpha is not None else None,  # 2 = unassociated alpha
        compression="zlib", predictor=True, iccprofile=meta.icc, metadata=None,
        description=text.get(270) if isinstance(text.get(270), str) else None,
        software=text.get(305) if isinstance(text.get(305), str) else False,
        extratags=tags, bigtiff=bigtiff, byteorder="<")
    return options, exif, subs


def _deflated_strips(pixels: np.ndarray, alpha: np.ndarray | None, rows: int) -> Iterator[bytes]:
    """The TIFF strips of `pixels` (+ `alpha` as the last sample), rows at a time, encoded as
    tifffile encodes them (horizontal differencing, then deflate). Strips are built one by one
    instead of joining colour and alpha into a second whole image, and two are compressed at a
    time, as tifffile does with an array (zlib lets go of the GIL)."""
    predict, deflate = tifffile.TIFF.PREDICTORS[2], tifffile.TIFF.COMPRESSORS[8]
    little = pixels.dtype.newbyteorder("<")

    def encode(r0: int) -> bytes:
        strip = pixels[r0:r0 + rows]
        if alpha is not None:
            strip = np.concatenate([strip, alpha[r0:r0 + rows, :, None]], axis=2)
        return deflate(predict(np.ascontiguousarray(strip, little), axis=-2))

    return ordered_map(encode, range(0, pixels.shape[0], rows), _ENCODERS)


def _append_sub_ifds(fh: BinaryIO, exif: Image.Exif, subs: list[int]) -> None:
    """Append the EXIF/GPS sub-IFDs and point the stand-in tags at them."""
    fh.flush()
    fh.seek(0)
    with tifffile.TiffFile(fh) as tif:
        entries = {t: tif.pages[0].tags[_POINTER_STAND_INS[t]].offset for t in subs}
    end = fh.seek(0, os.SEEK_END)
    if end % 2:
        fh.write(b"\0")
        end += 1
    # Pillow lays out a throwaway IFD0 holding just the pointers; its entries give the
    # absolute offsets of the sub-IFDs it serialised after itself.
    block = _portable_exif(exif, ()).tobytes(end)[14:]
    fh.write(block)
    count = struct.unpack_from("<H", block)[0]
    pointers = dict(struct.unpack_from("<H6xI", block, 2 + 12 * i) for i in range(count))
    for tag, entry in entries.items():
        fh.seek(entry)
        fh.write(struct.pack("<HHII", tag, 4, 1, pointers[tag]))
    fh.seek(0, os.SEEK_END)
