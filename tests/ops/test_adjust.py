"""Manual tone and colour (ops/adjust.py): exact maps, 16-bit precision, presets, errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from photoforge.core.image import ImageData
from photoforge.ops.adjust import (IDENTITY_CURVE, AdjustError, Adjustments, Levels, adjust_image,
                                   apply_adjustments, curve_lut, from_fade_report, histogram,
                                   load_preset, neutral_gains, save_preset)


def ramp16(h=64, w=1024) -> np.ndarray:
    values = np.linspace(0, 65535, h * w).round().astype(np.uint16).reshape(h, w)
    return np.repeat(values[..., None], 3, axis=2)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_no_change_is_the_same_pixels(photo, dtype):
    pixels = photo.astype(dtype) * (257 if dtype == np.uint16 else 1)
    out = apply_adjustments(pixels, Adjustments())
    assert out.dtype == dtype and out is not pixels
    np.testing.assert_array_equal(out, pixels)


def test_levels_map_black_and_white_exactly_and_keep_sixteen_bits():
    pixels = ramp16()
    out = apply_adjustments(pixels, Adjustments(levels=(Levels(0.1, 0.9, 1.0),) + (Levels(),) * 3))
    x = pixels[..., 0].astype(np.float64) / 65535
    expected = np.clip((x - 0.1) / 0.8, 0, 1) * 65535
    assert np.abs(out[..., 0] - expected).max() <= 0.5 + 1e-6
    inside = (x > 0.1) & (x < 0.9)
    # 16-bit in, 16-bit out: the stretched range keeps thousands of distinct levels, not 256
    assert len(np.unique(out[..., 0][inside])) > 40000


def test_gamma_brightens_midtones_and_keeps_the_ends():
    pixels = np.array([[[0, 0, 0], [32768, 32768, 32768], [65535, 65535, 65535]]], np.uint16)
    out = apply_adjustments(pixels, Adjustments(levels=(Levels(gamma=2.0),) + (Levels(),) * 3))
    assert out[0, 0, 0] == 0 and out[0, 2, 0] == 65535
    assert out[0, 1, 0] == round((32768 / 65535) ** 0.5 * 65535)


def test_channel_levels_touch_only_their_channel(photo):
    adj = Adjustments(levels=(Levels(), Levels(0.2, 1.0), Levels(), Levels()))
    out = apply_adjustments(photo, adj)
    np.testing.assert_array_equal(out[..., 1:], photo[..., 1:])
    assert (out[..., 0].astype(int) <= photo[..., 0]).all() and (out[..., 0] != photo[..., 0]).any()


def test_curve_passes_through_its_points_and_does_not_overshoot():
    points = ((0.0, 0.0), (0.25, 0.1), (0.5, 0.6), (1.0, 1.0))
    assert curve_lut(points, np.array([p[0] for p in points])) == pytest.approx([p[1] for p in points])
    y = curve_lut(points, np.linspace(0, 1, 1001))
    assert (np.diff(y) >= -1e-12).all() and y.min() >= 0 and y.max() <= 1


def test_contrast_undoes_itself_and_keeps_black_and_white():
    pixels = ramp16(4, 4096)
    up = apply_adjustments(pixels, Adjustments(contrast=0.6))
    assert up[0, 0, 0] == 0 and up[-1, -1, 0] == 65535
    back = apply_adjustments(up, Adjustments(contrast=-0.6))
    mid = (pixels[..., 0] > 6000) & (pixels[..., 0] < 59000)  # where the slope is not extreme
    assert np.abs(back[..., 0][mid].astype(int) - pixels[..., 0][mid]).max() <= 40


def test_the_eyedropper_makes_the_picked_patch_neutral():
    rng = np.random.default_rng(1)
    pixels = rng.integers(20, 235, (80, 100, 3), dtype=np.uint8)
    pixels[30:50, 40:60] = (150, 128, 96)  # a grey card under warm light
    gains = neutral_gains(pixels, 50, 40)
    out = apply_adjustments(pixels, Adjustments(wb=gains))
    patch = out[35:45, 45:55].reshape(-1, 3).astype(int)
    assert np.ptp(patch.mean(axis=0)) <= 1.0
    assert abs(patch.mean() - 124.7) < 1.5  # its brightness is kept
    with pytest.raises(AdjustError, match="outside"):
        neutral_gains(pixels, 100, 5)
    pixels[0:5, 0:5] = 2
    with pytest.raises(AdjustError, match="too dark"):
        neutral_gains(pixels, 2, 2)


def test_saturation_minus_one_is_grey_and_vibrance_favours_dull_colours():
    pixels = np.array([[[200, 60, 60], [140, 120, 120]]], np.uint8)  # vivid red, dull pink
    grey = apply_adjustments(pixels, Adjustments(saturation=-1.0)).astype(int)
    assert np.ptp(grey, axis=2).max() <= 1
    vib = apply_adjustments(pixels, Adjustments(vibrance=0.5)).astype(int)
    spread_before = np.ptp(pixels.astype(int), axis=2)[0]
    spread_after = np.ptp(vib, axis=2)[0]
    gain = spread_after / spread_before
    assert gain[1] > gain[0] > 1.0


def test_a_grey_image_stays_grey_and_alpha_is_kept():
    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)
    alpha = np.full((16, 16), 77, np.uint8)
    image = ImageData(pixels, alpha, icc_profile=b"icc")
    out = adjust_image(image, Adjustments(levels=(Levels(0.1, 0.9),) + (Levels(),) * 3, saturation=0.5))
    assert out.pixels.shape == (16, 16, 1) and out.icc_profile == b"icc"
    np.testing.assert_array_equal(out.alpha, alpha)


def test_presets_round_trip_and_damage_is_named(tmp_path):
    adj = Adjustments(levels=(Levels(0.05, 0.9, 1.3), Levels(), Levels(0.0, 0.95), Levels()),
                      curves=(((0, 0), (0.4, 0.5), (1, 1)),) + (IDENTITY_CURVE,) * 3,
                      wb=(1.1, 1.0, 0.9), exposure=-0.5, contrast=0.1, saturation=0.2, vibrance=-0.1)
    path = tmp_path / "warm.json"
    save_preset(adj, path)
    assert load_preset(path) == adj
    data = json.loads(path.read_text())
    data["levels"][0]["black"] = 2.0
    path.write_text(json.dumps(data))
    with pytest.raises(AdjustError, match=r"warm\.json: levels need 0 ≤ black < white ≤ 1"):
        load_preset(path)
    path.write_text("{nope")
    with pytest.raises(AdjustError, match="warm.json: cannot read the preset"):
        load_preset(path)


@pytest.mark.parametrize("bad, message", [
    (dict(levels=(Levels(),) * 3), "one for master"),
    (dict(wb=(1, 0, 1)), "white balance"),
    (dict(exposure=float("nan")), "exposure"),
    (dict(contrast=2), "contrast"),
    (dict(curves=(((0, 0), (0.5, 0.2), (0.5, 0.9), (1, 1)),) + (IDENTITY_CURVE,) * 3), "increasing"),
])
def test_impossible_settings_are_refused_with_a_reason(bad, message):
    with pytest.raises(AdjustError, match=message):
        Adjustments(**bad)


def test_the_label_holds_the_settings():
    adj = Adjustments(levels=(Levels(0.02, 0.94, 1.2),) + (Levels(),) * 3, exposure=0.3, vibrance=0.25)
    assert adj.label() == "Adjust (levels 5–240 γ1.20; exposure +0.30; vibrance +25)"
    assert Adjustments().label() == "Adjust (no change)"


def test_histogram_counts_every_sampled_pixel(photo):
    hist = histogram(photo, max_side=128)
    assert hist.shape == (4, 256)
    assert len(set(hist.sum(axis=1))) == 1 and hist.sum(axis=1)[0] == 128 * 128


def test_an_automatic_report_becomes_editable_levels():
    class Report:
        black, white, gamma = (0.1, 0.05, 0.0), (0.9, 0.95, 1.0), (1.1, 1.0, 0.9)
        saturation = 1.2

        @staticmethod
        def describe():
            return "faded: strong, cast: magenta"

    adj = from_fade_report(Report(), Adjustments(exposure=0.5))
    assert adj.levels[1] == Levels(0.1, 0.9, 1.1) and adj.levels[3] == Levels(0.0, 1.0, 0.9)
    assert adj.saturation == pytest.approx(0.2) and adj.exposure == 0.5
    assert adj.notes == ("faded: strong, cast: magenta",)


def test_a_measured_density_correction_becomes_editable_curves(photo):
    """Auto on a print that lost its cyan dye: the density model's inverse lands in the
    per-channel curves, and applying them is what the restore colour stage does."""
    from photoforge.ops.color import correct_color, measure_fading
    from tests.ops.test_color import cyan_loss, psnr

    faded = cyan_loss(photo)
    report = measure_fading(faded)
    assert not report.density_is_identity
    adj = from_fade_report(report)
    assert adj.levels == (Levels(),) * 4 and adj.curves[0] == IDENTITY_CURVE
    assert all(len(c) == 16 for c in adj.curves[1:])
    assert adj.curves[1][0] == (0.0, 0.0)
    # red's curve pulls its lifted shadows down further than green's (the dye red lost)
    x = 0.25
    assert curve_lut(adj.curves[1], np.array([x]))[0] < curve_lut(adj.curves[2], np.array([x]))[0]
    assert psnr(apply_adjustments(faded, adj), correct_color(faded)) >= 40
    assert adj.notes == (report.describe(),)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-12))


def test_auto_stretches_a_washed_out_photo_it_does_not_call_faded(photo):
    """A range lifted to 64–217 with no cast: the fade measure cannot tell it from haze and
    leaves it (restore must); Auto, asked for, brings the range back."""
    from photoforge.ops.adjust import auto_adjustments
    from photoforge.ops.color import measure_fading

    washed = np.round(64 + photo.astype(np.float64) * (153 / 255)).astype(np.uint8)
    assert measure_fading(washed).is_identity
    adj = auto_adjustments(washed)
    assert adj.levels[1].black == pytest.approx(64 / 255, abs=3 / 255)
    assert adj.levels[1].white == pytest.approx(217 / 255, abs=3 / 255)
    assert adj.levels[1] == adj.levels[2] == adj.levels[3]  # one black and white point for all
    assert adj.levels[0] == Levels()
    assert "contrast stretched from" in adj.notes[0]
    assert _psnr(apply_adjustments(washed, adj), photo) > 35 > _psnr(washed, photo)


def test_one_photos_auto_is_not_the_next_ones_and_the_users_levels_stay(photo):
    """A batch runs Auto per photo on the panel's settings, which may hold another photo's
    Auto; a user's own master levels go through untouched."""
    from photoforge.ops.adjust import auto_adjustments

    washed = np.round(64 + photo.astype(np.float64) * (153 / 255)).astype(np.uint8)
    first = auto_adjustments(washed)
    assert not first.is_identity
    assert auto_adjustments(photo, first).is_identity
    mine = Adjustments(levels=(Levels(0.1, 0.9, 1.2),) + (Levels(),) * 3)
    again = auto_adjustments(washed, mine)
    assert again.levels[0] == Levels(0.1, 0.9, 1.2) and again.levels[1] == first.levels[1]


