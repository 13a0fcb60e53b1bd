"""The open photo: its image, the user's mask, its file and its undo history.

Images are immutable snapshots: every change installs a new ImageData whose arrays are
read-only, so a worker still reading the previous image never sees it half-changed and
History can keep the arrays without copying them. The mask, by contrast, is edited in
place, because a brush dab must cost its own area and not a copy of the whole mask; a
worker that needs the mask takes `doc.mask.copy()`. So are the content-aware fill's
sampling and exclude areas (history.AREAS), masks of their own that the same brush paints;
each is allocated when first painted, since most photos never use them.
"""
from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from .history import AREAS, History, Patch, PatchStep, ReplaceStep, State
from .image import ImageData
from .imageio import DEFAULT_MAX_PIXELS, ImageSaveError, load_image, save_image
from .infrared import Infrared, InfraredError, check_size, find_infrared, from_levels, to_levels

Rect = tuple[int, int, int, int]  # (y0, y1, x0, x1), end-exclusive, in image pixels
META_FIELDS = ("icc_profile", "exif", "xmp", "source_format")
TILE = 64  # the unit in which a stroke saves what it is about to paint over


def _frozen(array: np.ndarray | None) -> np.ndarray | None:
    if array is not None:
        array.flags.writeable = False
    return array


def _frozen_copy(array: np.ndarray) -> np.ndarray:
    return _frozen(np.array(array, copy=True))


def changed_box(a: np.ndarray, b: np.ndarray) -> Rect | None:
    """Bounding box of the pixels where `a` and `b` differ, or None if they are equal."""
    diff = a != b
    if diff.ndim == 3:
        diff = diff.any(axis=2)
    rows = np.flatnonzero(diff.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(diff[rows[0]:rows[-1] + 1].any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def _diff_patch(target: str, before: np.ndarray, after: np.ndarray, y0: int = 0,
                x0: int = 0) -> Patch | None:
    box = changed_box(before, after)
    if box is None:
        return None
    by0, by1, bx0, bx1 = box
    # copies: a view would keep the whole full-size array alive in History
    return Patch(target, y0 + by0, x0 + bx0, _frozen_copy(before[by0:by1, bx0:bx1]),
                 _frozen_copy(after[by0:by1, bx0:bx1]))


def _patch_rect(patch: Patch) -> Rect:
    h, w = patch.before.shape[:2]
    return patch.y0, patch.y0 + h, patch.x0, patch.x0 + w


def _patched(image: ImageData, patches: list[tuple[str, int, int, np.ndarray]]) -> ImageData:
    """`image` with image/alpha patches written into copies of its arrays."""
    fresh = {}
    for target, y0, x0, data in patches:
        if target not in fresh:
            fresh[target] = np.array(image.pixels if target == "image" else image.alpha)
        fresh[target][y0:y0 + data.shape[0], x0:x0 + data.shape[1]] = data
    if not fresh:
        return image
    return replace(image, notices=[], pixels=fresh.get("image", image.pixels),
                   alpha=fresh.get("alpha", image.alpha))


def union(a: Rect | None, b: Rect | None) -> Rect | None:
    if a is None or b is None:
        return b if a is None else a
    return min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])


