"""The in-memory image that flows between core I/O, ops and saving."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass
class ImageData:
    """Pixels plus everything a save must carry back out.

    `pixels` is H×W×C with C = 1 (grey) or 3 (RGB), dtype uint8 or uint16, already in
    display orientation. `alpha` is H×W with the same dtype, or None. Metadata is kept as
    raw bytes so it round-trips untouched (EXIF orientation is reset to 1 on save).
    """

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    icc_profile: bytes | None = None
    exif: bytes | None = None
    xmp: bytes | None = None
    source_format: str | None = None  # Pillow format name, e.g. "PNG", "JPEG", "TIFF"
    notices: list[str] = field(default_factory=list)  # non-fatal things the user should know

    def __post_init__(self) -> None:
        if self.pixels.ndim == 2:
            self.pixels = self.pixels[:, :, None]
        if self.pixels.ndim != 3 or self.pixels.shape[2] not in (1, 3):
            raise ValueError(f"pixels must be H×W×1 or H×W×3, got {self.pixels.shape}")
        if self.pixels.dtype not in (np.uint8, np.uint16):
            raise ValueError(f"pixels must be uint8 or uint16, got {self.pixels.dtype}")
        if self.alpha is not None and self.alpha.shape != self.pixels.shape[:2]:
            raise ValueError("alpha must match the pixels' height and width")

    @property
    def height(self) -> int:
        return self.pixels.shape[0]

    @property
    def width(self) -> int:
        return self.pixels.shape[1]

    @property
    def bit_depth(self) -> int:
        return 16 if self.pixels.dtype == np.uint16 else 8

    @property
    def is_grey(self) -> bool:
        return self.pixels.shape[2] == 1

    def with_pixels(self, pixels: np.ndarray, alpha: np.ndarray | None = None) -> "ImageData":
        """Same metadata, new pixels (e.g. after an op changed the size)."""
        return replace(self, pixels=pixels, alpha=alpha, notices=list(self.notices))


def to_float(pixels: np.ndarray) -> np.ndarray:
    """uint8/uint16 → float32 in [0, 1]."""
    scale = 65535.0 if pixels.dtype == np.uint16 else 255.0
    return pixels.astype(np.float32) * np.float32(1.0 / scale)


def from_float(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """float in [0, 1] → uint8/uint16, rounded and clipped."""
    top = 65535.0 if np.dtype(dtype) == np.uint16 else 255.0
    out = np.empty(values.shape, dtype=dtype)
    scaled = np.multiply(values, top, dtype=np.float32)
    np.clip(scaled, 0.0, top, out=scaled)
    np.rint(scaled, out=scaled)
    out[...] = scaled
    return out
