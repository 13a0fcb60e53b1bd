"""Finding a scan's infrared (dust) channel: a 4th TIFF sample, a second TIFF page, or a
`<stem>_IR.tif` sidecar, as VueScan and SilverFast store it.

The rule for a 4th sample (a 2nd after grey): TIFF says what an extra sample is in ExtraSamples. 1
(associated alpha) and 2 (unassociated alpha) are transparency, which the loader keeps as
alpha; 0 (unspecified), or no ExtraSamples tag at all, is data with no declared meaning,
which is how RGBI scans store infrared. So a 4th sample is infrared only when it is
unspecified. A second page is infrared when it is one grey sample of the first page's size
and not a reduced-size preview (NewSubfileType bit 0). The channel is returned in the
image's display orientation, as float32 0–1.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile

from .decoding import _orient, _orientation
from .imageio import ImageLoadError, load_image
from .tiff_io import _tiff_exif

_REDUCED_IMAGE = 1  # NewSubfileType bit: a thumbnail or preview of another page
SIDECAR_SUFFIXES = ("_IR.tif", "_IR.tiff", "_ir.tif", "_ir.tiff")


class InfraredError(Exception):
    """An infrared file cannot be used; the message names the file and the reason."""


@dataclass(frozen=True)
class Infrared:
    values: np.ndarray  # H×W float32, 0 (opaque to infrared) – 1
    source: str  # for the user: "its 4th TIFF channel", "its second TIFF page", "'x_IR.tif'"


def to_levels(values: np.ndarray) -> np.ndarray:
    """The channel as the document keeps it: H×W uint16, finer than any scanner's, so that
    moving it with the photo, undo and the project file keep it bit for bit."""
    if values.dtype == np.uint16:
        return values
    return np.rint(np.clip(values, 0, 1) * 65535).astype(np.uint16)


def from_levels(levels: np.ndarray) -> np.ndarray:
    """float32 0–1, as the dust finder takes it."""
    return levels.astype(np.float32) * np.float32(1 / 65535)


def find_infrared(path: str | os.PathLike[str]) -> Infrared | None:
    """The infrared channel stored with the scan at `path` (inside it, then a sidecar
    beside it), or None. A sidecar that exists but cannot be used raises InfraredError."""
    path = Path(path)
    inside = _embedded(path) if path.suffix.lower() in (".tif", ".tiff") else None
    if inside is not None:
        return inside
    sidecar = _sidecar(path)
    return None if sidecar is None else read_infrared_file(sidecar)


def _sidecar(path: Path) -> Path | None:
    for suffix in SIDECAR_SUFFIXES:
        sidecar = path.with_name(path.stem + suffix)
        if sidecar.is_file() and not _same(sidecar, path):
            return sidecar
    return None


def read_infrared_file(path: str | os.PathLike[str]) -> Infrared:
    """An infrared sidecar: any image PhotoForge reads, grey (a colour one gives its mean)."""
    path = Path(path)
    try:
        image = load_image(path)
    except ImageLoadError as error:
        raise InfraredError(f"cannot use '{path}' as infrared: {str(error).split(': ', 1)[-1]}") from None
    values = image.pixels.mean(axis=2) if image.pixels.shape[2] > 1 else image.pixels[..., 0]
    top = 65535.0 if image.pixels.dtype == np.uint16 else 255.0
    return Infrared(values.astype(np.float32) * np.float32(1.0 / top), f"'{path.name}'")


def check_size(infrared: Infrared, shape: tuple[int, int], where: str) -> None:
    """InfraredError unless the channel covers the image pixel for pixel."""
    if infrared.values.shape != tuple(shape):
        h, w = infrared.values.shape
        raise InfraredError(f"cannot use {infrared.source} as infrared for '{where}': it is {w}×{h}, "
                            f"the image is {shape[1]}×{shape[0]}")


def locate_infrared(path: str | os.PathLike[str]) -> str | None:
    """Where find_infrared would take `path`'s infrared from ("its 4th TIFF channel",
    "'x_IR.tif'"), from the TIFF headers and the folder alone: for a batch's summary on a
    driver whose workers did the reading."""
    path = Path(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        try:
            with tifffile.TiffFile(path) as tif:
                where = _infrared_page(tif)
        except (tifffile.TiffFileError, ValueError, OSError):
            where = None
        if where is not None:
            return where[2]
    sidecar = _sidecar(path)
    return None if sidecar is None else f"'{sidecar.name}'"


def _infrared_page(tif) -> tuple[int, int | None, str] | None:
    """(page index, sample index or None for the whole page, source) of the infrared inside
    an open TIFF, by the rules in the module docstring; None if it holds none."""
    if not tif.pages:
        return None
    first = tif.pages[0]
    extras = tuple(int(e) for e in first.extrasamples)
    colours = {0: 1, 1: 1, 2: 3}.get(int(first.photometric))  # grey (either way round), RGB
    if colours and first.samplesperpixel > colours and (not extras or extras[0] == 0):
        return 0, colours, "its 4th TIFF channel" if colours == 3 else "its 2nd TIFF channel (after grey)"
    if len(tif.pages) > 1:
        second = tif.pages[1]
        if (second.samplesperpixel == 1 and not int(second.subfiletype) & _REDUCED_IMAGE
                and (second.imagelength, second.imagewidth) == (first.imagelength, first.imagewidth)):
            return 1, None, "its second TIFF page"
    return None


def _embedded(path: Path) -> Infrared | None:
    try:
        with tifffile.TiffFile(path) as tif:
            where = _infrared_page(tif)
            if where is None:
                return None
            index, sample, source = where
            values = _page_values(tif.pages[index], path, index)
            if sample is not None:
                values = values[..., sample]
    except (tifffile.TiffFileError, ValueError, OSError):
        return None  # the loader reports a damaged file in its own words
    return Infrared(_orient(_unit(values), _orientation(_tiff_exif(path), None)), source)


def _page_values(page, path: Path | None = None, index: int = 0) -> np.ndarray:
    try:
        values = page.asarray()
    except ValueError as exc:
        if "imagecodecs" not in str(exc) or path is None:
            raise
        return _cv2_page(path, index, page)
    if int(page.planarconfig) == 2 and values.ndim == 3:
        values = np.moveaxis(values, 0, -1)
    return values


def _cv2_page(path: Path, index: int, page) -> np.ndarray:
    """A page in a compression tifffile needs imagecodecs for (LZW, which scanners and
    OpenCV write), decoded by OpenCV as tiff_io does; samples in file order."""
    import cv2

    data = np.fromfile(path, np.uint8)
    if index == 0:
        values = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    else:
        ok, pages = cv2.imdecodemulti(data, cv2.IMREAD_UNCHANGED)
        values = pages[index] if ok and len(pages) > index else None
    if values is None:
        raise ValueError(f"cannot decode page {index + 1}")
    values = values.reshape(page.imagelength, page.imagewidth, -1)
    if values.shape[2] == 1:
        return values[..., 0]
    if values.shape[2] >= 3:  # OpenCV gives BGR(A…)
        values = values[..., [2, 1, 0, *range(3, values.shape[2])]]
    return values


def _unit(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "f":
        return np.clip(np.nan_to_num(values.astype(np.float32)), 0, 1)
    top = float(np.iinfo(values.dtype).max) if values.dtype.kind in "ui" else 1.0
    return values.astype(np.float32) * np.float32(1.0 / top)


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
