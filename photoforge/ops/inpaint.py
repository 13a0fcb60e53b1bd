"""Inpainting: quick heal for thin defects, content-aware fill for areas, added ONNX models.

Every connected part of the mask is handled on its own crop, with context proportional to
its size, so a small mask on a 100 MP scan costs what a small image costs. Fill and added
models see a binary mask dilated a little, and their result is colour-matched to the
surroundings on that ring; quick heal sees the marks as painted. Every result is composited
with the user's soft mask, so pixels the mask does not touch are bit-identical to the input.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import cv2
import numpy as np

from photoforge.core.image import ImageData, from_float, to_float
from photoforge.engine.progress import Progress, null_progress

THIN_WIDTH = 10.0  # marks up to this wide (px) get quick heal
THICK_SHARE = 0.3  # a mask with no thin marks left: a component goes to the fill when this share
# of it is wider (bench_inpaint sorts its masks by the same rule)
LEARNED_MAX_SIDE = 1024  # larger crops are scaled down for an added network
_METHODS = ("auto", "quick", "fill")


class MaskProblem(ValueError):
    """The mask cannot be used (empty, wrong size)."""


@dataclass(frozen=True)
class InpaintOptions:
    method: str = "auto"  # auto | quick | fill | an added model's id
    dilate: int = 2  # px the engines' binary mask is grown by
    device: str = "auto"
    seed: int = 0


@dataclass(frozen=True)
class Component:
    y0: int
    y1: int
    x0: int
    x1: int
    width: float  # stroke width in px (2 × the largest inscribed radius)
    thick: float = 0.0  # share of its marks in parts wider than THIN_WIDTH


_THICK_SE = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (int(THIN_WIDTH) + 1,) * 2)
_RIM_SE = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))


def components(binary: np.ndarray, core: np.ndarray | None = None) -> list[Component]:
    """Connected parts of `binary`; their stroke width is measured on `core` (the user's
    own marks) where given, so the engines' dilation does not make a scratch look wide."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
    found = []
    for i in range(1, count):
        x, y, w, h, _area = stats[i]
        own = labels[y:y + h, x:x + w] == i
        if core is not None:
            own &= core[y:y + h, x:x + w]
        marks = np.pad(own.astype(np.uint8), 1)
        inner = cv2.distanceTransform(marks, cv2.DIST_L2, 3)
        # The parts an opening by a disc wider than THIN_WIDTH keeps: where two scratches
        # cross or a speck sits on one, the largest inscribed circle is wide, but that
        # is a few pixels of a long thin mark, and a thin mark wants quick heal.
        thick = cv2.morphologyEx(marks, cv2.MORPH_OPEN, _THICK_SE).sum() / max(1, marks.sum())
        found.append(Component(int(y), int(y + h), int(x), int(x + w), 2.0 * float(inner.max()), float(thick)))
    return found


def _wide_marks(user: np.ndarray) -> np.ndarray:
    """The marks in parts wider than THIN_WIDTH, with their ragged rims (the opening rounds
    them off): what the fill is for. A crack network that runs into a flake is otherwise one
    component, and either the flake is smeared by quick heal or every crack is filled with
    copied patches on a grown mask (bench: training/runs/silvering/repair_compare.py)."""
    core = cv2.morphologyEx(user.astype(np.uint8), cv2.MORPH_OPEN, _THICK_SE)
    return (cv2.dilate(core, _RIM_SE) > 0) & user


def _fill_then_heal(image: ImageData, mask: np.ndarray, user: np.ndarray, wide: np.ndarray, options: InpaintOptions,
                    progress: Progress, sample, exclude) -> ImageData:
    """Fill the wide marks, never copying from the thin ones, then heal the thin marks from
    the filled photo."""
    thin = user & ~wide
    share = float(wide.sum()) / float(wide.sum() + thin.sum())
    no_source = thin if exclude is None else thin | (np.asarray(exclude) != 0)
    filled = inpaint(image, np.where(wide, mask, 0).astype(mask.dtype), replace(options, method="fill"),
                     progress.sub(0.0, share), sample=sample, exclude=no_source)
    return inpaint(filled, np.where(thin, mask, 0).astype(mask.dtype), replace(options, method="quick"),
                   progress.sub(share, 1.0))


def _context(c: Component, method: str) -> int:
    size = max(c.y1 - c.y0, c.x1 - c.x0)
    if method == "quick":
        return int(3 * c.width) + 8
    return max(24, int(0.6 * size))


def _quick(work: np.ndarray, hole: np.ndarray, width: float) -> np.ndarray:
    """OpenCV Telea, radius from the stroke width, per channel in 16 bit (its only float-free
    path for more than 8 bits). A small radius keeps thin repairs sharp (bench_inpaint)."""
    radius = max(3.0, min(8.0, width / 2))
    hole8 = hole.astype(np.uint8)
    out = np.empty_like(work)
    if work.shape[2] == 3:
        rgb8 = from_float(work[..., :3], np.uint8)
        if np.array_equal(rgb8.astype(np.float32) / 255, work[..., :3]):  # really 8-bit data
            out[..., :3] = to_float(cv2.inpaint(rgb8, hole8, radius, cv2.INPAINT_TELEA))
            return out
    for c in range(work.shape[2]):
        chan = from_float(work[..., c], np.uint16)
        out[..., c] = to_float(cv2.inpaint(chan, hole8, radius, cv2.INPAINT_TELEA))
    return out


