"""Stylize: the 26 built-in styles (and blends), or any picture as the style, at full size.

Both networks normalise over the whole image (instance norm), so tiles would each get their
own statistics and their own look. Instead the network runs once at a working resolution
(a setting; long side 1024 for the built-in styles, 384 — the transformer's native size —
for a style picture), which also fixes the brush-stroke scale relative to the picture, and
the stylisation is carried to full resolution by a guided detail transfer:

    S = up(s) + up(a) · (Y − up(y))

s is the network's output and y the luma of the photo at working size, Y the full-size
luma, up() a bicubic resampling, and a (per output channel) the local linear gain of s on
y — the guided-filter regression (He et al.) over 5×5 windows at working size, then
box-averaged. Where the painting follows an edge of the photo, a carries the photo's
full-resolution edge into it with the painting's contrast; in flat or repainted areas var(y)
is small, a → 0 and the photo's fine texture stays out. The low frequencies are exactly
up(s), so the style at its working scale is unchanged (Lanczos keeps those too but leaves
every edge 3–6 px soft on a 24 MP photo). Every output pixel is a pure function of its
own coordinates, so strips (or the GUI's visible region) equal the whole-image result
exactly: no seams, and memory is one strip of floats beside the input and output.

Strength: for a style picture, an interpolation of the style vector between the photo's own
vector and the picture's (Ghiasi et al.'s control). For built-in styles there is no
"photo's own" point in the 26-row conditional-instance-norm tables: the weights are a
convex combination of trained styles only, and moving the γ/β parameters toward 1/0 gives
an untrained network, not the photo. So strength there is a blend of the stylisation
with the photo, done at full resolution (0 = the photo, 1 = the painting). Strength 0
returns the photo unchanged in both modes.

Keep colours: the painting's CIELAB lightness with the photo's own a*, b* at full
resolution (chroma is not upsampled at all).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Mapping

import cv2
import numpy as np

from photoforge.core.image import ImageData, from_float, to_float
from photoforge.engine.inference import run_once, run_tiled, runner_for
from photoforge.engine.progress import Progress, null_progress
from photoforge.engine.catalog import get_model

NUM_STYLES = 26
MULTISTYLE = "multistyle26"
PREDICT = "arbitrary-style-predict"
TRANSFORM = "arbitrary-style-transform"
BUILTIN_WORK_SIZE = 1024
IMAGE_WORK_SIZE = 384  # the arbitrary transformer's native (trained and shipped) size
STYLE_IMAGE_SIZE = 256  # the style predictor's fixed input
MIN_SIDE = 16
UPSAMPLERS = ("guided", "lanczos")
STRIP_BUDGET = 64 << 20  # bytes of float temporaries per strip
_BYTES_PER_PIXEL = 4 * 24  # float32 × the channels alive at once in _transfer_region

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_RADIUS = 2  # guided regression window at working size: (2r+1)²
_EPS = 1e-3  # regulariser: luma std below ~0.03 counts as flat
_GAIN_LIMIT = 2.0


class StyleError(ValueError):
    """A style that cannot be used (bad index or spec, unusable style picture)."""


def style_names() -> list[str]:
    """Display names of the built-in styles. The network ships without titles, so they are
    numbered in the network's own order ("Style 0" … "Style 25")."""
    return [f"Style {i}" for i in range(NUM_STYLES)]


def _index(text: str, spec: object) -> int:
    match = re.fullmatch(r"(?:style[\s_-]?)?(\d+)", text.strip(), re.IGNORECASE)
    if not match:
        raise StyleError(f"unknown style '{spec}': use an index 0–{NUM_STYLES - 1} (or 'style7'), "
                         f"a blend like 3:0.5,12:0.5, or a picture")
    value = int(match.group(1))
    if not 0 <= value < NUM_STYLES:
        raise StyleError(f"style index {value} is out of range: the built-in styles are 0–{NUM_STYLES - 1}")
    return value


