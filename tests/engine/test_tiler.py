"""Tiled inference: seams, geometry, memory-bounded assembly, OOM splitting, cancel."""
from __future__ import annotations

import numpy as np
import pytest

from photoforge.core.image import from_float
from photoforge.engine.progress import Aborted, Progress
from photoforge.engine.runtime import OutOfMemory
from photoforge.engine.tiler import TiledRunner, TileSpec, ramp, windows
from tests.conftest import smooth_random


def box_upscale_model(radius: int, scale: int):
    """A stand-in network with a known receptive field: box blur of `radius`, then ×scale
    nearest enlargement. Zero padding at the border, as a convolution stack has."""

    def infer(chw: np.ndarray) -> np.ndarray:
        padded = np.pad(chw, ((0, 0), (radius, radius), (radius, radius)))
        acc = np.zeros_like(chw)
        h, w = chw.shape[1:]
        for dy in range(2 * radius + 1):
            for dx in range(2 * radius + 1):
                acc += padded[:, dy:dy + h, dx:dx + w]
        acc /= (2 * radius + 1) ** 2
        return acc.repeat(scale, axis=1).repeat(scale, axis=2)

    return infer


def run(infer, image, spec, out_dtype=np.float32, progress=None):
    h, w = image.shape[:2]
    out = np.zeros((h * spec.scale, w * spec.scale, 3), out_dtype)
    return TiledRunner(infer, spec, progress).run(image, out)


def test_windows_cover_the_axis_with_overlap_and_one_shape():
    wins = windows(100, 32, 8)
    assert wins[0][0] == 0 and wins[-1][1] == 100
    assert len({b - a for a, b in wins}) == 1 and wins[0][1] - wins[0][0] <= 32
    assert all(wins[i + 1][0] < wins[i][1] for i in range(len(wins) - 1))
    assert windows(20, 32, 8) == [(0, 20)]


def test_windows_are_even_so_no_window_repeats_its_neighbour():
    # 384 px with a 352 px tile: two windows of about half each, not 352 + 352.
    wins = windows(384, 352, 8)
    assert len(wins) == 2 and sum(b - a for a, b in wins) <= 384 + 8


def test_windows_keep_the_cell_phase_of_size_multiples():
    wins = windows(101, 32, 8, multiple=2)
    assert all(a % 2 == 0 for a, _ in wins)
    assert wins[-1][1] == 101


def test_complementary_ramps_sum_to_one_over_the_overlap():
    a = ramp(32, 0, 8)
    b = ramp(32, 8, 0)
    np.testing.assert_allclose(a[-8:] + b[:8], 1.0, atol=1e-6)
    assert a.min() > 0 and b.min() > 0


@pytest.mark.parametrize("tile,overlap", [(16, 4), (24, 8), (37, 5)])
def test_tiled_equals_untiled_when_context_covers_the_receptive_field(tile, overlap):
    image = smooth_random((70, 90))
    infer = box_upscale_model(radius=3, scale=2)
    whole = run(infer, image, TileSpec(0, 0, 0, 2))
    tiled = run(infer, image, TileSpec(tile, overlap, context=4, scale=2))
    np.testing.assert_allclose(tiled, whole, atol=1e-6)


def test_any_channel_count_in_and_out():
    # An image + mask stack (4 channels) in, a one-channel map out, as adapters use it.
    image = np.dstack([smooth_random((50, 66)), smooth_random((50, 66), seed=1)[:, :, :1]])
    box = box_upscale_model(radius=2, scale=1)

    def infer(chw):
        return box(chw)[:3].mean(axis=0, keepdims=True) * box(chw)[3:]

    def run_map(spec):
        out = np.zeros((50, 66, 1), np.float32)
        return TiledRunner(infer, spec).run(image, out)

    np.testing.assert_allclose(run_map(TileSpec(20, 4, 3, 1)), run_map(TileSpec(0, 0, 0, 1)), atol=1e-6)
    with pytest.raises(ValueError, match="output must be"):
        TiledRunner(infer, TileSpec(0, 0, 0, 1)).run(image, np.zeros((50, 66), np.float32))


