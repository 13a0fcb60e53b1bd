"""Manual tone and colour: levels, curves, white balance, exposure, contrast, saturation and
vibrance, computed in float at 16-bit precision.

Everything but saturation and vibrance maps each channel on its own, so it is folded into
one look-up table per channel with an entry for every input code (256 for 8-bit, 65536 for
16-bit): the result is exact for each code and costs one gather per sample. Saturation and
vibrance mix the channels and run in float on strips of rows, so memory stays bounded.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from photoforge.core.image import ImageData
from photoforge.engine.progress import Progress, null_progress

CHANNELS = ("master", "red", "green", "blue")
IDENTITY_CURVE = ((0.0, 0.0), (1.0, 1.0))
CURVE_POINTS = 16  # a curve's most points; from_fade_report samples the automatic correction at as many
PRESET_FORMAT, PRESET_VERSION = "photoforge-adjust", 1
_STRIP_ROWS = 256
_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)  # Rec. 709 weights on encoded values


class AdjustError(ValueError):
    """Settings that cannot be applied; the message says which and why."""


@dataclass(frozen=True)
class Levels:
    black: float = 0.0  # input value that becomes black, 0–1
    white: float = 1.0  # input value that becomes white
    gamma: float = 1.0  # midtones: above 1 brightens

    def __post_init__(self) -> None:
        if not (0.0 <= self.black < self.white <= 1.0):
            raise AdjustError(f"levels need 0 ≤ black < white ≤ 1 (got {self.black:g}, {self.white:g})")
        if not 0.1 <= self.gamma <= 10.0:
            raise AdjustError(f"levels gamma must be within 0.1–10, not {self.gamma:g}")

    @property
    def is_identity(self) -> bool:
        return self == Levels()

    def map(self, x: np.ndarray) -> np.ndarray:
        y = np.clip((x - self.black) / (self.white - self.black), 0.0, 1.0)
        return y if self.gamma == 1.0 else y ** (1.0 / self.gamma)


def curve_lut(points, x: np.ndarray) -> np.ndarray:
    """A smooth curve through `points` (monotone cubic, so it never overshoots between
    points that rise), flat beyond the first and last point."""
    pts = np.asarray(points, np.float64)
    xs, ys = pts[:, 0], pts[:, 1]
    if len(pts) == 2:
        return np.interp(x, xs, ys)
    h = np.diff(xs)
    delta = np.diff(ys) / h
    slopes = np.zeros_like(ys)
    for k in range(1, len(ys) - 1):  # Fritsch–Carlson: harmonic mean where the sign holds
        if delta[k - 1] * delta[k] > 0:
            w1, w2 = 2 * h[k] + h[k - 1], h[k] + 2 * h[k - 1]
            slopes[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k])
    slopes[0], slopes[-1] = delta[0], delta[-1]
    xc = np.clip(x, xs[0], xs[-1])
    k = np.clip(np.searchsorted(xs, xc, side="right") - 1, 0, len(xs) - 2)
    t = (xc - xs[k]) / h[k]
    t2, t3 = t * t, t * t * t
    return ((2 * t3 - 3 * t2 + 1) * ys[k] + (t3 - 2 * t2 + t) * h[k] * slopes[k]
            + (-2 * t3 + 3 * t2) * ys[k + 1] + (t3 - t2) * h[k] * slopes[k + 1])


def _check_curve(points, name: str) -> tuple[tuple[float, float], ...]:
    try:
        pts = tuple((float(x), float(y)) for x, y in points)
    except (TypeError, ValueError):
        raise AdjustError(f"{name} curve: points must be pairs of numbers") from None
    if not 2 <= len(pts) <= CURVE_POINTS:
        raise AdjustError(f"{name} curve: 2 to {CURVE_POINTS} points, not {len(pts)}")
    if any(not (0 <= v <= 1) for p in pts for v in p):
        raise AdjustError(f"{name} curve: points must lie within 0–1")
    if any(b[0] <= a[0] for a, b in zip(pts, pts[1:])):
        raise AdjustError(f"{name} curve: points must have increasing input values")
    return pts


def _contrast(x: np.ndarray, amount: float) -> np.ndarray:
    """An S-curve that keeps black and white; −amount undoes +amount exactly."""
    if amount == 0:
        return x
    a = 8.0 * abs(amount)
    lo, hi = 1 / (1 + math.exp(a / 2)), 1 / (1 + math.exp(-a / 2))
    if amount > 0:
        return (1 / (1 + np.exp(-a * (x - 0.5))) - lo) / (hi - lo)
    s = np.clip(x * (hi - lo) + lo, 1e-12, 1 - 1e-12)
    return 0.5 + np.log(s / (1 - s)) / a


@dataclass(frozen=True)
class Adjustments:
    """One set of settings; applying it is one undo step whose label says what it did."""

    levels: tuple[Levels, Levels, Levels, Levels] = (Levels(),) * 4  # master, R, G, B
    curves: tuple = (IDENTITY_CURVE,) * 4  # master, R, G, B; points in 0–1
    wb: tuple[float, float, float] = (1.0, 1.0, 1.0)  # channel gains
    exposure: float = 0.0  # stops
    contrast: float = 0.0  # −1…1
    saturation: float = 0.0  # −1 (grey) … 1
    vibrance: float = 0.0  # −1…1, acting most on the least saturated colours
    notes: tuple[str, ...] = field(default=(), compare=False)  # e.g. what Auto measured

    def __post_init__(self) -> None:
        if len(self.levels) != 4 or not all(isinstance(lv, Levels) for lv in self.levels):
            raise AdjustError("levels: one for master, red, green and blue")
        if len(self.curves) != 4:
            raise AdjustError("curves: one for master, red, green and blue")
        object.__setattr__(self, "curves", tuple(_check_curve(c, n) for c, n in zip(self.curves, CHANNELS)))
        if len(self.wb) != 3 or not all(0.1 <= g <= 10 for g in self.wb):
            raise AdjustError(f"white balance gains must be three numbers within 0.1–10, not {self.wb}")
        object.__setattr__(self, "wb", tuple(float(g) for g in self.wb))
        for name, value, bound in (("exposure", self.exposure, 5.0), ("contrast", self.contrast, 1.0),
                                   ("saturation", self.saturation, 1.0), ("vibrance", self.vibrance, 1.0)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and -bound <= value <= bound):
                raise AdjustError(f"{name} must be within −{bound:g}…{bound:g}, not {value}")

    @property
    def is_identity(self) -> bool:
        return self.tone_is_identity and self.saturation == 0 and self.vibrance == 0

    @property
    def tone_is_identity(self) -> bool:
        return (all(lv.is_identity for lv in self.levels) and all(c == IDENTITY_CURVE for c in self.curves)
                and self.wb == (1.0, 1.0, 1.0) and self.exposure == 0 and self.contrast == 0)

    def label(self) -> str:
        """"Adjust (levels 5–240 γ1.20; R levels …; curve 3 points; …)": what it changed."""
        parts = []
        for name, lv in zip(("levels", "R levels", "G levels", "B levels"), self.levels):
            if not lv.is_identity:
                parts.append(f"{name} {lv.black * 255:.0f}–{lv.white * 255:.0f} γ{lv.gamma:.2f}")
        for name, c in zip(("curve", "R curve", "G curve", "B curve"), self.curves):
            if c != IDENTITY_CURVE:
                parts.append(f"{name} " + " ".join(f"{x * 255:.0f},{y * 255:.0f}" for x, y in c))
        if self.wb != (1.0, 1.0, 1.0):
            parts.append("WB ×" + "/".join(f"{g:.2f}" for g in self.wb))
        for name, value, unit in (("exposure", self.exposure, 1), ("contrast", self.contrast, 100),
                                  ("saturation", self.saturation, 100), ("vibrance", self.vibrance, 100)):
            if value:
                parts.append(f"{name} {value * unit:+.2f}" if unit == 1 else f"{name} {value * unit:+.0f}")
        return "Adjust (" + "; ".join(parts) + ")" if parts else "Adjust (no change)"

    # ------------------------------------------------------------------ presets
    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("notes")
        data["levels"] = [asdict(lv) for lv in self.levels]
        data["curves"] = [[list(p) for p in c] for c in self.curves]
        data["wb"] = list(self.wb)
        return {"format": PRESET_FORMAT, "version": PRESET_VERSION, **data}

    @classmethod
    def from_dict(cls, data: dict) -> "Adjustments":
        if not isinstance(data, dict) or data.get("format") != PRESET_FORMAT:
            raise AdjustError("not a PhotoForge adjustment preset")
        if not isinstance(data.get("version"), int) or data["version"] > PRESET_VERSION:
            raise AdjustError(f"preset version {data.get('version')!r} is not one this version reads")
        try:
            levels = tuple(Levels(**{k: float(v) for k, v in lv.items() if k in ("black", "white", "gamma")})
                           for lv in data.get("levels", [{}] * 4))
            return cls(levels=levels, curves=tuple(tuple(map(tuple, c)) for c in data.get("curves", [IDENTITY_CURVE] * 4)),
                       wb=tuple(data.get("wb", (1, 1, 1))),
                       **{k: float(data.get(k, 0.0)) for k in ("exposure", "contrast", "saturation", "vibrance")})
        except AdjustError:
            raise
        except (TypeError, ValueError, AttributeError) as error:
            raise AdjustError(f"damaged preset ({error})") from None


def save_preset(adjustments: Adjustments, path: str | os.PathLike[str]) -> None:
    from photoforge.core.atomic import atomic_write

    with atomic_write(Path(path), overwrite=True) as fh:
        fh.write(json.dumps(adjustments.to_dict(), indent=1).encode())


def load_preset(path: str | os.PathLike[str]) -> Adjustments:
    path = Path(path)
    try:
        if path.stat().st_size > 1 << 20:
            raise AdjustError(f"{path.name}: not a preset (over 1 MB)")
        data = json.loads(path.read_text(encoding="utf-8"))
    except AdjustError:
        raise
    except FileNotFoundError:
        raise AdjustError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AdjustError(f"{path.name}: cannot read the preset ({error})") from None
    try:
        return Adjustments.from_dict(data)
    except AdjustError as error:
        raise AdjustError(f"{path.name}: {error}") from None


# ------------------------------------------------------------------ applying
def tone_luts(adjustments: Adjustments, codes: int, channels: int) -> np.ndarray:
    """channels × codes float32 table: the per-channel part of `adjustments` for every
    input code (grey images take the master settings and the mean white balance)."""
    x = np.arange(codes, dtype=np.float64) / (codes - 1)
    a = adjustments
    luts = []
    for c in range(channels):
        gain = a.wb[c] if channels == 3 else sum(a.wb) / 3
        y = np.clip(x * gain * 2.0 ** a.exposure, 0.0, 1.0)
        if channels == 3:
            y = a.levels[c + 1].map(y)
        y = a.levels[0].map(y)
        if channels == 3 and a.curves[c + 1] != IDENTITY_CURVE:
            y = curve_lut(a.curves[c + 1], y)
        if a.curves[0] != IDENTITY_CURVE:
            y = curve_lut(a.curves[0], y)
        luts.append(np.clip(_contrast(y, a.contrast), 0.0, 1.0))
    return np.asarray(luts, np.float32)


def _mix(rgb: np.ndarray, saturation: float, vibrance: float) -> np.ndarray:
    """Saturation and vibrance on float RGB in [0, 1], in place where it can; luma kept."""
    luma = rgb @ _LUMA
    factor = 1.0 + saturation
    if vibrance:
        chroma = rgb.max(axis=2) - rgb.min(axis=2)
        factor = factor + vibrance * (1.0 - chroma)  # the duller a colour, the more it moves
        factor = factor[..., None]
    rgb -= luma[..., None]
    rgb *= factor
    rgb += luma[..., None]
    return np.clip(rgb, 0.0, 1.0, out=rgb)


def apply_adjustments(pixels: np.ndarray, adjustments: Adjustments,
                      progress: Progress | None = None) -> np.ndarray:
    """`pixels` (uint8 or uint16, H×W×1 or H×W×3) adjusted; same dtype and shape."""
    progress = progress or null_progress()
    if pixels.dtype not in (np.uint8, np.uint16) or pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
        raise AdjustError(f"cannot adjust a {pixels.dtype} image of shape {pixels.shape}")
    if adjustments.is_identity:
        return pixels.copy()
    top = float(np.iinfo(pixels.dtype).max)
    channels = pixels.shape[2]
    luts = tone_luts(adjustments, int(top) + 1, channels)
    mixes = channels == 3 and (adjustments.saturation or adjustments.vibrance)
    # Without mixing, each code maps straight to its output code (rounded once).
    codes = None if mixes else (luts * top + 0.5).astype(pixels.dtype)
    if codes is not None and pixels.dtype == np.uint8:
        lut8 = np.ascontiguousarray(codes.T.reshape(256, 1, channels)) if channels == 3 else codes[0]
    out = np.empty_like(pixels)
    h = pixels.shape[0]
    for y0 in range(0, h, _STRIP_ROWS):
        progress.check_aborted()
        strip, target = pixels[y0:y0 + _STRIP_ROWS], out[y0:y0 + _STRIP_ROWS]
        if codes is not None and pixels.dtype == np.uint8:
            target[...] = cv2.LUT(strip, lut8).reshape(target.shape)  # ~10× numpy's take per channel
        elif codes is not None:
            for c in range(channels):
                target[..., c] = codes[c][strip[..., c]]
        else:
            f = np.stack([luts[c][strip[..., c]] for c in range(channels)], axis=2)
            f = _mix(f, adjustments.saturation, adjustments.vibrance)
            f *= top
            f += 0.5
            target[...] = f
        progress.set(min(1.0, (y0 + _STRIP_ROWS) / h))
    return out


def adjust_image(image: ImageData, adjustments: Adjustments, progress: Progress | None = None) -> ImageData:
    """The image adjusted; alpha, profile and metadata kept."""
    return image.with_pixels(apply_adjustments(image.pixels, adjustments, progress), image.alpha)


# ------------------------------------------------------------------ measuring
def neutral_gains(pixels: np.ndarray, x: int, y: int, radius: int = 2) -> tuple[float, float, float]:
    """White-balance gains that make the (2·radius+1)² patch around (x, y) neutral while
    keeping its brightness: the eyedropper."""
    h, w = pixels.shape[:2]
    if not (0 <= x < w and 0 <= y < h):
        raise AdjustError(f"the neutral point ({x}, {y}) is outside the {w} × {h} image")
    if pixels.shape[2] != 3:
        raise AdjustError("white balance needs a colour image")
    top = float(np.iinfo(pixels.dtype).max)
    patch = pixels[max(0, y - radius):y + radius + 1, max(0, x - radius):x + radius + 1].reshape(-1, 3)
    mean = patch.astype(np.float64).mean(axis=0) / top
    if mean.min() < 0.02:
        raise AdjustError("that spot is too dark to judge its colour; pick a lighter neutral")
    if mean.max() > 0.995:
        raise AdjustError("that spot is clipped white; pick a neutral that is not blown out")
    gains = mean.mean() / mean
    if not all(0.1 <= g <= 10 for g in gains):
        raise AdjustError("that spot is too strongly coloured to be a neutral")
    return tuple(float(g) for g in gains)


def histogram(pixels: np.ndarray, max_side: int = 768) -> np.ndarray:
    """4 × 256 counts (luma, red, green, blue; grey: the same four times) of a proxy that
    keeps every `step`-th pixel: cheap enough to redraw while sliders move."""
    step = max(1, math.ceil(max(pixels.shape[:2]) / max_side))
    proxy = pixels[::step, ::step]
    if pixels.dtype == np.uint16:
        proxy = (proxy >> 8).astype(np.uint8)
    if proxy.shape[2] == 1:
        one = np.bincount(proxy.reshape(-1), minlength=256)
        return np.stack([one] * 4)
    luma = (proxy.astype(np.float32) @ _LUMA + 0.5).astype(np.uint8)
    return np.stack([np.bincount(luma.reshape(-1), minlength=256)]
                    + [np.bincount(proxy[..., c].reshape(-1), minlength=256) for c in range(3)])


def from_fade_report(report, base: Adjustments | None = None) -> Adjustments:
    """The automatic correction (ops.color.measure_fading) as settings the user can edit:
    per-channel levels, or, when the report inverts a density model, per-channel curves
    through CURVE_POINTS points of it; and saturation. The rest of `base` is kept."""
    base = base or Adjustments()
    saturation = max(-1.0, min(1.0, float(report.saturation) - 1.0))
    if getattr(report, "density_is_identity", True):
        levels = (base.levels[0],) + tuple(Levels(float(b), float(w), float(g)) for b, w, g in
                                          zip(report.black, report.white, report.gamma))
        return replace(base, levels=levels, saturation=saturation, notes=(report.describe(),))
    from photoforge.ops.color import channel_map

    # Denser towards black, where a density curve bends most.
    x = np.linspace(0.0, 1.0, CURVE_POINTS) ** 1.6
    curves = (base.curves[0],) + tuple(
        tuple((float(a), float(b)) for a, b in zip(x, np.maximum.accumulate(channel_map(report, c, x))))
        for c in range(3))
    return replace(base, levels=(base.levels[0],) + (Levels(),) * 3, curves=curves, saturation=saturation,
                   notes=(report.describe(),))


AUTO_CONTRAST_CLIP = 0.001  # of the samples given up to pure black and to pure white
AUTO_CONTRAST_SLACK = 0.03  # a photo whose tones already reach this near both ends is left alone


def auto_adjustments(pixels: np.ndarray, base: Adjustments | None = None, faded_print: bool = False) -> Adjustments:
    """What Auto does when the user asks for it (the Adjust panel's button, `adjust --auto`).

    Measured fading is corrected as restore corrects it (from_fade_report). A photo the
    measurement calls unfaded but whose tones stop well short of black or white (a washed-out
    scan, a hazy print: the measurement cannot tell haze from a faded range, so restore,
    which nobody asked, leaves it) gets Auto Contrast: the same black and white point for
    every channel, at the darkest and lightest 0.1 % of samples, so the colours keep their balance
    (a warm evening stays warm). A photo that already spans the range comes back unchanged.
    faded_print: the user says it is a faded colour print, which sets the black and white
    points per channel too (ops.color.measure_fading's faded_print: a yellowed base goes)."""
    from photoforge.ops.color import measure_fading

    report = measure_fading(pixels, faded_print=faded_print)
    adjustments = from_fade_report(report, base)
    if not report.is_identity:
        return adjustments
    black, white = _tone_span(pixels)
    seen = "lifted blacks (haze or a faded range)" if report.lifted else report.describe()
    if black <= AUTO_CONTRAST_SLACK and white >= 1 - AUTO_CONTRAST_SLACK:
        return replace(adjustments, notes=(f"{seen}; the tones already span the range",)) if report.lifted \
            else adjustments
    # In the per-channel levels, the same for each: those are Auto's (from_fade_report
    # writes them anew on every measure), so a stretch measured on one photo never rides
    # along as the base of the next, and the user's master levels stay theirs.
    levels = (adjustments.levels[0],) + (Levels(black, white),) * 3
    note = f"{seen}; contrast stretched from {black * 255:.0f}–{white * 255:.0f}"
    return replace(adjustments, levels=levels, notes=(note,))


def _tone_span(pixels: np.ndarray, max_samples: int = 1 << 20) -> tuple[float, float]:
    """The darkest and lightest AUTO_CONTRAST_CLIP of all colour samples, in 0–1."""
    rgb = pixels[..., :3] if pixels.ndim == 3 else pixels[..., None]
    step = max(1, math.isqrt(rgb.shape[0] * rgb.shape[1] // max_samples))
    samples = rgb[::step, ::step].reshape(-1)
    scale = 65535.0 if pixels.dtype == np.uint16 else 255.0 if pixels.dtype == np.uint8 else 1.0
    black, white = np.quantile(samples, (AUTO_CONTRAST_CLIP, 1 - AUTO_CONTRAST_CLIP)) / scale
    black, white = float(np.clip(black, 0, 1)), float(np.clip(white, 0, 1))
    if white - black < 0.05:  # a flat frame: nothing to stretch towards
        return 0.0, 1.0
    return black, white
