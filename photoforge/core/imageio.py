"""Reading photos into ImageData and writing them back out with their metadata.

Pillow does most formats; 16-bit PNG is decoded by cv2 and TIFF goes through tiff_io
(tifffile for 16-bit/float) because Pillow would reduce them to 8 bits. PNG, JPEG and TIFF
are written a strip of rows at a time (png_stream, jpeg_stream, tiff_io) so that huge
images are not duplicated while saving; png_stream also keeps 16-bit RGB and metadata.
"""
from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

from .atomic import atomic_write
from .decoding import ImageLoadError  # noqa: F401 - part of this module's interface
from .decoding import (_ORIENTATION, _XMP_ORIENTATION, _check_size, _finish, _load_error, _Meta, _pixels_from_pillow, _valid_icc)
from .image import ImageData
from .jpeg_stream import write_jpeg
from .png_stream import write_png
from .pnm import MAGICS as _PNM_MAGICS
from .pnm import load_pnm
from .tiff_io import load_tiff, write_tiff

DEFAULT_MAX_PIXELS = 300_000_000
SUPPORTED_SAVE_FORMATS = frozenset({"png", "jpg", "tif", "webp", "bmp", "jp2", "j2k"})
_ALIASES = {"jpeg": "jpg", "tiff": "tif", "jpeg2000": "jp2"}
_SUFFIXES = {".png": "png", ".jpg": "jpg", ".jpeg": "jpg", ".jpe": "jpg", ".tif": "tif",
             ".tiff": "tif", ".webp": "webp", ".bmp": "bmp", ".jp2": "jp2", ".jpf": "jp2",
             ".j2k": "j2k", ".j2c": "j2k"}
# Pillow formats read here: those it decodes completely (every pixel, the real bit depth or
# a documented reduction) and that archives and scanning workflows hand over. PSD gives its
# flattened composite; JPEG 2000 16-bit colour is reduced to 8 bits by Pillow.
_LOADABLE = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "BMP": "BMP", "GIF": "GIF",
             "JPEG2000": "JPEG2000", "TGA": "TGA", "PSD": "PSD", "QOI": "QOI", "PCX": "PCX",
             "PPM": "PNM"}  # the plain (ASCII) and bitmap Netpbm variants; P5/P6 go to pnm.py
_SIGNATURELESS = {"TGA": (".tga", ".icb", ".vda", ".vst"), "PCX": (".pcx",)}  # trusted by name only
_LOADABLE_TEXT = "JPEG, PNG, TIFF, WebP, BMP, GIF, JPEG 2000, TGA, PSD, QOI, PCX, PPM/PGM"


class ImageSaveError(Exception):
    """An image could not be written; the message names the file and the reason."""


def _save_error(path: Path, reason: str) -> ImageSaveError:
    return ImageSaveError(f"cannot save '{path}': {reason}")


_limits_lock = threading.Lock()
_limits_users = 0
_limits_saved: tuple = ()


@contextmanager
def _pillow_limits():
    """Switch off Pillow's own bomb check (--max-pixels is checked from the header instead)
    and its truncated-file leniency, restoring both when the last concurrent load ends."""
    global _limits_users, _limits_saved
    with _limits_lock:
        if _limits_users == 0:
            _limits_saved = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)
            Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = None, False
        _limits_users += 1
    try:
        yield
    finally:
        with _limits_lock:
            _limits_users -= 1
            if _limits_users == 0:
                Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = _limits_saved


# ---------------------------------------------------------------- loading