def parse_styles(spec: int | str | Mapping[int, float] | Iterable[tuple[int, float]]
                 ) -> tuple[tuple[int, float], ...]:
    """A built-in style or blend → ((index, weight), …) with the weights summing to 1.

    Accepts 7, "7", "style7", "Style 7", "3:0.5,12:0.5", {3: 0.5, 12: 0.5} or pairs."""
    weights: dict[int, float] = {}
    if isinstance(spec, (int, np.integer)):
        items = [(int(spec), 1.0)]
    elif isinstance(spec, str):
        items = []
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, _, weight = part.rpartition(":") if ":" in part else (part, "", "1")
            try:
                items.append((_index(name, spec), float(weight)))
            except ValueError as error:
                if isinstance(error, StyleError):
                    raise
                raise StyleError(f"bad weight '{weight}' in style '{spec}'") from None
    elif isinstance(spec, Mapping):
        items = list(spec.items())
    else:
        items = list(spec)
    for index, weight in items:
        index = _index(str(index), spec)
        if not weight >= 0 or not np.isfinite(weight):
            raise StyleError(f"style weights must be non-negative numbers, got {weight} in '{spec}'")
        weights[index] = weights.get(index, 0.0) + float(weight)
    total = sum(weights.values())
    if not total > 0:
        raise StyleError(f"style '{spec}' has no positive weight")
    return tuple((i, w / total) for i, w in sorted(weights.items()) if w > 0)


def weight_vector(styles: tuple[tuple[int, float], ...]) -> np.ndarray:
    """The network's 26 style weights for ((index, weight), …), normalised to sum 1."""
    w = np.zeros(NUM_STYLES, np.float32)
    for index, weight in parse_styles(styles):
        w[index] = weight
    return w


def mix_vectors(vectors: Iterable[tuple[np.ndarray | tuple[float, ...], float]]) -> tuple[float, ...]:
    """A weighted blend of style vectors (e.g. two style pictures), weights normalised."""
    pairs = [(np.asarray(v, np.float32).reshape(100), float(w)) for v, w in vectors]
    total = sum(w for _, w in pairs)
    if not pairs or any(w < 0 for _, w in pairs) or not total > 0:
        raise StyleError("style mix weights must be non-negative and not all zero")
    return tuple(float(x) for x in sum(v * (w / total) for v, w in pairs))


@dataclass(frozen=True)
class StylizeOptions:
    """One stylisation. `vector` set = style-picture mode, else the built-in `styles`."""

    styles: tuple[tuple[int, float], ...] = ((0, 1.0),)  # from parse_styles()
    vector: tuple[float, ...] | None = None  # 100 numbers from style_vector()/mix_vectors()
    strength: float = 1.0  # 0 = the photo, 1 = full style (see the module notes)
    keep_colors: bool = False  # painting's lightness, photo's colour
    work_size: int | None = None  # long side the network runs at; None = the mode's default
    upsample: str = "guided"  # "guided" (detail transfer) or "lanczos" (plain, for comparison)
    strip_rows: int | None = None  # rows per full-size strip; None = from a memory budget
    device: str = "auto"
    precision: str = "auto"
    threads: int | None = None

    @property
    def uses_picture(self) -> bool:
        return self.vector is not None


def _runtime(options: StylizeOptions, notify) -> dict:
    return {"device": options.device, "precision": options.precision, "threads": options.threads,
            "notify": notify}


def _rgb(pixels: np.ndarray) -> np.ndarray:
    return np.repeat(pixels, 3, axis=2) if pixels.shape[2] == 1 else pixels


def style_vector(pixels: np.ndarray, options: StylizeOptions = StylizeOptions(),
                 progress: Progress | None = None,
                 notify: Callable[[str], None] | None = None) -> tuple[float, ...]:
    """A picture (H×W×C uint8/uint16) → its 100-number style vector: the centre square,
    resized to the predictor's 256×256 (cache it per picture; it does not depend on the photo)."""
    h, w = pixels.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise StyleError(f"the style picture is too small ({w}×{h}); both sides need {MIN_SIDE} px")
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    square = _rgb(pixels[y:y + side, x:x + side])
    interpolation = cv2.INTER_AREA if side > STYLE_IMAGE_SIZE else cv2.INTER_CUBIC
    small = to_float(cv2.resize(square, (STYLE_IMAGE_SIZE,) * 2, interpolation=interpolation))
    chw = np.clip(small, 0, 1).transpose(2, 0, 1)[None]
    vector = run_once(get_model(PREDICT), chw, progress=progress, **_runtime(options, notify))[0]
    return tuple(float(v) for v in vector)


