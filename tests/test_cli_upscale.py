"""`photoforge upscale` end to end, in a subprocess as a user runs it."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from photoforge.core.image import ImageData
from photoforge.core.imageio import load_image, save_image
from tests.conftest import ROOT

FAST = ["--model", "span-x2", "--threads", "2"]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "photoforge", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)


@pytest.fixture
def small_photo(photo, tmp_path):
    path = tmp_path / "in" / "photo.jpg"
    path.parent.mkdir()
    exif = Image.Exif()
    exif[0x010F] = "ScanCo"  # Make
    Image.fromarray(photo[200:264, 200:280]).save(path, quality=95, exif=exif.tobytes())
    return path


def test_upscale_one_file_keeps_size_relation_and_metadata(small_photo, tmp_path):
    out = tmp_path / "out.png"
    result = cli("upscale", small_photo, "-o", out, *FAST)
    assert result.returncode == 0, result.stderr
    image = load_image(out)
    assert image.pixels.shape == (128, 160, 3) and image.pixels.dtype == np.uint8
    exif = Image.Exif()
    exif.load(image.exif)
    assert exif[0x010F] == "ScanCo"
    # The enlargement resembles the input: downscaled back it is close to the original.
    back = np.asarray(Image.fromarray(image.pixels).resize((80, 64), Image.BOX), np.float32)
    assert np.abs(back - load_image(small_photo).pixels).mean() < 6


def test_any_scale_is_reached_with_a_final_resize(small_photo, tmp_path):
    out = tmp_path / "x3.png"
    assert cli("upscale", small_photo, "-o", out, "--scale", "3", *FAST).returncode == 0
    assert load_image(out).pixels.shape == (192, 240, 3)
    out = tmp_path / "x1_5.png"
    assert cli("upscale", small_photo, "-o", out, "--scale", "1.5", *FAST).returncode == 0
    assert load_image(out).pixels.shape == (96, 120, 3)


def test_sixteen_bit_grey_with_alpha_stays_sixteen_bit_grey_with_alpha(tmp_path):
    ramp = np.linspace(0, 65535, 48 * 40).reshape(40, 48).astype(np.uint16)
    alpha = np.zeros((40, 48), np.uint16)
    alpha[10:30, 10:38] = 65535
    src = tmp_path / "grey16.png"
    save_image(ImageData(ramp[:, :, None], alpha=alpha), src)
    out = tmp_path / "grey16_x2.png"
    result = cli("upscale", src, "-o", out, *FAST)
    assert result.returncode == 0, result.stderr
    image = load_image(out)
    assert image.pixels.shape == (80, 96, 1) and image.pixels.dtype == np.uint16
    assert image.alpha is not None and image.alpha.dtype == np.uint16
    # Far from any edge the alpha is untouched; the ramp keeps its 16-bit smoothness.
    assert image.alpha[40, 48] == 65535 and image.alpha[2, 2] == 0
    assert len(np.unique(image.pixels)) > 1000


def test_batch_goes_on_past_a_bad_file_and_mirrors_folders(small_photo, tmp_path):
    folder = small_photo.parent
    (folder / "sub").mkdir()
    Image.open(small_photo).save(folder / "sub" / "second.png")
    (folder / "broken.jpg").write_bytes(small_photo.read_bytes()[:300])
    out = tmp_path / "results"
    result = cli("upscale", folder, "-o", out, *FAST)
    assert result.returncode == 1
    assert "broken.jpg" in result.stderr and "2 of 3 images done, 1 failed" in result.stderr
    assert load_image(out / "in" / "photo.jpg").pixels.shape == (128, 160, 3)
    assert load_image(out / "in" / "sub" / "second.png").pixels.shape == (128, 160, 3)
    assert not (out / "in" / "broken.jpg").exists()


@pytest.mark.parametrize("content,reason", [
    (b"", "empty"),
    (b"hello, I am text", "not an image"),
])
def test_the_only_input_being_bad_exits_2_naming_file_and_reason(tmp_path, content, reason):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(content)
    result = cli("upscale", bad, "-o", tmp_path / "o.png", *FAST)
    assert result.returncode == 2
    assert "bad.jpg" in result.stderr and reason in result.stderr
    assert "Traceback" not in result.stderr


def test_usage_errors_exit_2_without_traceback(small_photo, tmp_path):
    result = cli("upscale", small_photo, "-o", tmp_path / "o.png", "--model", "nope")
    assert result.returncode == 2 and "unknown model 'nope'" in result.stderr
    result = cli("upscale", small_photo, "-o", tmp_path / "o.png", "--scale", "-2")
    assert result.returncode == 2 and "must be positive" in result.stderr
    result = cli("upscale", small_photo, "-o", tmp_path / "o.png", "--model", "ffdnet-color")
    assert result.returncode == 2 and "denoise model" in result.stderr
    assert "Traceback" not in result.stderr


def test_never_overwrites_without_being_asked(small_photo, tmp_path):
    out = tmp_path / "o.png"
    out.write_bytes(b"precious")
    result = cli("upscale", small_photo, "-o", out, *FAST)
    assert result.returncode != 0 and "--overwrite" in result.stderr
    assert out.read_bytes() == b"precious"
    before = small_photo.read_bytes()
    result = cli("upscale", small_photo, "-o", small_photo, *FAST)
    assert result.returncode != 0 and small_photo.read_bytes() == before
    assert cli("upscale", small_photo, "-o", out, "--overwrite", *FAST).returncode == 0
    assert load_image(out).pixels.shape == (128, 160, 3)


def test_models_list_shows_ids_licences_and_build_state():
    result = cli("models", "list")
    assert result.returncode == 0
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert set(lines) >= {"realesrgan-x4plus", "span-x2", "span-x4", "ffdnet-color",
                          "realesr-animevideov3-x3"}
    assert "BSD-3-Clause" in lines["realesrgan-x4plus"] and "GPL-3.0" in lines["span-x4"]


def test_models_fetch_builds_and_reports_unknown_ids():
    result = cli("models", "fetch", "realesr-animevideov3-x3")
    assert result.returncode == 0, result.stderr
    assert "yes" in [l for l in cli("models", "list").stdout.splitlines()
                     if l.startswith("realesr-animevideov3-x3")][0]
    result = cli("models", "fetch", "no-such-model")
    assert result.returncode == 2 and "unknown model" in result.stderr


def test_precision_errors_exit_2_and_say_what_is_possible(small_photo, tmp_path):
    result = cli("upscale", small_photo, "-o", tmp_path / "o.png", *FAST, "--precision", "int4")
    assert result.returncode == 2 and "invalid choice: 'int4'" in result.stderr
    assert "'fp32', 'bf16', 'fp16', 'int8'" in result.stderr
    result = cli("upscale", small_photo, "-o", tmp_path / "o.png", *FAST, "--device", "cpu", "--precision", "bf16")
    assert result.returncode == 2 and "--device cpu runs fp32 or int8 or winograd only, not --precision bf16" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o.png").exists()
