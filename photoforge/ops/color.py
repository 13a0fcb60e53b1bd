"""Fade and colour correction for old photos: levels, white balance, contrast, saturation.

Everything is *measured* on a small proxy of the photo (area-averaged to at most
PROXY_PIXELS) and then *applied* as a point operation in row strips, so a 100 MP scan
costs one pass and a strip's worth of float memory, and the proxy decides exactly what the
full image gets. Each stage only acts on what is abnormal and stays put inside a dead zone,
so a clean, well-exposed photo comes back nearly unchanged:

1. Levels, per channel, in the encoded (sRGB) domain: the 0.1 % / 99.9 % percentiles are
   moved towards 0 and 1. A black point a little above 0 (or a white a little below 1) is
   legitimate and mostly kept (`_targets`: the lift is kept up to ≈ HEADROOM and removed
   beyond it); a channel's gain is capped (MAX_GAIN, and REL_GAIN over the common stretch)
   so a legitimately narrow channel is not blown up. Per-channel end points are only
   trusted as far as the darkest / brightest pixels look near-neutral (a cast); strongly
   coloured highlights (a sunset) keep the channels stretched together.
2. White balance in linear light: a grey-world estimate (trusted only when the scene's
   mean chroma is small) and a white-patch estimate (the brightest 2 % of unclipped
   pixels, trusted while they are nearly neutral) are blended by confidence; casts
   below WB_DEAD_ZONE Lab units are left alone and the correction is capped at WB_MAX.
3. Contrast and saturation in CIELAB: when the 10–90 % spread of L is below
   CONTRAST_TARGET an S-curve through the median restores it (mid-tone slope capped);
   when the photo's chroma is abnormally low a, b are scaled up, less for already
   saturated pixels (vibrance), capped at MAX_CHROMA_GAIN. "Abnormally low" is judged
   against a higher target when the print is clearly faded (lifted blacks, dull whites),
   because dyes fade together with the density range.
4. Monochrome, sepia and toned photos are detected (`is_monochrome`: chroma is a function
   of lightness). With keep_monochrome the corrections act on lightness only, by scaling
   linear RGB by Y'/Y, which keeps every pixel's chromaticity, so sepia stays sepia and an
   exactly grey photo stays exactly grey; with neutralise_monochrome the tone is removed.

Every stage is blended with the identity by its strength in ColorOptions.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PROXY_PIXELS = 1 << 19  # statistics are measured on at most this many (area-averaged) pixels
STRIP_PIXELS = 1 << 20  # the correction is applied this many pixels at a time
DETECT_SIDE = 512  # is_monochrome looks at a proxy whose long side is at most this

LOW_PCT, HIGH_PCT = 0.1, 99.9  # levels: clipped percentiles
HEADROOM = 0.06  # levels: a black (white) point lifted by up to ≈ this is mostly left alone
MAX_GAIN = 2.5  # levels: no channel is stretched more than this
REL_GAIN = 1.3  # levels: nor more than this times the common (all-channel) stretch
ENDS_TRUSTED, ENDS_IGNORED = 15.0, 30.0  # Lab chroma of the darkest/brightest pixels

GW_TRUSTED, GW_IGNORED = 5.0, 12.0  # grey world: mean scene chroma (Lab) it is used within
WP_TRUSTED, WP_IGNORED = 10.0, 20.0  # white patch: highlight chroma it is used within
WB_DEAD_ZONE = 2.5  # Lab chroma of a cast that is left alone
WB_MAX = 12.0  # Lab chroma of the largest cast that is corrected

CONTRAST_TARGET = 0.5  # 10–90 % spread of L/100 below which the S-curve starts
MAX_SLOPE = 2.5  # S-curve steepness cap (mid-tone slope k / tanh k ≈ 2.5)
CHROMA_TARGET = 35.0  # 90th percentile of mid-tone chroma below which saturation is raised …
CHROMA_TARGET_FADED = 55.0  # … and the same for a clearly faded print (FADED_LIFT, see _fading)
FADED_LIFT = 0.3  # lifted black + dulled white (of the joint range) of a clearly faded print
MAX_CHROMA_GAIN = 1.6
VIBRANCE_CHROMA = 50.0  # a pixel this saturated gets half the chroma gain

MONO_RESIDUAL = 3.5  # is_monochrome: chroma spread (Lab) at equal lightness, 90th percentile
COLOURED_RESIDUAL, COLOURED_SHARE = 10.0, 0.005  # … and a share of clearly off-tone pixels
GREY_CHROMA = 3.0  # is_monochrome: tone chroma below which a monochrome photo is grey
SEPIA_HUES = (15.0, 110.0)  # Lab hue angles (degrees) of brown-to-yellow tones

_M = np.array([[0.4124564, 0.3575761, 0.1804375],
               [0.2126729, 0.7151522, 0.0721750],
               [0.0193339, 0.1191920, 0.9503041]])
_WHITE = _M.sum(axis=1)  # D65 white in XYZ
_TO_XYZ = (_M / _WHITE[:, None]).T.astype(np.float32)  # row-vector RGB @ this = XYZ / white
_FROM_XYZ = np.linalg.inv(_M / _WHITE[:, None]).T.astype(np.float32)
_LUMA = _M[1].astype(np.float32)  # linear-light luminance weights
_EPS3 = (6.0 / 29.0) ** 3


@dataclass(frozen=True)
class ColorOptions:
    """Strengths in [0, 1]: 0 switches a stage off, 1 applies the full measured correction."""

    levels: float = 1.0
    white_balance: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0
    keep_monochrome: bool = True  # monochrome/sepia photos: correct lightness only, keep the tone
    # Monochrome photos: correct lightness only and remove the tone (towards grey by the
    # white_balance strength). With both flags off every photo is treated as colour.
    neutralise_monochrome: bool = False

    def __post_init__(self) -> None:
        for name in ("levels", "white_balance", "contrast", "saturation"):
            value = getattr(self, name)
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} strength must be in [0, 1], got {value}")


# ----------------------------------------------------------------------------- colour spaces

def _decode(v: np.ndarray) -> np.ndarray:
    """sRGB-encoded [0, 1] → linear light (float32)."""
    v = np.asarray(v, np.float32)
    out = np.power((np.maximum(v, np.float32(0.04045)) + np.float32(0.055)) * np.float32(1 / 1.055),
                   np.float32(2.4))
    low = v <= 0.04045
    out[low] = v[low] * np.float32(1 / 12.92)
    return out


def _encode(lin: np.ndarray) -> np.ndarray:
    """Linear light → sRGB-encoded (float32), not clipped."""
    lin = np.asarray(lin, np.float32)
    out = np.power(np.maximum(lin, np.float32(0.0031308)), np.float32(1 / 2.4))
    out *= np.float32(1.055)
    out -= np.float32(0.055)
    low = lin <= 0.0031308
    out[low] = lin[low] * np.float32(12.92)
    return out


def _f(t: np.ndarray) -> np.ndarray:
    t = np.asarray(t, np.float32)
    out = np.cbrt(t)
    low = t <= _EPS3
    out[low] = t[low] * np.float32(1 / (3 * (6 / 29) ** 2)) + np.float32(4 / 29)
    return out


def _finv(t: np.ndarray) -> np.ndarray:
    t = np.asarray(t, np.float32)
    out = t * t * t
    low = t <= 6 / 29
    out[low] = np.float32(3 * (6 / 29) ** 2) * (t[low] - np.float32(4 / 29))
    return out


def _lightness(y: np.ndarray) -> np.ndarray:
    """Relative luminance → CIE L* / 100."""
    return (np.float32(1.16) * _f(y) - np.float32(0.16)).astype(np.float32)


def _luminance(l100: np.ndarray) -> np.ndarray:
    """CIE L* / 100 → relative luminance."""
    return _finv((np.asarray(l100, np.float32) + np.float32(0.16)) / np.float32(1.16))


def _lin_to_lab(lin: np.ndarray) -> np.ndarray:
    """Linear RGB (…×3) → Lab with L in [0, 100] (exact formulas, float32)."""
    f = _f(lin @ _TO_XYZ)
    lab = np.empty_like(f)
    lab[..., 0] = 116 * f[..., 1] - 16
    lab[..., 1] = 500 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200 * (f[..., 1] - f[..., 2])
    return lab


def _lab_to_lin(lab: np.ndarray) -> np.ndarray:
    fy = (lab[..., 0] + 16) / np.float32(116)
    f = np.stack([fy + lab[..., 1] / np.float32(500), fy, fy - lab[..., 2] / np.float32(200)], -1)
    return _finv(f) @ _FROM_XYZ


def _cast_chroma(rgb_lin: np.ndarray) -> tuple[float, float, float]:
    """Lab (a, b, chroma) of a linear RGB colour scaled to a mid-tone (Y = 0.4)."""
    rgb = np.maximum(np.asarray(rgb_lin, np.float64), 1e-6)
    rgb = rgb * (0.4 / float(rgb @ _LUMA))
    lab = _lin_to_lab(rgb.astype(np.float32)[None])[0]
    return float(lab[1]), float(lab[2]), float(np.hypot(lab[1], lab[2]))


# ----------------------------------------------------------------------------- detection

def _check(pixels: np.ndarray) -> np.ndarray:
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3):
        raise ValueError(f"pixels must be H×W×1 or H×W×3, got {pixels.shape}")
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"pixels must be uint8 or uint16, got {pixels.dtype}")
    return pixels


def _top(dtype) -> float:
    return 65535.0 if np.dtype(dtype) == np.uint16 else 255.0


def _proxy(pixels: np.ndarray, max_pixels: int, max_side: int | None = None) -> np.ndarray:
    """Area-averaged float32 [0, 1] copy with at most max_pixels (and max_side)."""
    h, w = pixels.shape[:2]
    scale = min(1.0, (max_pixels / (h * w)) ** 0.5)
    if max_side is not None:
        scale = min(scale, max_side / max(h, w))
    small = pixels
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = cv2.resize(pixels, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], -1)
    return small.astype(np.float32) * np.float32(1.0 / _top(pixels.dtype))


def _tone_of_lightness(lab: np.ndarray, mask: np.ndarray):
    """Median (a, b) per lightness bin and every masked pixel's distance from it."""
    L, a, b = lab[..., 0][mask], lab[..., 1][mask], lab[..., 2][mask]
    bins = np.clip((L * 0.24).astype(np.int32), 0, 23)
    med = np.zeros((24, 2), np.float32)
    for i in np.unique(bins):
        sel = bins == i
        med[i] = np.median(a[sel]), np.median(b[sel])
    residual = np.hypot(a - med[bins, 0], b - med[bins, 1])
    return med[bins], residual