def load_image(path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS) -> ImageData:
    """Decode the first frame of `path` in display orientation; see ImageData."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise _load_error(path, "no such file") from None
    except OSError as exc:
        raise _load_error(path, (exc.strerror or str(exc)).lower()) from None
    if stat.S_ISDIR(st.st_mode):
        raise _load_error(path, "it is a folder, not an image file")
    if st.st_size == 0:
        raise _load_error(path, "file is empty")
    try:
        with _pillow_limits():
            head = _head(path, 32)
            if head[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"):
                return load_tiff(path, max_pixels)
            if head[:2] in _PNM_MAGICS:
                pixels, notices = load_pnm(path, max_pixels)
                return _finish(pixels, None, None, None, None, "PNM", notices)
            return _load_pillow(path, head, max_pixels)
    except ImageLoadError:
        raise
    except MemoryError:
        raise _load_error(path, "not enough memory to decode it") from None
    except OSError as exc:
        if exc.errno is not None:  # a real I/O error, not a decoder complaint
            raise _load_error(path, (exc.strerror or str(exc)).lower()) from exc
        raise _load_error(path, f"file is truncated or corrupt ({exc})") from exc
    except Exception as exc:
        raise _load_error(path, f"file is truncated or corrupt ({exc})") from exc


def _head(path: Path, size: int) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(size)


def _unidentified_reason(path: Path) -> str:
    head = _head(path, 1024)
    printable = sum(b in b"\t\n\r\f" or 32 <= b < 127 or b >= 128 for b in head)
    if b"\0" not in head and printable >= 0.95 * len(head):
        return "not an image (it looks like a text file)"
    return f"not a recognised image format (supported: {_LOADABLE_TEXT})"


def _gif_extent(path: Path) -> tuple[int, int] | None:
    """Width and height the first GIF frame reaches (its offset plus its size), read from
    the blocks themselves. Pillow allocates a canvas that large while *opening* a GIF, before
    any size check can run (fuzzing found a 34170×106077 frame costing 2 GB), so the limit
    has to be checked first. None when the file ends before a frame."""
    with open(path, "rb") as fh:
        data = fh.read(1 << 20)
    if len(data) < 13:
        return None
    pos = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while pos < len(data):
        if data[pos] == 0x3B:  # the trailer: no frame at all
            return None
        if data[pos] == 0x2C and pos + 9 <= len(data):
            left, top, width, height = (int.from_bytes(data[pos + k:pos + k + 2], "little") for k in (1, 3, 5, 7))
            return left + width, top + height
        if data[pos] != 0x21:
            pos += 1  # Pillow skips bytes it does not know between blocks; so must this
            continue
        pos += 2  # extension introducer and label, then sub-blocks up to a zero length
        while pos < len(data) and data[pos]:
            pos += data[pos] + 1
        pos += 1
    return None


def _load_pillow(path: Path, head: bytes, max_pixels: int) -> ImageData:
    if head[:4] == b"GIF8" and (extent := _gif_extent(path)) is not None:
        _check_size(path, *extent, max_pixels)
    try:
        im = Image.open(path)
    except UnidentifiedImageError:
        raise _load_error(path, _unidentified_reason(path)) from None
    with im:
        if im.format not in _LOADABLE:
            raise _load_error(path, f"{im.format} images are not supported (supported: {_LOADABLE_TEXT})")
        if path.suffix.lower() not in _SIGNATURELESS.get(im.format, (path.suffix.lower(),)):
            # no magic number: a damaged file of another kind can pass for one of these
            raise _load_error(path, _unidentified_reason(path))
        _check_size(path, *im.size, max_pixels)
        notices = _psd_notice(path, im) if im.format == "PSD" else _frame_notice(path, im)
        png16 = im.format == "PNG" and head[24] == 16
        fast = _fast_jpeg(path, im)
        if not png16 and fast is None:
            im.load()  # decode now so truncation surfaces here, not in a later conversion
        icc = _valid_icc(path, im.info.get("icc_profile"), notices)
        exif = im.info.get("exif") or None
        xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp") or None
        if png16:
            pixels, alpha = _decode_png16(path, grey=head[25] in (0, 4))
        elif fast is not None:
            pixels, alpha = fast, None
        else:
            pixels, alpha, icc = _pixels_from_pillow(path, im, icc, notices)
        return _finish(pixels, alpha, icc, exif, xmp, _LOADABLE[im.format], notices)


def _fast_jpeg(path: Path, im: Image.Image) -> np.ndarray | None:
    """Plain RGB/grey JPEGs decoded by OpenCV straight into an array: Pillow's route to
    numpy copies the pixels through bytes, which costs as much as the decode itself.
    Only for files that end in an EOI marker, so a truncated file still takes the Pillow
    path and its error; None means "use Pillow"."""
    if im.format != "JPEG" or im.mode not in ("RGB", "L"):
        return None
    with open(path, "rb") as f:
        f.seek(-2, os.SEEK_END)
        if f.read(2) != b"\xff\xd9":
            return None
    import cv2

    flags = cv2.IMREAD_IGNORE_ORIENTATION | (cv2.IMREAD_GRAYSCALE if im.mode == "L" else cv2.IMREAD_COLOR_RGB)
    pixels = cv2.imdecode(np.fromfile(path, np.uint8), flags)
    if pixels is None or pixels.shape[:2] != (im.height, im.width):
        return None
    return pixels.reshape(im.height, im.width, -1)


def _frame_notice(path: Path, im: Image.Image) -> list[str]:
    try:
        frames = getattr(im, "n_frames", 1)
    except Exception:  # noqa: BLE001 - a damaged later frame must not stop the first from loading
        frames = 1
    if frames > 1 and im.format != "MPO":  # MPO's extra frames are previews/depth, not pages
        return [f"'{path}' has {frames} frames; only the first is used"]
    return []


def _psd_notice(path: Path, im: Image.Image) -> list[str]:
    try:
        layers = len(im.layers)
    except Exception:  # noqa: BLE001 - a damaged layer block: the composite is still whole
        layers = 0
    kept = f"; its {layers} layers were not kept" if layers > 1 else ""
    return [f"'{path}' is a Photoshop document: its flattened image was read{kept}"]


def _decode_png16(path: Path, grey: bool):
    import cv2  # only 16-bit PNG needs it

    values = cv2.imdecode(np.fromfile(path, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if values is None:
        raise _load_error(path, "file is truncated or corrupt")
    values = values.reshape(values.shape[0], values.shape[1], -1)
    # cv2 gives BGR(A), grey+alpha as BGRA, and turns a tRNS colour key into alpha itself
    colour = values[..., :1] if grey else values[..., 2::-1]
    alpha = values[..., 3] if values.shape[2] == 4 else None
    return np.ascontiguousarray(colour), None if alpha is None else np.ascontiguousarray(alpha)



# ---------------------------------------------------------------- saving

def format_from_path(path: str | os.PathLike[str]) -> str:
    """The SUPPORTED_SAVE_FORMATS key for `path`'s suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in _SUFFIXES:
        what = f"'{suffix}'" if suffix else "no extension"
        raise _save_error(Path(path), f"unknown output format ({what}); use .png, .jpg, .tif, "
                                      ".webp, .bmp or .jp2, or --format")
    return _SUFFIXES[suffix]


