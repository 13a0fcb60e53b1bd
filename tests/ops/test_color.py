"""Fade and colour correction on real photos: faded ones get better, clean ones stay put,
monochrome and sepia stay what they are, 16 bit stays 16 bit, strength 0 is a no-op."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from photoforge.core.imageio import load_image
from photoforge.engine.progress import Aborted, Progress
from photoforge.ops.color import ColorOptions, correct_color, is_monochrome
from tests.conftest import SAMPLES

NAMES = ["astronaut", "coffee"]
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
SEPIA = np.array([[0.393, 0.769, 0.189],  # the classic sepia matrix (rows are proportional)
                  [0.349, 0.686, 0.168],
                  [0.272, 0.534, 0.131]], np.float32)
OFF = ColorOptions(levels=0, white_balance=0, contrast=0, saturation=0)


@pytest.fixture(scope="module", params=NAMES)
def sample(request) -> np.ndarray:
    return load_image(SAMPLES / f"{request.param}.jpg").pixels


def as_float(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(np.float32) / (65535.0 if pixels.dtype == np.uint16 else 255.0)


def as_uint8(values: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(values, 0, 1) * 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((as_float(a).astype(np.float64) - as_float(b)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def fade(pixels: np.ndarray, lift=0.3, scale=0.55, desaturate=0.5, cast=(1.06, 1.0, 0.88)):
    """An old print: blacks lifted and whites dulled, dyes half gone, a warm cast."""
    x = scale * as_float(pixels) + lift
    grey = (x @ LUMA)[..., None]
    x = grey + (1 - desaturate) * (x - grey)
    return as_uint8(x * np.array(cast, np.float32))


def grey_of(pixels: np.ndarray) -> np.ndarray:
    return as_uint8(np.repeat((as_float(pixels) @ LUMA)[..., None], 3, axis=2))


def sepia_of(pixels: np.ndarray) -> np.ndarray:
    return as_uint8(as_float(pixels) @ SEPIA.T)


def jpeg(pixels: np.ndarray, quality=85) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(pixels[..., ::-1]),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1].copy()


def tone(pixels: np.ndarray) -> tuple[float, float]:
    """(hue in degrees, chroma) of the median mid-tone colour, in CIELAB."""
    lab = cv2.cvtColor(as_float(pixels), cv2.COLOR_RGB2Lab)
    mid = (lab[..., 0] > 15) & (lab[..., 0] < 85)
    a, b = np.median(lab[..., 1][mid]), np.median(lab[..., 2][mid])
    return float(np.degrees(np.arctan2(b, a))), float(np.hypot(a, b))


def mean_chroma(pixels: np.ndarray) -> float:
    lab = cv2.cvtColor(as_float(pixels), cv2.COLOR_RGB2Lab)
    return float(np.hypot(lab[..., 1], lab[..., 2]).mean())


def colour_error(pixels: np.ndarray, reference: np.ndarray) -> float:
    """Mean CIELAB (a, b) distance: the colour part of the difference, lightness aside."""
    ab = cv2.cvtColor(as_float(pixels), cv2.COLOR_RGB2Lab)[..., 1:]
    ref = cv2.cvtColor(as_float(reference), cv2.COLOR_RGB2Lab)[..., 1:]
    return float(np.linalg.norm(ab - ref, axis=-1).mean())


def max_channel_spread(pixels: np.ndarray) -> int:
    return int(np.abs(np.diff(pixels.astype(np.int32), axis=2)).max())


# ----------------------------------------------------------------------------- restoration

def test_faded_photo_gets_much_closer_to_the_original(sample):
    faded = fade(sample)
    assert is_monochrome(faded) == (False, "colour")
    restored = correct_color(faded)
    assert restored.shape == sample.shape and restored.dtype == np.uint8
    before, after = psnr(faded, sample), psnr(restored, sample)
    assert after >= before + 3.0, (before, after)
    assert colour_error(restored, sample) < 0.6 * colour_error(faded, sample)  # cast gone


def test_clean_photo_comes_back_nearly_unchanged(sample):
    assert psnr(correct_color(sample), sample) >= 35.0


def test_a_purely_lifted_photo_is_undone_almost_exactly(sample):
    faded = as_uint8(0.55 * as_float(sample) + 0.3)
    assert psnr(correct_color(faded), sample) >= 30.0
    assert psnr(faded, sample) < 17.0


def test_flat_midtones_inside_a_film_border_get_their_contrast_back(sample):
    flat = as_uint8(0.5 + 0.45 * (as_float(sample) - 0.5))
    framed = np.pad(flat, ((8, 8), (8, 8), (0, 0)))  # black rebate: levels see full range
    framed[:4] = 255
    restored = correct_color(framed)[8:-8, 8:-8]
    assert psnr(restored, sample) >= psnr(flat, sample) + 2.0


def test_a_mild_cast_is_reduced_but_a_strong_warm_look_is_kept(sample):
    def mean_ab(pixels):  # 8-bit Lab (a, b offset by 128), the same for every image
        return cv2.cvtColor(pixels, cv2.COLOR_RGB2Lab)[..., 1:].astype(np.float32).mean(axis=(0, 1))

    ref = mean_ab(sample)  # the clean photo's average colour

    def tinted(gains):
        x = np.power(as_float(sample), 2.2) * np.array(gains, np.float32)
        return as_uint8(np.power(np.clip(x, 0, 1), 1 / 2.2))

    cool = tinted((0.7, 0.85, 1.0))  # a blue cast: corrected towards the original
    before = np.linalg.norm(mean_ab(cool) - ref)
    assert np.linalg.norm(mean_ab(correct_color(cool)) - ref) < 0.7 * before
    sunset = tinted((1.0, 0.6, 0.3))  # a legitimately warm scene: not neutralised
    assert mean_chroma(correct_color(sunset)) >= 0.9 * mean_chroma(sunset)


# ----------------------------------------------------------------------------- monochrome

@pytest.mark.parametrize("options", [ColorOptions(), ColorOptions(neutralise_monochrome=True),
                                     ColorOptions(keep_monochrome=False)])
def test_grey_photo_stays_grey(sample, options):
    grey = grey_of(fade(sample, desaturate=0.0, cast=(1, 1, 1)))
    out = correct_color(grey, options)
    assert max_channel_spread(out) <= 1
    assert psnr(out, grey_of(sample)) >= psnr(grey, grey_of(sample)) + 3.0  # contrast restored


def test_sepia_photo_stays_sepia_and_regains_contrast(sample):
    sepia = sepia_of(sample)
    faded = as_uint8(0.5 * as_float(sepia) + 0.3)
    assert is_monochrome(faded) == (True, "sepia")
    out = correct_color(faded)
    hue_in, chroma_in = tone(faded)
    hue_out, chroma_out = tone(out)
    assert abs(hue_out - hue_in) <= 5.0 and chroma_out >= 0.7 * chroma_in and chroma_out > 4.0
    assert is_monochrome(out) == (True, "sepia")
    assert psnr(out, sepia) >= psnr(faded, sepia) + 6.0


def test_clean_sepia_is_left_alone(sample):
    sepia = sepia_of(sample)
    assert psnr(correct_color(sepia), sepia) >= 35.0


def test_neutralise_monochrome_turns_sepia_grey(sample):
    faded = as_uint8(0.5 * as_float(sepia_of(sample)) + 0.3)
    kept = correct_color(faded)
    neutral = correct_color(faded, ColorOptions(neutralise_monochrome=True))
    assert max_channel_spread(neutral) <= 1
    assert tone(neutral)[1] < 0.5
    # Same lightness as the toned result: only the tone went.
    assert np.abs((as_float(neutral) @ LUMA) - (as_float(kept) @ LUMA)).mean() < 0.02
    # A colour photo is not monochrome, so the option does not grey it.
    assert mean_chroma(correct_color(sample, ColorOptions(neutralise_monochrome=True))) > 10


def test_is_monochrome_on_colour_grey_sepia_and_toned_versions(sample):
    assert is_monochrome(sample) == (False, "colour")
    assert is_monochrome(fade(sample)) == (False, "colour")
    assert is_monochrome(grey_of(sample)) == (True, "grey")
    assert is_monochrome(grey_of(sample)[..., :1]) == (True, "grey")
    assert is_monochrome(sepia_of(sample)) == (True, "sepia")
    assert is_monochrome(jpeg(sepia_of(sample))) == (True, "sepia")  # chroma noise at edges
    blue = np.array([0.75, 0.9, 1.0], np.float32)
    cyanotype = as_uint8((as_float(sample) @ LUMA)[..., None] * blue)
    assert is_monochrome(cyanotype) == (True, "toned")
    noisy = grey_of(sample) + np.random.default_rng(0).normal(0, 3, sample.shape)  # scanner noise
    assert is_monochrome(as_uint8(noisy / 255)) == (True, "grey")
    tinted = grey_of(sample)
    tinted[:100, :120] = sample[:100, :120]  # a mostly neutral photo with some colour in it
    assert is_monochrome(tinted) == (False, "colour")


# ----------------------------------------------------------------------------- formats, options

def test_16_bit_in_gives_16_bit_out_with_fine_levels(sample):
    smooth = cv2.GaussianBlur(as_float(sample), (0, 0), 1.5)  # in-between values
    faded16 = np.rint(np.clip(0.55 * smooth + 0.3, 0, 1) * 65535).astype(np.uint16)
    out = correct_color(faded16)
    assert out.dtype == np.uint16 and out.shape == faded16.shape
    assert len(np.unique(out[..., 1])) > 256 * 4
    out8 = correct_color(as_uint8(0.55 * smooth + 0.3))
    assert psnr(out, out8) >= 35.0  # the same correction, just finer


def test_strength_zero_returns_identical_pixels(sample):
    for pixels in (sample, sample[..., :1], sample[..., 0],
                   (sample.astype(np.uint16) * 257 + 3)):
        out = correct_color(pixels, OFF)
        assert out.dtype == pixels.dtype and out.shape == pixels.shape
        np.testing.assert_array_equal(out, pixels)
    np.testing.assert_array_equal(correct_color(sample, ColorOptions(
        levels=0, white_balance=0, contrast=0, saturation=0, neutralise_monochrome=True)), sample)


def test_strength_scales_the_correction(sample):
    faded = fade(sample)
    half = psnr(correct_color(faded, ColorOptions(0.5, 0.5, 0.5, 0.5)), faded)
    full = psnr(correct_color(faded), faded)
    assert full < half < psnr(correct_color(faded, ColorOptions(0.1, 0.1, 0.1, 0.1)), faded)
    only_levels = correct_color(faded, ColorOptions(white_balance=0, contrast=0, saturation=0))
    assert psnr(only_levels, sample) > psnr(faded, sample) + 3.0


def test_single_channel_and_flat_images():
    grey = np.tile(np.linspace(60, 200, 256).astype(np.uint8), (64, 1))[..., None]
    out = correct_color(grey)
    assert out.shape == grey.shape and out.dtype == np.uint8
    assert out.min() < 20 and out.max() > 235  # levels stretched the narrow range
    assert np.all(np.diff(out[0, :, 0].astype(int)) >= 0)  # monotone
    for value in (30, 128, 220):
        flat = np.full((40, 50, 3), value, np.uint8)
        np.testing.assert_array_equal(correct_color(flat), flat)
    np.testing.assert_array_equal(correct_color(np.full((1, 1, 3), 77, np.uint8)), 77)


def test_rejects_unsupported_pixels():
    with pytest.raises(ValueError):
        correct_color(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError):
        correct_color(np.zeros((8, 8, 2), np.uint8))
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError):
            ColorOptions(contrast=bad)


def test_progress_reaches_one_and_cancel_aborts(monkeypatch, sample):
    import photoforge.ops.color as color

    monkeypatch.setattr(color, "STRIP_PIXELS", 4096)  # many strips
    seen = []
    correct_color(fade(sample), progress=Progress(lambda f, _m: seen.append(f)))
    assert seen[-1] == 1.0 and len(seen) > 10 and seen == sorted(seen)
    cancelled = Progress()
    cancelled.cancel()
    with pytest.raises(Aborted):
        correct_color(fade(sample), progress=cancelled)
