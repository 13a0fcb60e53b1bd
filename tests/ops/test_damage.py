"""Scratch and dust detection on real photographs with defects drawn onto them."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from photoforge.core.imageio import load_image
from photoforge.engine.progress import Aborted, Progress
from photoforge.ops import damage

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return load_image(SAMPLES / "astronaut.jpg").pixels


@pytest.fixture(scope="module")
def coffee() -> np.ndarray:
    return load_image(SAMPLES / "coffee.jpg").pixels


def scratch(img, p0, p1, tone, thickness=2):
    """The image with an anti-aliased line drawn in `tone`, and the line's own pixels."""
    cover = np.zeros(img.shape[:2], np.uint8)
    cv2.line(cover, p0, p1, 255, thickness, cv2.LINE_AA)
    a = cover[..., None].astype(np.float32) / 255
    out = np.round(img * (1 - a) + tone * a).astype(np.uint8)
    return out, cover >= 128


def flagged_share(mask, truth) -> float:
    return float((mask[truth] > 0).mean())


def test_clean_photos_are_nearly_unflagged(astronaut, coffee):
    for img in (astronaut, coffee):
        mask = damage.detect_damage(img)
        assert mask.shape == img.shape[:2] and mask.dtype == np.uint8
        assert set(np.unique(mask)) <= {0, 255}
        assert (mask > 0).mean() <= 0.005


@pytest.mark.parametrize("tone", [245, 15], ids=["light", "dark"])
def test_a_scratch_across_the_background_is_found(astronaut, tone):
    img, line = scratch(astronaut, (330, 25), (345, 200), tone)
    mask = damage.detect_damage(img)
    assert flagged_share(mask, line) > 0.8
    # and it does not spill over the rest of the picture
    assert (mask > 0).sum() < 4 * line.sum() + (damage.detect_damage(astronaut) > 0).sum()


def test_a_dust_speck_is_found_and_nothing_beside_it(astronaut):
    img = astronaut.copy()
    cv2.circle(img, (340, 120), 2, (20, 20, 20), -1, cv2.LINE_AA)
    speck = np.zeros(img.shape[:2], bool)
    speck[118:123, 338:343] = True
    before = damage.detect_damage(astronaut) > 0
    after = damage.detect_damage(img) > 0
    assert after[speck].mean() > 0.5
    new = after & ~before
    ys, xs = np.nonzero(new)
    assert np.hypot(ys - 120, xs - 340).max() <= 6  # new flags are the speck and its halo


def test_a_glint_is_not_dust_but_a_sharp_speck_of_the_same_size_is():
    # A dark glossy surface curving away from the light (smooth shading), with a specular
    # glint: a Gaussian core clipped at the top of the range inside a soft halo. Beside it,
    # a dust speck of the same size, anti-aliased but sharp-edged.
    yy, xx = np.mgrid[0:120, 0:160].astype(np.float32)
    shade = 45 + 25 * np.cos((xx - 50) / 160 * np.pi) + 8 * np.sin(yy / 120 * np.pi)
    r2 = (yy - 60) ** 2 + (xx - 50) ** 2
    glint = 300 * np.exp(-r2 / (2 * 1.3 ** 2)) + 60 * np.exp(-r2 / (2 * 3.5 ** 2))
    img = np.stack([shade * 1.6, shade * 0.55, shade * 0.4], -1) + glint[..., None]
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    assert (img[55:66, 45:56] == 255).any()  # the core is clipped
    cv2.circle(img, (110 * 8, 60 * 8), 20, (235, 235, 235), -1, cv2.LINE_AA, shift=3)  # r 2.5 px
    mask = damage.detect_damage(img) > 0
    assert not mask[48:73, 38:63].any()
    assert mask[58:63, 108:113].all()
    assert not mask[:, :90].any() and mask.sum() < 100  # nothing else: the surface is smooth


def test_higher_sensitivity_flags_more(coffee):
    img, _ = scratch(coffee, (60, 50), (90, 350), 20)
    low = damage.detect_damage(img, sensitivity=0.3) > 0
    mid = damage.detect_damage(img, sensitivity=0.5) > 0
    high = damage.detect_damage(img, sensitivity=0.8) > 0
    assert low.sum() < mid.sum() < high.sum()
    # nearly everything the lower setting flags is flagged at the higher one
    assert (high[low]).mean() > 0.98 and (high[mid]).mean() > 0.98


def test_uint16_gives_the_same_mask(astronaut):
    img, _ = scratch(astronaut, (330, 25), (345, 200), 245)
    np.testing.assert_array_equal(damage.detect_damage(img.astype(np.uint16) * 257), damage.detect_damage(img))


def test_grayscale_input(astronaut):
    img, line = scratch(astronaut, (330, 25), (345, 200), 245)
    gray = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    for g in (gray, gray[:, :, None]):
        mask = damage.detect_damage(g)
        assert mask.shape == gray.shape
        assert flagged_share(mask, line) > 0.8