def work_shape(height: int, width: int, options: StylizeOptions) -> tuple[int, int]:
    """(h, w) the network runs at: the long side at most the working size, never enlarged."""
    size = options.work_size or (IMAGE_WORK_SIZE if options.uses_picture else BUILTIN_WORK_SIZE)
    if size < MIN_SIDE:
        raise StyleError(f"the working size must be at least {MIN_SIDE} px, got {size}")
    if min(height, width) < MIN_SIDE:
        raise StyleError(f"the image is too small to stylize ({width}×{height}); "
                         f"both sides need {MIN_SIDE} px")
    scale = min(1.0, size / max(height, width))
    scale = min(1.0, max(scale, MIN_SIDE / min(height, width)))  # keep thin panoramas usable
    return max(MIN_SIDE, round(height * scale)), max(MIN_SIDE, round(width * scale))


def run_network(small: np.ndarray, options: StylizeOptions, notify=None) -> np.ndarray:
    """H×W×3 float RGB in [0, 1] (working size) → the stylised H×W×3 float in [0, 1]
    (the engine reflect-pads to the networks' multiple of 4, like the reference pipeline)."""
    h, w = small.shape[:2]
    if options.uses_picture and max(h, w) <= IMAGE_WORK_SIZE:
        # Up to its native size the transformer sees what the shipped fixed-shape network
        # (and the reference pipeline) sees: the photo reflect-padded to a 384² square. Its
        # instance norm then has the same statistics (cropping only to ×4 differs by ~0.03).
        small = np.pad(small, ((0, IMAGE_WORK_SIZE - h), (0, IMAGE_WORK_SIZE - w), (0, 0)), mode="reflect")
    if options.uses_picture:
        model, style = get_model(TRANSFORM), np.asarray(options.vector, np.float32)
    else:
        model, style = get_model(MULTISTYLE), weight_vector(options.styles)
    out = run_tiled(model, small, extra=style, **_runtime(options, notify))
    return np.clip(out[:h, :w], 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class Stylized:
    """The working-size result from `prepare`; `finish` renders any region of it at full
    size. Keep it to re-render another region, keep-colours on/off, or (built-in styles)
    another strength without running the network again. A style picture's strength moves
    its style vector, so that needs a new `prepare`."""

    full_shape: tuple[int, int]  # H, W of the photo
    photo_luma: np.ndarray  # h×w float32: the photo's luma at working size
    styled: np.ndarray  # h×w×3 float32: the network's output
    gain: np.ndarray  # h×w×3 float32: local gain of the painting on the photo's luma


def _box(x: np.ndarray, r: int) -> np.ndarray:
    return cv2.blur(x, (2 * r + 1, 2 * r + 1), borderType=cv2.BORDER_REFLECT)


def guided_gain(luma: np.ndarray, styled: np.ndarray, radius: int = _RADIUS, eps: float = _EPS) -> np.ndarray:
    """Per channel of `styled`, the local linear gain a = cov(y, s) / (var(y) + eps) over
    (2r+1)² windows, clamped and box-averaged (guided filter, grey guide)."""
    mean_y = _box(luma, radius)
    var_y = _box(luma * luma, radius) - mean_y * mean_y
    gains = []
    for c in range(styled.shape[2]):
        s = np.ascontiguousarray(styled[:, :, c])
        cov = _box(luma * s, radius) - mean_y * _box(s, radius)
        gains.append(np.clip(cov / (np.maximum(var_y, 0) + eps), -_GAIN_LIMIT, _GAIN_LIMIT))
    return _box(np.dstack(gains).astype(np.float32), radius)


def prepare(pixels: np.ndarray, options: StylizeOptions, progress: Progress | None = None,
            notify: Callable[[str], None] | None = None) -> Stylized:
    """Run the network at working size (the expensive part)."""
    progress = progress or null_progress()
    _check(options)
    h, w = pixels.shape[:2]
    sh, sw = work_shape(h, w, options)
    progress.set(0.0, "loading the style network")
    model_id = TRANSFORM if options.uses_picture else MULTISTYLE
    runner_for(get_model(model_id), progress=progress.sub(0.0, 0.1), **_runtime(options, notify))
    progress.check_aborted()
    small_pixels = pixels if (sh, sw) == (h, w) else cv2.resize(pixels, (sw, sh), interpolation=cv2.INTER_AREA)
    small = to_float(_rgb(small_pixels.reshape(sh, sw, -1)))
    if options.uses_picture:
        if options.strength < 1.0:
            own = np.asarray(style_vector(pixels, options, notify=notify), np.float32)
            target = np.asarray(options.vector, np.float32)
            vector = own + np.float32(options.strength) * (target - own)
            options = _with_vector(options, vector)
    progress.set(0.1, "stylizing")
    styled = run_network(small, options, notify)
    progress.check_aborted()
    luma = small @ _LUMA
    transfer = options.upsample == "guided" and (sh, sw) != (h, w)
    gain = guided_gain(luma, styled) if transfer else np.zeros_like(styled)
    progress.set(1.0)
    return Stylized((h, w), luma, styled, gain)


def _with_vector(options: StylizeOptions, vector: np.ndarray) -> StylizeOptions:
    return replace(options, vector=tuple(float(v) for v in vector))


def _check(options: StylizeOptions) -> None:
    if not 0.0 <= options.strength <= 1.0:
        raise StyleError(f"strength must be between 0 and 1, got {options.strength}")
    if options.upsample not in UPSAMPLERS:
        raise StyleError(f"upsample must be one of {', '.join(UPSAMPLERS)}, not '{options.upsample}'")
    if options.vector is not None and len(options.vector) != 100:
        raise StyleError(f"a style vector has 100 numbers, got {len(options.vector)}")
    if options.vector is None:
        parse_styles(options.styles)


def _maps(full: tuple[int, int], small: tuple[int, int], rows: tuple[int, int], cols: tuple[int, int]):
    """remap() coordinates into the working-size arrays for a full-size region
    (pixel-centre aligned, like cv2.resize)."""
    (H, W), (h, w) = full, small
    ys = (np.arange(*rows, dtype=np.float64) + 0.5) * (h / H) - 0.5
    xs = (np.arange(*cols, dtype=np.float64) + 0.5) * (w / W) - 0.5
    map_x = np.broadcast_to(xs.astype(np.float32)[None, :], (len(ys), len(xs)))
    map_y = np.broadcast_to(ys.astype(np.float32)[:, None], (len(ys), len(xs)))
    return np.ascontiguousarray(map_x), np.ascontiguousarray(map_y)


def _up(values: np.ndarray, maps, interpolation: int) -> np.ndarray:
    out = cv2.remap(values, maps[0], maps[1], interpolation, borderMode=cv2.BORDER_REPLICATE)
    return out if out.ndim == 3 else out[:, :, None]


def _transfer_region(photo: np.ndarray, base: Stylized, options: StylizeOptions,
                     rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
    """Full-size float RGB of the stylisation for one region; `photo` is that region's
    float pixels (H×W×C)."""
    small = base.styled.shape[:2]
    if small == base.full_shape:
        return base.styled[rows[0]:rows[1], cols[0]:cols[1]].copy()
    maps = _maps(base.full_shape, small, rows, cols)
    if options.upsample == "lanczos":
        return np.clip(_up(base.styled, maps, cv2.INTER_LANCZOS4), 0, 1)
    stacked = np.dstack([base.styled, base.photo_luma])  # one bicubic pass for s and y
    up = _up(stacked, maps, cv2.INTER_CUBIC)
    luma = photo[:, :, 0] if photo.shape[2] == 1 else photo @ _LUMA
    detail = luma - up[:, :, 3]
    out = up[:, :, :3]
    out += _up(base.gain, maps, cv2.INTER_LINEAR) * detail[:, :, None]
    return np.clip(out, 0.0, 1.0, out=out)


def _keep_colors(styled: np.ndarray, photo: np.ndarray) -> np.ndarray:
    """The painting's L* with the photo's a*, b* (sRGB, D65)."""
    lab = cv2.cvtColor(styled, cv2.COLOR_RGB2Lab)
    lab[:, :, 1:] = cv2.cvtColor(np.ascontiguousarray(photo), cv2.COLOR_RGB2Lab)[:, :, 1:]
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), 0.0, 1.0)


