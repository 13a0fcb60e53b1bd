"""`photoforge stylize` end to end, in a subprocess as a user runs it."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from photoforge.core.image import ImageData
from photoforge.core.imageio import load_image, save_image
from tests.conftest import SAMPLES
from tests.test_cli_upscale import cli

FAST = ["--device", "cpu", "--precision", "fp32", "--threads", "2"]


@pytest.fixture
def small_photo(photo, tmp_path):
    path = tmp_path / "in" / "photo.png"
    path.parent.mkdir()
    Image.fromarray(photo[40:232, 150:310]).save(path)
    return path


def lab_chroma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)[:, :, 1:]


def test_style_picture_mixed_with_a_second_and_colours_kept(small_photo, tmp_path):
    out = tmp_path / "out.png"
    result = cli("stylize", small_photo, "-o", out, "--style", SAMPLES / "coffee.jpg",
                 "--style2", SAMPLES / "astronaut.jpg", "--mix", "0.3", "--keep-colors",
                 "--strength", "0.8", *FAST)
    assert result.returncode == 0, result.stderr
    source, styled = load_image(small_photo).pixels, load_image(out).pixels
    assert styled.shape == source.shape and styled.dtype == np.uint8
    assert np.abs(styled.astype(int) - source).mean() > 5
    assert np.median(np.abs(lab_chroma(styled) - lab_chroma(source))) < 1.5


def test_sixteen_bit_grey_with_alpha_and_a_blend_of_built_in_styles(tmp_path):
    ramp = np.linspace(0, 65535, 96 * 80).reshape(80, 96)
    grey = (ramp * 0.6 + 20000 * (np.indices((80, 96)).sum(0) % 16 < 8)).astype(np.uint16)
    alpha = np.zeros((80, 96), np.uint16)
    alpha[10:70, 10:86] = 65535
    src = tmp_path / "grey16.png"
    save_image(ImageData(grey[:, :, None], alpha=alpha), src)
    out = tmp_path / "styled.png"
    result = cli("stylize", src, "-o", out, "--style", "3:0.5,12:0.5", *FAST)
    assert result.returncode == 0, result.stderr
    image = load_image(out)
    assert image.pixels.shape == (80, 96, 1) and image.pixels.dtype == np.uint16
    assert np.array_equal(image.alpha, alpha)
    assert len(np.unique(image.pixels)) > 1000


def test_bad_styles_exit_2_naming_them(small_photo, tmp_path):
    out = tmp_path / "o.png"
    result = cli("stylize", small_photo, "-o", out, "--style", "40")
    assert result.returncode == 2 and "style '40'" in result.stderr and "0–25" in result.stderr
    not_a_picture = tmp_path / "notes.png"
    not_a_picture.write_text("hello")
    result = cli("stylize", small_photo, "-o", out, "--style-image", not_a_picture)
    assert result.returncode == 2 and "notes.png" in result.stderr and "cannot be used" in result.stderr
    result = cli("stylize", small_photo, "-o", out, "--style", "monet.jpg", "--strength", "2")
    assert result.returncode == 2 and "--strength" in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


def test_models_list_shows_the_style_networks():
    result = cli("models", "list")
    assert result.returncode == 0
    for model in ("multistyle26", "arbitrary-style-predict", "arbitrary-style-transform"):
        line = next(l for l in result.stdout.splitlines() if l.startswith(model))
        assert "stylize" in line and "Apache-2.0" in line
