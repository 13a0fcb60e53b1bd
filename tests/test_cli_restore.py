"""`photoforge restore` end to end, in a subprocess as a user runs it."""
from __future__ import annotations

import numpy as np
from PIL import Image

from photoforge.core.image import ImageData
from photoforge.core.imageio import load_image, save_image
from tests.ops.test_restore import with_scratch
from tests.test_cli_upscale import cli

CPU = ["--device", "cpu"]


def test_restore_repairs_a_scratch_and_writes_the_mask_it_used(photo, tmp_path):
    damaged, scratch = with_scratch(photo)
    src = tmp_path / "scan.png"
    exif = Image.Exif()
    exif[0x010F] = "ScanCo"
    Image.fromarray(damaged).save(src, exif=exif.tobytes())
    out, mask_out = tmp_path / "restored.png", tmp_path / "damage.png"
    result = cli("restore", src, "-o", out, "--mask-out", mask_out, "--denoise", "off", *CPU)
    assert result.returncode == 0, result.stderr
    restored = load_image(out)
    assert restored.pixels.shape == photo.shape
    mask = np.asarray(Image.open(mask_out))
    assert mask.shape == photo.shape[:2] and (mask[scratch] > 0).mean() > 0.6
    err_before = np.abs(damaged[scratch].astype(int) - photo[scratch]).mean()
    err_after = np.abs(restored.pixels[scratch].astype(int) - photo[scratch]).mean()
    assert err_after < err_before / 2
    exif = Image.Exif()
    exif.load(restored.exif)
    assert exif[0x010F] == "ScanCo"


def test_a_given_sigma_is_used_and_reported(photo, tmp_path):
    src = tmp_path / "grain.png"
    noisy = np.clip(photo[:128, :160] + np.random.default_rng(1).normal(0, 20, (128, 160, 3)), 0, 255)
    save_image(ImageData(np.rint(noisy).astype(np.uint8)), src)
    result = cli("restore", src, "-o", tmp_path / "o.png", "--denoise", "20", "--scratches", "off",
                 "--color", "off", *CPU)
    assert result.returncode == 0, result.stderr
    assert "removed noise of σ 20.0" in result.stderr
    out = load_image(tmp_path / "o.png").pixels.astype(float)
    assert np.abs(out - photo[:128, :160]).mean() < np.abs(noisy - photo[:128, :160]).mean() / 2


def test_restore_says_what_the_colour_stage_found(photo, tmp_path):
    """A lost cyan dye is named and corrected; a hazy scene's lifted blacks are named and
    left (haze and a faded range are not told apart)."""
    from photoforge.ops.color import LIFTED_WORDS
    from tests.ops.test_color import cyan_loss, hazy

    for name, pixels in (("faded", cyan_loss(photo)), ("hazy", hazy(photo))):
        save_image(ImageData(pixels), tmp_path / f"{name}.png")
        result = cli("restore", tmp_path / f"{name}.png", "-o", tmp_path / f"{name}_out.png",
                     "--denoise", "off", "--scratches", "off", *CPU)
        assert result.returncode == 0, result.stderr
        out = load_image(tmp_path / f"{name}_out.png").pixels
        if name == "faded":
            assert "faded.png: colour faded: strong, cast: " in result.stderr
            assert not np.array_equal(out, pixels)
        else:
            assert f"hazy.png: colour {LIFTED_WORDS}" in result.stderr
            np.testing.assert_array_equal(out, pixels)


def test_color_faded_corrects_what_auto_leaves_and_auto_says_how(photo, tmp_path):
    """Lifted blacks alone are left by --color auto, which says --color faded corrects them;
    --color faded does, and says it read the photo as a faded print."""
    from tests.ops.test_color import lifted

    faded = lifted(photo)
    save_image(ImageData(faded), tmp_path / "print.png")
    runs = {}
    for mode in ("auto", "faded"):
        result = cli("restore", tmp_path / "print.png", "-o", tmp_path / f"{mode}.png", "--color", mode,
                     "--denoise", "off", "--scratches", "off", *CPU)
        assert result.returncode == 0, result.stderr
        runs[mode] = (result.stderr, load_image(tmp_path / f"{mode}.png").pixels)
    assert "(if it is a faded print, --color faded corrects it)" in runs["auto"][0]
    np.testing.assert_array_equal(runs["auto"][1], faded)
    assert "print.png: colour faded: " in runs["faded"][0] and "(as a faded print)" in runs["faded"][0]
    err = lambda p: np.abs(p.astype(float) - photo).mean()  # noqa: E731
    assert err(runs["faded"][1]) < 0.6 * err(faded)


def test_sixteen_bit_tiff_folder_batch(photo, tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    deep = photo[:96, :128].astype(np.uint16) * 257
    save_image(ImageData(deep), folder / "a.tif")
    save_image(ImageData(photo[100:196, :128].copy()), folder / "b.png")
    out = tmp_path / "out"
    result = cli("restore", folder, "-o", out, "--mask-out", tmp_path / "masks", *CPU)
    assert result.returncode == 0, result.stderr
    a = load_image(out / "scans" / "a.tif")
    assert a.pixels.dtype == np.uint16 and a.pixels.shape == (96, 128, 3)
    assert load_image(out / "scans" / "b.png").pixels.shape == (96, 128, 3)
    assert "2 of 2 images done" in result.stderr
    assert np.asarray(Image.open(tmp_path / "masks" / "scans" / "a_mask.png")).shape == (96, 128)


def test_bad_options_and_inputs_exit_2_with_a_message(photo, tmp_path):
    src = tmp_path / "p.png"
    save_image(ImageData(photo[:64, :64].copy()), src)
    result = cli("restore", src, "-o", tmp_path / "o.png", "--denoise", "lots")
    assert result.returncode == 2 and "--denoise takes auto, off or a number, not 'lots'" in result.stderr
    result = cli("restore", src, "-o", tmp_path / "o.png", "--sensitivity", "3")
    assert result.returncode == 2 and "--sensitivity must be within 0–1" in result.stderr
    broken = tmp_path / "broken.png"
    broken.write_bytes(src.read_bytes()[:100])
    result = cli("restore", broken, "-o", tmp_path / "o.png")
    assert result.returncode == 2 and "broken.png" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o.png").exists()


def test_detector_both_finds_what_classical_finds_and_writes_it(photo, tmp_path):
    damaged, scratch = with_scratch(photo)
    src = tmp_path / "scan.png"
    save_image(ImageData(np.ascontiguousarray(damaged[280:480, 0:320])), src)
    masks = {}
    for det in ("classical", "both"):
        out, mask_out = tmp_path / f"{det}.png", tmp_path / f"{det}_mask.png"
        result = cli("restore", src, "-o", out, "--mask-out", mask_out, "--denoise", "off", "--color", "off",
                     "--detector", det, *CPU)
        assert result.returncode == 0, result.stderr
        masks[det] = np.asarray(Image.open(mask_out)) > 0
    assert (masks["both"] >= masks["classical"]).all()
    assert masks["both"][scratch[280:480, 0:320]].mean() > 0.6
