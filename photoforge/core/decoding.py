"""What every image reader here shares (Pillow's and the TIFF one): the load error that
names the file, the pixel limit, ICC checks, Pillow modes to arrays, EXIF/XMP orientation.
Below imageio.py and tiff_io.py, so neither needs the other."""
from __future__ import annotations

import functools
import io
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageCms

from .image import ImageData

_ORIENTATION = 0x0112
_XMP_ORIENTATION = re.compile(rb'(tiff:Orientation(?:="|>))([0-9])')


class ImageLoadError(Exception):
    """A file could not be read as an image; the message names the file and the reason."""

class _Meta(NamedTuple):
    icc: bytes | None
    exif: bytes | None  # "Exif\0\0" + TIFF structure, orientation already reset
    xmp: bytes | None


def _load_error(path: Path, reason: str) -> ImageLoadError:
    return ImageLoadError(f"cannot open '{path}': {reason}")

def _check_size(path: Path, width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise _load_error(path, f"image is {width}×{height} = {_mp(width * height)} MP, above the "
                                f"limit of {_mp(max_pixels)} MP (--max-pixels)")


def _mp(pixels: int) -> str:
    text = f"{pixels / 1e6:.1f}"
    text = f"{pixels / 1e6:.2g}" if text == "0.0" else text
    return text[:-2] if text.endswith(".0") else text

def _valid_icc(path: Path, icc: bytes | None, notices: list[str]) -> bytes | None:
    if not icc:
        return None
    try:
        ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except Exception:  # noqa: BLE001 - LittleCMS rejects a damaged profile many ways; all mean "ignore it"
        notices.append(f"'{path}' has a broken ICC colour profile; it was ignored")
        return None
    return bytes(icc)


def _pixels_from_pillow(path: Path, im: Image.Image, icc: bytes | None, notices: list[str]):
    mode = im.mode
    if mode == "CMYK":
        im, icc = _cmyk_to_rgb(path, im, icc, notices)
        mode = "RGB"
    elif mode == "LAB":
        im, icc = _lab_to_rgb(im), _srgb().tobytes()
        mode = "RGB"
        notices.append(f"'{path}' holds CIE L*a*b* colour; it was converted to sRGB")
    elif mode in ("I;16", "I;16L", "I;16B", "I"):  # 16-bit grey (JPEG 2000, plain PGM)
        values = np.array(im)
        if values.size and (values.min() < 0 or values.max() > 65535):
            raise _load_error(path, "grey values outside 0–65535")
        values = values.astype(np.uint16, copy=False)
        return values.reshape(values.shape[0], values.shape[1], 1), None, icc
    keyed = "transparency" in im.info  # palette/colour-key transparency becomes real alpha
    palette_alpha = mode == "P" and im.palette is not None and im.palette.mode == "RGBA"
    target = {"1": "L", "L": "LA" if keyed else "L", "LA": "LA", "La": "LA",
              "P": "RGBA" if keyed or palette_alpha else "RGB", "PA": "RGBA",
              "RGB": "RGBA" if keyed else "RGB", "RGBA": "RGBA", "RGBa": "RGBA",
              "RGBX": "RGB", "YCbCr": "RGB"}.get(mode)
    if target is None:
        raise _load_error(path, f"unsupported pixel mode {mode}")
    values = np.array(im if target == mode else im.convert(target))
    if target in ("LA", "RGBA"):
        return np.ascontiguousarray(values[..., :-1]), np.ascontiguousarray(values[..., -1]), icc
    return values.reshape(values.shape[0], values.shape[1], -1), None, icc


@functools.cache
def _srgb() -> ImageCms.ImageCmsProfile:
    # one instance: createProfile stamps the current time, and identical inputs should
    # produce identical files
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _cmyk_to_rgb(path: Path, im: Image.Image, icc: bytes | None, notices: list[str]):
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return ImageCms.profileToProfile(im, source, _srgb(), outputMode="RGB"), _srgb().tobytes()
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # e.g. an RGB profile wrongly attached to CMYK data
    notices.append(f"'{path}' is CMYK without a usable colour profile; it was converted to RGB "
                   "with a simple formula, so colours may be off")
    return im.convert("RGB"), None


def _lab_to_rgb(im: Image.Image) -> Image.Image:
    """CIE L*a*b* (D50, as TIFF defines it) to sRGB through LittleCMS."""
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB", 5000))
    transform = ImageCms.buildTransform(lab, _srgb(), "LAB", "RGB",
                                        renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
    return ImageCms.applyTransform(im, transform)

def _finish(pixels, alpha, icc, exif, xmp, fmt, notices) -> ImageData:
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    orientation = _orientation(exif, xmp)
    pixels = _orient(pixels, orientation)
    alpha = None if alpha is None else _orient(alpha, orientation)
    return ImageData(pixels, alpha, icc, exif, xmp, fmt, notices)


def _orientation(exif: bytes | None, xmp: bytes | None) -> int:
    if exif:
        try:
            parsed = Image.Exif()
            parsed.load(exif)
            if parsed.get(_ORIENTATION) in range(1, 9):
                return parsed[_ORIENTATION]
        except Exception:  # noqa: BLE001 - hostile EXIF fails in many ways; fall through to XMP
            pass
    match = _XMP_ORIENTATION.search(xmp) if xmp else None
    return int(match[2]) if match and 1 <= int(match[2]) <= 8 else 1


_TRANSPOSE = {
    2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1), 6: lambda a: a[::-1].swapaxes(0, 1),
    7: lambda a: a[::-1, ::-1].swapaxes(0, 1), 8: lambda a: a[:, ::-1].swapaxes(0, 1),
}


def _orient(values: np.ndarray, orientation: int) -> np.ndarray:
    if orientation not in _TRANSPOSE:
        return values
    return np.ascontiguousarray(_TRANSPOSE[orientation](values))
