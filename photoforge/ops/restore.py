"""The old-photo restore pipeline: denoise → find damage → repair → fade and colour.

Grain goes first because the damage detector sets its thresholds against local clutter, and
grain is clutter: on old prints with noise σ 15 (bench/bench_restore.py, bench_damage's
synthetic scratches and dust) detecting on the noisy photo found 28–59 % of the damage,
detecting on the denoised one 70–96 %, at precision 0.8–0.97. FFDNet at the measured σ
keeps scratches and specks, which stand far above the noise. Colour comes last, measured
on clean pixels: `measure_fading` + `apply_levels` (ops/color.py), which leave a photo
that does not measure faded exactly as it is. Each stage can be turned off, and the result keeps every stage's image so
the GUI can land them as one step or as one step per stage.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from photoforge.core.image import ImageData
from photoforge.engine.progress import Progress, null_progress
from photoforge.ops.color import ColorOptions, FadeReport, fade_stage
from photoforge.ops.learned_damage import find_damage_mask
from photoforge.ops.denoise import DenoiseOptions, denoise_pixels
from photoforge.ops.inpaint import InpaintOptions, inpaint
from photoforge.ops.infrared_dust import infrared_dust_mask


@dataclass(frozen=True)
class RestoreOptions:
    scratches: bool = True
    sensitivity: float = 0.5
    # "learned", "classical" or "both" (ops/learned_damage.py). Learned by default: on the
    # validation photos it finds the most damage and, repairing its false alarms, changes sound
    # photos the least (bench_detector.py, bench_clean_restore.py; README, "The default detector").
    detector: str = "learned"
    denoise: bool = True
    sigma: float | None = None  # None: estimated per image
    denoise_strength: float = 1.0
    color: bool = True
    color_options: ColorOptions = field(default_factory=ColorOptions)
    device: str = "auto"
    precision: str = "auto"
    threads: int | None = None


PRESETS: dict[str, RestoreOptions] = {
    "gentle": RestoreOptions(sensitivity=0.3, denoise_strength=0.6,
                             color_options=ColorOptions(levels=0.5, white_balance=0.5, contrast=0.5, saturation=0.5)),
    "standard": RestoreOptions(),
    "strong": RestoreOptions(sensitivity=0.75),
}


@dataclass
class RestoreResult:
    image: ImageData
    damage: np.ndarray | None  # the mask that was repaired (H×W uint8), if any
    sigma: float | None  # the noise level removed (0–255 units), if denoised
    stages: list[tuple[str, ImageData]]  # (label, image after that stage), in order
    fade: FadeReport | None = None  # what the colour stage measured, if it ran


def find_damage(image: ImageData, options: RestoreOptions, progress: Progress | None = None,
                notify: Callable[[str], None] | None = None, infrared: np.ndarray | None = None) -> np.ndarray:
    """The damage mask Restore would repair, looked for through the denoiser when grain
    removal is on (as the pipeline does; for the GUI's review before Restore). With the
    scan's `infrared` channel (H×W, 0–1) the mask comes from it instead."""
    progress = progress or null_progress()
    pixels = image.pixels
    if infrared is not None:
        return infrared_dust_mask(infrared, pixels, options.sensitivity)
    if options.denoise:
        pixels, _ = denoise_pixels(pixels, denoise_options(options), progress.sub(0.0, 0.7), notify)
    return _detect(pixels, options, progress.sub(0.7 if options.denoise else 0.0, 1.0), notify)


def _detect(pixels: np.ndarray, options: RestoreOptions, progress: Progress, notify) -> np.ndarray:
    return find_damage_mask(pixels, options.sensitivity, options.detector, progress, device=options.device,
                            precision=options.precision, threads=options.threads, notify=notify)


def denoise_options(options: RestoreOptions) -> DenoiseOptions:
    return DenoiseOptions(sigma=options.sigma, strength=options.denoise_strength, device=options.device,
                          precision=options.precision, threads=options.threads)


def restore(image: ImageData, options: RestoreOptions = RestoreOptions(), progress: Progress | None = None,
            notify: Callable[[str], None] | None = None, mask: np.ndarray | None = None,
            infrared: np.ndarray | None = None) -> RestoreResult:
    """`mask`: damage the user reviewed (e.g. in the GUI); None detects it here, from the
    scan's `infrared` channel (H×W, 0–1, see core/infrared.py) when there is one: dust and
    scratches block infrared and the photo barely does, so it finds them where a detector
    on the photo has to guess."""
    if infrared is not None and infrared.shape != image.pixels.shape[:2]:
        raise ValueError(f"the infrared channel is {infrared.shape[1]}×{infrared.shape[0]}, the image "
                         f"{image.width}×{image.height}")
    progress = progress or null_progress()
    stages: list[tuple[str, ImageData]] = []
    damage, sigma, current = None, None, image
    if options.denoise:
        pixels, sigma = denoise_pixels(current.pixels, denoise_options(options), progress.sub(0.0, 0.5), notify)
        if pixels is not current.pixels:
            current = current.with_pixels(pixels, current.alpha)
            stages.append((f"Denoise (σ {sigma:.1f})", current))
    progress.check_aborted()
    if options.scratches or (mask is not None and mask.any()):
        if mask is not None and mask.any():
            damage = mask
        elif infrared is not None:  # measured on the photo as scanned: denoising may soften specks
            damage = infrared_dust_mask(infrared, image.pixels, options.sensitivity)
        else:
            damage = _detect(current.pixels, options, progress.sub(0.5, 0.6), notify)
        if damage.any():
            current = inpaint(current, damage, InpaintOptions(method="auto", device=options.device),
                              progress.sub(0.6, 0.85))
            stages.append(("Repair damage", current))
    progress.check_aborted()
    fade = None
    if options.color:
        # measure_fading + apply_levels: identity unless the photo measures faded, blended
        # in by the confidence. (Adjust ▸ Auto corrects measured fading the same way, but
        # also stretches a colour photo whose only sign is lifted blacks, which this leaves
        # and reports: FadeReport.lifted.)
        pixels, fade = fade_stage(current.pixels, options.color_options, progress.sub(0.85, 1.0))
        if not np.array_equal(pixels, current.pixels):
            current = current.with_pixels(pixels, current.alpha)
            stages.append(("Fade and colour", current))
    progress.set(1.0)
    return RestoreResult(current, damage, sigma, stages, fade)