def strip_rows_for(width: int, options: StylizeOptions) -> int:
    if options.strip_rows:
        return max(1, int(options.strip_rows))
    return max(16, STRIP_BUDGET // (_BYTES_PER_PIXEL * max(1, width)))


def finish(pixels: np.ndarray, base: Stylized, options: StylizeOptions,
           region: tuple[int, int, int, int] | None = None, progress: Progress | None = None) -> np.ndarray:
    """Full-size result (same dtype and channels as `pixels`) for region (y0, y1, x0, x1)
    of the photo, or all of it; processed in strips, each a pure function of its pixels."""
    progress = progress or null_progress()
    H, W = base.full_shape
    y0, y1, x0, x1 = region or (0, H, 0, W)
    if pixels.shape[:2] != base.full_shape:
        raise ValueError("pixels do not match the prepared stylisation's size")
    channels = pixels.shape[2]
    out = np.empty((y1 - y0, x1 - x0, channels), pixels.dtype)
    step = strip_rows_for(x1 - x0, options)
    strength = np.float32(1.0 if options.uses_picture else options.strength)
    for top in range(y0, y1, step):
        progress.check_aborted()
        bottom = min(y1, top + step)
        photo = to_float(pixels[top:bottom, x0:x1])
        styled = _transfer_region(photo, base, options, (top, bottom), (x0, x1))
        if channels == 1:
            styled = (styled @ _LUMA)[:, :, None]
        elif options.keep_colors:
            styled = _keep_colors(styled, photo)
        if strength < 1.0:
            styled = photo + strength * (styled - photo)
        out[top - y0:bottom - y0] = from_float(styled, pixels.dtype)
        progress.set((bottom - y0) / max(1, y1 - y0))
    progress.check_aborted()
    return out


def stylize_pixels(pixels: np.ndarray, options: StylizeOptions = StylizeOptions(),
                   progress: Progress | None = None,
                   notify: Callable[[str], None] | None = None) -> np.ndarray:
    """H×W×C (C = 1 or 3, uint8/uint16) → the stylised pixels, same shape and dtype."""
    progress = progress or null_progress()
    _check(options)
    if options.strength == 0.0:
        progress.set(1.0)
        return pixels
    base = prepare(pixels, options, progress.sub(0.0, 0.6), notify)
    out = finish(pixels, base, options, progress=progress.sub(0.6, 1.0))
    progress.set(1.0)
    return out


def stylize(image: ImageData, options: StylizeOptions = StylizeOptions(),
            progress: Progress | None = None, notify: Callable[[str], None] | None = None) -> ImageData:
    """Stylize the colour (or grey) pixels; alpha and metadata pass through untouched."""
    return image.with_pixels(stylize_pixels(image.pixels, options, progress, notify), image.alpha)


def style_thumbnails(pixels: np.ndarray, size: int = 160, options: StylizeOptions = StylizeOptions(),
                     progress: Progress | None = None,
                     notify: Callable[[str], None] | None = None) -> list[np.ndarray]:
    """The photo shrunk to `size` on its long side, painted in each of the 26 styles
    (for a style gallery); uint8 RGB arrays in style order."""
    progress = progress or null_progress()
    h, w = pixels.shape[:2]
    scale = min(1.0, size / max(h, w))
    small = cv2.resize(pixels, (max(MIN_SIDE, round(w * scale)), max(MIN_SIDE, round(h * scale))),
                       interpolation=cv2.INTER_AREA)
    rgb = to_float(_rgb(small.reshape(small.shape[0], small.shape[1], -1)))
    thumbs = []
    for i in range(NUM_STYLES):
        progress.check_aborted()
        out = run_network(rgb, replace(options, styles=((i, 1.0),), vector=None), notify)
        thumbs.append(from_float(out, np.uint8))
        progress.set((i + 1) / NUM_STYLES)
    return thumbs
