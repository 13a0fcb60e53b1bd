"""The crop rectangle once drawn: which part of it a press takes (an edge, a corner, the
inside) and how a drag from there reshapes it, held to the photo and to the aspect preset.

Plain geometry in image pixels, no Qt, so it is tested without a window. A rectangle is
(y0, y1, x0, x1), the canvas's crop_rect convention."""
from __future__ import annotations

MIN_SIDE = 2  # px: the smallest crop the canvas accepts

Rect = tuple[int, int, int, int]


def grab(rect: Rect, x: float, y: float, tolerance: float) -> frozenset[str] | None:
    """The edges a press at (x, y) takes ({"left"}, {"left", "top"} for a corner…),
    {"move"} inside, None outside (a new crop starts there)."""
    y0, y1, x0, x1 = rect
    if not (x0 - tolerance <= x <= x1 + tolerance and y0 - tolerance <= y <= y1 + tolerance):
        return None
    edges = set()
    # Inside, an edge's reach is at most a third of the side, so a crop thinner than two
    # tolerances keeps a middle band that moves it; outside, the full tolerance still reaches.
    reach_x = tolerance if not x0 < x < x1 else min(tolerance, (x1 - x0) / 3)
    reach_y = tolerance if not y0 < y < y1 else min(tolerance, (y1 - y0) / 3)
    if min(abs(x - x0), abs(x - x1)) <= reach_x:
        edges.add("left" if abs(x - x0) <= abs(x - x1) else "right")
    if min(abs(y - y0), abs(y - y1)) <= reach_y:
        edges.add("top" if abs(y - y0) <= abs(y - y1) else "bottom")
    if edges:
        return frozenset(edges)
    return frozenset({"move"}) if x0 < x < x1 and y0 < y < y1 else None


def reshape(rect: Rect, handle: frozenset[str], dx: float, dy: float, size: tuple[int, int],
            aspect: float | None = None) -> Rect:
    """`rect` as it was when the drag began, after the handle moved by (dx, dy) image pixels,
    inside a photo of `size` (width, height). With an aspect (width / height, either
    orientation: the rectangle's own decides) the edge opposite the one dragged stays put."""
    width, height = size
    y0, y1, x0, x1 = map(float, rect)
    if handle == {"move"}:
        dx = min(max(dx, -x0), width - x1)
        dy = min(max(dy, -y0), height - y1)
        return _rounded(y0 + dy, y1 + dy, x0 + dx, x1 + dx)
    if "left" in handle:
        x0 = min(max(0.0, x0 + dx), x1 - MIN_SIDE)
    if "right" in handle:
        x1 = max(min(float(width), x1 + dx), x0 + MIN_SIDE)
    if "top" in handle:
        y0 = min(max(0.0, y0 + dy), y1 - MIN_SIDE)
    if "bottom" in handle:
        y1 = max(min(float(height), y1 + dy), y0 + MIN_SIDE)
    if aspect:
        y0, y1, x0, x1 = _held_to_aspect(rect, handle, (y0, y1, x0, x1), size, aspect)
    return _rounded(y0, y1, x0, x1)


def _held_to_aspect(start: Rect, handle, rect, size, aspect: float):
    """The free side follows the dragged one; where that would leave the photo, both shrink.
    A corner drag keeps the opposite corner. An edge drag grows the other side about its
    centre, pushed back onto the photo where it would run off."""
    width, height = size
    y0, y1, x0, x1 = rect
    sy0, sy1, sx0, sx1 = start
    ratio = aspect if (sx1 - sx0) >= (sy1 - sy0) else 1 / aspect
    horizontal = bool(handle & {"left", "right"})
    vertical = bool(handle & {"top", "bottom"})
    w, h = x1 - x0, y1 - y0
    if horizontal and (not vertical or w / ratio >= h):
        h = w / ratio
    else:
        w = h * ratio
    # Where each side may grow to, from its fixed edge (or its centre when it is the free side).
    if vertical:
        limit_h = y1 if "top" in handle else height - y0
    else:
        limit_h = height
    limit_w = (x1 if "left" in handle else width - x0) if horizontal else width
    shrink = min(1.0, limit_w / w, limit_h / h)
    w, h = w * shrink, h * shrink
    if vertical:
        y0, y1 = (y1 - h, y1) if "top" in handle else (y0, y0 + h)
    else:
        y0, y1 = _centred_on_photo((y0 + y1) / 2, h, height)
    if horizontal:
        x0, x1 = (x1 - w, x1) if "left" in handle else (x0, x0 + w)
    else:
        x0, x1 = _centred_on_photo((x0 + x1) / 2, w, width)
    return y0, y1, x0, x1


def _centred_on_photo(centre: float, length: float, limit: float) -> tuple[float, float]:
    start = min(max(0.0, centre - length / 2), limit - length)
    return start, start + length


def _rounded(y0: float, y1: float, x0: float, x1: float) -> Rect:
    return round(y0), round(y1), round(x0), round(x1)