@pytest.mark.parametrize("bad", [np.zeros((8, 8, 2), np.uint8), np.zeros((8, 8, 4), np.uint8),
                                 np.zeros((2, 8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.float32)])
def test_bad_input_raises(bad):
    with pytest.raises(ValueError):
        damage.detect_damage(bad)


def test_tiling_does_not_change_the_mask(coffee, monkeypatch):
    img, _ = scratch(coffee, (60, 50), (90, 350), 20)
    cv2.circle(img, (300, 120), 2, (240, 240, 240), -1, cv2.LINE_AA)
    whole = damage.detect_damage(img)
    assert whole.any()
    seen = []
    monkeypatch.setattr(damage, "TILE", 256)
    tiled = damage.detect_damage(img, progress=Progress(lambda f, m: seen.append(f)))
    np.testing.assert_array_equal(tiled, whole)
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_cancel_aborts(astronaut):
    calls = []
    progress = Progress(lambda f, m: calls.append(f))
    progress.cancel()
    with pytest.raises(Aborted):
        damage.detect_damage(astronaut, progress=progress)

    progress = Progress(lambda f, m: progress.cancel() if f > 0.1 else None)
    with pytest.raises(Aborted):
        damage.detect_damage(astronaut, progress=progress)


def test_a_soft_sided_clipped_highlight_line_is_not_a_scratch_but_a_sharp_one_is():
    # A glossy rim's highlight as on coffee.jpg's saucer: a near-white band rising sharply on
    # its dark side, then falling over 3 px on its lit side before the rim ends; its core is
    # clipped over 15 % of its length only. Beside it, a scratch of the same tone and
    # clipping, sharp on both sides. Both are 6 px wide at most, so the top-hat keeps neither
    # halo: only the luminance tells them apart.
    yy, xx = np.mgrid[0:160, 0:160].astype(np.float32)
    shade = 1 + 0.15 * np.cos((xx - 40) / 160 * np.pi) + 0.05 * np.sin(yy / 160 * np.pi)
    base = np.stack([168 * shade, 50 * shade, 35 * shade], -1)
    strength = 0.93 + 0.1 * np.exp(-((yy - 80) / 15) ** 2)  # > 1 (clipped) for |y − 80| < 9
    lines = []
    for x0, flank in ((45, 3.0), (110, 0.0)):
        u = xx - x0
        fall = np.where(u < 1.5 + flank, 1 - 0.5 * (u - 1.5) / max(flank, 1e-6), 0.5 - (u - 1.5 - flank) / 1.4)
        lines.append(np.where(u < 0, 1 + u / 0.7, np.where(u < 1.5, 1.0, fall)).clip(0, 1))
    cover = np.where((yy > 20) & (yy < 140), strength * np.maximum(*lines), 0)[..., None]
    img = np.clip(np.rint(base + (255 - base) * cover), 0, 255).astype(np.uint8)
    clipped_rows = (img[:, 40:56] == 255).any(axis=(1, 2))
    assert 0.1 < clipped_rows[21:140].mean() < 0.3  # clipped, but under CLIP_SHARE's old bar
    mask = damage.detect_damage(img) > 0
    assert not mask[:, :80].any()
    assert mask[25:136, 110:112].all()


def many_scratches(h=800, w=1000, n=24, seed=0):
    """A mid-grey print with fine grain and n long light scratches: over 32,767 pixels of
    line pieces in one tile, more points than one cv2.remap map can take (the old failure)."""
    rng = np.random.default_rng(seed)
    img = np.clip(110 + rng.normal(0, 3, (h, w, 1)), 0, 255).repeat(3, 2).astype(np.uint8)
    truth = np.zeros((h, w), bool)
    for i in range(n):
        x0 = int(i * w / n + rng.integers(0, 10))
        img, cover = scratch(img, (x0, 0), (x0 + int(rng.integers(-60, 60)), h - 1), 235, 1)
        truth |= cover
    return img, truth


def test_a_heavily_scratched_photo_is_detected():
    img, truth = many_scratches()
    whole = damage.detect_damage(img)  # raised cv2.error (SHRT_MAX) before _sample
    assert int((whole > 0).sum()) > 32_767
    assert flagged_share(whole, truth) > 0.9


def test_sample_is_bilinear_at_any_number_of_points():
    rng = np.random.default_rng(1)
    img = rng.random((40, 50)).astype(np.float32)
    xs, ys = rng.uniform(0, 49, (300, 250)), rng.uniform(0, 39, (300, 250))  # 75,000 points
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    x1, y1 = np.minimum(x0 + 1, 49), np.minimum(y0 + 1, 39)
    want = (img[y0, x0] * (1 - fx) * (1 - fy) + img[y0, x1] * fx * (1 - fy)
            + img[y1, x0] * (1 - fx) * fy + img[y1, x1] * fx * fy)
    got = damage._sample(img, xs, ys)
    assert got.shape == xs.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=2e-3)  # cv2's bilinear weights are 5-bit
