"""The old-photo restore pipeline: damage → repair → denoise → fade and colour.

Stages run in a fixed order (repair first, on the original grain, so the detector sees
scratches before anything smooths them; colour last, on clean pixels). Each can be turned
off, and the result keeps every stage's image so the GUI can land them as one step or as
one step per stage.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from photoforge.core.image import ImageData
from photoforge.engine.progress import Progress, null_progress
from photoforge.ops.color import ColorOptions, correct_color
from photoforge.ops.damage import detect_damage
from photoforge.ops.denoise import DenoiseOptions, denoise_pixels
from photoforge.ops.inpaint import InpaintOptions, inpaint


@dataclass(frozen=True)
class RestoreOptions:
    scratches: bool = True
    sensitivity: float = 0.5
    denoise: bool = True
    sigma: float | None = None  # None: estimated per image
    denoise_strength: float = 1.0
    color: bool = True
    color_options: ColorOptions = field(default_factory=ColorOptions)
    device: str = "auto"


PRESETS: dict[str, RestoreOptions] = {
    "gentle": RestoreOptions(sensitivity=0.3, denoise_strength=0.6,
                             color_options=ColorOptions(levels=0.5, white_balance=0.5, contrast=0.4, saturation=0.4)),
    "standard": RestoreOptions(),
    "strong": RestoreOptions(sensitivity=0.75, denoise_strength=1.0,
                             color_options=ColorOptions(levels=1.0, white_balance=1.0, contrast=1.0, saturation=1.0)),
}


@dataclass
class RestoreResult:
    image: ImageData
    damage: np.ndarray | None  # the mask that was repaired (H×W uint8), if any
    sigma: float | None  # the noise level removed (0–255 units), if denoised
    stages: list[tuple[str, ImageData]]  # (label, image after that stage), in order


def find_damage(image: ImageData, sensitivity: float, progress: Progress | None = None) -> np.ndarray:
    return detect_damage(image.pixels, sensitivity=sensitivity, progress=progress)


def restore(image: ImageData, options: RestoreOptions = RestoreOptions(), progress: Progress | None = None,
            notify: Callable[[str], None] | None = None, mask: np.ndarray | None = None) -> RestoreResult:
    """`mask`: damage the user reviewed (e.g. in the GUI); None detects it here."""
    progress = progress or null_progress()
    stages: list[tuple[str, ImageData]] = []
    damage, sigma, current = None, None, image
    if options.scratches or (mask is not None and mask.any()):
        damage = mask if mask is not None and mask.any() else \
            find_damage(current, options.sensitivity, progress.sub(0.0, 0.1))
        if damage.any():
            current = inpaint(current, damage, InpaintOptions(method="auto", device=options.device),
                              progress.sub(0.1, 0.35))
            stages.append(("Repair damage", current))
    progress.check_aborted()
    if options.denoise:
        denoise = DenoiseOptions(sigma=options.sigma, strength=options.denoise_strength, device=options.device)
        pixels, sigma = denoise_pixels(current.pixels, denoise, progress.sub(0.35, 0.85), notify)
        if pixels is not current.pixels:
            current = current.with_pixels(pixels, current.alpha)
            stages.append((f"Denoise (σ {sigma:.1f})", current))
    progress.check_aborted()
    if options.color:
        pixels = correct_color(current.pixels, options.color_options, progress.sub(0.85, 1.0))
        if not np.array_equal(pixels, current.pixels):
            current = current.with_pixels(pixels, current.alpha)
            stages.append(("Fade and colour", current))
    progress.set(1.0)
    return RestoreResult(current, damage, sigma, stages)