def _smooth(plane: np.ndarray, sigma: float) -> np.ndarray:
    """A Gaussian blur whose cost does not grow with sigma. OpenCV convolves with the whole
    kernel (about 6 sigma taps per pixel), and a crop of a wide hole asks for sigma in the
    hundreds: 3 s per blur at 2 MP. The blurred field is smooth at that scale, so it is
    computed on a grid an eighth of sigma apart and interpolated back."""
    step = int(sigma // 8)
    if step < 2:
        return cv2.GaussianBlur(plane, (0, 0), sigma)
    h, w = plane.shape
    small = cv2.resize(plane, (-(-w // step), -(-h // step)), interpolation=cv2.INTER_AREA)
    # Mirrored about the grid cells' outer edge, which is the image's edge (REFLECT_101 would
    # mirror about the first cell's centre, half a cell inside).
    small = cv2.GaussianBlur(small, (0, 0), sigma / step, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _match_seam(original: np.ndarray, result: np.ndarray, hole: np.ndarray, user: np.ndarray,
                size: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """Shift the fill so it agrees with the original on the ring the engine replaced but the
    user did not mark, leaving out `exclude` (its colour must not leak in either); the offset
    is spread smoothly over the hole (normalised convolution)."""
    ring = hole & ~user if exclude is None else hole & ~user & ~exclude
    ring = ring.astype(np.float32)
    if ring.sum() < 4:
        return result
    sigma = max(3.0, size / 4)
    den = _smooth(ring, sigma)
    out = result.copy()
    for c in range(result.shape[2]):
        num = _smooth((original[..., c] - result[..., c]) * ring, sigma)
        shift = np.where(den > 1e-4, num / np.maximum(den, 1e-4), 0.0)
        out[..., c] = np.where(hole, result[..., c] + shift, result[..., c])
    return np.clip(out, 0.0, 1.0)


def _learned(model_id: str, device: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    from photoforge.engine.adapters import Kind
    from photoforge.engine.inference import run_tiled, runner_for
    from photoforge.engine.catalog import get_model

    model = get_model(model_id)
    if model.kind is not Kind.IMAGE_MASK:
        raise MaskProblem(f"'{model_id}' is a {model.task} model, not an inpainting one")
    runner_for(model, device=device, precision="fp32")  # a missing or changed file fails before any work

    def run(work: np.ndarray, hole: np.ndarray) -> np.ndarray:
        h, w = hole.shape
        rgb, m = np.clip(work[..., :3], 0, 1), hole.astype(np.uint8)
        # Resize only when the network needs it: a fixed input size, or a crop too big to run.
        size = model.working_size or (LEARNED_MAX_SIDE if max(h, w) > LEARNED_MAX_SIDE else 0)
        if size:
            rgb = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA if size < max(h, w) else cv2.INTER_CUBIC)
            m = cv2.resize(m, (size, size), interpolation=cv2.INTER_NEAREST)
        else:  # pad here, not in the engine: the padding is no hole (the engine would mirror the mask)
            k = model.size_multiple
            ph, pw = (-h) % k, (-w) % k
            rgb = np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode="reflect" if min(h, w) > k else "edge")
            m = np.pad(m, ((0, ph), (0, pw)))
        out = run_tiled(model, rgb, extra=m, device=device, precision="fp32")
        out = cv2.resize(out, (w, h), interpolation=cv2.INTER_CUBIC) if size else out[:h, :w]
        filled = work.copy()
        filled[..., :3] = np.clip(out, 0, 1)
        return filled

    return run


def check_masks(shape: tuple[int, int], mask: np.ndarray, sample: np.ndarray | None = None,
                exclude: np.ndarray | None = None) -> None:
    """Raise MaskProblem, before any work, for masks no method can use: of another size,
    empty, over the whole photo, or a sampling area with nothing left in it."""
    h, w = shape
    for name, m in (("mask", mask), ("sampling area", sample), ("exclude mask", exclude)):
        if m is not None and m.shape != (h, w):
            raise MaskProblem(f"the {name} is {m.shape[1]}×{m.shape[0]} but the image is {w}×{h}"
                              if m.ndim == 2 else f"the {name} must be H×W, not {m.shape}")
    user = mask > 0
    if not user.any():
        raise MaskProblem("the mask is empty: paint over what should be removed first")
    if user.all():  # every method rebuilds from pixels it can see; a fallback would invent a photo
        raise MaskProblem("the mask covers the whole photo, so nothing is left to fill it from: "
                          "erase the mask over what should stay")
    if sample is not None:
        usable = (sample != 0) & ~user if exclude is None else (sample != 0) & ~user & (exclude == 0)
        if not usable.any():
            raise MaskProblem("the sampling area is empty: it must cover pixels outside the mask "
                              "and the excluded area")


def inpaint(image: ImageData, mask: np.ndarray, options: InpaintOptions = InpaintOptions(),
            progress: Progress | None = None, *, sample: np.ndarray | None = None,
            exclude: np.ndarray | None = None) -> ImageData:
    """Fill what `mask` (H×W uint8, soft, non-zero = fill) covers.

    The content-aware fill (method "fill", and "auto" on areas) takes its sources from
    `sample` (H×W, non-zero = may be copied), Photoshop's sampling area, when given, and
    otherwise from an area around each part of the mask that grows only as far as the
    texture needs; never from `exclude` (H×W, non-zero = never copied nor matched against).
    Quick heal and added models do not use them."""
    progress = progress or null_progress()
    check_masks(image.pixels.shape[:2], mask, sample, exclude)
    user = mask > 0
    if options.method == "auto":
        wide = _wide_marks(user)
        if wide.any() and (user & ~wide).any():
            return _fill_then_heal(image, mask, user, wide, options, progress, sample, exclude)
    exclude = None if exclude is None else np.asarray(exclude) != 0
    sample = None if sample is None else np.asarray(sample) != 0
    sample_box = None
    if sample is not None:
        ys, xs = np.nonzero(sample)
        sample_box = (int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1)
    if options.method not in _METHODS:
        learned = _learned(options.method, options.device)
    dilated = cv2.dilate(user.astype(np.uint8), cv2.getStructuringElement(
        cv2.MORPH_ELLIPSE, (2 * options.dilate + 1,) * 2)) > 0 if options.dilate else user
    parts = components(dilated, core=user)
    pixels = image.pixels.copy()
    alpha = None if image.alpha is None else image.alpha.copy()
    height, width = user.shape
    total = sum((c.y1 - c.y0) * (c.x1 - c.x0) for c in parts)
    done = 0
    for part in parts:
        area = (part.y1 - part.y0) * (part.x1 - part.x0)
        sub = progress.sub(done / total, (done + area) / total)
        progress.check_aborted()
        method = options.method
        if method == "auto":
            method = "fill" if part.thick >= THICK_SHARE else "quick"
        pad = _context(part, method)
        y0, y1 = max(0, part.y0 - pad), min(height, part.y1 + pad)
        x0, x1 = max(0, part.x0 - pad), min(width, part.x1 + pad)
        if method == "fill" and sample_box is not None:  # the crop holds the sampling area
            y0, y1 = min(y0, sample_box[0]), max(y1, sample_box[1])
            x0, x1 = min(x0, sample_box[2]), max(x1, sample_box[3])
        hole = dilated[y0:y1, x0:x1].copy()
        # Only this component: other components inside the crop are not sources either.
        own = np.zeros_like(hole)
        own[part.y0 - y0:part.y1 - y0, part.x0 - x0:part.x1 - x0] = hole[part.y0 - y0:part.y1 - y0,
                                                                             part.x0 - x0:part.x1 - x0]
        others = hole & ~own
        if method == "quick":
            # Telea continues the boundary itself: it gets the marks as painted, since every
            # pixel hidden from it only makes the interpolation longer (about 3 dB on scratches).
            mine = user[y0:y1, x0:x1]
            own, others = own & mine, others & mine
        layers = [to_float(pixels[y0:y1, x0:x1])]
        if alpha is not None:
            layers.append(to_float(alpha[y0:y1, x0:x1])[..., None])
        work = np.concatenate(layers, axis=2)
        if method == "quick":
            result = _quick(work, own | others, part.width)
        elif method == "fill":
            from photoforge.ops.patchmatch import fill  # its compiled kernels load only when used

            no_source = others if exclude is None else others | (exclude[y0:y1, x0:x1] & ~own)
            try:
                result = fill(work, own, exclude=no_source, seed=options.seed, progress=sub,
                              sample=None if sample is None else sample[y0:y1, x0:x1])
            except ValueError as error:  # all of it within the grown mask of this part or another
                if "sampling area" in str(error):
                    raise MaskProblem("the sampling area is empty: it must cover pixels outside the mask "
                                      "(grown by the fill's margin) and the excluded area") from None
                if "nothing outside the hole" in str(error):
                    raise MaskProblem("the mask, grown by the fill's margin, and the exclude area leave "
                                      "nothing of the photo to fill from: erase the mask over what "
                                      "should stay") from None
                raise
        else:
            result = learned(work, own)
        result = _match_seam(work, result, own, user[y0:y1, x0:x1], max(y1 - y0, x1 - x0),
                             None if exclude is None or method != "fill" else exclude[y0:y1, x0:x1])
        a = (mask[y0:y1, x0:x1].astype(np.float32) / 255.0)[..., None] * own[..., None]
        mixed = work * (1 - a) + result * a
        touched = a[..., 0] > 0
        channels = pixels.shape[2]
        region = pixels[y0:y1, x0:x1]
        region[touched] = from_float(mixed[..., :channels], pixels.dtype)[touched]
        if alpha is not None:
            alpha[y0:y1, x0:x1][touched] = from_float(mixed[..., channels], alpha.dtype)[touched]
        done += area
        sub.set(1.0)
    progress.set(1.0)
    return image.with_pixels(pixels, alpha)
