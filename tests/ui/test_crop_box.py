"""The crop rectangle's handles: what a press takes and what a drag makes of it."""
from __future__ import annotations

import pytest

from photoforge.ui.crop_box import grab, reshape

RECT = (100, 300, 200, 500)  # y0, y1, x0, x1: 300 wide, 200 high
SIZE = (800, 600)


@pytest.mark.parametrize("x, y, expected", [
    (203, 200, {"left"}), (498, 200, {"right"}), (350, 97, {"top"}), (350, 304, {"bottom"}),
    (197, 103, {"left", "top"}), (503, 297, {"right", "bottom"}),
    (350, 200, {"move"}), (100, 200, None), (350, 320, None),
])
def test_a_press_takes_the_edge_corner_or_inside_under_it(x, y, expected):
    taken = grab(RECT, x, y, tolerance=6)
    assert (taken if taken is None else set(taken)) == expected


def test_on_a_thin_rectangle_the_nearer_edge_wins():
    assert grab((100, 300, 200, 206), 205, 200, tolerance=6) == {"right"}
    assert grab((100, 300, 200, 206), 201, 200, tolerance=6) == {"left"}
    assert grab((100, 300, 200, 206), 207, 200, tolerance=6) == {"right"}  # just outside


def test_a_rectangle_thinner_than_two_tolerances_can_still_be_moved():
    assert grab((100, 300, 200, 209), 204.5, 200, tolerance=6) == {"move"}
    assert grab((100, 104, 200, 500), 350, 102, tolerance=6) == {"move"}


def test_dragging_an_edge_moves_only_that_edge():
    assert reshape(RECT, frozenset({"right"}), 40, 17, SIZE) == (100, 300, 200, 540)
    assert reshape(RECT, frozenset({"top"}), 9, -30, SIZE) == (70, 300, 200, 500)
    assert reshape(RECT, frozenset({"left", "bottom"}), -50, 25, SIZE) == (100, 325, 150, 500)


def test_an_edge_stops_at_the_photo_and_before_the_opposite_edge():
    assert reshape(RECT, frozenset({"right"}), 900, 0, SIZE) == (100, 300, 200, 800)
    assert reshape(RECT, frozenset({"left"}), 900, 0, SIZE) == (100, 300, 498, 500)


def test_moving_keeps_the_size_and_stays_on_the_photo():
    assert reshape(RECT, frozenset({"move"}), 20, -10, SIZE) == (90, 290, 220, 520)
    assert reshape(RECT, frozenset({"move"}), 1000, 1000, SIZE) == (400, 600, 500, 800)


def test_a_held_aspect_survives_edge_and_corner_drags():
    square = (100, 300, 200, 400)
    # an edge: the other side grows about its centre
    assert reshape(square, frozenset({"right"}), 40, 0, SIZE, aspect=1.0) == (80, 320, 200, 440)
    # a corner: the opposite corner stays, the larger pull leads
    assert reshape(square, frozenset({"left", "top"}), -10, -60, SIZE, aspect=1.0) == (40, 300, 140, 400)


def test_a_held_aspect_shrinks_rather_than_leave_the_photo():
    square = (100, 300, 200, 400)
    y0, y1, x0, x1 = reshape(square, frozenset({"right"}), 500, 0, SIZE, aspect=1.0)
    # the width stops at the photo's right edge (600) and the height follows, pushed down
    # onto the photo rather than centred above its top
    assert (y0, y1, x0, x1) == (0, 600, 200, 800)


def test_the_rectangles_own_orientation_decides_the_aspect():
    tall = (0, 300, 0, 200)  # 2:3 portrait under a 3:2 preset
    y0, y1, x0, x1 = reshape(tall, frozenset({"bottom"}), 0, 60, SIZE, aspect=1.5)
    assert (y1 - y0, x1 - x0) == (360, 240)