def _normalise_format(fmt: str, path: Path) -> str:
    key = fmt.lower().lstrip(".")
    key = _ALIASES.get(key, key)
    if key not in SUPPORTED_SAVE_FORMATS:
        raise _save_error(path, f"unknown format '{fmt}' (choose from {', '.join(sorted(SUPPORTED_SAVE_FORMATS))})")
    return key


def _same_file(a: Path, b: str | os.PathLike[str]) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def save_image(image: ImageData, path: str | os.PathLike[str], *, format: str | None = None,
               quality: int = 95, overwrite: bool = False, keep_metadata: bool = True,
               protected: Iterable[str | os.PathLike[str]] = ()) -> Path:
    """Write `image` atomically and return the path written.

    Notices about anything the format could not hold are appended to `image.notices`.
    The ICC profile is kept even without `keep_metadata`: it defines the colours.
    """
    path = Path(path)
    fmt = check_save_target(path, format=format, quality=quality, overwrite=overwrite, protected=protected)
    meta = _metadata_for_save(image, keep_metadata)
    try:
        with atomic_write(path, overwrite=overwrite) as fh:
            _WRITERS[fmt](image, fh, quality, meta)
    except FileExistsError:
        raise _save_error(path, "file exists; use --overwrite") from None
    except MemoryError:
        raise _save_error(path, "not enough memory to encode it") from None
    except Exception as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise _save_error(path, reason or type(exc).__name__) from exc
    return path


