"""The image view: tiled rendering at any zoom, pan, mask brush, before/after compare, and
a preview of an action laid over part of the image. The brush paints the mask or one of
the fill's areas (`paint_layer`); each area has its own overlay colour."""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QAbstractScrollArea

from photoforge.ui import crop_box
from photoforge.ui.pyramid import TILE, Pyramid

ZOOM_MIN, ZOOM_MAX = 1 / 128, 32.0
_CACHE_TILES = 600  # ≈ 150 MB of 256² RGB tiles at most
CROP_GRIP = 7  # screen px: how near an edge of the crop a press takes that edge
# Fixed colours, apart from the mask's (red, or cyan on a red photo): Photoshop's green for
# where the fill may sample, and a violet for what it must never copy, hatched so that it
# still reads as "not this" where it meets a mask of a near colour.
AREA_COLOURS = {"sample": QColor(40, 200, 70), "exclude": QColor(150, 60, 255)}
HATCHED = ("exclude",)


def contrasting_colour(pixels: np.ndarray, colour: QColor) -> QColor:
    """`colour`, or its opposite hue when a fifth of the photo is that colour already (a red
    overlay on a red dress or an orange sunset cannot be seen)."""
    import cv2

    step = max(1, max(pixels.shape[:2]) // 256)
    proxy = pixels[::step, ::step]
    if proxy.dtype == np.uint16:
        proxy = (proxy >> 8).astype(np.uint8)
    if proxy.shape[2] == 1:
        return QColor(colour)
    hsv = cv2.cvtColor(np.ascontiguousarray(proxy), cv2.COLOR_RGB2HSV)  # hue 0–179
    hue = colour.hsvHue() / 2
    distance = np.abs(hsv[..., 0].astype(np.int16) - hue)
    near = (np.minimum(distance, 180 - distance) < 18) & (hsv[..., 1] > 80) & (hsv[..., 2] > 60)
    if near.mean() < 0.2:
        return QColor(colour)
    return QColor.fromHsv((colour.hsvHue() + 180) % 360, colour.hsvSaturation(), colour.value())


def _qimage_rgb(arr: np.ndarray) -> QImage:
    h, w = arr.shape[:2]
    return QImage(arr.data, w, h, arr.strides[0], QImage.Format.Format_RGB888)


class Canvas(QAbstractScrollArea):
    zoom_changed = Signal(float)
    view_changed = Signal()  # zoom or scroll moved what is visible
    cursor_moved = Signal(int, int)  # image pixel under the pointer
    brush_size_changed = Signal(float)
    stroke_finished = Signal()
    mask_style_changed = Signal(bool)  # True when the user chose it (remembered)
    picked = Signal(int, int)  # an image pixel clicked while picking (the eyedropper)
    # clone/heal stroke released: (tool, CoverageStroke, (dy, dx) source offset)
    retouch_finished = Signal(str, object, object)
    hint = Signal(str)  # a short note for the status bar
    line_drawn = Signal(float, float, float, float)  # the straighten tool: (x0, y0, x1, y1), image px

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setMouseTracking(True)
        self.viewport().setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(False)  # the main window takes drops
        self.grabGesture(Qt.GestureType.PinchGesture)
        self.document = None
        self.zoom = 1.0
        self.image_pyramid: Pyramid | None = None
        self.mask_pyramid: Pyramid | None = None
        self.area_pyramids: dict[str, Pyramid] = {}  # the areas painted so far
        self.before_pyramid: Pyramid | None = None
        self.prepared_pyramid: Pyramid | None = None
        self._tiles: OrderedDict[tuple, tuple[np.ndarray, QImage]] = OrderedDict()
        # Brush state (the tool options bar edits these).
        self.tool = "brush"  # "brush" | "eraser" | "hand" | "clone" | "heal"
        self.brush_size = 40.0  # diameter in image pixels
        self.brush_hardness = 0.7
        self.brush_opacity = 1.0
        self.mask_color = QColor(255, 40, 40)
        self.mask_opacity = 0.5
        self.show_mask = True  # the mask and the areas
        self.paint_layer = "mask"  # what brush and eraser paint: "mask" or an area (history.AREAS)
        self.show_areas = True  # off while no tool that uses them is open (the Inpaint panel's fill)
        self._stroke = None
        self._last_point: QPointF | None = None
        self._pan_anchor = None
        self._picking = False
        # Clone stamp and healing brush: the source (image point, set by Alt-click), the
        # offset kept between strokes in aligned mode, and the stroke being painted.
        self.clone_source: QPointF | None = None
        self.clone_aligned = True
        self._clone_offset: tuple[int, int] | None = None
        self._retouch = None
        self.busy = False  # a job is running: the image must not change under it
        # Crop: the rectangle (y0, y1, x0, x1) in image pixels, and the aspect it keeps
        # (width / height; None = free). Straighten: the line being drawn.
        self.crop_rect: tuple[int, int, int, int] | None = None
        self.crop_aspect: float | None = None
        self._drag_from: QPointF | None = None
        # An existing crop being reshaped: the handle taken, the rectangle and point at the press.
        self._crop_edit: tuple[frozenset[str], tuple[int, int, int, int], QPointF] | None = None
        self._crop_cursor = False
        self._line: tuple[QPointF, QPointF] | None = None
        self._space_down = False
        self._pointer: QPointF | None = None
        # Compare: split position in view fraction (None = off) and hold-to-see-before.
        self.split: float | None = None
        # Side by side: before on the left, after on the right, each half showing the same
        # image point at the same zoom (the halves are the view shifted by a quarter width).
        self.side_by_side = False
        self._shift = 0.0
        self.show_before = False
        self._dragging_split = False
        # A preview: 8-bit RGB pixels (kept alive for the QImage) and the image rect they cover.
        self._preview: tuple[np.ndarray, QImage, QRectF] | None = None
        self._preview_labelled = True

    # ----- document -------------------------------------------------------------------
    def set_document(self, document) -> None:
        self.document = document
        self._stroke = None
        self.crop_rect = None
        self.rebuild()
        self.fit()

    def rebuild(self) -> None:
        """The image was replaced (new size or new document): start the tiles afresh."""
        self._tiles.clear()
        self._preview = None
        self.before_pyramid = None
        if self.document is None:
            self.image_pyramid = self.mask_pyramid = None
        else:
            pixels = self.document.image.pixels
            ready = self.prepared_pyramid
            self.prepared_pyramid = None
            # A job's worker may already have built the display pyramid of its result.
            self.image_pyramid = ready if ready is not None and ready.source is pixels else Pyramid(pixels)
            self.mask_pyramid = Pyramid(self.document.mask, convert=np.ascontiguousarray)
            self.area_pyramids = {name: Pyramid(area, convert=np.ascontiguousarray)
                                  for name, area in self.document.areas.items() if area is not None}
        self._update_scrollbars()
        self.viewport().update()

    def refresh(self, rect: tuple[int, int, int, int] | None, image: bool = True, mask: bool = True,
                areas: tuple[str, ...] = ()) -> None:
        """Pixels changed inside rect (image coordinates) of the image, the mask and/or `areas`."""
        if self.document is None:
            return
        if rect is None or self.image_pyramid is None or \
                self.image_pyramid.source.shape[:2] != self.document.image.pixels.shape[:2]:
            self.rebuild()
            return
        if image:
            self._preview = None  # it showed what the old pixels would become
            self.image_pyramid.source = self.document.image.pixels
            self.image_pyramid.update(rect)
        if mask:
            self.mask_pyramid.source = self.document.mask
            self.mask_pyramid.update(rect)
        for name in areas:
            array = self.document.areas[name]
            pyramid = self.area_pyramids.get(name)
            if array is None:
                self.area_pyramids.pop(name, None)
            elif pyramid is None:  # painted for the first time
                self.area_pyramids[name] = Pyramid(array, convert=np.ascontiguousarray)
            else:
                pyramid.source = array
                pyramid.update(rect)
        self._drop_tiles(rect, ("image",) * image + ("mask",) * mask + tuple(areas))
        self.viewport().update(self._view_rect(rect).adjusted(-2, -2, 2, 2))

    def set_before(self, pixels: np.ndarray | None) -> None:
        self.before_pyramid = Pyramid(pixels) if pixels is not None else None
        self._drop_kind("before")
        self.viewport().update()

    def set_preview(self, pixels: np.ndarray | None, rect: tuple[int, int, int, int] | None = None,
                    labelled: bool = True) -> None:
        """Show 8-bit RGB `pixels` over image region rect (y0, y1, x0, x1), at whatever
        resolution they come in; None removes it. Edits to the image remove it too."""
        if pixels is None:
            self._preview = None
        else:
            y0, y1, x0, x1 = rect
            pixels = np.ascontiguousarray(pixels)
            self._preview = (pixels, _qimage_rgb(pixels), QRectF(x0, y0, x1 - x0, y1 - y0))
        self._preview_labelled = labelled
        self.viewport().update()

    @property
    def has_preview(self) -> bool:
        return self._preview is not None

    def visible_rect(self) -> tuple[int, int, int, int] | None:
        """The image region (y0, y1, x0, x1) the view shows now."""
        w, h = self.image_size()
        if not w:
            return None
        top_left = self.to_image(QPointF(0, 0))
        bottom_right = self.to_image(QPointF(self.viewport().width(), self.viewport().height()))
        x0, y0 = max(0, int(top_left.x())), max(0, int(top_left.y()))
        x1, y1 = min(w, int(math.ceil(bottom_right.x()))), min(h, int(math.ceil(bottom_right.y())))
        return (y0, y1, x0, x1) if x1 > x0 and y1 > y0 else None

    def _drop_kind(self, kind: str) -> None:
        for key in [k for k in self._tiles if k[0] == kind]:
            del self._tiles[key]

    def _drop_tiles(self, rect, kinds) -> None:
        y0, y1, x0, x1 = rect
        for key in list(self._tiles):
            kind, level, ty, tx = key
            if kind not in kinds:
                continue
            f = TILE << level
            if ty * f < y1 and (ty + 1) * f > y0 and tx * f < x1 and (tx + 1) * f > x0:
                del self._tiles[key]

    # ----- geometry ------------------------------------------------------------------
    def image_size(self) -> tuple[int, int]:
        if self.document is None:
            return 0, 0
        h, w = self.document.image.pixels.shape[:2]
        return w, h

    def _origin(self) -> QPointF:
        """View position of image pixel (0, 0): centred when smaller than the view."""
        w, h = self.image_size()
        vw, vh = self.viewport().width(), self.viewport().height()
        ox = (vw - w * self.zoom) / 2 if w * self.zoom < vw else -self.horizontalScrollBar().value()
        oy = (vh - h * self.zoom) / 2 if h * self.zoom < vh else -self.verticalScrollBar().value()
        return QPointF(ox + self._shift, oy)

    def _half_shift(self, x: float) -> float:
        quarter = self.viewport().width() / 4
        return -quarter if x < 2 * quarter else quarter

    def to_image(self, p: QPointF) -> QPointF:
        o = self._origin()
        if self.side_by_side:
            o = o + QPointF(self._half_shift(p.x()), 0)
        return QPointF((p.x() - o.x()) / self.zoom, (p.y() - o.y()) / self.zoom)

    def _view_rect(self, rect) -> QRect:
        if self.side_by_side:  # the region shows twice
            return self.viewport().rect()
        y0, y1, x0, x1 = rect
        o = self._origin()
        return QRectF(o.x() + x0 * self.zoom, o.y() + y0 * self.zoom,
                      (x1 - x0) * self.zoom, (y1 - y0) * self.zoom).toAlignedRect()

    def _update_scrollbars(self) -> None:
        w, h = self.image_size()
        vw, vh = self.viewport().width(), self.viewport().height()
        for bar, total, page in ((self.horizontalScrollBar(), w * self.zoom, vw),
                                 (self.verticalScrollBar(), h * self.zoom, vh)):
            bar.setPageStep(max(1, page))
            bar.setSingleStep(max(1, page // 20))
            bar.setRange(0, max(0, int(math.ceil(total - page))))

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        zoom = min(ZOOM_MAX, max(ZOOM_MIN, zoom))
        if self.document is None or zoom == self.zoom:
            return
        if anchor is None:
            anchor = QPointF(self.viewport().width() / 2, self.viewport().height() / 2)
        fixed = self.to_image(anchor)
        self.zoom = zoom
        self._update_scrollbars()
        # Keep the image point under the anchor where it was.
        self.horizontalScrollBar().setValue(int(round(fixed.x() * zoom - anchor.x())))
        self.verticalScrollBar().setValue(int(round(fixed.y() * zoom - anchor.y())))
        self.viewport().update()
        self.zoom_changed.emit(self.zoom)
        self.view_changed.emit()

    def zoom_step(self, steps: float, anchor: QPointF | None = None) -> None:
        self.set_zoom(self.zoom * (2 ** (steps / 2)), anchor)

    def fit(self) -> None:
        w, h = self.image_size()
        if not w:
            return
        vw, vh = max(1, self.viewport().width()), max(1, self.viewport().height())
        self.zoom = min(vw / w, vh / h) * 0.98 if (w > vw or h > vh) else 1.0
        self._update_scrollbars()
        self.viewport().update()
        self.zoom_changed.emit(self.zoom)
        self.view_changed.emit()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._update_scrollbars()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        self.viewport().update()
        self.view_changed.emit()

    # ----- painting -------------------------------------------------------------------
    def _tile_image(self, kind: str, pyramid: Pyramid, level: int, ty: int, tx: int) -> QImage:
        key = (kind, level, ty, tx)
        hit = self._tiles.get(key)
        if hit is not None:
            self._tiles.move_to_end(key)
            return hit[1]
        arr = pyramid.tile(level, ty, tx)
        if kind in ("mask", *AREA_COLOURS):
            arr = self._colour_mask(arr, AREA_COLOURS.get(kind, self.mask_color), kind in HATCHED)
            qimg = QImage(arr.data, arr.shape[1], arr.shape[0], arr.strides[0], QImage.Format.Format_RGBA8888)
        else:
            qimg = _qimage_rgb(arr)
        self._tiles[key] = (arr, qimg)
        while len(self._tiles) > _CACHE_TILES:
            self._tiles.popitem(last=False)
        return qimg

    def _colour_mask(self, mask: np.ndarray, c: QColor, hatched: bool = False) -> np.ndarray:
        out = np.empty(mask.shape + (4,), np.uint8)
        out[..., 0], out[..., 1], out[..., 2] = c.red(), c.green(), c.blue()
        alpha = mask.astype(np.uint16) * int(self.mask_opacity * 255) // 255
        if hatched:  # diagonal stripes 4 px wide; tiles start at multiples of 8, so they join up
            y, x = np.ogrid[:mask.shape[0], :mask.shape[1]]
            alpha = np.where((x + y) // 4 % 2 == 0, np.minimum(alpha * 2, 255), alpha // 3)
        out[..., 3] = alpha.astype(np.uint8)
        return out

    def set_mask_style(self, color: QColor | None = None, opacity: float | None = None,
                       chosen: bool = True) -> None:
        if color is not None:
            self.mask_color = QColor(color)
        if opacity is not None:
            self.mask_opacity = float(opacity)
        for kind in ("mask", *AREA_COLOURS):  # the overlay opacity is theirs too
            self._drop_kind(kind)
        self.viewport().update()
        self.mask_style_changed.emit(chosen)

    def _level(self) -> int:
        return max(0, int(math.floor(math.log2(1.0 / self.zoom) + 1e-9))) if self.zoom < 1 else 0

    def _draw_layer(self, painter: QPainter, kind: str, pyramid: Pyramid, clip: QRect) -> None:
        level = min(self._level(), 30)
        f = 1 << level
        lw, lh = pyramid.level_size(level)
        o = self._origin()
        scale = self.zoom * f  # view pixels per level pixel
        # Visible range of level pixels.
        lx0 = max(0, int((clip.left() - o.x()) / scale))
        ly0 = max(0, int((clip.top() - o.y()) / scale))
        lx1 = min(lw, int(math.ceil((clip.right() + 1 - o.x()) / scale)))
        ly1 = min(lh, int(math.ceil((clip.bottom() + 1 - o.y()) / scale)))
        for ty in range(ly0 // TILE, (max(ly0, ly1 - 1)) // TILE + 1):
            for tx in range(lx0 // TILE, (max(lx0, lx1 - 1)) // TILE + 1):
                if ty * TILE >= lh or tx * TILE >= lw:
                    continue
                qimg = self._tile_image(kind, pyramid, level, ty, tx)
                target = QRectF(o.x() + tx * TILE * scale, o.y() + ty * TILE * scale,
                                qimg.width() * scale, qimg.height() * scale)
                painter.drawImage(target, qimg)

    def paintEvent(self, event) -> None:
        painter = QPainter(self.viewport())
        painter.fillRect(event.rect(), QColor(48, 48, 48))
        if self.image_pyramid is None:
            painter.setPen(QColor(170, 170, 170))
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter,
                             "Drop a photo here, or File ▸ Open (Ctrl+O)")
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.zoom < 2)
        clip = event.rect()
        before = self.before_pyramid if (self.show_before or self.split is not None
                                         or self.side_by_side) else None
        if before is not None and self.show_before:
            self._draw_layer(painter, "before", before, clip)
        elif before is not None and self.side_by_side:
            self._paint_side_by_side(painter, before, clip)
        elif before is not None and self.split is not None:
            x = int(self.viewport().width() * self.split)
            left = clip.intersected(QRect(0, 0, x, self.viewport().height()))
            right = clip.intersected(QRect(x, 0, self.viewport().width() - x, self.viewport().height()))
            if not left.isEmpty():
                painter.save()
                painter.setClipRect(left)
                self._draw_layer(painter, "before", before, left)
                painter.restore()
            if not right.isEmpty():
                painter.save()
                painter.setClipRect(right)
                self._draw_layer(painter, "image", self.image_pyramid, right)
                painter.restore()
            painter.setPen(QPen(QColor(255, 255, 255), 2))
            painter.drawLine(x, 0, x, self.viewport().height())
            painter.drawText(8, 20, "Before")
            painter.drawText(x + 8, 20, "After")
        else:
            self._draw_layer(painter, "image", self.image_pyramid, clip)
            if self._preview is not None:
                _, qimg, r = self._preview
                o = self._origin()
                target = QRectF(o.x() + r.x() * self.zoom, o.y() + r.y() * self.zoom,
                                r.width() * self.zoom, r.height() * self.zoom)
                painter.drawImage(target, qimg)
                if self._preview_labelled:
                    painter.setPen(QPen(QColor(255, 255, 255), 1))
                    painter.drawText(target.topLeft() + QPointF(8, 18), "Preview")
        if self.show_mask and self.mask_pyramid is not None and not self.show_before:
            # the areas under the mask: where they overlap it, the mask is what gets filled
            overlays = [*(self.area_pyramids.items() if self.show_areas else ()), ("mask", self.mask_pyramid)]
            if self.side_by_side and before is not None:  # on the "after" half only
                half = QRect(self.viewport().width() // 2, 0, self.viewport().width(), self.viewport().height())
                painter.save()
                painter.setClipRect(half)
                self._shift = self.viewport().width() / 4
                for kind, pyramid in overlays:
                    self._draw_layer(painter, kind, pyramid, clip.intersected(half))
                self._shift = 0.0
                painter.restore()
            else:
                for kind, pyramid in overlays:
                    self._draw_layer(painter, kind, pyramid, clip)
        self._paint_guides(painter)
        if self._pointer is not None and self.tool in ("clone", "heal"):
            self._draw_source(painter)
        if self._pointer is not None and self.tool in ("brush", "eraser", "clone", "heal"):
            radius = self.brush_size / 2 * self.zoom
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(QColor(0, 0, 0), 1.5))
            painter.drawEllipse(self._pointer, radius, radius)
            area = AREA_COLOURS.get(self.paint_layer) if self.tool in ("brush", "eraser") else None
            painter.setPen(QPen(area or QColor(255, 255, 255), 1.5 if area else 1))
            painter.drawEllipse(self._pointer, radius, radius)

    def _crop_between(self, a: QPointF, b: QPointF) -> tuple[int, int, int, int] | None:
        """The rectangle dragged from a to b, held to the aspect and clipped to the photo."""
        w, h = self.image_size()
        dx, dy = b.x() - a.x(), b.y() - a.y()
        if self.crop_aspect:
            aspect = self.crop_aspect if abs(dx) >= abs(dy) else 1 / self.crop_aspect  # the drag's orientation
            if abs(dx) / aspect > abs(dy):
                dy = math.copysign(abs(dx) / aspect, dy or 1)
            else:
                dx = math.copysign(abs(dy) * aspect, dx or 1)
        x0, x1 = sorted((a.x(), a.x() + dx))
        y0, y1 = sorted((a.y(), a.y() + dy))
        rect = (max(0, round(y0)), min(h, round(y1)), max(0, round(x0)), min(w, round(x1)))
        return rect if min(rect[1] - rect[0], rect[3] - rect[2]) >= crop_box.MIN_SIDE else None

    def _crop_handle(self, pos: QPointF) -> frozenset[str] | None:
        """The part of the current crop rectangle under a view point, if the crop tool is on."""
        if self.tool != "crop" or self.crop_rect is None:
            return None
        p = self.to_image(pos)
        return crop_box.grab(self.crop_rect, p.x(), p.y(), CROP_GRIP / self.zoom)

    def _update_crop_cursor(self, pos: QPointF) -> None:
        """The cursor says what a press will do to the crop; other tools get theirs back."""
        if self._space_down or self._picking:
            return  # their own cursors (the hand, the eyedropper's cross) stay
        if self.tool != "crop":
            if self._crop_cursor:
                self._crop_cursor = False
                self.viewport().unsetCursor()
            return
        self._crop_cursor = True
        handle = self._crop_handle(pos)
        if handle is None:
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)
            return
        diagonal = {frozenset({"left", "top"}), frozenset({"right", "bottom"})}
        shape = (Qt.CursorShape.SizeAllCursor if handle == {"move"} else
                 Qt.CursorShape.SizeFDiagCursor if handle in diagonal else
                 Qt.CursorShape.SizeBDiagCursor if len(handle) == 2 else
                 Qt.CursorShape.SizeHorCursor if handle & {"left", "right"} else Qt.CursorShape.SizeVerCursor)
        self.viewport().setCursor(shape)

    def _paint_guides(self, painter: QPainter) -> None:
        """The crop rectangle (the rest dimmed, thirds drawn) or the straighten line."""
        o, z = self._origin(), self.zoom
        if self.crop_rect is not None and self.tool == "crop":
            y0, y1, x0, x1 = self.crop_rect
            r = QRectF(o.x() + x0 * z, o.y() + y0 * z, (x1 - x0) * z, (y1 - y0) * z)
            outside = QPainterPath()
            outside.addRect(QRectF(self.viewport().rect()))
            inside = QPainterPath()
            inside.addRect(r)
            painter.fillPath(outside.subtracted(inside), QColor(0, 0, 0, 140))
            painter.setPen(QPen(QColor(255, 255, 255, 120), 1))
            for k in (1, 2):
                painter.drawLine(QPointF(r.left() + r.width() * k / 3, r.top()),
                                 QPointF(r.left() + r.width() * k / 3, r.bottom()))
                painter.drawLine(QPointF(r.left(), r.top() + r.height() * k / 3),
                                 QPointF(r.right(), r.top() + r.height() * k / 3))
            painter.setPen(QPen(QColor(255, 255, 255), 1.5))
            painter.drawRect(r)
            painter.setBrush(QColor(255, 255, 255))
            for hx in (r.left(), r.center().x(), r.right()):
                for hy in (r.top(), r.center().y(), r.bottom()):
                    if (hx, hy) != (r.center().x(), r.center().y()):
                        painter.drawRect(QRectF(hx - 3, hy - 3, 6, 6))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            # The size the photo will have, where the eye is: just above the rectangle.
            label = f"{x1 - x0} × {y1 - y0} px"
            box = painter.fontMetrics().boundingRect(label).adjusted(-4, -2, 4, 2)
            box.moveTopLeft(QPointF(r.left(), max(0.0, r.top() - box.height() - 4)).toPoint())
            painter.fillRect(box, QColor(0, 0, 0, 170))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, label)
        if self._line is not None:
            a, b = self._line
            painter.setPen(QPen(QColor(255, 220, 0), 2))
            end = QPointF(o.x() + b.x() * z, o.y() + b.y() * z)
            painter.drawLine(QPointF(o.x() + a.x() * z, o.y() + a.y() * z), end)
            if (b - a).manhattanLength() * z > 8:  # the turn that releasing here will make
                from photoforge.ops.geometry import line_angle

                label = f"{line_angle(a.x(), a.y(), b.x(), b.y()):+.2f}°"
                box = painter.fontMetrics().boundingRect(label).adjusted(-4, -2, 4, 2)
                box.moveTopLeft((end + QPointF(10, 10)).toPoint())
                painter.fillRect(box, QColor(0, 0, 0, 170))
                painter.setPen(QPen(QColor(255, 220, 0)))
                painter.drawText(box, Qt.AlignmentFlag.AlignCenter, label)

    def _paint_side_by_side(self, painter: QPainter, before: Pyramid, clip: QRect) -> None:
        w, h = self.viewport().width(), self.viewport().height()
        for half, kind, pyramid, shift, label in (
                (QRect(0, 0, w // 2, h), "before", before, -w / 4, "Before"),
                (QRect(w // 2, 0, w - w // 2, h), "image", self.image_pyramid, w / 4, "After")):
            area = clip.intersected(half)
            if area.isEmpty():
                continue
            painter.save()
            painter.setClipRect(half)
            self._shift = shift
            self._draw_layer(painter, kind, pyramid, area)
            self._shift = 0.0
            painter.restore()
            painter.setPen(QPen(QColor(255, 255, 255), 1))
            painter.drawText(half.left() + 8, 20, label)
        painter.setPen(QPen(QColor(255, 255, 255), 2))
        painter.drawLine(w // 2, 0, w // 2, h)

    def _offset_at(self, p: QPointF) -> tuple[int, int] | None:
        """(dy, dx) from image point `p` to where the clone/heal source is read."""
        if self.clone_source is None:
            return None
        if self.clone_aligned and self._clone_offset is not None:
            return self._clone_offset
        return round(self.clone_source.y() - p.y()), round(self.clone_source.x() - p.x())

    def _draw_source(self, painter: QPainter) -> None:
        """What the brush would lay down, shown inside its circle before painting (at half
        opacity), and a cross where it is read from."""
        from photoforge.ui.pyramid import to_display

        p = self.to_image(self._pointer)
        offset = self._retouch[2] if self._retouch is not None else self._offset_at(p)
        if offset is None or self.document is None:
            return
        dy, dx = offset
        r = self.brush_size / 2
        o = self._origin()
        src = QPointF(o.x() + (p.x() + dx) * self.zoom, o.y() + (p.y() + dy) * self.zoom)
        painter.setPen(QPen(QColor(255, 255, 255), 1))
        painter.drawLine(src - QPointF(6, 0), src + QPointF(6, 0))
        painter.drawLine(src - QPointF(0, 6), src + QPointF(0, 6))
        if self._retouch is not None:
            return
        pixels = self.document.image.pixels
        h, w = pixels.shape[:2]
        y0, y1 = max(0, int(p.y() + dy - r)), min(h, int(p.y() + dy + r) + 1)
        x0, x1 = max(0, int(p.x() + dx - r)), min(w, int(p.x() + dx + r) + 1)
        if y0 >= y1 or x0 >= x1:
            return
        ghost = to_display(pixels[y0:y1, x0:x1])
        target = QRectF(o.x() + (x0 - dx) * self.zoom, o.y() + (y0 - dy) * self.zoom,
                        (x1 - x0) * self.zoom, (y1 - y0) * self.zoom)
        painter.save()
        clip = QPainterPath()
        clip.addEllipse(self._pointer, r * self.zoom, r * self.zoom)
        painter.setClipPath(clip)
        painter.setOpacity(0.5)
        painter.drawImage(target, _qimage_rgb(ghost))
        painter.restore()

    def _update_cursor_area(self, old: QPointF | None, new: QPointF | None) -> None:
        r = int(self.brush_size / 2 * self.zoom) + 4
        for p in (old, new):
            if p is not None:
                self.viewport().update(QRect(int(p.x()) - r, int(p.y()) - r, 2 * r, 2 * r))

    # ----- input ----------------------------------------------------------------------
    def set_picking(self, on: bool) -> None:
        """The next click picks a pixel (signal `picked`) instead of painting."""
        self._picking = on
        if on:
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        else:
            self.viewport().unsetCursor()

    def _painting_tool(self) -> bool:
        return self.tool in ("brush", "eraser") and not self._space_down and self.document is not None

    def mousePressEvent(self, event) -> None:
        pos = event.position()
        if self.split is not None and abs(pos.x() - self.viewport().width() * self.split) < 6:
            self._dragging_split = True
            return
        if event.button() == Qt.MouseButton.MiddleButton or \
                (event.button() == Qt.MouseButton.LeftButton and (self._space_down or self.tool == "hand")):
            self._pan_anchor = (pos, self.horizontalScrollBar().value(), self.verticalScrollBar().value())
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if event.button() == Qt.MouseButton.LeftButton and self.tool in ("crop", "straighten") \
                and self.document is not None and not self._space_down:
            handle = self._crop_handle(pos)
            if handle is not None:
                self._crop_edit = (handle, self.crop_rect, self.to_image(pos))
                return
            self._drag_from = self.to_image(pos)
            self._line = (self._drag_from, self._drag_from) if self.tool == "straighten" else None
            return
        if event.button() == Qt.MouseButton.LeftButton and self._picking and not self._space_down:
            p = self.to_image(pos)
            w, h = self.image_size()
            if 0 <= p.x() < w and 0 <= p.y() < h:
                self.set_picking(False)
                self.picked.emit(int(p.x()), int(p.y()))
            return
        if event.button() == Qt.MouseButton.LeftButton and self.tool in ("clone", "heal") \
                and self.document is not None and not self._space_down:
            self._start_retouch(event)
            return
        if event.button() == Qt.MouseButton.LeftButton and self._painting_tool():
            p = self.to_image(pos)
            radius = self.brush_size / 2
            self._stroke = self.document.begin_stroke(
                erase=self.tool == "eraser", opacity=self.brush_opacity, hardness=self.brush_hardness,
                layer=self.paint_layer)
            # The document reports each dab's rectangle; the window passes it to refresh().
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier and self._last_point is not None:
                self._stroke.dab(self._last_point.x(), self._last_point.y(), radius)
                self._stroke.line_to(p.x(), p.y(), radius)
            else:
                self._stroke.dab(p.x(), p.y(), radius)
            self._last_point = p

    def mouseMoveEvent(self, event) -> None:
        pos = event.position()
        if self._dragging_split:
            self.split = min(1.0, max(0.0, pos.x() / max(1, self.viewport().width())))
            self.viewport().update()
            return
        if self._crop_edit is not None and self.crop_rect is None:
            self._crop_edit = None  # Esc, Enter or another photo ended the crop mid-drag
        if self._crop_edit is not None:
            handle, rect, start = self._crop_edit
            p = self.to_image(pos)
            self.crop_rect = crop_box.reshape(rect, handle, p.x() - start.x(), p.y() - start.y(),
                                              self.image_size(), self.crop_aspect)
            self.viewport().update()
            return
        if self._drag_from is not None:
            p = self.to_image(pos)
            if self.tool == "crop":
                self.crop_rect = self._crop_between(self._drag_from, p)
            else:
                self._line = (self._drag_from, p)
            self.viewport().update()
            return
        if self._pan_anchor is not None:
            start, hx, vy = self._pan_anchor
            self.horizontalScrollBar().setValue(int(hx - (pos.x() - start.x())))
            self.verticalScrollBar().setValue(int(vy - (pos.y() - start.y())))
            return
        old, self._pointer = self._pointer, pos
        self._update_cursor_area(old, pos)
        self._update_crop_cursor(pos)
        p = self.to_image(pos)
        self.cursor_moved.emit(int(p.x()), int(p.y()))
        if self._stroke is not None:
            self._stroke.line_to(p.x(), p.y(), self.brush_size / 2)
            self._last_point = p
        if self._retouch is not None:
            self._retouch[1].line_to(p.x(), p.y(), self.brush_size / 2)
            self._show_retouch()

    def mouseReleaseEvent(self, event) -> None:
        if self._dragging_split:
            self._dragging_split = False
            return
        if self._crop_edit is not None:
            self._crop_edit = None
            return
        if self._drag_from is not None:
            start, self._drag_from = self._drag_from, None
            end = self.to_image(event.position())
            if self.tool == "crop":
                self.crop_rect = self._crop_between(start, end)
                if self.crop_rect is not None:
                    self.hint.emit("Drag its edges or corners to adjust, inside to move; Enter crops, "
                                   "Esc or a click outside clears it")
            else:
                self._line = None
                if (end - start).manhattanLength() * self.zoom > 8:
                    self.line_drawn.emit(start.x(), start.y(), end.x(), end.y())
            self.viewport().update()
            return
        if self._pan_anchor is not None:
            self._pan_anchor = None
            self.viewport().unsetCursor()
            return
        if self._stroke is not None and event.button() == Qt.MouseButton.LeftButton:
            stroke, self._stroke = self._stroke, None
            stroke.end()  # one stroke = one undo step, pushed on release
            self.stroke_finished.emit()
        if self._retouch is not None and event.button() == Qt.MouseButton.LeftButton:
            tool, stroke, offset = self._retouch
            self._retouch = None
            if stroke.end():
                self.retouch_finished.emit(tool, stroke, offset)  # the window computes and installs it

    def _start_retouch(self, event) -> None:
        from photoforge.core.document import CoverageStroke

        p = self.to_image(event.position())
        if event.modifiers() & Qt.KeyboardModifier.AltModifier:
            self.clone_source, self._clone_offset = p, None
            self.hint.emit("Source set: paint to copy from there")
            self.viewport().update()
            return
        if self.clone_source is None:
            self.hint.emit("Alt-click where to copy from first")
            return
        if self.busy:
            self.hint.emit("Wait for the running job to finish before retouching")
            return
        offset = self._offset_at(p)
        if self.clone_aligned and self._clone_offset is None:
            self._clone_offset = offset  # aligned: later strokes keep this offset
        stroke = CoverageStroke(self.document.image.pixels.shape[:2], self.brush_opacity, self.brush_hardness)
        self._retouch = (self.tool, stroke, offset)
        stroke.dab(p.x(), p.y(), self.brush_size / 2)
        self._show_retouch()

    def _show_retouch(self) -> None:
        """The stroke so far, cloned (healing is computed on release), as an overlay."""
        from photoforge.ops.retouch import clone_region
        from photoforge.ui.pyramid import to_display

        _, stroke, offset = self._retouch
        if stroke.rect is not None:
            region = clone_region(self.document.image.pixels, stroke.rect, stroke.coverage(), offset)
            self.set_preview(to_display(region), stroke.rect, labelled=False)

    def leaveEvent(self, event) -> None:
        old, self._pointer = self._pointer, None
        self._update_cursor_area(old, None)

    def wheelEvent(self, event) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_step(event.angleDelta().y() / 120, event.position())
            event.accept()
        else:
            super().wheelEvent(event)

    def event(self, event) -> bool:
        if event.type() == event.Type.Gesture:
            pinch = event.gesture(Qt.GestureType.PinchGesture)
            if pinch is not None:
                self.set_zoom(self.zoom * pinch.scaleFactor())
                return True
        return super().event(event)

    def set_brush_size(self, size: float) -> None:
        self.brush_size = min(2000.0, max(1.0, size))
        self.brush_size_changed.emit(self.brush_size)
        self.viewport().update()

    def key_pressed(self, event) -> bool:
        """Space (pan), [ ] (brush size), \\ (hold for before); False for other keys. The
        window routes these here whatever has focus (ui/keys.py)."""
        key = event.key()
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space_down = True
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
        elif key == Qt.Key.Key_BracketLeft:
            self.set_brush_size(self.brush_size / 1.2)
        elif key == Qt.Key.Key_BracketRight:
            self.set_brush_size(self.brush_size * 1.2)
        elif key == Qt.Key.Key_Backslash:
            if not event.isAutoRepeat():
                self.show_before = self.before_pyramid is not None
                self.viewport().update()
        else:
            return False
        return True

    def key_released(self, event) -> bool:
        if event.key() not in (Qt.Key.Key_Space, Qt.Key.Key_Backslash):
            return event.key() in (Qt.Key.Key_BracketLeft, Qt.Key.Key_BracketRight)
        if not event.isAutoRepeat():
            if event.key() == Qt.Key.Key_Space:
                self._space_down = False
                self.viewport().unsetCursor()
            else:
                self.show_before = False
                self.viewport().update()
        return True

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape and self.crop_rect is not None:
            self.crop_rect = None
            self.viewport().update()
        elif not self.key_pressed(event):
            super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if not self.key_released(event):
            super().keyReleaseEvent(event)
