"""`photoforge adjust` end to end, in a subprocess as a user runs it."""
from __future__ import annotations

import numpy as np

from photoforge.core.image import ImageData
from photoforge.core.imageio import load_image, save_image
from photoforge.ops.adjust import Adjustments, Levels, apply_adjustments, save_preset
from tests.test_cli_upscale import cli


def test_a_folder_of_sixteen_bit_scans_gets_the_same_levels_and_stays_sixteen_bit(photo, tmp_path):
    src = tmp_path / "scans"
    src.mkdir()
    pixels = []
    for i in range(2):
        p = (photo[i * 100:i * 100 + 90, :120].astype(np.uint16) * 257) // 2 + 8000  # flat, lifted
        pixels.append(p)
        save_image(ImageData(p), src / f"scan{i}.tif")
    out = tmp_path / "out"
    result = cli("adjust", src, "-o", out, "--levels", "31,160", "--levels", "b:0,240,1.1",
                 "--saturation", "10")
    assert result.returncode == 0, result.stderr
    expected_settings = Adjustments(levels=(Levels(31 / 255, 160 / 255), Levels(), Levels(),
                                            Levels(0, 240 / 255, 1.1)), saturation=0.1)
    for i in range(2):
        written = load_image(out / "scans" / f"scan{i}.tif")  # the folder mirrored
        assert written.pixels.dtype == np.uint16
        np.testing.assert_array_equal(written.pixels, apply_adjustments(pixels[i], expected_settings))
    assert "2 of 2" in result.stderr


def test_a_preset_is_the_base_and_options_go_over_it(photo, tmp_path):
    src, preset, out = tmp_path / "p.png", tmp_path / "warm.json", tmp_path / "o.png"
    save_image(ImageData(np.ascontiguousarray(photo[:64, :64])), src)
    save_preset(Adjustments(wb=(1.1, 1.0, 0.9), exposure=0.5), preset)
    result = cli("adjust", src, "-o", out, "--preset", preset, "--exposure", "-0.25")
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(load_image(out).pixels, apply_adjustments(
        photo[:64, :64], Adjustments(wb=(1.1, 1.0, 0.9), exposure=-0.25)))


def test_the_eyedropper_point_neutralises_that_spot(tmp_path):
    pixels = np.full((40, 50, 3), (150, 128, 96), np.uint8)
    pixels[:10] = (30, 200, 90)
    src, out = tmp_path / "card.png", tmp_path / "o.png"
    save_image(ImageData(pixels), src)
    result = cli("adjust", src, "-o", out, "--wb", "25,30")
    assert result.returncode == 0, result.stderr
    card = load_image(out).pixels[20:40].reshape(-1, 3).astype(int)
    assert np.ptp(card.mean(axis=0)) <= 1


def test_impossible_settings_exit_2_before_any_work(photo, tmp_path):
    src = tmp_path / "p.png"
    save_image(ImageData(np.ascontiguousarray(photo[:32, :32])), src)
    for args, message in ((["--levels", "200,100"], "levels need 0 ≤ black < white ≤ 1"),
                          (["--levels", "x:0,255"], "channel must be master, r, g or b"),
                          (["--curve", "0,0 100 255,255"], "--curve '100': 2 finite numbers"),
                          (["--contrast", "300"], "contrast must be within"),
                          (["--wb", "nan,3"], "--wb 'nan,3': 2 finite numbers"),
                          (["--preset", tmp_path / "missing.json"], "missing.json: no such file")):
        result = cli("adjust", src, "-o", tmp_path / "o.png", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert not (tmp_path / "o.png").exists()


def test_a_neutral_point_outside_the_photo_names_the_file(photo, tmp_path):
    src = tmp_path / "small.png"
    save_image(ImageData(np.ascontiguousarray(photo[:32, :32])), src)
    result = cli("adjust", src, "-o", tmp_path / "o.png", "--wb", "500,5")
    assert result.returncode != 0
    assert "small.png" in result.stderr and "outside the 32 × 32 image" in result.stderr


def test_auto_stretches_a_washed_out_scan_and_says_so(photo, tmp_path):
    from photoforge.ops.adjust import auto_adjustments

    src, out = tmp_path / "washed.png", tmp_path / "o.png"
    washed = np.round(64 + photo.astype(np.float64) * (153 / 255)).astype(np.uint8)
    save_image(ImageData(washed), src)
    result = cli("adjust", src, "-o", out, "--auto")
    assert result.returncode == 0, result.stderr
    assert "washed.png: not faded; contrast stretched from" in result.stderr
    np.testing.assert_array_equal(load_image(out).pixels, apply_adjustments(washed, auto_adjustments(washed)))


def test_auto_faded_print_takes_a_yellowed_base_out_and_needs_auto(photo, tmp_path):
    """A yellowed base is warm light to --auto; --auto --faded-print takes it out, exactly as
    auto_adjustments(faded_print=True) applied. --faded-print alone is a usage error."""
    from photoforge.ops.adjust import auto_adjustments
    from tests.ops.test_color_told import yellow_base

    src = tmp_path / "yellowed.png"
    yellowed = yellow_base(np.ascontiguousarray(photo))
    save_image(ImageData(yellowed), src)
    result = cli("adjust", src, "-o", tmp_path / "auto.png", "--auto")
    assert result.returncode == 0, result.stderr
    result = cli("adjust", src, "-o", tmp_path / "faded.png", "--auto", "--faded-print")
    assert result.returncode == 0, result.stderr
    assert "yellowed.png: faded: " in result.stderr and "cast: yellow (as a faded print)" in result.stderr
    told = load_image(tmp_path / "faded.png").pixels
    np.testing.assert_array_equal(told, apply_adjustments(yellowed, auto_adjustments(yellowed, faded_print=True)))
    blue_short = lambda p: float(p[..., 0].mean() - p[..., 2].mean())  # noqa: E731
    assert blue_short(told) < blue_short(load_image(tmp_path / "auto.png").pixels) - 10
    result = cli("adjust", src, "-o", tmp_path / "x.png", "--faded-print")
    assert result.returncode == 2 and "--faded-print says how --auto measures" in result.stderr
    assert not (tmp_path / "x.png").exists()
