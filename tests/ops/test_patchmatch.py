"""Content-aware fill (photoforge.ops.patchmatch) on real and constructed pixels."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from photoforge.engine.progress import Aborted, Progress
from photoforge.ops.patchmatch import fill


def disk(h: int, w: int, cy: int, cx: int, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2


def stripes(h: int, w: int, channels: int = 3) -> np.ndarray:
    """Diagonal sine stripes, period 9 px along x, with a different phase per channel."""
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    t = 2 * np.pi * (xx + 0.5 * yy) / 9
    return np.stack([0.5 + 0.4 * np.sin(t + k) for k in range(channels)], axis=2).astype(np.float32)


def telea(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    u8 = np.rint(image * 255).astype(np.uint8)
    return cv2.inpaint(u8, hole.astype(np.uint8), 3, cv2.INPAINT_TELEA).astype(np.float32) / 255


@pytest.fixture(scope="module")
def crop(photo) -> np.ndarray:
    """The suit and mission patch of the astronaut photo, 160×160 float32."""
    return np.ascontiguousarray(photo[300:460, 90:250].astype(np.float32) / 255)


def test_pixels_outside_the_hole_are_bit_identical(crop):
    hole = disk(160, 160, 85, 80, 40)
    exclude = disk(160, 160, 20, 140, 12)
    image = crop.copy()
    out = fill(image, hole, exclude=exclude)
    assert out.dtype == np.float32 and out.shape == crop.shape
    np.testing.assert_array_equal(image, crop)  # the input is left alone
    assert np.array_equal(out[~hole], crop[~hole])
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    # The mission patch (blue, purple, white) has gone; orange suit fabric is in its place.
    blue = lambda px: (px[:, 2] > px[:, 0]).mean()
    assert blue(crop[hole]) > 0.5 and blue(out[hole]) == 0
    suit = np.median(crop[~hole & ~exclude], axis=0)
    assert np.abs(np.median(out[hole], axis=0) - suit).max() < 0.08


def test_flat_region_comes_back_flat():
    rng = np.random.default_rng(1)
    image = np.empty((96, 128, 3), np.float32)
    image[:] = (0.2, 0.55, 0.7)
    image[:, 80:] = rng.random((96, 48, 3))  # texture nearby that must not be pulled in
    hole = np.zeros((96, 128), bool)
    hole[30:66, 20:56] = True
    out = fill(image, hole)
    assert np.abs(out[hole] - np.float32((0.2, 0.55, 0.7))).max() < 1e-5


def test_periodic_texture_is_continued_far_better_than_telea():
    rng = np.random.default_rng(2)
    truth = np.clip(stripes(128, 128) + rng.normal(0, 0.02, (128, 128, 3)), 0, 1).astype(np.float32)
    hole = np.zeros((128, 128), bool)
    hole[40:88, 36:92] = True
    image = truth.copy()
    image[hole] = 0  # what the hole held must not matter
    ours = ((fill(image, hole) - truth)[hole] ** 2).mean()
    baseline = ((telea(image, hole) - truth)[hole] ** 2).mean()
    assert ours < baseline / 3, (ours, baseline)
    assert ours < 0.005  # about twice the noise variance: the stripes line up


@pytest.mark.parametrize("seed", [0, 2])
def test_grain_is_as_strong_inside_the_fill_as_around_it(seed):
    """Film-grain-like noise: averaging the overlapping patches would smooth it (a ratio of
    0.71–0.79 here before the finest level copied the detail of its best patches)."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (128, 128)).astype(np.float32), (0, 0), 1.0)
    image = (np.clip(0.5 + 0.08 * noise / noise.std(), 0, 1)[..., None] * np.float32((1, 0.8, 0.6)))
    hole = disk(128, 128, 64, 64, 30)
    out = fill(image, hole, seed=seed)
    grey = out.mean(axis=2)
    grad = (np.abs(np.diff(grey, axis=1))[:-1] + np.abs(np.diff(grey, axis=0))[:, :-1])
    inner = cv2.erode(hole[:-1, :-1].astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    ratio = grad[inner].mean() / grad[~hole[:-1, :-1]].mean()
    assert 0.85 < ratio < 1.2, ratio


def test_excluded_pixels_are_never_copied():
    """A magenta/green band crosses the hole; outside the hole it is all excluded, so the
    fill has to come from the grey noise around it although the band matches far better."""
    rng = np.random.default_rng(3)
    image = np.clip(0.5 + rng.normal(0, 0.05, (112, 112, 1)), 0, 1).repeat(3, axis=2).astype(np.float32)
    band = np.zeros((112, 112), bool)
    band[:, 44:68] = True
    image[band] = np.where((np.arange(112) // 4 % 2 == 0)[:, None], (1.0, 0.0, 1.0), (0.0, 1.0, 0.0))[
        np.nonzero(band)[0]]
    hole = np.zeros((112, 112), bool)
    hole[36:76, 36:76] = True
    magenta = lambda px: (np.abs(px - (1.0, 0.0, 1.0)).max(axis=1) < 0.35).sum()

    control = fill(image, hole)
    assert magenta(control[hole]) > 100  # without exclude, the band is continued

    out = fill(image, hole, exclude=band & ~hole)
    assert magenta(out[hole]) == 0
    assert np.abs(out[hole] - 0.5).max() < 0.3  # grey noise, nothing saturated


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_all_channels_are_filled(channels):
    truth = stripes(96, 96, channels)
    if channels == 4:
        truth[..., 3] = 0.25  # a flat alpha comes back flat
    hole = disk(96, 96, 48, 48, 18)
    image = truth.copy()
    image[hole] = 1.0
    out = fill(image, hole)
    assert out.shape == (96, 96, channels)
    assert np.array_equal(out[~hole], truth[~hole])
    assert ((out - truth)[hole] ** 2).mean() < 0.002
    if channels == 4:
        assert np.abs(out[hole, 3] - 0.25).max() < 1e-5


def test_same_seed_same_result_and_the_seed_matters(crop):
    hole = disk(160, 160, 85, 80, 40)
    a = fill(crop, hole, seed=7)
    assert np.array_equal(a, fill(crop, hole, seed=7))
    assert not np.array_equal(a, fill(crop, hole, seed=8))


def test_progress_rises_to_one_and_cancel_raises_aborted(crop):
    hole = disk(160, 160, 85, 80, 40)
    seen = []
    fill(crop, hole, progress=Progress(lambda f, _m: seen.append(f)))
    assert seen and seen == sorted(seen) and seen[-1] == pytest.approx(1.0)

    class CancelOnSecondCheck(Progress):
        checks = 0

        def check_aborted(self):
            self.checks += 1
            if self.checks == 2:
                self.cancel()
            super().check_aborted()

    progress = CancelOnSecondCheck()
    with pytest.raises(Aborted):
        fill(crop, hole, progress=progress)
    assert progress.checks == 2


def test_hole_on_the_image_border_and_tiny_images():
    truth = stripes(64, 80)
    hole = np.zeros((64, 80), bool)
    hole[:20, 50:] = True  # a corner
    out = fill(truth, hole)
    assert ((out - truth)[hole] ** 2).mean() < 0.002

    tiny = np.full((5, 6, 3), 0.3, np.float32)  # smaller than a patch: smooth fill
    small_hole = np.zeros((5, 6), bool)
    small_hole[2, 2:4] = True
    assert np.abs(fill(tiny, small_hole) - 0.3).max() < 1e-3


def test_degenerate_inputs():
    image = stripes(32, 32)
    nothing = np.zeros((32, 32), bool)
    out = fill(image, nothing)
    assert np.array_equal(out, image) and out is not image
    with pytest.raises(ValueError):
        fill(image, np.ones((32, 32), bool))
    with pytest.raises(ValueError):
        fill(image[..., :2], nothing)
    with pytest.raises(ValueError):
        fill(image, nothing[:, :10])
    with pytest.raises(ValueError):
        fill(image, nothing, patch_size=6)