def is_monochrome(pixels: np.ndarray) -> tuple[bool, str]:
    """(True, "grey" | "sepia" | "toned") for black-and-white, sepia and other toned photos,
    (False, "colour") otherwise.

    A monochrome photo's chroma is a function of its lightness: at equal L every pixel has
    the same (a, b) (0 for grey, a warm hue for sepia, possibly varying with L for split
    toning). Measured on a proxy of at most DETECT_SIDE px (which averages away grain and
    JPEG chroma noise) in smooth regions (chroma subsampling bleeds colour at edges).
    """
    pixels = _check(pixels)
    if pixels.shape[2] == 1:
        return True, "grey"
    h, w = pixels.shape[:2]
    side = max(h, w)
    small = _proxy(pixels, 1 << 30, min(DETECT_SIDE, max(16, side // 2)) if side >= 64 else None)
    lab = _lin_to_lab(_decode(small))
    L = lab[..., 0]
    blurred = cv2.GaussianBlur(L, (0, 0), 1.0)
    grad = np.hypot(cv2.Sobel(blurred, cv2.CV_32F, 1, 0, ksize=3),
                    cv2.Sobel(blurred, cv2.CV_32F, 0, 1, ksize=3)) / 8
    usable = (L > 5) & (L < 97)
    mask = usable & (grad < 2.0)
    if mask.sum() < 200:
        mask = usable if usable.sum() >= 50 else np.ones_like(usable)
    tone, residual = _tone_of_lightness(lab, mask)
    if (float(np.percentile(residual, 90)) > MONO_RESIDUAL
            or float((residual > COLOURED_RESIDUAL).mean()) > COLOURED_SHARE):
        return False, "colour"  # (the second: a mostly neutral photo with some colour in it)
    tone_chroma = np.hypot(tone[:, 0], tone[:, 1])
    if float(np.percentile(tone_chroma, 90)) < GREY_CHROMA:
        return True, "grey"
    a, b = tone[:, 0].mean(), tone[:, 1].mean()  # chroma-weighted by construction
    hue = float(np.degrees(np.arctan2(b, a)))
    return True, "sepia" if SEPIA_HUES[0] <= hue <= SEPIA_HUES[1] else "toned"


# ----------------------------------------------------------------------------- measuring

def _targets(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where levels puts a black point `lo` and a white point `hi`: a small lift is kept
    (it is legitimate in a well-exposed photo), a large one is removed; continuous."""
    lo, d = np.asarray(lo, np.float64), 1.0 - np.asarray(hi, np.float64)
    return lo * np.exp(-(lo / HEADROOM) ** 2), 1.0 - d * np.exp(-(d / HEADROOM) ** 2)


def _linear_levels(lo: np.ndarray, hi: np.ndarray, max_gain) -> tuple[np.ndarray, np.ndarray]:
    """gain, offset of x → gain·x + offset taking lo, hi to their targets. When the gain is
    capped both ends move by the same fraction of their own way, so a channel narrow only
    at the top (a sunset's blue) stays anchored at black and a flat image stays put."""
    lo_t, hi_t = _targets(lo, hi)
    span = np.maximum(hi - lo, 1e-6)
    down, up = lo - lo_t, hi_t - hi
    gain = np.clip((hi_t - lo_t) / span, 1.0, max_gain)
    fraction = (gain - 1.0) * span / np.maximum(down + up, 1e-9)
    return gain, (lo - np.minimum(fraction, 1.0) * down) - gain * lo


def _ends_trust(lab: np.ndarray, lum: np.ndarray, dark: bool) -> float:
    """How far per-channel end points may be trusted: the darkest (brightest) 2 % of the
    pixels are nearly neutral in a photo whose channels differ by a cast."""
    cut = np.percentile(lum, 2 if dark else 98)
    sel = lum <= cut if dark else lum >= cut
    a, b = lab[..., 1][sel].mean(), lab[..., 2][sel].mean()
    c = float(np.hypot(a, b))
    return float(np.clip((ENDS_IGNORED - c) / (ENDS_IGNORED - ENDS_TRUSTED), 0.0, 1.0))


def _colour_levels(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel gain, offset (encoded domain) from N×3 proxy values."""
    lo = np.percentile(values, LOW_PCT, axis=0).astype(np.float64)
    hi = np.percentile(values, HIGH_PCT, axis=0).astype(np.float64)
    lo_j, hi_j = lo.min(), hi.max()
    lab = _lin_to_lab(_decode(values))
    lum = lab[..., 0]
    lo = lo_j + _ends_trust(lab, lum, True) * (lo - lo_j)
    hi = hi_j + _ends_trust(lab, lum, False) * (hi - hi_j)
    common, _ = _linear_levels(np.array([lo_j]), np.array([hi_j]), MAX_GAIN)
    return _linear_levels(lo, hi, np.minimum(MAX_GAIN, REL_GAIN * common[0]))


def _white_balance(lin: np.ndarray) -> np.ndarray:
    """Linear-light channel gains (luminance-preserving) from N×3 proxy values."""
    lum = lin @ _LUMA
    valid = (lin.max(axis=1) < 0.98) & (lum > 0.01)
    if valid.sum() < 50:
        return np.ones(3)
    grey_world = lin[valid].mean(axis=0)
    bright = valid & (lum >= np.percentile(lum[valid], 98))
    white_patch = lin[bright].mean(axis=0)
    *_, c_gw = _cast_chroma(grey_world)
    *_, c_wp = _cast_chroma(white_patch)
    w_gw = float(np.clip((GW_IGNORED - c_gw) / (GW_IGNORED - GW_TRUSTED), 0, 1))
    w_wp = float(np.clip((WP_IGNORED - c_wp) / (WP_IGNORED - WP_TRUSTED), 0, 1))
    if w_gw + w_wp == 0:
        return np.ones(3)

    def log_gains(e):
        g = -np.log(np.maximum(e, 1e-6))
        return g - g.mean()

    lg = (w_gw * log_gains(grey_world) + w_wp * log_gains(white_patch)) / max(1.0, w_gw + w_wp)
    *_, cast = _cast_chroma(np.exp(-lg))
    if cast <= WB_DEAD_ZONE:
        return np.ones(3)
    lg *= min(cast - WB_DEAD_ZONE, WB_MAX) / cast
    gains = np.exp(lg)
    return gains / float(gains @ _LUMA)


def _s_curve(x: np.ndarray, k: float, pivot: float) -> np.ndarray:
    """Contrast curve on [0, 1] fixing 0, pivot and 1: tanh-shaped on each side, slope
    k / tanh(k) at the pivot, smooth through it (k → 0: identity)."""
    x = np.asarray(x, np.float64)
    if k < 1e-3:
        return x
    h = lambda t: np.tanh(k * t) / np.tanh(k)  # noqa: E731
    below = pivot - pivot * h((pivot - x) / max(pivot, 1e-6))
    above = pivot + (1 - pivot) * h((x - pivot) / max(1 - pivot, 1e-6))
    return np.where(x < pivot, below, above)


def _contrast_curve(l100: np.ndarray) -> tuple[float, float]:
    """(k, pivot) of the S-curve that brings the 10–90 % spread of L/100 up to
    CONTRAST_TARGET; k = 0 when the spread is normal (or the image is flat: nothing to
    restore). Percentiles, not the std, so a film border or a few specular highlights
    do not hide a flat picture."""
    q10, pivot, q90 = np.percentile(l100, [10, 50, 90])
    spread = lambda k: float(np.diff(_s_curve(np.array([q10, q90]), k, pivot))[0])  # noqa: E731
    if q90 - q10 >= CONTRAST_TARGET or q90 - q10 < 0.02:
        return 0.0, 0.5
    pivot = float(np.clip(pivot, 0.2, 0.8))
    lo, hi = 0.0, MAX_SLOPE
    if spread(hi) <= CONTRAST_TARGET:
        return hi, pivot
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if spread(mid) < CONTRAST_TARGET else (lo, mid)
    return 0.5 * (lo + hi), pivot


def _fading(values: np.ndarray) -> float:
    """0 (crisp) … 1 (clearly faded): how far the joint black and white points of the
    N×C proxy are from 0 and 1. Dyes fade with the density range, so a faded print's
    chroma is judged against a higher target."""
    lo = float(np.percentile(values, LOW_PCT, axis=0).min())
    hi = float(np.percentile(values, HIGH_PCT, axis=0).max())
    return float(np.clip((lo + 1.0 - hi) / FADED_LIFT, 0.0, 1.0))


def _chroma_gain(lab: np.ndarray, fading: float) -> float:
    """Chroma gain restoring an abnormally low 90th percentile of mid-tone chroma."""
    target = CHROMA_TARGET + fading * (CHROMA_TARGET_FADED - CHROMA_TARGET)
    L = lab[..., 0]
    mid = (L > 15) & (L < 90)
    if mid.sum() < 50:
        return 1.0
    c90 = float(np.percentile(np.hypot(lab[..., 1][mid], lab[..., 2][mid]), 90))
    if c90 >= target or c90 < 1.0:
        return 1.0
    gain = min(MAX_CHROMA_GAIN, target / c90)
    # Next to no colour is left to restore: boosting it would only colour the noise.
    gain = 1.0 + (gain - 1.0) * float(np.clip((c90 - 4.0) / 4.0, 0.0, 1.0))
    return gain if gain > 1.02 else 1.0


# ----------------------------------------------------------------------------- the plan

@dataclass
class _Plan:
    mode: str  # "colour" | "mono" (3 channels, lightness only) | "grey" (1 channel)
    gain: np.ndarray  # colour: per-channel levels in the encoded domain
    offset: np.ndarray
    wb: np.ndarray  # colour: linear-light gains
    curve: tuple[np.ndarray, np.ndarray] | None  # L/100 → L/100 (contrast; mono: also levels)
    chroma: float  # colour: chroma gain (before vibrance)
    neutral: float  # mono: how far towards grey


_GRID = np.linspace(0.0, 1.0, 4097)


def _blend(x: np.ndarray, y: np.ndarray, strength: float) -> np.ndarray:
    return x + strength * (y - x)


def _plan(pixels: np.ndarray, options: ColorOptions) -> _Plan:
    s_lev, s_wb, s_con, s_sat = (float(v) for v in (
        options.levels, options.white_balance, options.contrast, options.saturation))
    channels = pixels.shape[2]
    mono = channels == 1
    neutral = 0.0
    if channels == 3 and (options.keep_monochrome or options.neutralise_monochrome):
        mono = is_monochrome(pixels)[0]
        neutral = s_wb if mono and options.neutralise_monochrome else 0.0
    small = _proxy(pixels, PROXY_PIXELS)
    # Measured through a 5×5 median: dust and thin scratches the repair did not catch would
    # otherwise set the black and white points (a white scratch on a faded print holds the
    # levels where they are), while real highlights and shadows are larger than that.
    small = cv2.medianBlur(small, 5).reshape(-1, channels) if min(small.shape[:2]) >= 5 else small.reshape(-1, channels)
    ones = np.ones(3)

    if mono:
        lum = _decode(small[:, 0]) if channels == 1 else _decode(small) @ _LUMA
        l100 = _lightness(lum).astype(np.float64)
        curve = _GRID.copy()
        if s_lev > 0:
            lo, hi = np.percentile(l100, [LOW_PCT, HIGH_PCT])
            g, o = _linear_levels(np.array([lo]), np.array([hi]), MAX_GAIN)
            curve = _blend(curve, np.clip(g[0] * curve + o[0], 0, 1), s_lev)
            l100 = np.interp(l100, _GRID, curve)
        if s_con > 0:
            k, pivot = _contrast_curve(l100)
            curve = _blend(curve, _s_curve(curve, k, pivot), s_con)
        identity = np.abs(curve - _GRID).max() < 1e-6
        return _Plan("grey" if channels == 1 else "mono", ones, np.zeros(3), ones,
                     None if identity else (_GRID, curve), 1.0, neutral)

    gain, offset = np.ones(3), np.zeros(3)
    values = small
    if s_lev > 0:
        g, o = _colour_levels(small)
        gain, offset = _blend(1.0, g, s_lev), _blend(0.0, o, s_lev)
        values = np.clip(small * gain.astype(np.float32) + offset.astype(np.float32), 0, 1)
    lin = _decode(values)
    wb = ones
    if s_wb > 0:
        wb = np.exp(s_wb * np.log(_white_balance(lin)))
        lin = np.clip(lin * wb.astype(np.float32), 0, 1)
    curve, chroma = None, 1.0
    if s_con > 0 or s_sat > 0:
        lab = _lin_to_lab(lin)
        if s_con > 0:
            k, pivot = _contrast_curve(lab[:, 0] / 100)
            if k > 0:
                curve = (_GRID, _blend(_GRID, _s_curve(_GRID, k, pivot), s_con))
        if s_sat > 0:
            chroma = 1.0 + s_sat * (_chroma_gain(lab, _fading(small)) - 1.0)
    return _Plan("colour", gain, offset, wb, curve, chroma, 0.0)


# ----------------------------------------------------------------------------- applying

def _channel_lut(plan: _Plan, dtype, c: int, linear: bool) -> np.ndarray:
    """Levels (+ white balance) of channel c as a table over every code value."""
    top = _top(dtype)
    x = np.arange(int(top) + 1, dtype=np.float64) / top
    x = np.clip(plan.gain[c] * x + plan.offset[c], 0, 1).astype(np.float32)
    if not linear:
        return x
    return np.clip(_decode(x) * np.float32(plan.wb[c]), 0, 1)


def _apply_strip(plan: _Plan, strip: np.ndarray, luts: list[np.ndarray] | None) -> np.ndarray:
    """One strip of uint pixels → float32 encoded [0, 1] result."""
    if plan.mode == "grey":
        return luts[0][strip]
    if plan.mode == "mono":
        lin = luts[0][strip]  # the same decoding table for all three channels
        y = lin @ _LUMA
        l_new = np.interp(_lightness(y), *plan.curve).astype(np.float32) if plan.curve else None
        y_new = _luminance(l_new) if l_new is not None else y
        scale = np.where(y > 1e-7, y_new / np.maximum(y, 1e-7), 0).astype(np.float32)
        out = lin * scale[..., None]
        if plan.neutral > 0:
            out = out * np.float32(1 - plan.neutral) + y_new[..., None] * np.float32(plan.neutral)
        return _encode(np.clip(out, 0, 1))
    lin = np.stack([luts[c][strip[..., c]] for c in range(3)], axis=-1)
    if plan.curve is None and plan.chroma == 1.0:
        return _encode(lin)
    lab = _lin_to_lab(lin)
    if plan.curve is not None:
        lab[..., 0] = np.interp(lab[..., 0] / 100, *plan.curve).astype(np.float32) * 100
    if plan.chroma != 1.0:
        c = np.hypot(lab[..., 1], lab[..., 2])
        k = 1 + np.float32(plan.chroma - 1) / (1 + (c / np.float32(VIBRANCE_CHROMA)) ** 2)
        lab[..., 1:] *= k[..., None]
    return _encode(np.clip(_lab_to_lin(lab), 0, 1))


def _to_dtype(values: np.ndarray, dtype) -> np.ndarray:
    top = _top(dtype)
    return np.rint(np.clip(values * np.float32(top), 0, top)).astype(dtype)


def correct_color(pixels: np.ndarray, options: ColorOptions = ColorOptions(),
                  progress=None) -> np.ndarray:
    """Restore a faded photo's levels, white balance, contrast and saturation.

    pixels: H×W×C (C = 1 or 3) uint8/uint16; returns a new array of the same shape and
    dtype. `progress` (optional) gets .set(fraction) and .check_aborted() calls.
    """
    shape = pixels.shape
    pixels = _check(pixels)
    strengths = (options.levels, options.white_balance, options.contrast, options.saturation)
    if all(float(s) == 0 for s in strengths):
        return pixels.reshape(shape).copy()
    if progress is not None:
        progress.check_aborted()
        progress.set(0.0)
    plan = _plan(pixels, options)
    if progress is not None:
        progress.check_aborted()
        progress.set(0.15)

    dtype, top = pixels.dtype, _top(pixels.dtype)
    if plan.mode == "grey":
        grid = np.arange(int(top) + 1, dtype=np.float32) / np.float32(top)
        l100 = _lightness(_decode(grid))
        if plan.curve is not None:
            l100 = np.interp(l100, *plan.curve).astype(np.float32)
        luts = [_encode(_luminance(l100))]
    elif plan.mode == "mono":
        luts = [_decode(np.arange(int(top) + 1, dtype=np.float32) / np.float32(top))]
    else:
        luts = [_channel_lut(plan, dtype, c, linear=True) for c in range(3)]

    h, w = pixels.shape[:2]
    if plan.mode == "colour" and plan.curve is None and plan.chroma == 1.0:
        # Per-channel point operation: one table per channel straight to the output type.
        direct = [_to_dtype(_encode(lut), dtype) for lut in luts]
    elif plan.mode == "grey":
        direct = [_to_dtype(luts[0], dtype)]
    elif plan.mode == "mono" and plan.curve is None and plan.neutral == 0:
        direct = [np.arange(int(top) + 1).astype(dtype)] * 3  # nothing to change
    else:
        direct = None

    out = np.empty_like(pixels)
    rows = max(1, STRIP_PIXELS // max(1, w))
    for y0 in range(0, h, rows):
        if progress is not None:
            progress.check_aborted()
        strip = pixels[y0:y0 + rows]
        if direct is not None:
            for c in range(pixels.shape[2]):
                out[y0:y0 + rows, :, c] = direct[c][strip[..., c]]
        else:
            out[y0:y0 + rows] = _to_dtype(_apply_strip(plan, strip, luts), dtype)
        if progress is not None:
            progress.set(0.15 + 0.85 * min(h, y0 + rows) / h)
    if progress is not None:
        progress.set(1.0)
    return out.reshape(shape)
