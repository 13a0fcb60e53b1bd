"""Restore's "it is a faded colour print" (ColorOptions.faded_print): what the automatic
measure must leave because a scene shows it too (lifted blacks: haze; a yellow cast on every
tone: warm light), the user's word settles, and per-channel black and white points take it
out. Monochrome prints keep the stain measure; 16 bit stays 16 bit; strength 0 is identity."""
from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

from photoforge.ops.color import ColorOptions, correct_color, measure_fading
from tests.ops.test_color import (
    OFF,
    as_uint8,
    density_fade,
    grey_of,
    hazy,
    lab,
    psnr,
    sepia_of,
    stained,
)
from tests.ops.test_color import sample  # noqa: F401  (the fixture)

TOLD = ColorOptions(faded_print=True)


def yellow_base(pixels, s=1.0):
    """bench/fade_cases.py's yellowed base: a density added to every tone, the range dulled."""
    return density_fade(pixels, [1 - 0.12 * s] * 3, s * np.array([0.03, 0.08, 0.28]))


def compressed(pixels, s=1.0):
    """bench/fade_cases.py's compressed range: every density scaled down alike, a little fog."""
    return density_fade(pixels, [1 - 0.5 * s] * 3, [0.04 * s] * 3)


def delta_e(a, b) -> float:
    return float(np.linalg.norm(lab(a) - lab(b), axis=-1).mean())


def card_chroma(pixels) -> float:
    a, b = lab(pixels)[30:70, 30:70, 1:].reshape(-1, 2).mean(axis=0)
    return float(np.hypot(a, b))


def with_card(sample):  # noqa: F811
    photo = sample.copy()
    photo[20:80, 20:80] = 119  # a grey card (≈ 18 % grey)
    return photo


def test_a_yellowed_base_is_left_unless_the_user_says_it_is_a_faded_print(sample):  # noqa: F811
    photo = with_card(sample)
    faded = yellow_base(photo)
    np.testing.assert_array_equal(correct_color(faded), faded)  # a warm light looks the same
    out = correct_color(faded, TOLD)
    report = measure_fading(faded, faded_print=True)
    assert report.cast == "yellow" and report.describe().endswith("(as a faded print)")
    assert card_chroma(faded) > 10
    assert card_chroma(out) < 0.35 * card_chroma(faded)
    assert delta_e(out, photo) < 0.6 * delta_e(faded, photo)


def test_a_compressed_print_gets_its_range_back_when_the_user_says_so(sample):  # noqa: F811
    photo = with_card(sample)
    faded = compressed(photo, 0.8)
    assert measure_fading(faded).is_identity  # haze or a faded range: not told apart, left
    np.testing.assert_array_equal(correct_color(faded), faded)
    out = correct_color(faded, TOLD)
    assert delta_e(out, photo) < 0.6 * delta_e(faded, photo)
    assert psnr(out, photo) > psnr(faded, photo) + 3.0
    assert not measure_fading(faded, faded_print=True).lifted


def test_the_user_can_be_wrong_and_a_hazy_scene_is_then_stretched(sample):  # noqa: F811
    """The word is the user's: a hazy scene called a faded print is stretched (which is
    what it asks for), and the default still leaves it."""
    scene = hazy(sample)
    np.testing.assert_array_equal(correct_color(scene), scene)
    out = correct_color(scene, TOLD)
    spread = lambda p: float(np.percentile(p, 99.9) - np.percentile(p, 0.1))  # noqa: E731
    assert spread(out) > spread(scene) + 30


def test_monochrome_prints_keep_the_stain_measure_when_told(sample):  # noqa: F811
    for mono in (grey_of(sample), sepia_of(sample)):
        faded = stained(mono, 0.8, (0.01, 0.04, 0.12))
        np.testing.assert_array_equal(correct_color(faded, TOLD), correct_color(faded))


def test_told_keeps_16_bit_and_its_strength_scales(sample):  # noqa: F811
    faded = compressed(sample, 0.8)
    smooth = cv2.GaussianBlur(faded.astype(np.float32) / 255, (0, 0), 1.5)
    deep = np.rint(smooth * 65535).astype(np.uint16)  # a 16-bit scan: more than 256 levels
    out = correct_color(deep, TOLD)
    assert out.dtype == np.uint16 and out.shape == deep.shape
    assert len(np.unique(out[..., 1])) > 1024
    assert psnr(out, correct_color(as_uint8(smooth), TOLD)) >= 35
    np.testing.assert_array_equal(correct_color(faded, replace(OFF, faded_print=True)), faded)
    half = correct_color(faded, replace(TOLD, levels=0.5, white_balance=0.5))
    full = correct_color(faded, TOLD)
    assert psnr(half, faded) > psnr(full, faded) and psnr(half, full) > psnr(faded, full)


def test_a_channel_with_no_range_keeps_its_end_points():
    flat = np.zeros((64, 64, 3), np.uint8)
    flat[..., 0] = 128  # red has nothing to stretch
    flat[..., 1] = np.linspace(60, 200, 64, dtype=np.uint8)[None, :]
    flat[..., 2] = np.linspace(40, 180, 64, dtype=np.uint8)[:, None]
    report = measure_fading(flat, faded_print=True)
    assert report.black[0] == 0 and report.white[0] == 1
    assert report.black[1] > 0.2 and report.white[1] < 0.8
    out = correct_color(flat, TOLD)
    np.testing.assert_array_equal(out[..., 0], flat[..., 0])
    assert as_uint8(out[..., 1] / 255.0).max() >= 254
