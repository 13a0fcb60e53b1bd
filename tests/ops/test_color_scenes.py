"""Automatic fade correction on synthetic scenes whose truth is known: a naturally warm scene
(shadows that are red because the things in them are) is not a lost cyan dye, the same scene
printed and faded still is, red and purple sweets on an overexposed white table are not a
lost dye either, and a hazy scene (lifted blacks from the air, not from the print) is not
un-faded, nor a grey one under a warm veil taken for a stained print."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from photoforge.core.imageio import load_image
from photoforge.ops.color import correct_color, is_monochrome, measure_fading
from tests.conftest import SAMPLES
from tests.ops.test_color import as_uint8, cyan_loss, delta_e, encode, psnr

H, W = 256, 320


def field(rng: np.random.Generator, sigma: float) -> np.ndarray:
    """A smooth zero-mean, unit-variance random field."""
    f = cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), sigma)
    return (f - f.mean()) / f.std()


def shading(rng: np.random.Generator, spread: float, level: float) -> np.ndarray:
    """Light falling on the scene: log-normal, so it reaches deep shadows."""
    return np.exp(spread * field(rng, 12) + 0.3 * field(rng, 2)) * level


def warm_scene(seed: int) -> np.ndarray:
    """Golden grass or warm fur: a golden and a dark red-brown material under daylight, so
    the darkest pixels are red-brown while the light itself is neutral."""
    rng = np.random.default_rng(seed)
    light = shading(rng, 0.8, 0.45)[..., None]
    mix = np.clip(0.5 + 0.6 * field(rng, 4), 0, 1)[..., None]
    reflectance = mix * np.array([0.85, 0.6, 0.22]) + (1 - mix) * np.array([0.30, 0.10, 0.07])
    return as_uint8(encode(light * reflectance))


def neutral_linear(seed: int) -> np.ndarray:
    """Grey-ish things with some colour variation, light down to deep shadow (linear)."""
    rng = np.random.default_rng(seed)
    light = shading(rng, 1.3, 0.25)[..., None]
    tint = np.exp(0.25 * np.stack([field(rng, 6) for _ in range(3)], -1))
    return np.clip(light * 0.7 * tint, 0, 1)


def neutral_scene(seed: int) -> np.ndarray:
    return as_uint8(encode(neutral_linear(seed)))


def hazy_linear(seed: int) -> np.ndarray:
    """A landscape in mist: airlight added in linear light, thicker towards the top (further
    away): L' = t·L + A·(1 − t), t from 0.35 at the top to 0.65 at the bottom."""
    t = np.linspace(0.35, 0.65, H)[:, None, None]
    return neutral_linear(seed) * t + np.array([0.55, 0.57, 0.6]) * (1 - t)


def hazy_scene(seed: int) -> np.ndarray:
    return as_uint8(encode(hazy_linear(seed)))


