"""The denoise op on real photos and the real FFDNet weights: σ is measured, noise goes,
and grey, alpha, 16-bit and strength behave."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from photoforge.core.image import ImageData
from photoforge.ops.denoise import DenoiseOptions, denoise, denoise_pixels, estimate_noise
from tests.conftest import SAMPLES

CPU = dict(device="cpu", precision="fp32", threads=2)


def add_noise(clean: np.ndarray, sigma: float, seed: int, top: int = 255) -> np.ndarray:
    noisy = clean.astype(np.float64) + np.random.default_rng(seed).normal(0, sigma, clean.shape)
    return np.clip(np.rint(noisy), 0, top).astype(clean.dtype)


def psnr(a: np.ndarray, b: np.ndarray, top: float = 255.0) -> float:
    return 10 * np.log10(top ** 2 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


@pytest.fixture(scope="module")
def coffee() -> np.ndarray:
    return np.asarray(Image.open(SAMPLES / "coffee.jpg").convert("RGB"))


@pytest.mark.parametrize("sigma", [10, 25])
@pytest.mark.parametrize("which", ["astronaut", "coffee"])
def test_estimate_within_20_percent_on_real_photo_crops(photo, coffee, which, sigma):
    crop = photo[64:320, 128:384] if which == "astronaut" else coffee[40:296, 150:406]
    found = estimate_noise(add_noise(crop, sigma, seed=sigma))
    assert abs(found / sigma - 1) < 0.2, found


def test_estimate_of_sixteen_bit_is_in_eight_bit_units(photo):
    crop = photo[64:320, 128:384].astype(np.uint16) * 257
    found = estimate_noise(add_noise(crop, 15 * 257, seed=3, top=65535))
    assert abs(found / 15 - 1) < 0.2, found


def test_clean_photo_is_left_alone(photo):
    # A good JPEG measures well under one level, so the automatic mode does nothing to it.
    out, sigma = denoise_pixels(photo, DenoiseOptions(**CPU))
    assert sigma < 1 and out is photo


def test_denoise_removes_heavy_noise(photo):
    clean = photo[96:256, 160:352]
    noisy = add_noise(clean, 25, seed=7)
    out, sigma = denoise_pixels(noisy, DenoiseOptions(**CPU))
    assert out.dtype == np.uint8 and out.shape == clean.shape
    assert 20 < sigma < 30
    assert psnr(out, clean) > psnr(noisy, clean) + 6


def test_tiles_join_without_seams(photo):
    noisy = add_noise(photo[96:256, 160:352], 15, seed=2)
    whole, _ = denoise_pixels(noisy, DenoiseOptions(sigma=15, tile=0, **CPU))
    tiled, _ = denoise_pixels(noisy, DenoiseOptions(sigma=15, tile=64, **CPU))
    assert np.abs(whole.astype(np.int16) - tiled).max() <= 1


def test_sixteen_bit_stays_sixteen_bit_with_fine_levels():
    y, x = np.mgrid[0:96, 0:128].astype(np.float64)
    grad = 12000 + x * 150 + y * 60  # smooth, far more than 256 levels across it
    clean = np.stack([grad, grad * 0.8 + 5000, 50000 - grad * 0.5], axis=2).astype(np.uint16)
    noisy = add_noise(clean, 10 * 257, seed=4, top=65535)
    out, sigma = denoise_pixels(noisy, DenoiseOptions(**CPU))
    assert out.dtype == np.uint16 and out.shape == clean.shape
    assert 8 < sigma < 12
    region = out[16:80, 16:112, 0]
    assert len(np.unique(region)) > 256
    assert psnr(out, clean, 65535.0) > psnr(noisy, clean, 65535.0) + 6


def test_grey_stays_grey(photo):
    grey = np.rint(photo[96:256, 160:352].astype(np.float32) @ [0.299, 0.587, 0.114]).astype(np.uint8)
    clean = grey[:, :, None]
    noisy = add_noise(clean, 20, seed=5)
    image = denoise(ImageData(noisy), DenoiseOptions(**CPU))
    assert image.is_grey and image.pixels.shape == clean.shape and image.pixels.dtype == np.uint8
    # Fails (+3.6 dB) if the replicated grey is denoised at σ rather than σ·√3.
    assert psnr(image.pixels, clean) > psnr(noisy, clean) + 6


def test_strength_zero_is_the_input_and_half_is_between(photo):
    noisy = add_noise(photo[96:192, 160:288], 20, seed=6)
    same, _ = denoise_pixels(noisy, DenoiseOptions(strength=0.0, **CPU))
    assert np.array_equal(same, noisy)
    full, _ = denoise_pixels(noisy, DenoiseOptions(sigma=20, **CPU))
    half, _ = denoise_pixels(noisy, DenoiseOptions(sigma=20, strength=0.5, **CPU))
    expected = (noisy.astype(np.float64) + full) / 2
    assert np.abs(half - expected).max() <= 1.0


def test_alpha_and_metadata_pass_through(photo):
    noisy = add_noise(photo[96:192, 160:288], 20, seed=8)
    alpha = np.random.default_rng(0).integers(0, 256, noisy.shape[:2], dtype=np.uint8)
    image = ImageData(noisy, alpha=alpha.copy(), icc_profile=b"icc", exif=b"exif")
    out = denoise(image, DenoiseOptions(**CPU))
    assert np.array_equal(out.alpha, alpha)
    assert out.icc_profile == b"icc" and out.exif == b"exif"
    assert not np.array_equal(out.pixels, noisy)


def test_bad_options_are_refused(photo):
    with pytest.raises(ValueError):
        denoise_pixels(photo[:32, :32], DenoiseOptions(strength=1.5))
    with pytest.raises(ValueError):
        denoise_pixels(photo[:32, :32], DenoiseOptions(sigma=-1))
    with pytest.raises(ValueError):
        denoise_pixels(photo[:32, :32], DenoiseOptions(sigma=float("nan")))


def test_one_runner_serves_every_noise_level(photo):
    from photoforge.engine.inference import runner_for
    from photoforge.engine.catalog import get_model

    model = get_model("ffdnet-color")
    assert runner_for(model, **CPU) is runner_for(model, **CPU)
    noisy = add_noise(photo[:96, :96], 20, seed=4)
    light = denoise_pixels(noisy, DenoiseOptions(sigma=5.0, **CPU))[0]
    heavy = denoise_pixels(noisy, DenoiseOptions(sigma=30.0, **CPU))[0]
    # Each call still gets its own σ: the heavier one smooths much more.
    assert np.abs(np.diff(heavy.astype(int), axis=1)).mean() < 0.7 * np.abs(np.diff(light.astype(int), axis=1)).mean()