def resize_nearest(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """Nearest-neighbour resize by sampling at target pixel centres (no cv2 in core)."""
    if not mask.any():  # the common case after an upscale: nothing to carry over
        return np.zeros((height, width), mask.dtype)
    h, w = mask.shape
    ys = np.minimum(((np.arange(height) + 0.5) * (h / height)).astype(np.intp), h - 1)
    xs = np.minimum(((np.arange(width) + 0.5) * (w / width)).astype(np.intp), w - 1)
    return np.take(np.take(mask, ys, axis=0), xs, axis=1)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def safe_file_name(name: object) -> str | None:
    """The last component of a path read from a file (a project's note of where its photo
    came from), fit for a title or a default file name; None if there is nothing usable."""
    if not isinstance(name, str) or "\0" in name:
        return None
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if name in ("", ".", "..") or any(ord(c) < 32 for c in name):
        return None
    return name[:255]


IMAGE = frozenset(("image",))
KEEP = object()  # apply_image: the infrared stays as it is (unless the size changes)
LAYERS = ("mask", *AREAS)  # the H×W uint8 layers a brush paints
# What a stroke on each layer is called in the history: (painting, erasing).
STROKE_LABELS = {"mask": ("Brush", "Eraser"), "sample": ("Paint sampling area", "Erase sampling area"),
                 "exclude": ("Paint exclude area", "Erase exclude area")}


class Document:
    """Call from one thread (the GUI's). `on_change` listeners get the changed Rect (or
    None when everything, or the size, changed) and which layers changed, so a brush dab
    does not make the view redraw the photo under it."""

    def __init__(self, image: ImageData, path: str | os.PathLike[str] | None = None,
                 history: History | None = None, *, source_name: str | None = None,
                 project_path: str | os.PathLike[str] | None = None) -> None:
        self.image = self._own(image)
        self.mask = np.zeros((image.height, image.width), np.uint8)
        self.areas: dict[str, np.ndarray | None] = dict.fromkeys(AREAS)  # None until painted
        # The image file the user opened in this session: never replaced unless they ask.
        # A document read from a project or a recovered session has none, because a path
        # read from a file is only a hint (see display_name).
        self.path = Path(path) if path is not None else None
        self.source_name = safe_file_name(source_name) or (self.path.name if self.path else None)
        # The project file this document is saved in: Save writes there.
        self.project_path = Path(project_path) if project_path is not None else None
        self.history = history if history is not None else History()
        self.revision = 0
        self.on_change: list[Callable[[Rect | None, frozenset[str]], None]] = []
        self._stroke: Stroke | None = None
        # The scanner's infrared (dust) channel, H×W uint16 lined up with the pixels: part
        # of the document's state, so that rotating, flipping, cropping and straightening
        # move it with the photo and undo puts it back (see apply_image). Where it came from
        # stays known when a step drops it (an upscale), for undo to bring it back.
        self.infrared_levels: np.ndarray | None = None
        self.infrared_source: str | None = None
        self._infrared_cache: tuple[np.ndarray, Infrared] | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str], max_pixels: int = DEFAULT_MAX_PIXELS,
             history: History | None = None) -> "Document":
        doc = cls(load_image(path, max_pixels), path, history)
        try:
            found = find_infrared(path)
            if found is not None:
                check_size(found, doc.image.pixels.shape[:2], str(path))
            doc.infrared = found
        except InfraredError as error:  # the photo opens anyway; the user hears why IR is off
            doc.image.notices.append(str(error))
        return doc

    @property
    def infrared(self) -> Infrared | None:
        """The infrared as the dust finder takes it (float32 0–1), or None."""
        levels = self.infrared_levels
        if levels is None:
            return None
        if self._infrared_cache is None or self._infrared_cache[0] is not levels:
            self._infrared_cache = levels, Infrared(from_levels(levels), self.infrared_source or "the scan")
        return self._infrared_cache[1]

    @infrared.setter
    def infrared(self, found: Infrared | None) -> None:
        """Set the scan's infrared (outside the history: it is what the scan came with)."""
        if found is not None and found.values.shape != self.mask.shape:
            raise ValueError(f"the infrared channel is {found.values.shape[1]}×{found.values.shape[0]}, "
                             f"the image {self.width}×{self.height}")
        self.infrared_levels = None if found is None else _frozen_copy(to_levels(found.values))
        if found is not None:
            self.infrared_source = found.source

    @property
    def height(self) -> int:
        return self.image.height

    @property
    def width(self) -> int:
        return self.image.width

    def layer(self, name: str) -> np.ndarray:
        """The live array of "mask" or one of AREAS (an area is allocated, empty, on first use)."""
        if name == "mask":
            return self.mask
        if name not in AREAS:
            raise ValueError(f"no layer {name!r}; the layers are {LAYERS}")
        if self.areas[name] is None:
            self.areas[name] = np.zeros_like(self.mask)
        return self.areas[name]

    def painted_areas(self) -> dict[str, np.ndarray]:
        """The areas holding any paint (live arrays: a worker takes copies)."""
        return {name: a for name, a in self.areas.items() if a is not None and a.any()}

    @property
    def is_modified(self) -> bool:
        """Changed since it was last saved to a project or exported."""
        return not self.history.is_clean

    @property
    def display_name(self) -> str:
        return self.source_name or "Untitled"

    def is_original(self, path: str | os.PathLike[str]) -> bool:
        """Whether `path` is the image file this document was opened from."""
        return self.path is not None and _same_file(self.path, Path(path))

    def export(self, path: str | os.PathLike[str], *, format: str | None = None,
               quality: int = 95, overwrite: bool = False, keep_metadata: bool = True,
               replace_original: bool = False, image: ImageData | None = None) -> list[str]:
        """Write the image (or `image`, e.g. a converted copy of it) to `path` and return
        notices about what the format could not hold. The original file is refused unless
        `replace_original`, whatever `overwrite` says: replacing a scan takes its own
        decision. The work counts as saved afterwards (the history is marked clean)."""
        self.finish_stroke()
        target = Path(path)
        if self.is_original(target) and not replace_original:
            raise ImageSaveError(f"cannot save '{target}': it is the original image this photo was "
                                 "opened from; export to another file, or confirm replacing it")
        image = replace(image if image is not None else self.image, notices=[])  # this save's only
        save_image(image, target, format=format, quality=quality,
                   overwrite=overwrite or replace_original, keep_metadata=keep_metadata)
        self.history.mark_clean()
        return image.notices

    # ------------------------------------------------------------ whole-image changes
    def apply_image(self, new: ImageData, label: str, new_mask: np.ndarray | None = None,
                    new_areas: dict[str, np.ndarray | None] | None = None,
                    new_infrared: np.ndarray | None | object = KEEP) -> bool:
        """Install an op's result as one undo step; False if it changed nothing. The
        document takes ownership: `new`'s arrays become read-only. `new_mask` (the new
        image's size) changes the mask in the same step, e.g. clearing it after an inpaint,
        or turning it with the photo; without it a resized photo's mask is scaled along.
        `new_areas` does the same for the areas (every one of AREAS, None = empty), e.g.
        turning them with the photo. `new_infrared` (H×W uint16 of the new size, or None to
        drop it) moves the infrared in the same step; left out, the infrared stays where the
        size stays and is dropped where it changes (an upscale: it would not line up)."""
        self.finish_stroke()
        if new_mask is not None and new_mask.shape != new.pixels.shape[:2]:
            raise ValueError("new_mask must have the new image's size")
        if new_areas is not None:
            if set(new_areas) != set(AREAS) or any(a is not None and a.shape != new.pixels.shape[:2]
                                                   for a in new_areas.values()):
                raise ValueError(f"new_areas must give each of {AREAS}, None or of the new image's size")
            new_areas = {n: None if a is None or not a.any() else np.asarray(a, np.uint8)
                         for n, a in new_areas.items()}
        old, new = self.image, self._own(new)
        infrared_before = self.infrared_levels
        if new_infrared is KEEP:
            new_infrared = infrared_before if new.pixels.shape[:2] == old.pixels.shape[:2] else None
        elif new_infrared is not None:
            if new_infrared.shape != new.pixels.shape[:2] or new_infrared.dtype != np.uint16:
                raise ValueError("new_infrared must be uint16 of the new image's size")
            new_infrared = _frozen_copy(new_infrared) if new_infrared.flags.writeable else new_infrared
        same_infrared = new_infrared is infrared_before or (
            new_infrared is not None and infrared_before is not None
            and new_infrared.shape == infrared_before.shape and np.array_equal(new_infrared, infrared_before))
        new_infrared = infrared_before if same_infrared else new_infrared
        same_layout = (same_infrared and old.pixels.shape == new.pixels.shape and old.pixels.dtype == new.pixels.dtype
                       and (old.alpha is None) == (new.alpha is None)
                       and (old.alpha is None or old.alpha.dtype == new.alpha.dtype)
                       and all(getattr(old, f) == getattr(new, f) for f in META_FIELDS))
        if same_layout:
            new_layers = {} if new_mask is None else {"mask": new_mask}
            for name, area in (new_areas or {}).items():
                if area is not None or self.areas[name] is not None:
                    new_layers[name] = np.zeros_like(self.mask) if area is None else area
            patches = [p for p in (_diff_patch("image", old.pixels, new.pixels), old.alpha is not None
                                   and _diff_patch("alpha", old.alpha, new.alpha),
                                   *(_diff_patch(n, self.layer(n), a) for n, a in new_layers.items())) if p]
            if not patches:
                return False
            self.image = new
            for p in patches:
                if p.target in LAYERS:
                    self.layer(p.target)[p.y0:p.y0 + p.after.shape[0], p.x0:p.x0 + p.after.shape[1]] = p.after
            self.history.push(PatchStep(label, patches))
            self._changed(functools.reduce(union, map(_patch_rect, patches)),
                          frozenset(("image", *new_layers)))
            return True
        if new_mask is not None:
            mask_before, self.mask = _frozen(self.mask), np.array(new_mask, np.uint8)
            mask_after = _frozen_copy(self.mask)
        elif new.pixels.shape[:2] == old.pixels.shape[:2]:
            mask_before = mask_after = _frozen_copy(self.mask)
        else:  # keep the user's mask, scaled with the image
            mask_before, self.mask = _frozen(self.mask), resize_nearest(self.mask, new.height, new.width)
            mask_after = _frozen_copy(self.mask)
        areas_before = {n: _frozen_copy(a) for n, a in self.painted_areas().items()}
        if new_areas is None:
            same_size = new.pixels.shape[:2] == old.pixels.shape[:2]
            new_areas = {n: areas_before.get(n) if same_size else None if n not in areas_before
                         else resize_nearest(areas_before[n], new.height, new.width) for n in AREAS}
        self.areas = {n: None if a is None else np.array(a) for n, a in new_areas.items()}
        areas_after = {n: _frozen_copy(a) for n, a in self.painted_areas().items()}
        self.image, self.infrared_levels = new, new_infrared
        self.history.push(ReplaceStep(label, State(old.pixels, old.alpha, mask_before, self._meta(old), areas_before,
                                                   infrared_before),
                                      State(new.pixels, new.alpha, mask_after, self._meta(new), areas_after,
                                            new_infrared)))
        self._changed(None)
        return True

    def apply_mask(self, new_mask: np.ndarray, label: str, layer: str = "mask") -> bool:
        """Install a whole-mask command's result (on the mask, or on one of AREAS, e.g.
        clearing it) as one step; False if nothing changed."""
        self.finish_stroke()
        if new_mask.shape != self.mask.shape or new_mask.dtype != np.uint8:
            raise ValueError(f"the mask must be {self.mask.shape} uint8, not "
                             f"{new_mask.shape} {new_mask.dtype}")
        if layer != "mask" and self.areas.get(layer, 0) is None and not new_mask.any():
            return False  # clearing an area never painted
        target = self.layer(layer)
        patch = _diff_patch(layer, target, new_mask)
        if patch is None:
            return False
        y0, y1, x0, x1 = rect = _patch_rect(patch)
        target[y0:y1, x0:x1] = patch.after
        self.history.push(PatchStep(label, [patch]))
        self._changed(rect, frozenset((layer,)))
        return True

    def apply_region(self, y0: int, x0: int, pixels: np.ndarray, label: str) -> bool:
        """Install new image pixels for one region (a retouching stroke) as one step whose
        patch is that region's changed box; False if nothing changed."""
        self.finish_stroke()
        h, w = pixels.shape[:2]
        old = self.image.pixels
        if pixels.dtype != old.dtype or pixels.shape[2:] != old.shape[2:] or y0 < 0 or x0 < 0 \
                or y0 + h > old.shape[0] or x0 + w > old.shape[1]:
            raise ValueError(f"a {pixels.shape} {pixels.dtype} region at ({y0}, {x0}) does not fit "
                             f"the {old.shape} {old.dtype} image")
        patch = _diff_patch("image", old[y0:y0 + h, x0:x0 + w], pixels, y0, x0)
        if patch is None:
            return False
        self.image = self._own(_patched(self.image, [("image", patch.y0, patch.x0, patch.after)]))
        self.history.push(PatchStep(label, [patch]))
        self._changed(_patch_rect(patch), IMAGE)
        return True

    # ------------------------------------------------------------ history
    def undo(self) -> bool:
        return self.history.undo(self)

    def redo(self) -> bool:
        return self.history.redo(self)

    def goto(self, index: int) -> None:
        self.history.goto(self, index)

    def image_before_last_step(self) -> ImageData | None:
        """The image before the latest applied step that changed it (mask steps do not
        count), for the before/after view; None if no such step. It may differ in size."""
        for index in range(self.history.index - 1, -1, -1):
            if self.history.step_targets(index) & {"image", "alpha"}:
                data = self.history.peek(index)
                if isinstance(data, State):
                    return replace(self.image, pixels=data.pixels, alpha=data.alpha, notices=[], **data.meta)
                return _patched(self.image, [p for p in data if p[0] not in LAYERS])
        return None

    def settle(self) -> None:
        """For History: an open stroke becomes its own step before any undo."""
        self.finish_stroke()

    def write_patches(self, patches: list[tuple[str, int, int, np.ndarray]]) -> None:
        """For History. Image and alpha are copied on write (see the module docstring)."""
        self._check_no_stroke()
        rect = None
        layers = set()
        for target, y0, x0, data in patches:
            h, w = data.shape[:2]
            if target in LAYERS:
                self.layer(target)[y0:y0 + h, x0:x0 + w] = data
            layers.add(target if target in LAYERS else "image")
            rect = union(rect, (y0, y0 + h, x0, x0 + w))
        self.image = self._own(_patched(self.image, [p for p in patches if p[0] not in LAYERS]))
        self._changed(rect, frozenset(layers))

    def restore_state(self, state: State) -> None:
        """For History."""
        self._check_no_stroke()
        self.image = self._own(replace(self.image, pixels=state.pixels, alpha=state.alpha,
                                       notices=[], **state.meta))
        self.mask = np.array(state.mask)  # History keeps its own copy read-only
        self.areas = {n: None if n not in state.areas else np.array(state.areas[n]) for n in AREAS}
        self.infrared_levels = state.infrared  # read-only, like the pixels: no copy needed
        self._changed(None)

    # ------------------------------------------------------------ brush
    def begin_stroke(self, erase: bool = False, opacity: float = 1.0,
                     hardness: float = 0.8, layer: str = "mask") -> "Stroke":
        """Start one brush gesture on the mask, or on one of AREAS (one undo step); ends
        any open one."""
        self.finish_stroke()
        self._stroke = Stroke(self, erase, opacity, hardness, layer)
        return self._stroke

    @property
    def stroke(self) -> "Stroke | None":
        """The brush gesture in progress, if any (its paint is in the mask, not yet in history)."""
        return self._stroke

    def finish_stroke(self) -> None:
        if self._stroke is not None:
            self._stroke.end()

    # ------------------------------------------------------------ internals
    @staticmethod
    def _own(image: ImageData) -> ImageData:
        _frozen(image.pixels)
        _frozen(image.alpha)
        return image

    @staticmethod
    def _meta(image: ImageData) -> dict:
        return {f: getattr(image, f) for f in META_FIELDS}

    def _check_no_stroke(self) -> None:
        if self._stroke is not None:  # its saved tiles would no longer match the mask
            raise RuntimeError("a brush stroke is in progress; call History with settle() first")

    def _changed(self, rect: Rect | None, layers: frozenset[str] = frozenset(("image", "mask"))) -> None:
        self.revision += 1
        for listener in list(self.on_change):
            listener(rect, layers)