def check_save_target(path: str | os.PathLike[str], *, format: str | None = None, quality: int = 95,
                      overwrite: bool = False, protected: Iterable[str | os.PathLike[str]] = (),
                      make_folders: bool = False, exists_ok: bool = False) -> str:
    """Everything save_image would refuse before encoding, checked without writing: the
    format key, or ImageSaveError naming `path`. With `make_folders`, a missing folder is
    fine as long as it can be made (no file stands where a folder must be); `exists_ok`
    leaves out only the "file exists" check (for planning a batch up front)."""
    path = Path(path)
    fmt = _normalise_format(format, path) if format else format_from_path(path)
    if not 1 <= quality <= 100:
        raise _save_error(path, f"quality must be between 1 and 100, not {quality}")
    if not overwrite and any(_same_file(path, p) for p in protected):
        raise _save_error(path, "it is one of the input images; use --overwrite to replace it")
    if path.is_dir():
        raise _save_error(path, "it is a folder")
    folder = path.parent
    while not folder.is_dir():
        if folder.exists() or folder.is_symlink():
            raise _save_error(path, f"'{folder}' is a file, not a folder")
        if not make_folders:
            raise _save_error(path, f"folder '{path.parent}' does not exist")
        folder = folder.parent
    if not overwrite and not exists_ok and (path.exists() or path.is_symlink()):
        raise _save_error(path, "file exists; use --overwrite")
    return fmt


def _metadata_for_save(image: ImageData, keep: bool) -> _Meta:
    exif = xmp = None
    if keep and image.exif:
        try:  # the pixels were turned upright on load, so the tag must say 1 now
            parsed = Image.Exif()
            parsed.load(image.exif)
            if parsed.get(_ORIENTATION, 1) != 1:
                parsed[_ORIENTATION] = 1
                exif = parsed.tobytes()
            else:
                exif = image.exif if image.exif.startswith(b"Exif\0\0") else b"Exif\0\0" + image.exif
        except Exception:  # noqa: BLE001 - hostile EXIF fails in many ways: not written, said so
            image.notices.append("the EXIF data is unreadable; it was not written")
    if keep and image.xmp:
        xmp = _XMP_ORIENTATION.sub(rb"\g<1>1", image.xmp)
    icc = image.icc_profile or None
    if icc and icc[16:20] != (b"GRAY" if image.is_grey else b"RGB "):
        # e.g. an RGB profile left on pixels an op made grey: readers reject or misapply it
        image.notices.append("the ICC colour profile does not match the image's colour channels; "
                             "it was not written")
        icc = None
    return _Meta(icc, exif, xmp)