def test_without_context_tiles_show_seams():
    # The reason context exists: the same tiling with none differs visibly.
    image = smooth_random((64, 64))
    infer = box_upscale_model(radius=3, scale=1)
    whole = run(infer, image, TileSpec(0, 0, 0, 1))
    tiled = run(infer, image, TileSpec(16, 0, context=0, scale=1))
    assert np.abs(tiled - whole).max() > 10 / 255


def test_uint16_output_is_rounded_from_float():
    image = (smooth_random((40, 40)) * 65535).astype(np.uint16)
    infer = box_upscale_model(radius=1, scale=2)
    whole = run(infer, image, TileSpec(0, 0, 0, 2))
    tiled16 = run(infer, image, TileSpec(16, 4, 2, 2), out_dtype=np.uint16)
    assert tiled16.dtype == np.uint16
    np.testing.assert_array_less(np.abs(tiled16 / 65535.0 - whole), 1.0 / 65535 + 1e-6)


def test_out_of_memory_halves_the_window_and_keeps_the_result():
    image = smooth_random((64, 64))
    base = box_upscale_model(radius=2, scale=2)
    sizes = []

    def picky(chw):
        sizes.append(chw.shape[1:])
        if chw.shape[1] > 40:
            raise OutOfMemory("simulated: tile too large")
        return base(chw)

    whole = run(base, image, TileSpec(0, 0, 0, 2))
    tiled = run(picky, image, TileSpec(64, 0, context=4, scale=2))
    np.testing.assert_allclose(tiled, whole, atol=1e-6)
    assert any(h > 40 for h, _ in sizes) and all(h <= 40 for h, _ in sizes[1:])


def test_out_of_memory_on_a_tiny_window_is_raised():
    def always_oom(chw):
        raise OutOfMemory("simulated")

    with pytest.raises(OutOfMemory):
        run(always_oom, smooth_random((40, 40)), TileSpec(40, 0, 0, 1))


def test_errors_are_never_swallowed():
    def broken(chw):
        raise ValueError("kaput")

    with pytest.raises(ValueError, match="kaput"):
        run(broken, smooth_random((40, 40)), TileSpec(16, 4, 2, 1))


def test_cancel_stops_within_one_tile_and_reports_per_tile():
    calls, fractions = [], []
    progress = Progress(lambda f, m: fractions.append(f))
    base = box_upscale_model(radius=1, scale=1)

    def counting(chw):
        calls.append(1)
        if len(calls) == 3:
            progress.cancel()
        return base(chw)

    with pytest.raises(Aborted):
        run(counting, smooth_random((64, 64)), TileSpec(16, 0, 0, 1), progress=progress)
    assert len(calls) == 3
    assert fractions == sorted(fractions) and len(fractions) == 3


def test_size_multiple_pads_and_crops_back():
    image = smooth_random((33, 47))
    seen = []

    def needs_even(chw):
        seen.append(chw.shape)
        assert chw.shape[1] % 4 == 0 and chw.shape[2] % 4 == 0
        return chw.copy()

    out = run(needs_even, image, TileSpec(0, 0, 0, 1, multiple=4))
    np.testing.assert_array_equal(out, image)


@pytest.mark.parametrize("out_dtype", [np.float32, np.uint8, np.uint16])
def test_one_window_writes_the_network_output_as_it_is(out_dtype):
    # The whole image in one window skips blending: the result must be exactly what the
    # network gave, converted once, as through the strip.
    image = smooth_random((30, 44))
    infer = box_upscale_model(radius=2, scale=3)
    expected = infer(np.ascontiguousarray(image.transpose(2, 0, 1))).transpose(1, 2, 0)
    if out_dtype != np.float32:
        expected = from_float(expected, out_dtype)
    for spec in (TileSpec(0, 0, 0, 3), TileSpec(64, 8, 4, 3)):
        got = run(infer, image, spec, out_dtype=out_dtype)
        assert got.dtype == out_dtype and np.array_equal(got, expected)
