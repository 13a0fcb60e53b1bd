"""Rotate, flip, crop, straighten: exact moves, the mask and alpha along, 16-bit kept."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from photoforge.core.document import Document
from photoforge.core.image import ImageData
from photoforge.ops.geometry import (crop, flip, inscribed_size, line_angle, rotate90, straighten,
                                     suggest_angle)


def sample(h=30, w=50):
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 65535, (h, w, 3), dtype=np.uint16)
    alpha = rng.integers(0, 65535, (h, w), dtype=np.uint16)
    mask = np.zeros((h, w), np.uint8)
    mask[2:5, 40:48] = 255  # top right
    return ImageData(pixels, alpha, icc_profile=b"icc"), mask


def test_a_clockwise_quarter_turn_moves_the_top_right_to_the_bottom_right():
    image, mask = sample()
    moved = rotate90(image, mask, clockwise=True)
    assert moved.image.pixels.shape == (50, 30, 3) and moved.image.pixels.dtype == np.uint16
    np.testing.assert_array_equal(moved.image.pixels[0, -1], image.pixels[0, 0])  # top-left → top-right
    np.testing.assert_array_equal(moved.image.pixels[-1, -1], image.pixels[0, -1])  # top-right → bottom-right
    assert moved.mask[40:48, 25:28].all() and moved.mask.sum() == mask.sum()
    np.testing.assert_array_equal(moved.image.alpha[-1, -1], image.alpha[0, -1])
    assert moved.image.icc_profile == b"icc"
    back = image, mask
    for _ in range(4):
        back = rotate90(*back, clockwise=False) if isinstance(back, tuple) else rotate90(back.image, back.mask, False)
    np.testing.assert_array_equal(back.image.pixels, image.pixels)
    np.testing.assert_array_equal(back.mask, mask)


def test_flips_and_crops_are_exact():
    image, mask = sample()
    f = flip(image, mask, horizontal=True)
    np.testing.assert_array_equal(f.image.pixels[:, 0], image.pixels[:, -1])
    assert f.mask[2:5, 2:10].all()
    v = flip(image, mask, horizontal=False)
    np.testing.assert_array_equal(v.image.pixels[0], image.pixels[-1])
    c = crop(image, mask, (1, 20, 35, 60))
    assert c.image.pixels.shape == (19, 15, 3)
    np.testing.assert_array_equal(c.image.pixels, image.pixels[1:20, 35:50])
    np.testing.assert_array_equal(c.mask, mask[1:20, 35:50])
    with pytest.raises(ValueError, match="nothing"):
        crop(image, mask, (10, 10, 0, 50))


@pytest.mark.parametrize("points, expected", [((0, 0, 100, 10), 5.71), ((0, 10, 100, 0), -5.71),
                                              ((0, 0, 10, 100), -5.71), ((10, 0, 0, 100), 5.71)])
def test_a_drawn_line_becomes_level_or_plumb(points, expected):
    angle = line_angle(*points)
    assert angle == pytest.approx(expected, abs=0.01)
    # turning the picture by that angle turns the line's direction level or plumb
    x0, y0, x1, y1 = points
    m = cv2.getRotationMatrix2D((0, 0), angle, 1.0)
    (ax, ay), (bx, by) = (m @ np.array([x0, y0, 1.0])), (m @ np.array([x1, y1, 1.0]))
    assert min(abs(by - ay), abs(bx - ax)) < 1e-6


def tilted_scene(degrees: float, h=600, w=800) -> np.ndarray:
    """A horizon and two building edges, turned by −degrees, so straightening by +degrees fixes it."""
    scene = np.full((h * 2, w * 2, 3), 200, np.uint8)
    scene[h:, :] = (60, 90, 60)  # ground below a level horizon
    scene[h - 300:h, w - 200:w - 180] = 40  # a plumb wall edge
    scene[h - 300:h, w + 180:w + 200] = 40
    m = cv2.getRotationMatrix2D((w, h), -degrees, 1.0)
    turned = cv2.warpAffine(scene, m, (w * 2, h * 2), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(turned[h // 2:h // 2 + h, w // 2:w // 2 + w])


@pytest.mark.parametrize("degrees", [3.0, -2.0])
def test_the_suggestion_finds_the_tilt_and_straightening_removes_it(degrees):
    pixels = tilted_scene(degrees)
    suggested = suggest_angle(pixels)
    assert suggested == pytest.approx(degrees, abs=0.2)
    mask = np.zeros(pixels.shape[:2], np.uint8)
    moved = straighten(ImageData(pixels), mask, suggested)
    again = suggest_angle(moved.image.pixels)
    assert again is None or abs(again) < 0.2
    h, w = pixels.shape[:2]
    assert moved.image.pixels.shape[:2] == inscribed_size(w, h, suggested)[::-1]


def test_a_portrait_without_lines_gets_no_suggestion(photo):
    blurred = cv2.GaussianBlur(photo, (0, 0), 6)
    assert suggest_angle(blurred) is None


def test_the_inscribed_rectangle_fits_inside_the_turned_photo():
    w, h, a = 800, 600, 7.0
    cw, ch = inscribed_size(w, h, a)
    r = math.radians(a)
    for sx, sy in ((1, 1), (1, -1), (-1, 1), (-1, -1)):  # its corners, turned back into the photo
        x, y = sx * cw / 2, sy * ch / 2
        xr, yr = x * math.cos(r) - y * math.sin(r), x * math.sin(r) + y * math.cos(r)
        assert abs(xr) <= w / 2 + 1e-6 and abs(yr) <= h / 2 + 1e-6
    assert cw * ch > 0.75 * w * h


def test_a_turn_is_one_undo_step_with_the_mask_turned_too():
    image, mask = sample()
    doc = Document(image)
    doc.mask[...] = mask
    moved = rotate90(doc.image, doc.mask)
    assert doc.apply_image(moved.image, "Rotate 90° clockwise", moved.mask)
    assert doc.mask.shape == (50, 30) and doc.mask[40:48, 25:28].all()
    doc.undo()
    np.testing.assert_array_equal(doc.mask, mask)
    np.testing.assert_array_equal(doc.image.pixels, image.pixels)