def _to_8bit(values: np.ndarray) -> np.ndarray:
    return ((values.astype(np.uint32) + 128) // 257).astype(np.uint8)


def _pillow_pixels(pixels: np.ndarray, alpha: np.ndarray | None, keep_alpha: bool) -> np.ndarray:
    """uint8 rows as Pillow takes them: 16-bit rounded to 8, alpha as the last channel or,
    without `keep_alpha`, flattened onto white; grey without alpha is H×W."""
    if pixels.dtype == np.uint16:
        pixels, alpha = _to_8bit(pixels), None if alpha is None else _to_8bit(alpha)
    if alpha is not None and not keep_alpha:
        a = alpha[..., None].astype(np.uint16)
        pixels = ((pixels * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)
        alpha = None
    if alpha is not None:
        return np.dstack([pixels, alpha])
    return pixels[..., 0] if pixels.shape[2] == 1 else np.ascontiguousarray(pixels)


def _pillow_notices(image: ImageData, label: str, keep_alpha: bool) -> None:
    if image.pixels.dtype == np.uint16:
        image.notices.append(f"{label} holds 8 bits per channel; the 16-bit image was rounded to 8 bits")
    if image.alpha is not None and not keep_alpha:
        image.notices.append(f"{label} has no transparency; transparent areas were filled with white")


def _pillow_image(image: ImageData, label: str, keep_alpha: bool) -> Image.Image:
    _pillow_notices(image, label, keep_alpha)
    return Image.fromarray(_pillow_pixels(image.pixels, image.alpha, keep_alpha))


def _pillow_meta(meta: _Meta, label: str, image: ImageData, exif_max: int, xmp_max: int) -> dict:
    kwargs = {"icc_profile": meta.icc, "exif": meta.exif, "xmp": meta.xmp}
    for key, limit in (("exif", exif_max), ("xmp", xmp_max)):
        if kwargs[key] and len(kwargs[key]) > limit:
            image.notices.append(f"the {key.upper()} data is too large for {label} ({len(kwargs[key])} "
                                 f"bytes); it was not written")
            kwargs[key] = None
    return {k: v for k, v in kwargs.items() if v}


def _write_png(image: ImageData, fh: BinaryIO, quality: int, meta: _Meta) -> None:
    write_png(fh, image.pixels, image.alpha, icc_profile=meta.icc, exif=meta.exif, xmp=meta.xmp)


def _write_jpg(image: ImageData, fh: BinaryIO, quality: int, meta: _Meta) -> None:
    _pillow_notices(image, "JPEG", keep_alpha=False)
    alpha = image.alpha

    def rows(r0: int, r1: int) -> np.ndarray:
        return _pillow_pixels(image.pixels[r0:r1], None if alpha is None else alpha[r0:r1], keep_alpha=False)

    # 4:4:4 at high quality: restored detail and colour edges are the point of the output
    write_jpeg(fh, image.height, image.width, "L" if image.is_grey else "RGB", rows, quality=quality,
               subsampling=0 if quality >= 90 else 2, **_pillow_meta(meta, "JPEG", image, 65533, 65504))


def _write_webp(image: ImageData, fh: BinaryIO, quality: int, meta: _Meta) -> None:
    if max(image.width, image.height) > 16383:
        raise ValueError(f"WebP images can be at most 16383 pixels on a side, this one is "
                         f"{image.width}×{image.height}")
    im = _pillow_image(image, "WebP", keep_alpha=True)
    # exact: lossless WebP would otherwise rewrite the colour under transparent pixels
    im.save(fh, "WEBP", quality=quality, lossless=quality == 100, exact=quality == 100,
            **_pillow_meta(meta, "WebP", image, 1 << 30, 1 << 30))


def _write_bmp(image: ImageData, fh: BinaryIO, quality: int, meta: _Meta) -> None:
    # Pillow writes BMP alpha that most readers (Pillow included) ignore, so flatten it
    im = _pillow_image(image, "BMP", keep_alpha=False)
    if any(meta):
        image.notices.append("BMP cannot hold a colour profile or EXIF/XMP metadata; they were left out")
    im.save(fh, "BMP")



def _write_jpeg2000(image: ImageData, fh: BinaryIO, quality: int, meta: _Meta, codestream: bool = False) -> None:
    # Always reversible (lossless): JPEG 2000 is the archive format, and --quality is for
    # JPEG/WebP. Pillow's encoder holds 16 bits only for grey without alpha.
    if image.pixels.dtype == np.uint16 and image.is_grey and image.alpha is None:
        im = Image.fromarray(np.ascontiguousarray(image.pixels[..., 0]))
    else:
        im = _pillow_image(image, "JPEG 2000", keep_alpha=True)
    if any(meta):
        image.notices.append("JPEG 2000 as written here cannot hold a colour profile or EXIF/XMP "
                             "metadata; they were left out")
    im.save(fh, "JPEG2000", irreversible=False, no_jp2=codestream)


def _write_j2k(image: ImageData, fh: BinaryIO, quality: int, meta: _Meta) -> None:
    _write_jpeg2000(image, fh, quality, meta, codestream=True)


_WRITERS = {"png": _write_png, "jpg": _write_jpg, "tif": write_tiff, "webp": _write_webp, "bmp": _write_bmp,
            "jp2": _write_jpeg2000, "j2k": _write_j2k}