def dab_alpha(x: float, y: float, radius: float, hardness: float,
              shape: tuple[int, ...]) -> tuple[Rect, np.ndarray] | None:
    """One round dab centred at (x, y): its rectangle on an image of `shape` and its
    float32 coverage there (antialiased rim, smoothstep falloff outside the hard core)."""
    r = max(float(radius), 0.5)
    height, width = shape[:2]
    # pixels whose centre is within r + 0.5 (the antialiased rim) of (x, y)
    y0, y1 = max(0, math.floor(y - r - 1)), min(height, math.ceil(y + r + 1))
    x0, x1 = max(0, math.floor(x - r - 1)), min(width, math.ceil(x + r + 1))
    if y0 >= y1 or x0 >= x1:
        return None
    dy = np.arange(y0, y1, dtype=np.float32) + np.float32(0.5 - y)
    dx = np.arange(x0, x1, dtype=np.float32) + np.float32(0.5 - x)
    dist = np.sqrt(dy[:, None] ** 2 + dx[None, :] ** 2)
    alpha = np.clip(np.float32(r + 0.5) - dist, 0.0, 1.0)
    if hardness < 1.0:  # smoothstep from the hard core out to the radius
        core = hardness * r
        # at least 1 px of falloff, or a small soft brush would paint nothing at all
        t = np.clip((dist - core) / np.float32(max(r - core, 1.0)), 0.0, 1.0)
        alpha *= 1.0 - t * t * (3.0 - 2.0 * t)
    return (y0, y1, x0, x1), alpha


