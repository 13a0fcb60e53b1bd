"""Automatic fade correction: measure how a print has faded, and undo only that.

A print fades in *density* (D = −log10 of transmittance, per dye layer): the dyes lose
density by a factor k < 1 (the cyan dye first, giving a red-magenta cast; all of them
together, giving a compressed range with grey blacks); in linear light T' = T^k. What a
change of light (golden hour, tungsten, shade) does is a gain, which keeps black black.
`measure_fading` reads the fading off the shadows of a small proxy (long side at most
DETECT_SIDE, 3×3 median so dust does not count):

* Per channel, the density of its black among the darkest SHADOW_PCT % of the pixels
  (a low percentile) and of its white among the brightest (the paper). Their difference
  is the channel's density range. The *lift* is 1 − k of the luminance of the darkest
  pixels, assuming the original black had density DMAX; the *dye* evidence is how much
  smaller red's range is than both green's and blue's.
* The confidence ramps up only beyond the lift clean photos show (LIFT_RAMP). A colourful
  photo is allowed more (CHROMA_WEIGHT × its chroma): sand, a meadow or a sky filling the
  frame has no black either, but fading takes the colour with the density. A monochrome
  photo is allowed far more (MONO_LIFT_RAMP): light textures and high-key prints have the
  very statistics of a faded print, and nothing in the pixels tells them apart. A lost dye
  counts only while the highlights stay near neutral (the paper is white; a warm light
  is not) and the shadows turn red or magenta; it counts in a monochrome-looking photo
  too (a colour print of a grey scene that lost its cyan dye is a red-toned "mono").
  Red shadows alone are also what golden grass or a warm cat shows, so a lost dye counts
  only as far as red's densities are squeezed over the whole tone curve (`_red_slope`,
  DYE_SLOPE_RAMP): a dye keeps a share of every density, a warm scene or light does not.
  And only as far as red's own black (its BLACK_PCT percentile, wherever it lies) is short
  of green's (DYE_OWN_RAMP): a lost dye leaves nothing deep in red, while a scene whose
  darkest things are red (sweets, a red-brown coat) has a black, or a blue or green thing,
  somewhere (train: red sweets on an unclipped table, evenly faded, were given a cyan
  cast; a yellowed print of them was helped by that cast, for the wrong reason).
* The ramps were chosen on the corpus's train split (62 photos), with golden-hour,
  tungsten, shade, snow, night, mono and sepia variants of each photo and five fade models
  (bench/fade_cases.py). The compressed-range ramp starts at a lift of 0.2: lower, a hazy
  aerial photo is "un-faded" in four of its variants; higher, a print lifted to an
  encoded black of 0.3 is left alone. Haze is not told from a compressed print: both
  lift the blacks of every channel alike and nothing measured on the train photos
  separates them (README, "Fade correction"). So in a colour photo a compressed range
  alone is reported (FadeReport.lifted) and not corrected: correcting it stretched hazy
  scenes (train: 88 of 248 hazy variants kept 35 dB, 241 now) and gained compressed prints
  little (train: ΔE 9.28 → 8.96); Adjust ▸ Auto, asked for, stretches it. The range
  is still restored alongside a lost dye, and in monochrome prints.
* The correction inverts the model as far as each part is measured: per channel, the
  density above the paper is multiplied by a gain, so black goes back down while the
  paper stays where it is. A lost dye brings red's range up to the least faded
  channel's and its paper to the brightest channel's (the paper was white), and blue's
  by at most BLUE_DYE_SHARE of red's gain (in density: the yellow dye fades slower than
  the cyan, and blue short of green is as often a purple or magenta scene); a compressed
  range brings the least faded channel's black back to DMAX — its black, not its range:
  the paper keeps its own density, and a range stretched to DMAX above a grey or
  yellowed paper took the black past any print's. Below CONF_MIN the report is exactly
  the identity.
* Monochrome, sepia and toned photos (`is_monochrome`) with no lost dye get one gain for
  all channels, so their tone survives (a grey photo stays exactly grey), and their cast
  is "none".
* A monochrome print that faded also yellowed: its paper took a stain, a density added to
  every tone alike, where a toned print's tint grows with the density and is gone at
  white (`_white_tint`). A stain (STAIN_RAMP), with no black left (STAIN_LIFT_RAMP) but
  not lifted as far as a veil lifts it (STAIN_VEIL_RAMP: warm haze over a grey scene is
  light added in the air, which tints every tone and fills the blacks further than a print
  loses; train: hazy scenes 0.71–0.80, stained prints up to 0.71, one of them lost), a
  density range (not a bare texture), a light paper (not a night) and a tint fainter than
  a warm light's (STAIN_LIGHT_RAMP: a golden-hour gain on a grey scene tints every tone
  alike too, but more) is taken as a faded print: the stain leaves the paper and the range
  comes back towards DMAX, by a gain no larger than the stain allows (STAIN_GAIN: a print
  that lost much density yellowed visibly; a light texture whose range is short by nature
  is not stretched to black on a faint stain).
* Whites clipped in some channel (CLIP_RAMP) are an exposure — snow, a bright sky, high
  key, a white table — and no fading is read off such a photo, neither a compressed
  range nor a lost dye nor a stain: a print's paper is its white, dimmed by the fog that
  lifts its blacks. (Red sweets on an overexposed table look exactly like a lost cyan
  dye: red's densities short of the others' over the whole tone curve.)

`apply_levels` applies a FadeReport (or the Adjust panel's own numbers) as one table per
channel, computed in float64 for every code value, 16-bit included; saturation, when not
1, scales CIELAB chroma at constant lightness. `correct_color` is the restore pipeline's
colour stage: measure, scale by the user's strengths, apply.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from photoforge.ops.paper_border import Border, find_border, inside

STRIP_PIXELS = 1 << 20  # apply_levels and neutralising work on this many pixels at a time
DETECT_SIDE = 512  # measuring and is_monochrome look at a proxy whose long side is at most this
PROXY_AVERAGE = 3  # each proxy pixel averages at least this many pixels across

FLOOR = 10.0 ** -3  # linear light below this is taken as this (density 3: past any print's black)
DMAX = 2.0  # density assumed for the original black (the median over clean train photos is 1.9)
LIFT_RAMP = (0.2, 0.45)  # lift (1 − k of the darkest pixels): confidence of a compressed range …
CHROMA_WEIGHT = 0.8  # … whose start moves up by this × the photo's chroma (90th pct, Lab) / 100
MONO_LIFT_RAMP = (0.80, 0.95)  # … of a monochrome photo (light textures, high-key prints)
DYE_RAMP = (0.08, 0.25)  # 1 − (red density range) / min(green, blue): the confidence of a lost cyan dye …
BLUE_DEEPER_RAMP = (1.05, 1.15)  # … and down as blue's density range exceeds green's by this ratio …
MONO_BLUE_DEEPER_RAMP = (0.92, 1.0)  # … (in a monochrome photo, where a warm tone makes blue densest) …
DYE_WHITE_RAMP = (15.0, 30.0)  # … and down over this Lab chroma of the brightest pixels
DYE_SLOPE_RAMP = (0.05, 0.15)  # … and times this ramp of 1 − red's tone-curve slope (_red_slope) …
DYE_OWN_RAMP = (0.02, 0.08)  # … and up over the shortfall of red's own black (_Fade.own_dye)
BLUE_DYE_SHARE = 0.5  # a lost dye's gain for blue is at most red's to this power (log-density share)
SLOPE_PCTS = np.arange(2.0, 99.0, 4.0)  # _red_slope compares the channels' densities at these percentiles
STAIN_RAMP = (0.02, 0.04)  # a monochrome print's stain at white (_Fade.stain): confidence of a faded print
STAIN_LIGHT_RAMP = (0.15, 0.2)  # … and down over this stain (a warm light tints as a stain does, but more)
STAIN_LIFT_RAMP = (0.05, 0.15)  # … and up over this lift (a print that aged has no black left) …
STAIN_VEIL_RAMP = (0.66, 0.7)  # … and down over this lift (light added in the air, not density lost)
# … and up over blue's density minus red's at black: a stain adds its density at every tone, so a
# stained print's shadows are as warm as its paper; shadows cooler than neutral are a bluish veil
# of air lifting them (mist), whose tint extrapolates to a warm white (bench/stain_shadow_dev.py).
# Limit: a cold-toned (blue-black) print that yellowed has cool shadows too and is left.
STAIN_SHADOW_RAMP = (-0.02, 0.0)
STAIN_SPAN_RAMP = (0.3, 0.5)  # … and up over this density range (a texture with next to none is not a print)
STAIN_PAPER_RAMP = (0.5, 0.7)  # … and down as the lightest channel's paper density passes this (a night, not a print)
STAIN_GAIN = 8.0  # a stained print's density gain is at most 1 + this × its stain
STAIN_MAX_LOG = 1.5  # _white_tint fits the tones lighter than this −ln(encoded value) (0.22)
SHADOW_PCT = 2.0  # the darkest this % of the pixels (by luminance) are the shadows
BLACK_PCT = 0.2  # the black point: this percentile (of all pixels; per channel)
MIN_SPAN = 0.1  # density range below which a channel's range is taken as this
MAX_GAIN = 3.0  # no channel's density is multiplied by more than this
CLIP_LEVEL = 0.996  # an encoded value at or above this is clipped white …
CLIP_RAMP = (0.02, 0.1)  # … and this share of clipped pixels takes every part's confidence away
SPAN_RAMP = (0.15, 0.3)  # a photo whose range is below this is not corrected (nothing to restore)
PAPER_MIN = 4.0  # Lab chroma of a print's paper border from which its cast is taken out …
PAPER_KEEP = 3.0  # … all but this much of it (cream papers exist)
TOLD_CLIP = 0.1  # % of a told-faded colour print's samples given up at each end, per channel (_told_levels)
TOLD_MIN_SPAN = 0.05  # … unless the channel spans less than this (encoded)
TOLD_SAMPLES = 1 << 20  # … read off about this many pixels (a regular grid)
CONF_MIN = 0.05  # below this confidence the photo is reported as not faded and left alone
STRONG = 0.4  # share of its density the worst channel lost (1 − 1/its gain) from which fading is "strong"
LIFTED_WORDS = "not corrected: lifted blacks (haze or a faded range, not told apart)"
CAST_CHROMA = 4.0  # Lab chroma of a faded mid-grey from which a cast is named

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
class FadeReport:
    """What measure_fading found, and the levels that undo it (identity when not faded)."""

    faded: str  # "none" | "mild" | "strong"
    cast: str  # "none" or "magenta", "red", "yellow", "cyan", "blue", "green"
    confidence: float  # 0..1, how sure the measurement is that the photo is faded
    black: tuple[float, float, float]  # per-channel (R, G, B) input black point in [0, 1]
    white: tuple[float, float, float]  # per-channel input white point in [0, 1]
    gamma: tuple[float, float, float]  # per-channel midtone gamma (1 = none)
    saturation: float = 1.0  # multiplier (1 = none)
    # The density model's inverse, applied before the levels: below its paper white (the
    # input value `paper`, per channel) each channel's density above the paper is
    # multiplied by `density`, and the paper itself becomes `paper_to` (all encoded, 0–1).
    density: tuple[float, float, float] = (1.0, 1.0, 1.0)
    paper: tuple[float, float, float] = (1.0, 1.0, 1.0)
    paper_to: tuple[float, float, float] = (1.0, 1.0, 1.0)
    # A colour photo whose only sign of fading is blacks lifted alike in every channel:
    # haze and a faded range look the same, so it is reported and not corrected.
    lifted: bool = False
    # The cast was read off the print's paper border (photoforge.ops.paper_border).
    from_border: bool = False
    # The user said it is a faded print: the end points are set per channel (_told_levels).
    told: bool = False

    def describe(self) -> str:
        if self.faded == "none":
            return LIFTED_WORDS if self.lifted else "not faded"
        return (f"faded: {self.faded}, cast: {self.cast}" + (" (paper border)" if self.from_border else "")
                + (" (as a faded print)" if self.told else ""))

    @property
    def is_identity(self) -> bool:
        return (all(b == 0 for b in self.black) and all(w == 1 for w in self.white)
                and all(g == 1 for g in self.gamma) and self.saturation == 1 and self.density_is_identity)

    @property
    def density_is_identity(self) -> bool:
        return all(d == 1 for d in self.density) and self.paper_to == self.paper


IDENTITY = FadeReport("none", "none", 0.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (1.0, 1.0, 1.0), 1.0)


@dataclass(frozen=True)
class ColorOptions:
    """Strengths in [0, 1] of the restore pipeline's colour stage (0 switches a part off):
    levels scales the black and white points and the density inverse (gains and the
    paper's move), contrast the midtone gamma, white_balance the part of them that differs
    between channels (the cast), saturation the saturation.
    1 applies what measure_fading found, which is nothing on a photo that does not
    measure faded."""

    levels: float = 1.0
    white_balance: float = 1.0
    contrast: float = 1.0
    saturation: float = 1.0
    keep_monochrome: bool = True  # monochrome/sepia photos: one gamma for all channels, tone kept
    # Monochrome photos: also remove the tone (towards grey by the white_balance strength).
    neutralise_monochrome: bool = False
    # The user says the photo is a faded colour print: its black and white points are also
    # set per channel (_told_levels), which a hazy scene or warm light must not get.
    faded_print: bool = False

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
        # A big photo is first thinned by an integer stride, so the area average still
        # covers ≥ PROXY_AVERAGE² pixels per proxy pixel but reads a fraction of the photo
        # (24 MP to 512 px: 0.2 s → 0.03 s here).
        step = int(1.0 / (scale * PROXY_AVERAGE))
        if step >= 2:
            pixels = pixels[::step, ::step]
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


def _mono_kind(small: np.ndarray) -> tuple[bool, str]:
    """is_monochrome on a float [0, 1] H×W×3 proxy."""
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


def _detect_proxy(pixels: np.ndarray) -> np.ndarray:
    h, w = pixels.shape[:2]
    side = max(h, w)
    return _proxy(pixels, 1 << 30, min(DETECT_SIDE, max(16, side // 2)) if side >= 64 else None)


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
    return _mono_kind(_detect_proxy(pixels))


# ----------------------------------------------------------------------------- measuring

_HUES = ((20.0, "red"), (75.0, "yellow"), (140.0, "green"), (200.0, "cyan"), (270.0, "blue"),
         (330.0, "magenta"))  # Lab hue angle (degrees) of each named cast's centre


@dataclass(frozen=True)
class _Fade:
    """The density model measured on a photo: T' = T^k per channel (paper white kept)."""

    k: np.ndarray  # density kept, per channel (1 = none lost)
    black: float  # the black point common to all channels (encoded; min over channels)
    span: float  # from that black to the highest channel's white point (encoded)
    lift: float  # 1 − k of the luminance of the darkest pixels: the range compressed
    dye: float  # 1 − red's density range / the smaller of green's and blue's: cyan lost more
    highlight: float  # Lab chroma of the brightest pixels (a lost dye leaves the paper white)
    slope: float  # red's density spread over the whole tone curve against green's and blue's
    chroma: float  # 90th percentile of Lab chroma (fading takes it with the density)
    mono: bool
    dark: np.ndarray  # density of each channel's black among the darkest pixels
    paper: np.ndarray  # density of each channel's white among the brightest pixels
    # A monochrome photo's tint extrapolated to white (_white_tint): −ln(encoded value) per
    # channel, green's 0; none for a colour photo.
    white_tint: np.ndarray = field(default_factory=lambda: np.zeros(3))
    clipped: float = 0.0  # share of the pixels clipped to white in some channel
    own_dye: float = 0.0  # 1 − red's range / green's, each from its own black (BLACK_PCT of all pixels)

    @property
    def stain(self) -> float:
        """The warm part of the tint at white: blue's density beyond red's."""
        return float(self.white_tint[2] - self.white_tint[0])

    @property
    def allowed_lift(self) -> float:
        """The lift a clean photo may have before any is taken for fading. Higher for a
        colourful photo: one with no black in it (sand, a meadow, a sky) is a scene, not a
        faded print, whose dyes would have lost their colour with their density. Higher
        still for a monochrome one: light textures and high-key prints look just like a
        faded print, and nothing in the pixels tells them apart."""
        if self.mono:
            return MONO_LIFT_RAMP[0]
        return LIFT_RAMP[0] + CHROMA_WEIGHT * self.chroma / 100.0

    @property
    def range_confidence(self) -> float:
        ramp = MONO_LIFT_RAMP if self.mono else LIFT_RAMP
        # A photo with next to no range (blown out, a flat colour) has nothing to restore;
        # lifted blacks beside clipped whites are flare or haze (unexposed).
        flat = _ramp(self.span, *SPAN_RAMP)
        return flat * self.unexposed * _ramp(self.lift, self.allowed_lift, self.allowed_lift + ramp[1] - ramp[0])

    @property
    def unexposed(self) -> float:
        """Whites clipped are an exposure (snow, a bright sky, high key, a white table), not
        a print's paper, which the fade dims: every part of the fade's confidence is scaled
        by this."""
        return 1.0 - _ramp(self.clipped, *CLIP_RAMP)

    @property
    def stain_confidence(self) -> float:
        if not self.mono:
            return 0.0
        return (self.unexposed * _ramp(self.stain, *STAIN_RAMP) * (1.0 - _ramp(self.stain, *STAIN_LIGHT_RAMP))
                * _ramp(self.lift, *STAIN_LIFT_RAMP) * (1.0 - _ramp(self.lift, *STAIN_VEIL_RAMP))
                * _ramp(float(np.mean(self.dark - self.paper)), *STAIN_SPAN_RAMP)
                * (1.0 - _ramp(float(self.paper.min()), *STAIN_PAPER_RAMP))
                * _ramp(float(self.dark[2] - self.dark[0]), *STAIN_SHADOW_RAMP))

    @property
    def dye_confidence(self) -> float:
        return (self.unexposed * _ramp(self.dye, *DYE_RAMP) * (1.0 - _ramp(self.highlight, *DYE_WHITE_RAMP))
                * _ramp(1.0 - self.slope, *DYE_SLOPE_RAMP) * _ramp(self.own_dye, *DYE_OWN_RAMP))


def _ramp(value: float, lo: float, hi: float) -> float:
    return float(np.clip((value - lo) / (hi - lo), 0.0, 1.0))


def _k(low: np.ndarray) -> np.ndarray:
    """Density kept, from the linear-light value a black of density DMAX now shows."""
    return np.clip(np.log(np.maximum(low, 1e-6)) / math.log(10.0 ** -DMAX), 0.2, 1.0)


def _density_model(values: np.ndarray, mono: bool) -> _Fade:
    """The model from N×3 encoded proxy values, read off the darkest and the brightest
    pixels (the same pixels in every channel, so a dark green leaf is not a lost red dye)."""
    lin = _decode(values)
    y = lin @ _LUMA
    # The black of each channel among the darkest pixels: a low percentile, not the mean,
    # so dark foliage or a blue shadow among them does not count as a lost dye, while a
    # dye lost everywhere lifts every dark pixel's channel. The paper's white is taken as
    # white: brightening a dull white helped none of the fade models on the train photos.
    darkest = y <= np.percentile(y, SHADOW_PCT)
    shadow = np.percentile(lin[darkest], 10, axis=0).astype(np.float64)
    k = _k(shadow)
    own_black = np.percentile(values, BLACK_PCT, axis=0)
    black = float(own_black.min())
    span = float(np.percentile(values, 100 - BLACK_PCT, axis=0).max()) - black
    lift = 1.0 - float(_k(np.array([shadow @ _LUMA.astype(np.float64)]))[0])
    paper = lin[y >= np.percentile(y, 99.5)].mean(axis=0).astype(np.float64)
    light = paper / max(float(paper @ _LUMA.astype(np.float64)), 1e-6) * 0.8
    lab = _lin_to_lab(light.astype(np.float32)[None])[0]
    highlight = float(np.hypot(lab[1], lab[2]))
    # A lost dye lifts the shadows of the channel it absorbed; the cyan dye (red channel)
    # goes first, so the evidence is how far red is lifted beyond both others. Shadows
    # lifted most in blue or green (or in red and green: orange) are, in the corpus, a
    # sky, foliage or sand filling the frame far more often than a lost dye.
    lab_all = _lin_to_lab(lin[::4])
    chroma = float(np.percentile(np.hypot(lab_all[:, 1], lab_all[:, 2]), 90))
    dark, paper = _density(shadow), _density(paper)
    ranges = np.maximum(dark - paper, MIN_SPAN)
    dye = max(0.0, 1.0 - float(ranges[0] / min(ranges[1], ranges[2])))
    # Red's shortfall against green (the most stable dye) between each channel's own black,
    # wherever it lies: a lost dye leaves no pixel deep in red, while a scene whose darkest
    # things are red (sweets, a warm room) still has something deep in red somewhere in it
    # (a black, or a blue, green or cyan thing).
    own = np.maximum(_density(_decode(own_black).astype(np.float64)) - paper, MIN_SPAN)
    own_dye = max(0.0, 1.0 - float(own[0] / own[1]))
    # Of a print's dyes the magenta (green channel) is the most stable: a lost cyan dye
    # leaves blue's range no deeper than green's. Blue reaching deeper than green is a
    # warm tone (sepia, whose blue is densest) or a scene with a true black beside red
    # shadows, not a lost dye.
    dye *= 1.0 - _ramp(float(ranges[2] / ranges[1]), *(MONO_BLUE_DEEPER_RAMP if mono else BLUE_DEEPER_RAMP))
    return _Fade(k, black, span, lift, dye, highlight, _red_slope(lin), chroma, mono, dark, paper,
                 _white_tint(values) if mono else np.zeros(3), float((values.max(axis=1) >= CLIP_LEVEL).mean()),
                 own_dye)


def _white_tint(values: np.ndarray) -> np.ndarray:
    """How far a monochrome photo's tint reaches up to white, per channel against green.

    A toned print's tint lives in its silver, so it grows with the density and vanishes at
    the paper white; a stained (yellowed) paper adds the same density at every tone, paper
    included. So each channel's −ln(encoded value) quantiles are fitted by a line against
    green's over the lighter tones, and the line's value at white (0) is the tint there.
    Its warm part (the stain: blue's minus red's) is about 0 on a grey or toned clean
    print (train: ≤ 0.024) and more on a yellowed one (≥ 0.021, growing with the fade)."""
    q = np.percentile(-np.log(np.maximum(values, 1.0 / 255)), SLOPE_PCTS, axis=0)
    q = q[q[:, 1] < STAIN_MAX_LOG]
    if len(q) < 4 or float(np.ptp(q[:, 1])) < 1e-3:
        return np.zeros(3)
    fit = np.stack([np.ones(len(q)), q[:, 1]], axis=1)
    return np.array([float(np.linalg.lstsq(fit, q[:, c], rcond=None)[0][0]) if c != 1 else 0.0
                     for c in range(3)])


def _red_slope(lin: np.ndarray) -> float:
    """How red's density spreads over the whole tone curve against green's and blue's.

    A lost dye multiplies every density of its channel by k, so its quantiles are the
    others' squeezed by k/k' all the way from paper to black; a coloured light adds the
    same density to every pixel of a channel and leaves the spread alone, however warm.
    So the slope of red's density quantiles against each other channel's (a least-squares
    line through the quantile pairs) is k_red / k_other in a faded print and near 1 in a
    warm scene whose shadows merely look red. The larger of the two slopes is returned:
    red must be squeezed against both, as the cyan dye goes first."""
    q = np.percentile(_density(lin), SLOPE_PCTS, axis=0)
    q = q - q.mean(axis=0)
    slopes = [float(q[:, 0] @ q[:, c]) / max(float(q[:, c] @ q[:, c]), 1e-9) for c in (1, 2)]
    return max(slopes)


def _density(lin: np.ndarray) -> np.ndarray:
    return -np.log10(np.maximum(lin, FLOOR))


def _cast_word(fade: _Fade) -> str:
    """The colour a neutral dark and mid grey of the original shows in the faded photo."""
    greys = np.array([[0.03], [0.2]])
    faded = greys ** fade.k[None, :]
    faded = faded / (faded @ _LUMA.astype(np.float64))[:, None] * 0.2  # compare at equal Y
    lab = _lin_to_lab(faded.astype(np.float32)).mean(axis=0)
    if float(np.hypot(lab[1], lab[2])) < CAST_CHROMA:
        return "none"
    return _hue_word(math.degrees(math.atan2(float(lab[2]), float(lab[1]))) % 360)


def _hue_word(hue: float) -> str:
    """The named cast nearest a Lab hue angle (degrees)."""
    return min(_HUES, key=lambda h: min(abs(hue - h[0]), 360 - abs(hue - h[0])))[1]


def _despeckled(small: np.ndarray) -> np.ndarray:
    return cv2.medianBlur(small, 3) if min(small.shape[:2]) >= 3 else small  # specks must not set the end points


def _dye_confidence(fade: _Fade) -> float:
    if fade.dye_confidence > 0 and _cast_word(fade) not in ("red", "magenta"):
        return 0.0  # red and green lifted together (yellow shadows) is sand or a lamp, not cyan lost
    return fade.dye_confidence


def _measure(small: np.ndarray, mono: bool, picture: np.ndarray | None = None) -> FadeReport:
    """FadeReport of a float [0, 1] H×W×3 proxy: the density model's inverse, each part
    blended in by its confidence (_density_inverse); levels left at the identity.
    `picture`: the part of the proxy inside a paper border, where a lost dye must show too
    (the border is neutral paper whatever the picture lost)."""
    fade = _density_model(_despeckled(small).reshape(-1, 3), mono)
    conf_dye = _dye_confidence(fade)
    if picture is not None and conf_dye > 0:
        conf_dye = min(conf_dye, _dye_confidence(_density_model(_despeckled(picture).reshape(-1, 3), mono)))
    if conf_dye < CONF_MIN:
        # A dye confidence under the floor is no evidence: it would not have been corrected
        # alone, so it must neither let a colour photo's range through (below) nor take a
        # monochrome print's one density for all channels and its stain away.
        conf_dye = 0.0
    if mono and conf_dye == 0:
        # One density for all channels: the tone is the photo's, not a cast. (A red-magenta
        # tone whose shadows lost red is a lost cyan dye: a colour print of a grey scene.)
        fade = replace(fade, k=np.full(3, float(fade.k.mean())), dye=0.0)
    conf_stain = fade.stain_confidence if conf_dye == 0 else 0.0
    conf_range = fade.range_confidence
    lifted = False
    if not mono and conf_dye == 0:
        # Blacks lifted alike in every channel, and nothing else, is all a colour print
        # that lost its range shows, and all a hazy or misty scene shows too: the air's
        # veil is the same lift (README, "Fade correction"). Guessing cost more than it
        # gave (train: two thirds of the hazy scenes stretched below 35 dB, for ΔE 9.28 →
        # 8.96 on compressed prints), so restore reports it and leaves it; Adjust ▸ Auto,
        # which the user asks for, stretches it.
        lifted, conf_range = conf_range >= CONF_MIN, 0.0
    confidence = max(conf_range, conf_dye, conf_stain)
    if confidence < CONF_MIN:
        return replace(IDENTITY, lifted=lifted)
    gain, paper, paper_to = _density_inverse(fade, conf_range, conf_dye, conf_stain)
    faded = "strong" if 1.0 - 1.0 / max(gain) >= STRONG else "mild"
    cast = "none" if conf_dye == 0.0 else _cast_word(fade)
    return FadeReport(faded, cast, round(confidence, 3), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (1.0, 1.0, 1.0), 1.0,
                      density=gain, paper=paper, paper_to=paper_to)


def _density_inverse(fade: _Fade, conf_range: float, conf_dye: float, conf_stain: float = 0.0):
    """The fade model inverted, each part as far as it is measured: per channel, the
    density above the paper white is multiplied by a gain. A lost dye (conf_dye) brings
    red's density range up to the least faded channel's (blue's by at most BLUE_DYE_SHARE
    of red's gain) and each paper to the brightest channel's (the paper was white; so does
    a stained monochrome print's stain, conf_stain); a compressed range (conf_range) brings
    the least faded channel's black back to DMAX, and so does a stained monochrome print's
    (conf_stain), no further than its stain allows. Returns (gain, paper, paper_to), the
    paper values encoded."""
    span = np.maximum(fade.dark - fade.paper, MIN_SPAN)
    if fade.mono and conf_dye == 0:
        span = np.full(3, float(span.mean()))
    reference = float(span.max())
    shift = conf_dye * (fade.paper - fade.paper.min())
    paper = _encode((10.0 ** -fade.paper).astype(np.float32)).astype(np.float64)
    paper_to = _encode((10.0 ** -(fade.paper - shift)).astype(np.float32)).astype(np.float64)
    if conf_stain > 0:
        # Only the stain leaves the paper: a toned print's own tint near white stays.
        paper_to = paper_to * np.exp(conf_stain * (fade.white_tint - fade.white_tint.min()))
    paper_to = np.minimum(paper_to, 1.0)
    # The black goes back to DMAX, not the range: the paper keeps its own density (it
    # moves only by the cast or stain taken out of it), so the range's target is DMAX above
    # where the reference channel's paper ends.
    paper_after = _density(_decode(paper_to.astype(np.float32)).astype(np.float64))
    target = DMAX - float(paper_after.mean() if fade.mono and conf_dye == 0 else paper_after[int(np.argmax(span))])
    dye_gain = reference / span
    if conf_dye > 0:
        # The evidence is red's range short of both others'; blue's own shortfall against
        # green is a purple or magenta scene as often as a fade, and its dye fades slower.
        dye_gain[2] = min(dye_gain[2], dye_gain[0] ** BLUE_DYE_SHARE)
    gain = dye_gain ** conf_dye * max(1.0, target / reference) ** conf_range
    if conf_stain > 0:
        # The stain is the only evidence of fading here, and low-contrast scenes (textures,
        # mist) have no black to restore: move no further than the stain says the print aged.
        stained = max(1.0, target / reference) ** conf_stain
        gain = np.maximum(gain, min(stained, 1.0 + STAIN_GAIN * fade.stain))
    gain = np.minimum(gain, MAX_GAIN)
    as_tuple = lambda v: tuple(float(x) for x in np.broadcast_to(v, (3,)))  # noqa: E731
    return as_tuple(gain), as_tuple(paper), as_tuple(paper_to)


def measure_fading(pixels: np.ndarray, faded_print: bool = False) -> FadeReport:
    """How faded the photo is and the levels that undo it (IDENTITY when it is not).

    pixels: H×W×3 or H×W×1 (or H×W) uint8/uint16. Measured on a proxy of at most
    DETECT_SIDE px, so the cost hardly depends on the photo's size. faded_print: the user
    says the photo is a faded print (_told_levels)."""
    return _measure_photo(_check(pixels), True, faded_print)[0]


def _measure_photo(pixels: np.ndarray, detect_mono: bool, faded_print: bool) -> tuple[FadeReport, bool]:
    """(the report on H×W×C `pixels`, whether they were measured as monochrome): a one-channel
    photo is; a colour one as _measure_print finds, then _told_levels if the user said faded."""
    small = _detect_proxy(pixels)
    if small.shape[2] == 1:
        return _measure(np.repeat(small, 3, axis=2), True), True
    report, mono = _measure_print(small, detect_mono)
    return (_told_levels(report, pixels) if faded_print and not mono else report), mono


def _measure_print(small: np.ndarray, detect_mono: bool) -> tuple[FadeReport, bool]:
    """(_measure of a colour proxy, whether it was measured as monochrome). Where the
    print's paper border shows a cast, a colour photo is measured with its paper made
    neutral (the border is then its white, as it was) and reported through it
    (_through_paper). A monochrome one whose picture is grey is measured without its border
    (_grey_picture); any other as before: its stain measure reads the
    same yellowing and, with it, how far the range faded. (Taking the border's cast out
    first left it no stain to read that by, and 120 of 163 bordered sepia prints on train2
    ended worse than faded; taking it out only where the stain measure found nothing left
    9 of them worse, a warm tone cooled with the paper.) A colour print's lost dye must show
    in the picture inside its border too (paper_border.inside): the base carries no dye, so
    a white border is neutral whatever the picture lost, and it read as the neutral paper a
    lost cyan dye leaves beside red shadows (red scenes on white paper came out as lost dyes).
    detect_mono: whether a monochrome photo is measured as one."""
    border = find_border(small)
    gain = _paper_gain(border)
    if gain is not None:
        balanced = np.minimum(_encode(_decode(small) * gain.astype(np.float32)), 1.0)
        if not (detect_mono and _mono_kind(balanced)[0]):
            return _through_paper(_measure(balanced, False, inside(balanced, border)), gain, border), False
    mono = detect_mono and _mono_kind(small)[0]
    if mono and border is not None:
        picture = _grey_picture(small, border)
        if picture is not None:
            return _measure(picture, True), True
    return _measure(small, mono, inside(small, border) if border is not None and not mono else None), mono


def _grey_picture(small: np.ndarray, border: Border) -> np.ndarray | None:
    """The picture inside a monochrome print's paper border when it is grey, else None.
    A stain yellows the picture's light tones with its paper, so a grey picture is a grey
    print whatever tint its border has: measured with a warm border, the border's warmth
    read as a stain and soft grey prints were stretched (2 of val3's 70 bordered ones, to
    23.7 and 31.9 dB; bench/mono_border_dev.py). Limit: a stained print whose picture has
    too few light tones to show the stain reads as grey and is left."""
    picture = inside(small, border)
    if picture is small:  # inside() hands the proxy back when the picture would be too small
        return None
    return picture if _mono_kind(picture) == (True, "grey") else None


def _told_levels(report: FadeReport, pixels: np.ndarray) -> FadeReport:
    """`report` with per-channel black and white points at the TOLD_CLIP % ends of the
    photo's samples as the report's density inverse leaves them: for a colour print the
    user says is faded. What the measure cannot tell from a scene, a lift from haze and a
    yellowed base from warm light, the user's word settles: a faded print had a black and a
    white paper. Per channel, so the base's cast goes with the lift. Samples, not the
    measuring proxy, whose averaging pulls the ends in. A channel with next to no range
    (under TOLD_MIN_SPAN) keeps its end points."""
    step = max(1, math.isqrt(pixels.shape[0] * pixels.shape[1] // TOLD_SAMPLES))
    values = pixels[::step, ::step, :3].reshape(-1, 3).astype(np.float64) / _top(pixels.dtype)
    black, white = list(report.black), list(report.white)
    for c in range(3):
        x = density_curve(report, c, values[:, c])
        lo, hi = np.percentile(x, (TOLD_CLIP, 100.0 - TOLD_CLIP))
        if hi - lo >= TOLD_MIN_SPAN:
            black[c], white[c] = float(lo), float(hi)
    if black == list(report.black) and white == list(report.white):
        return report
    told = replace(report, black=tuple(black), white=tuple(white), lifted=False, told=True, confidence=1.0)
    # What the faded print shows for what comes out mid grey names the cast.
    grid = np.linspace(0.0, 1.0, 1025)
    grey = np.array([np.interp(0.5, np.maximum.accumulate(channel_map(told, c, grid)), grid) for c in range(3)])
    lab = _lin_to_lab(_decode(grey.astype(np.float32))[None])[0]
    cast = report.cast
    if cast == "none" and float(np.hypot(lab[1], lab[2])) >= CAST_CHROMA:
        cast = _hue_word(math.degrees(math.atan2(float(lab[2]), float(lab[1]))) % 360)
    stretch = 1.0 / max(min(w - b for b, w in zip(black, white)), 1e-6)
    faded = "strong" if report.faded == "strong" or 1.0 - 1.0 / stretch >= STRONG else "mild"
    return replace(told, faded=faded, cast=cast)


def _paper_strength(border: Border | None) -> float:
    """How much of a paper border's cast to take out: all but PAPER_KEEP of its chroma, so
    a cream paper (chroma ≤ 3–4) keeps its tint and a yellowed one keeps that much of it;
    0 below PAPER_MIN (no border, or one as white as paper comes)."""
    if border is None or border.chroma < PAPER_MIN:
        return 0.0
    return 1.0 - PAPER_KEEP / border.chroma


def _paper_gain(border: Border | None) -> np.ndarray | None:
    """Per-channel linear gains that take a yellowed (or otherwise tinted) paper border's
    cast out (_paper_strength of it, towards neutral at its brightest channel); None for
    no border or a paper white enough."""
    strength = _paper_strength(border)
    if strength == 0:
        return None
    lin = np.maximum(_decode(np.array(border.colour, np.float32)).astype(np.float64), FLOOR)
    return (lin.max() / lin) ** strength


def _through_paper(report: FadeReport, gain: np.ndarray, border: Border) -> FadeReport:
    """`report`, measured on the photo times `gain`, as a report on the photo itself: the
    gain is a density taken off every tone, which is the density model's paper moving, so
    only the paper's input value changes (each channel's, divided by its gain)."""
    lin = _decode(np.array(report.paper, np.float32)).astype(np.float64) / gain
    paper = tuple(float(v) for v in _encode(lin.astype(np.float32)))
    hue = math.degrees(math.atan2(border.lab[2], border.lab[1])) % 360
    cast = report.cast if report.cast != "none" else _hue_word(hue)
    confidence = max(report.confidence, _paper_strength(border))
    return replace(report, faded="mild" if report.faded == "none" else report.faded, cast=cast,
                   confidence=round(confidence, 3), paper=paper, from_border=True)


# ----------------------------------------------------------------------------- applying

def density_curve(report: FadeReport, c: int, x: np.ndarray) -> np.ndarray:
    """Channel c's density-model inverse at encoded values x (float64 in [0, 1])."""
    gain, paper, paper_to = float(report.density[c]), float(report.paper[c]), float(report.paper_to[c])
    if gain == 1 and paper == paper_to:
        return x
    lin = _decode(x).astype(np.float64)
    lp, lq = (float(_decode(np.array([v], np.float32))[0]) for v in (paper, paper_to))
    below = lin < lp
    out = lin * (lq / max(lp, 1e-9))  # above the paper: the paper's own gain
    out[below] = lq * (lin[below] / lp) ** gain
    return np.clip(_encode(out.astype(np.float32)).astype(np.float64), 0.0, 1.0)


def _level_table(report: FadeReport, c: int, top: float) -> np.ndarray:
    """Channel c's density inverse then levels over every code value, float64 in [0, 1]."""
    return channel_map(report, c, np.arange(int(top) + 1, dtype=np.float64) / top)


def channel_map(report: FadeReport, c: int, x: np.ndarray) -> np.ndarray:
    """What apply_levels does to channel c's encoded values x (float64 in [0, 1]), before
    saturation: the density inverse, then the levels."""
    x = density_curve(report, c, x)
    b, w, g = float(report.black[c]), float(report.white[c]), float(report.gamma[c])
    return np.clip((x - b) / max(w - b, 1e-6), 0.0, 1.0) ** (1.0 / g)


def _saturate(values: np.ndarray, saturation: float) -> np.ndarray:
    """Scale CIELAB chroma at constant L* (float [0, 1] encoded in and out)."""
    lab = _lin_to_lab(_decode(values))
    lab[..., 1:] *= np.float32(saturation)
    return np.clip(_encode(_lab_to_lin(lab)), 0.0, 1.0)


def apply_levels(pixels: np.ndarray, report: FadeReport, progress=None) -> np.ndarray:
    """Per channel c: the density inverse (density_curve), then
    out = clip((x − black[c]) / (white[c] − black[c]), 0, 1) ** (1/gamma[c]),
    then saturation (CIELAB chroma, lightness kept). Same shape and dtype out; the tables
    are computed in float64 for every code value (16-bit included). A one-channel image
    uses channel 0's levels and ignores saturation."""
    shape = pixels.shape
    pixels = _check(pixels)
    if report.is_identity:
        return pixels.reshape(shape).copy()
    top = _top(pixels.dtype)
    channels = pixels.shape[2]
    tables = [_level_table(report, c, top) for c in range(channels)]
    direct = [np.rint(t * top).astype(pixels.dtype) for t in tables]
    out = np.empty_like(pixels)
    h, w = pixels.shape[:2]
    saturate = channels == 3 and report.saturation != 1.0
    rows = max(1, STRIP_PIXELS // max(1, w))
    for y0 in range(0, h, rows):
        if progress is not None:
            progress.check_aborted()
        strip = pixels[y0:y0 + rows]
        if saturate:
            values = np.stack([tables[c][strip[..., c]].astype(np.float32) for c in range(3)], axis=-1)
            values = _saturate(values, report.saturation)
            out[y0:y0 + rows] = np.rint(values * np.float32(top)).astype(pixels.dtype)
        else:
            for c in range(channels):
                out[y0:y0 + rows, :, c] = direct[c][strip[..., c]]
        if progress is not None:
            progress.set(min(h, y0 + rows) / h)
    return out.reshape(shape)


def scale_report(report: FadeReport, options: ColorOptions) -> FadeReport:
    """The report with its correction scaled by the colour stage's strengths."""
    if report.is_identity:
        return report
    lev, wb, con, sat = (float(v) for v in (options.levels, options.white_balance, options.contrast,
                                            options.saturation))
    black, white, lg = np.array(report.black), np.array(report.white), np.log(report.gamma)

    def part(values, neutral, strength):
        common = values.mean()
        return neutral + strength * (common - neutral + wb * (values - common))

    paper = _density(_decode(np.array(report.paper, np.float32)).astype(np.float64))
    shift = paper - _density(_decode(np.array(report.paper_to, np.float32)).astype(np.float64))
    paper_to = _encode((10.0 ** -(paper - part(shift, 0.0, lev))).astype(np.float32))
    return replace(report, black=tuple(float(v) for v in part(black, 0.0, lev)),
                   white=tuple(float(v) for v in part(white, 1.0, lev)),
                   gamma=tuple(float(v) for v in np.exp(part(lg, 0.0, con))),
                   saturation=1.0 + sat * (report.saturation - 1.0),
                   density=tuple(float(v) for v in np.exp(part(np.log(report.density), 0.0, lev))),
                   paper_to=report.paper if lev == 0 else tuple(float(v) for v in np.minimum(paper_to, 1.0)))


def fade_stage(pixels: np.ndarray, options: ColorOptions = ColorOptions(), progress=None,
               report: FadeReport | None = None) -> tuple[np.ndarray, FadeReport]:
    """The restore pipeline's colour stage: measure_fading (unless a report is given),
    scaled by the options' strengths, then apply_levels. Returns the new pixels and what
    was measured; identity on a photo that does not measure faded.

    With keep_monochrome and neutralise_monochrome both off, a monochrome photo is
    measured as a colour one (its channels may then get different black points)."""
    shape = pixels.shape
    pixels = _check(pixels)
    if progress is not None:
        progress.check_aborted()
        progress.set(0.0)
    mono = pixels.shape[2] == 1
    if report is None:
        report, mono = _measure_photo(pixels, options.keep_monochrome or options.neutralise_monochrome,
                                      options.faded_print)
    elif not mono and options.neutralise_monochrome:
        mono = is_monochrome(pixels)[0]
    neutral = float(options.white_balance) if mono and options.neutralise_monochrome and pixels.shape[2] == 3 else 0.0
    sub = progress.sub(0.1, 1.0) if progress is not None and hasattr(progress, "sub") else None
    out = apply_levels(pixels, scale_report(report, options), sub)
    if neutral > 0:
        out = _neutralise(out, neutral)
    if progress is not None:
        progress.set(1.0)
    return out.reshape(shape), report


def correct_color(pixels: np.ndarray, options: ColorOptions = ColorOptions(), progress=None,
                  report: FadeReport | None = None) -> np.ndarray:
    """fade_stage's pixels. pixels: H×W×C (C = 1 or 3) uint8/uint16; returns a new array
    of the same shape and dtype. `progress` (optional) gets .set(fraction) and
    .check_aborted() calls."""
    return fade_stage(pixels, options, progress, report)[0]


def _neutralise(pixels: np.ndarray, strength: float) -> np.ndarray:
    """A toned monochrome photo towards grey at the same luminance."""
    top = _top(pixels.dtype)
    out = np.empty_like(pixels)
    rows = max(1, STRIP_PIXELS // max(1, pixels.shape[1]))
    for y0 in range(0, pixels.shape[0], rows):
        lin = _decode(pixels[y0:y0 + rows].astype(np.float32) / np.float32(top))
        y = (lin @ _LUMA)[..., None]
        lin = lin + np.float32(strength) * (y - lin)
        out[y0:y0 + rows] = np.rint(np.clip(_encode(lin), 0, 1) * np.float32(top)).astype(pixels.dtype)
    return out
