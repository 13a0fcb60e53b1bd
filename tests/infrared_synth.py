"""Synthetic RGBI scans with exact truth: dust specks, hairs and a scratch drawn with soft
edges into the colour image (dark, as on a film scan) and into an infrared channel that
holds a level with slow fall-off, a faint ghost of the photo and sensor noise."""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass
class RgbiScan:
    clean: np.ndarray  # H×W×3, the photo without defects
    damaged: np.ndarray  # H×W×3, with them
    infrared: np.ndarray  # H×W float32 0–1
    truth: np.ndarray  # H×W bool: pixels the defects cover by a tenth or more (visibly darker)
    opacity: np.ndarray  # H×W float32, how much of each pixel the defects cover

    def infrared_as(self, dtype) -> np.ndarray:
        top = np.iinfo(dtype).max
        return np.rint(self.infrared * top).astype(dtype)


def rgbi_scan(photo: np.ndarray, seed: int = 0, ghost: float = 0.08, specks: int = 40,
              noise: float = 0.006) -> RgbiScan:
    rng = np.random.default_rng(seed)
    h, w = photo.shape[:2]
    top = float(np.iinfo(photo.dtype).max)
    scale = 8  # drawn at 8× and shrunk, for soft edges
    big = np.zeros((h * scale, w * scale), np.uint8)
    for _ in range(specks):
        r = rng.uniform(1.2, 5.0) * scale
        cv2.circle(big, (int(rng.uniform(0, w) * scale), int(rng.uniform(0, h) * scale)), int(r), 255, -1)
    for _ in range(3):  # hairs: smooth curves 1–2 px wide
        pts = np.cumsum(rng.normal(0, 6, (12, 2)), axis=0) + rng.uniform(0, [w, h])
        cv2.polylines(big, [np.int32(pts * scale)], False, 255, int(rng.uniform(1.0, 2.0) * scale))
    x0 = rng.uniform(0.2, 0.8) * w
    cv2.line(big, (int(x0 * scale), 0), (int((x0 + rng.uniform(-40, 40)) * scale), h * scale - 1), 255,
             int(1.5 * scale))
    opacity = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    clean = photo.astype(np.float32) / top
    lum = clean @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    falloff = 1 - 0.08 * ((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2)
    level = 0.8 * falloff + ghost * (lum - 0.5)
    ir = level * (1 - 0.9 * opacity) + rng.normal(0, noise, (h, w)).astype(np.float32)
    dust_colour = 0.12
    damaged = clean * (1 - opacity[..., None]) + dust_colour * opacity[..., None]
    return RgbiScan(photo, np.rint(np.clip(damaged, 0, 1) * top).astype(photo.dtype),
                    np.clip(ir, 0, 1).astype(np.float32), opacity >= 0.1, opacity)


def f1(found: np.ndarray, truth: np.ndarray) -> float:
    tp = float((found & truth).sum())
    return 2 * tp / max(1.0, float(found.sum() + truth.sum()))


def save_with_and_without(scan: RgbiScan, folder) -> tuple:
    """The damaged scan saved twice in `folder`: as an 8-bit RGBI TIFF (infrared as the 4th
    channel) and as a plain PNG with no infrared; their paths."""
    import tifffile
    from PIL import Image

    rgbi, plain = folder / "rgbi.tif", folder / "plain.png"
    tifffile.imwrite(rgbi, np.dstack([scan.damaged, scan.infrared_as(np.uint8)]), photometric="rgb",
                     extrasamples=[0])
    Image.fromarray(scan.damaged).save(plain)
    return rgbi, plain