class Stroke:
    """One brush gesture on the mask (or an area: `layer`). Within it, coverage =
    max(coverage, dab alpha), so overlapping dabs never build up beyond `opacity`; the
    result is computed from the layer as it was before the stroke (`base`). Both are kept
    per touched 64×64 tile only."""

    def __init__(self, doc: Document, erase: bool, opacity: float, hardness: float,
                 layer: str = "mask") -> None:
        if not (0.0 <= opacity <= 1.0 and 0.0 <= hardness <= 1.0):
            raise ValueError(f"opacity and hardness must be within 0…1, not {opacity}, {hardness}")
        self.erase, self.opacity, self.hardness = bool(erase), float(opacity), float(hardness)
        self.layer = layer
        self._doc, self._mask = doc, doc.layer(layer)
        self._base: dict[tuple[int, int], np.ndarray] = {}
        self._cover: dict[tuple[int, int], np.ndarray] = {}
        self._last: tuple[float, float, float] | None = None
        self._travel = 0.0  # distance moved since the last dab
        self._open = True

    def dab(self, x: float, y: float, radius: float) -> Rect | None:
        """Paint one round dab centred at (x, y) (pixel i spans i…i+1); None if off-image."""
        self._check_open()
        rect = self._paint(x, y, radius)
        self._last, self._travel = (x, y, radius), 0.0
        if rect is not None:
            self._notify(rect)
        return rect

    def line_to(self, x: float, y: float, radius: float) -> Rect | None:
        """Dabs every max(1, radius/4) px from the last point (radius interpolated)."""
        self._check_open()
        if self._last is None:
            return self.dab(x, y, radius)
        lx, ly, lr = self._last
        dist = math.hypot(x - lx, y - ly)
        rect, along, gap = None, 0.0, self._travel
        while True:
            t = along / dist if dist else 1.0
            # never behind the start, even if the spacing shrank with the radius
            ahead = max(along, along + max(1.0, (lr + (radius - lr) * t) / 4) - gap)
            if ahead > dist:
                break
            along, gap, t = ahead, 0.0, ahead / dist if dist else 1.0
            rect = union(rect, self._paint(lx + (x - lx) * t, ly + (y - ly) * t, lr + (radius - lr) * t))
        self._travel = gap + dist - along
        self._last = (x, y, radius)
        if rect is not None:
            self._notify(rect)
        return rect

    def _notify(self, rect: Rect) -> None:
        self._doc._changed(rect, frozenset((self.layer,)))

    def end(self) -> bool:
        """Close the stroke as one undo step ("Brush"/"Eraser"); False if nothing changed."""
        self._check_open()
        self._close()
        patches = self.patches()
        if patches:
            self._doc.history.push(PatchStep(self.label, patches))
        return bool(patches)

    @property
    def label(self) -> str:
        return STROKE_LABELS[self.layer][self.erase]

    def patches(self) -> list[Patch]:
        """What the stroke has changed so far, as the step end() would push (touched tiles
        only, so this costs the stroke's area, not the mask's)."""
        return [p for y0, x0, base, now in self._tiles()
                if (p := _diff_patch(self.layer, base, now, y0, x0)) is not None]

    def cancel(self) -> None:
        """Put the mask back as it was before the stroke; no undo step."""
        self._check_open()
        self._close()
        rect = None
        for y0, x0, base, now in self._tiles():
            now[...] = base
            rect = union(rect, (y0, y0 + base.shape[0], x0, x0 + base.shape[1]))
        if rect is not None:
            self._notify(rect)

    def __enter__(self) -> "Stroke":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._open:
            self.cancel() if exc_type is not None else self.end()

    def _tiles(self):
        """(y0, x0, mask before the stroke, live view of the mask) per touched tile."""
        for (ty, tx), base in self._base.items():
            y0, x0 = ty * TILE, tx * TILE
            yield y0, x0, base, self._mask[y0:y0 + base.shape[0], x0:x0 + base.shape[1]]

    def _check_open(self) -> None:
        if not self._open:
            raise RuntimeError("this brush stroke has already ended")

    def _close(self) -> None:
        self._open = False
        if self._doc._stroke is self:
            self._doc._stroke = None

    def _paint(self, x: float, y: float, radius: float) -> Rect | None:
        dab = dab_alpha(x, y, radius, self.hardness, self._mask.shape)
        if dab is None:
            return None
        (y0, y1, x0, x1), alpha = dab
        scale = np.float32(self.opacity)
        for ty in range(y0 // TILE, (y1 - 1) // TILE + 1):
            for tx in range(x0 // TILE, (x1 - 1) // TILE + 1):
                ty0, tx0 = ty * TILE, tx * TILE
                base = self._base.get((ty, tx))
                if base is None:
                    base = self._base[(ty, tx)] = self._mask[ty0:ty0 + TILE, tx0:tx0 + TILE].copy()
                    self._cover[(ty, tx)] = np.zeros(base.shape, np.float32)
                sy0, sy1, sx0, sx1 = max(y0, ty0), min(y1, ty0 + TILE), max(x0, tx0), min(x1, tx0 + TILE)
                cover = self._cover[(ty, tx)][sy0 - ty0:sy1 - ty0, sx0 - tx0:sx1 - tx0]
                np.maximum(cover, alpha[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0], out=cover)
                under = base[sy0 - ty0:sy1 - ty0, sx0 - tx0:sx1 - tx0]
                if self.erase:
                    value = (under * (1.0 - cover * scale) + 0.5).astype(np.uint8)
                else:
                    value = np.maximum(under, (cover * (scale * 255) + 0.5).astype(np.uint8))
                self._mask[sy0:sy1, sx0:sx1] = value
        return y0, y1, x0, x1


class CoverageStroke(Stroke):
    """A brush gesture that only gathers where it went (max of dab alphas × opacity), for
    tools that compute their pixels at the end (clone stamp, healing brush). It is not the
    document's open stroke: nothing changes until the tool installs its result."""

    def __init__(self, shape: tuple[int, int], opacity: float = 1.0, hardness: float = 0.8) -> None:
        if not (0.0 <= opacity <= 1.0 and 0.0 <= hardness <= 1.0):
            raise ValueError(f"opacity and hardness must be within 0…1, not {opacity}, {hardness}")
        self.opacity, self.hardness, self.erase = float(opacity), float(hardness), False
        self.layer, self.shape = "mask", shape
        self.rect: Rect | None = None
        self._cover: dict[tuple[int, int], np.ndarray] = {}
        self._last: tuple[float, float, float] | None = None
        self._travel = 0.0
        self._open = True

    def _notify(self, rect: Rect) -> None:
        pass

    def _close(self) -> None:
        self._open = False

    def _paint(self, x: float, y: float, radius: float) -> Rect | None:
        dab = dab_alpha(x, y, radius, self.hardness, self.shape)
        if dab is None:
            return None
        (y0, y1, x0, x1), alpha = dab
        for ty in range(y0 // TILE, (y1 - 1) // TILE + 1):
            for tx in range(x0 // TILE, (x1 - 1) // TILE + 1):
                ty0, tx0 = ty * TILE, tx * TILE
                cover = self._cover.get((ty, tx))
                if cover is None:
                    cover = self._cover[(ty, tx)] = np.zeros(
                        (min(TILE, self.shape[0] - ty0), min(TILE, self.shape[1] - tx0)), np.float32)
                sy0, sy1, sx0, sx1 = max(y0, ty0), min(y1, ty0 + TILE), max(x0, tx0), min(x1, tx0 + TILE)
                view = cover[sy0 - ty0:sy1 - ty0, sx0 - tx0:sx1 - tx0]
                np.maximum(view, alpha[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0], out=view)
        self.rect = union(self.rect, (y0, y1, x0, x1))
        return y0, y1, x0, x1

    def coverage(self, rect: Rect | None = None) -> np.ndarray:
        """float32 coverage (0–opacity) over `rect` (default: everything the stroke touched)."""
        y0, y1, x0, x1 = rect or self.rect or (0, 0, 0, 0)
        out = np.zeros((y1 - y0, x1 - x0), np.float32)
        for (ty, tx), cover in self._cover.items():
            ty0, tx0 = ty * TILE, tx * TILE
            sy0, sy1 = max(y0, ty0), min(y1, ty0 + cover.shape[0])
            sx0, sx1 = max(x0, tx0), min(x1, tx0 + cover.shape[1])
            if sy0 < sy1 and sx0 < sx1:
                out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = cover[sy0 - ty0:sy1 - ty0, sx0 - tx0:sx1 - tx0]
        return out * np.float32(self.opacity)

    def end(self) -> bool:
        self._check_open()
        self._close()
        return self.rect is not None

    def patches(self) -> list[Patch]:
        return []

    def cancel(self) -> None:
        self._check_open()
        self._close()