def candy_scene(seed: int, table: bool = True) -> np.ndarray:
    """Red, pink, purple, orange and brown sweets in daylight (the train split's smarties):
    red's densities short of green's and blue's over the whole tone curve, as a lost cyan
    dye leaves them, lying on a white table overexposed to clipping."""
    rng = np.random.default_rng(seed)
    light = shading(rng, 1.0, 0.5)[..., None]
    colours = np.array([[0.80, 0.06, 0.10], [0.80, 0.10, 0.40], [0.40, 0.06, 0.40], [0.85, 0.30, 0.10],
                        [0.35, 0.10, 0.12]])
    lin = light * colours[np.argmax(np.stack([field(rng, 3) for _ in colours], -1), -1)]
    if table:
        lin[field(rng, 20) > 0.45] = 1.2
    return as_uint8(encode(lin))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_red_sweets_on_an_overexposed_table_are_not_a_lost_dye(seed):
    """Whites clipped are an exposure, not a print's paper (which the fade dims): no part of
    the fade model is read off such a photo (the old code took a lost dye: 24–26 dB)."""
    sweets = candy_scene(seed)
    assert (sweets.max(axis=2) == 255).mean() > 0.3  # the table is clipped: the trap is real
    assert measure_fading(sweets).is_identity
    np.testing.assert_array_equal(correct_color(sweets), sweets)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_same_sweets_printed_and_faded_are_still_corrected(seed):
    clean = candy_scene(seed, table=False)
    faded = cyan_loss(clean)
    assert measure_fading(faded).cast in ("red", "magenta")
    assert delta_e(correct_color(faded), clean) < delta_e(faded, clean)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_naturally_warm_scene_is_left_alone(seed):
    """Its red-brown shadows make red's black range short of green's and blue's (what a lost
    cyan dye does), but red's densities spread over the tone curve as far as the others'."""
    warm = warm_scene(seed)
    lab_shadow = cv2.cvtColor(warm.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    dark = lab_shadow[..., 0] < np.percentile(lab_shadow[..., 0], 5)
    assert float(lab_shadow[..., 1][dark].mean()) > 5  # the shadows are red: the case is a real trap
    assert psnr(correct_color(warm), warm) >= 35


@pytest.mark.parametrize("scene", [warm_scene, neutral_scene])
def test_a_lost_cyan_dye_is_still_corrected_on_a_synthetic_scene(scene):
    clean = scene(0)
    faded = cyan_loss(clean)
    report = measure_fading(faded)
    assert report.faded != "none" and report.cast in ("red", "magenta")
    # The inverse assumes the original's channels had equal density ranges; the warm scene's
    # red range was shorter to begin with, so it comes back only part of the way.
    assert delta_e(correct_color(faded), clean) < (0.4 if scene is neutral_scene else 0.75) * delta_e(faded, clean)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_hazy_scene_is_not_unfaded(seed):
    """Its blacks are lifted, as a faded print's are, but by light added in the air. Nothing
    measured tells the two apart, so a colour photo showing only that is reported, not
    corrected (it was stretched to 8.6–23 dB against itself before)."""
    hazy = hazy_scene(seed)
    assert np.percentile(hazy.min(axis=2), 0.5) > 60  # no black anywhere: the trap is real
    report = measure_fading(hazy)
    assert report.lifted and report.is_identity
    np.testing.assert_array_equal(correct_color(hazy), hazy)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("exposure", [1.5, 2.0])
def test_a_hazy_scene_with_clipped_whites_is_not_unfaded(seed, exposure):
    """Overexposed mist (snow, a bright sky): its whites clip, which a print's paper white,
    dimmed by the fog that lifts its blacks, does not."""
    bright = as_uint8(encode(hazy_linear(seed) * exposure))
    assert np.percentile(bright.min(axis=2), 0.5) > 60 and (bright.max(axis=2) == 255).mean() > 0.1
    assert measure_fading(bright).is_identity
    np.testing.assert_array_equal(correct_color(bright), bright)


def veiled_grey_scene(seed: int) -> np.ndarray:
    """A grey scene seen through a warm veil (a low sun through dust): light added in the
    air, L' = 0.7·L + A·0.3 with A = (0.96, 0.86, 0.70), so every tone is tinted warm and
    no black is left, as on a yellowed print."""
    y = neutral_linear(seed) @ np.array([0.2126729, 0.7151522, 0.0721750])
    return as_uint8(encode(0.7 * y[..., None] + 0.3 * np.array([0.96, 0.86, 0.70])))


@pytest.mark.parametrize("seed", [1, 2])
def test_a_grey_scene_under_a_warm_veil_is_not_a_stained_print(seed):
    """It looks monochrome, its tint reaches up to white and its blacks are lifted, all of
    which a yellowed print shows too; but the veil lifts the black further than a print
    loses (the old code took these two for stains and stretched them: 31.7 and 32.1 dB)."""
    veiled = veiled_grey_scene(seed)
    assert is_monochrome(veiled)[0]  # the trap is real: it reads as a toned print …
    assert np.percentile(veiled.min(axis=2), 0.5) > 60  # … with no black anywhere
    assert measure_fading(veiled).is_identity
    np.testing.assert_array_equal(correct_color(veiled), veiled)


def test_a_dim_grey_scene_in_a_bluish_mist_is_not_a_stained_print():
    """Mist adds bluish light (L' = 0.85·L + 0.15·A, A = (0.86, 0.90, 0.96)), most of it
    in the shadows, so they turn cool while the whites stay neutral, and the tint's line
    through the tones extrapolates to a warm white, as a stain's would. A stain adds its
    density at every tone, shadows included, so a stained print's shadows are warm: these
    cool ones are air. Before, this one read as a mild stain (confidence 0.11) and was stretched."""
    rgb = load_image(SAMPLES / "coffee.jpg").pixels.astype(np.float64) / 255
    y = rgb @ np.array([0.2126, 0.7152, 0.0722])
    y = 0.6 * (y - y.min()) / (y.max() - y.min())  # a dim scene: nothing brighter than 0.6
    lin = np.where(y <= 0.04045, y / 12.92, ((y + 0.055) / 1.055) ** 2.4)
    misty = as_uint8(encode(0.85 * lin[..., None] + 0.15 * np.array([0.86, 0.90, 0.96])))
    assert is_monochrome(misty)[0]
    assert measure_fading(misty).is_identity
    np.testing.assert_array_equal(correct_color(misty), misty)


def sweets_with_blue_and_green(seed: int) -> np.ndarray:
    """Red, pink, orange and brown sweets with a few blue and green ones among them, on a
    light table that is not clipped: the darkest pixels are red-brown, as a lost cyan dye
    leaves a print's shadows, but the blue and green sweets reach as deep in red as
    anything reaches in green."""
    rng = np.random.default_rng(seed)
    light = shading(rng, 0.6, 0.55)[..., None]
    colours = np.array([[0.80, 0.06, 0.10], [0.80, 0.10, 0.40], [0.85, 0.30, 0.10], [0.30, 0.06, 0.07],
                        [0.03, 0.10, 0.55], [0.04, 0.35, 0.08]])
    bias = np.array([0, 0, 0, 0.3, -0.5, -0.5])
    lin = light * colours[np.argmax(np.stack([field(rng, 3) + b for b in bias], -1), -1)]
    lin[field(rng, 20) > 0.6] = 0.8
    return as_uint8(encode(np.clip(lin, 0, 1)))


def compressed(pixels: np.ndarray, s: float = 0.8) -> np.ndarray:
    """A print whose dyes all lost the same share of their density (no cast)."""
    v = pixels.astype(np.float64) / 255
    lin = np.maximum(np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4), 10 ** -2.5)
    return as_uint8(encode(10.0 ** (np.log10(lin) * (1 - 0.5 * s) - 0.04 * s)))


def test_red_sweets_with_blue_and_green_ones_are_not_a_lost_dye():
    """Red's range at the shadows is short of green's and blue's, as a lost dye leaves it;
    but a lost dye leaves no pixel deep in red, and the blue and green sweets are. The old
    code read a lost dye: the clean photo 38.2 dB, its evenly faded print 13.71 → 13.81 ΔE."""
    clean = sweets_with_blue_and_green(1)
    faded = compressed(clean)
    assert measure_fading(cyan_loss(clean)).cast in ("red", "magenta")  # the trap is real
    assert psnr(correct_color(clean), clean) >= 45
    assert delta_e(correct_color(faded), clean) <= delta_e(faded, clean)


def test_the_same_sweets_that_lost_their_cyan_are_still_corrected():
    clean = sweets_with_blue_and_green(1)
    faded = cyan_loss(clean)
    assert delta_e(correct_color(faded), clean) < 0.4 * delta_e(faded, clean)  # measured 0.30