def test_auto_keeps_a_warm_photo_warm_and_leaves_a_full_range_one_alone(photo):
    from photoforge.ops.adjust import auto_adjustments

    assert auto_adjustments(photo).is_identity
    warm = photo.astype(np.float64) / 255 * (0.75, 0.6, 0.45) + (0.2, 0.15, 0.1)  # lifted, orange
    warm = np.round(warm * 255).astype(np.uint8)
    adj = auto_adjustments(warm)
    assert "contrast stretched" in adj.notes[0]
    out = apply_adjustments(warm, adj).astype(np.float64)
    means = out.reshape(-1, 3).mean(0)
    assert means[0] > means[1] + 20 > means[2] + 40  # still orange
    # its samples reach 26–242: stretched to 0–255, a contrast gain of 255 / 216
    assert out.std() > 1.15 * warm.std()


def test_auto_contrast_reads_sixteen_bit_samples(photo):
    from photoforge.ops.adjust import auto_adjustments

    washed16 = (np.round(64 + photo.astype(np.float64) * (153 / 255)) * 257).astype(np.uint16)
    adj = auto_adjustments(washed16)
    assert adj.levels[1].black == pytest.approx(64 / 255, abs=3 / 255)
    assert apply_adjustments(washed16, adj).dtype == np.uint16


def test_auto_on_hazy_photo_that_already_spans_the_range_says_so(photo):
    """Lifted shadows measured, but a few samples already reach both ends: Auto leaves it
    and its note says why, instead of restore's "not corrected"."""
    from photoforge.ops.adjust import auto_adjustments
    from tests.ops.test_color import hazy

    veiled = hazy(photo).copy()
    veiled[0] = 0  # a black and a white line (a frame edge): in the tones, gone under the measure's median
    veiled[-1] = 255
    adj = auto_adjustments(veiled)
    assert adj.is_identity
    assert adj.notes == ("lifted blacks (haze or a faded range); the tones already span the range",)

