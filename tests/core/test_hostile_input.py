"""Every file of the hostile corpus (tests/hostile_corpus.py) loads with the right pixels or is
refused with a message naming the file and the reason: through load_image, load_mask, and
the CLI (upscale input, stylize --style picture) as a user runs it, with no traceback."""
from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image, ImageOps

from photoforge.core.imageio import ImageLoadError, load_image
from photoforge.ops.mask import MaskError, load_mask
from tests import hostile_corpus as hc
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return hc.build_corpus(tmp_path_factory.mktemp("hostile"))


def close(a: np.ndarray, b, tol: int) -> bool:
    return a.shape == np.shape(b) and int(np.abs(a.astype(np.int32) - np.asarray(b, np.int32)).max()) <= tol


def test_corpus_covers_every_case_once():
    names = [c.name for c in hc.CASES]
    assert len(names) == len(set(names)) and set(names) == set(hc.FAILING) | set(hc.LOADING)


# ---------------------------------------------------------------- refused files

@pytest.mark.parametrize("name", sorted(hc.FAILING))
def test_bad_file_is_refused_naming_file_and_reason(corpus, name):
    path = corpus[name]
    with pytest.raises(ImageLoadError) as info:
        load_image(path)
    assert str(info.value).startswith(f"cannot open '{path}': ") and hc.FAILING[name] in str(info.value)
    with pytest.raises(MaskError) as info:
        load_mask(path, (32, 48))
    assert str(info.value).startswith(f"cannot open '{path}': ") and hc.FAILING[name] in str(info.value)


def test_headerless_tiff_reason_is_readable(corpus):
    # tifffile's own complaint here was "index 0 out of range(0)"
    with pytest.raises(ImageLoadError, match=r"its TIFF structure holds no image\)$"):
        load_image(corpus["random_tiff_header.tif"])


# ---------------------------------------------------------------- files that must load

def test_wrong_extensions_are_decoded_by_content(corpus):
    png = load_image(corpus["png_named.jpg"])
    assert png.source_format == "PNG" and np.array_equal(png.pixels, hc.UPRIGHT)
    jpeg = load_image(corpus["jpeg_named.tif"])
    assert jpeg.source_format == "JPEG" and close(jpeg.pixels, hc.UPRIGHT, 3)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_comes_out_the_same_upright_pixels(corpus, orientation):
    path = corpus[f"orientation_{orientation}.jpg"]
    with Image.open(path) as im:  # the premise: the file really is stored turned, tagged back
        assert close(np.array(ImageOps.exif_transpose(im)), hc.UPRIGHT, 3)
        assert im.size == ((32, 48) if orientation >= 5 else (48, 32))
    image = load_image(path)
    assert image.pixels.dtype == np.uint8 and close(image.pixels, hc.UPRIGHT, 3), orientation


def test_cmyk_becomes_plausible_rgb(corpus):
    naive = load_image(corpus["cmyk.jpg"])
    assert naive.pixels.shape == (16, 32, 3) and naive.icc_profile is None
    assert close(naive.pixels[:, :16], np.broadcast_to([0, 255, 255], (16, 16, 3)), 4)  # cyan
    assert close(naive.pixels[:, 16:], np.full((16, 16, 3), 255), 4)  # paper white
    assert naive.notices == [f"'{corpus['cmyk.jpg']}' is CMYK without a usable colour profile; it was "
                             "converted to RGB with a simple formula, so colours may be off"]
    # the corpus profile swaps red and green, so its cyan is magenta: proof the ICC was used
    managed = load_image(corpus["cmyk_icc.jpg"])
    assert close(managed.pixels[4:12, 2:10], np.broadcast_to([255, 0, 255], (8, 8, 3)), 8)
    assert managed.icc_profile[16:20] == b"RGB " and managed.notices == []


@pytest.mark.parametrize("name", ["grey16.png", "grey16.tif"])
def test_sixteen_bit_grey_stays_sixteen_bit_grey(corpus, name):
    image = load_image(corpus[name])
    assert image.pixels.dtype == np.uint16 and image.pixels.shape == (24, 40, 1) and image.alpha is None
    assert np.array_equal(image.pixels[..., 0], hc.grey16())
    rounded = (hc.grey16().astype(np.uint32) + 128) // 257
    expected = np.where(hc.grey16() > 0, np.maximum(rounded, 1), 0).astype(np.uint8)  # non-zero fills
    assert np.array_equal(load_mask(corpus[name], (24, 40)), expected)


def test_palette_transparency_becomes_alpha_and_the_mask(corpus):
    image = load_image(corpus["palette_trns.png"])
    red = np.all(hc.UPRIGHT == hc.UPRIGHT[0, 0], axis=2)
    assert image.alpha is not None and np.array_equal(image.alpha, np.where(red, 0, 255))
    assert np.array_equal(image.pixels[~red], hc.UPRIGHT[~red])
    assert np.array_equal(load_mask(corpus["palette_trns.png"], (32, 48)), image.alpha)


@pytest.mark.parametrize("name", ["animated.gif", "animated.webp"])
def test_animation_gives_its_first_frame_and_a_notice(corpus, name):
    image = load_image(corpus[name])
    assert np.array_equal(image.pixels, hc.frames()[0]) and image.alpha is None
    assert image.notices == [f"'{corpus[name]}' has 3 frames; only the first is used"]


@pytest.mark.parametrize("name", ["corrupt_icc.jpg", "corrupt_icc.png"])
def test_corrupt_icc_profile_is_dropped_and_the_pixels_kept(corpus, name):
    image = load_image(corpus[name])
    assert image.icc_profile is None and close(image.pixels, hc.UPRIGHT, 3)
    assert image.notices == [f"'{corpus[name]}' has a broken ICC colour profile; it was ignored"]


def test_one_pixel_images(corpus):
    assert load_image(corpus["one_pixel.png"]).pixels.tolist() == [[[10, 20, 30]]]
    assert close(load_image(corpus["one_pixel.jpg"]).pixels, np.full((1, 1, 3), 200), 2)
    assert load_mask(corpus["one_pixel.png"], (1, 1)).tolist() == [[30]]


def test_big_image_with_alpha_keeps_every_value_and_masks_by_alpha(corpus):
    rgb, alpha = hc.huge_alpha()
    image = load_image(corpus["huge_alpha.png"])
    assert image.pixels.shape == (*hc.HUGE_ALPHA_SIZE, 3) and image.pixels.dtype == np.uint8
    assert np.array_equal(image.pixels, rgb) and np.array_equal(image.alpha, alpha)
    assert np.array_equal(load_mask(corpus["huge_alpha.png"], hc.HUGE_ALPHA_SIZE), alpha)


def test_orientation_is_applied_before_the_mask_size_check(corpus):
    mask = load_mask(corpus["orientation_6.jpg"], (32, 48))
    assert close(mask, hc.UPRIGHT.max(axis=2), 3)
    with pytest.raises(MaskError, match=r"is 48×32 but the image is 32×48$"):
        load_mask(corpus["orientation_6.jpg"], (48, 32))


# ---------------------------------------------------------------- the CLI, as a user runs it

def _cli(*args):
    return subprocess.run([sys.executable, "-m", "photoforge", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


def _run_all(calls):
    with ThreadPoolExecutor(2) as pool:  # each call is ~0.3 s of Python start-up
        return list(pool.map(lambda args: _cli(*args), calls))


def test_cli_upscale_refuses_each_bad_file_with_exit_2_and_no_traceback(corpus, tmp_path):
    names = sorted(hc.FAILING)
    results = _run_all([("upscale", corpus[n], "-o", tmp_path / f"{n}.png", "--model", "span-x2",
                         "--device", "cpu") for n in names])
    for name, result in zip(names, results):
        assert result.returncode == 2, (name, result.stderr)
        assert f"error: cannot open '{corpus[name]}': " in result.stderr, result.stderr
        assert hc.FAILING[name] in result.stderr and "Traceback" not in result.stderr
        # nothing on stderr but our one error and the progress bar: no library log lines
        # (tifffile's "invalid offset to first page" used to come first)
        lines = [part.strip() for line in result.stderr.splitlines() for part in line.split("\r")]
        assert [l for l in lines if l and not l.endswith("%")] == [l for l in lines if l.startswith("error:")]
        assert len([l for l in lines if l.startswith("error:")]) == 1
    assert not list(tmp_path.iterdir())


def test_cli_stylize_refuses_each_bad_style_picture_with_exit_2(corpus, tmp_path):
    names = [*sorted(hc.FAILING), "one_pixel.png"]  # a 1×1 picture loads but has no style to take
    results = _run_all([("stylize", corpus["png_named.jpg"], "-o", tmp_path / "o.png", "--style", corpus[n])
                        for n in names])
    for name, result in zip(names, results):
        assert result.returncode == 2, (name, result.stderr)
        assert "Traceback" not in result.stderr and str(corpus[name]) in result.stderr, result.stderr
        reason = hc.FAILING.get(name, "the style picture is too small (1×1)")
        assert reason in result.stderr, result.stderr
    assert not (tmp_path / "o.png").exists()


def test_cli_inpaint_refuses_each_bad_mask_with_exit_2(corpus, tmp_path):
    names = sorted(hc.FAILING)
    results = _run_all([("inpaint", corpus["png_named.jpg"], "--mask", corpus[n], "-o", tmp_path / "o.png")
                        for n in names])
    for name, result in zip(names, results):
        assert result.returncode == 2, (name, result.stderr)
        # exactly one line on stderr: our error, naming the mask file
        assert result.stderr.startswith(f"error: cannot open '{corpus[name]}': ") and result.stderr.count("\n") == 1
        assert hc.FAILING[name] in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "o.png").exists()


OOM_GIF = "474946383961304e455453433a5045322e30030100000021f9046a0a0000002c3100019f49855cff1332b6626c7a7b0001000000"


def test_a_gif_frame_far_beyond_the_limit_is_refused_before_pillow_allocates_it(tmp_path):
    """Found by fuzz/fuzz_loaders.py: Pillow allocates a GIF's canvas while opening it, so
    this 52-byte file cost 2 GB before any size check. Run under a 1.5 GB address-space
    limit, the refusal has to come from the header."""
    import subprocess
    import sys

    path = tmp_path / "oom.gif"
    path.write_bytes(bytes.fromhex(OOM_GIF))
    script = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (1536 << 20, 1536 << 20))\n"
              "from photoforge.core.imageio import ImageLoadError, load_image\n"
              f"try: load_image({str(path)!r}, max_pixels=2_000_000)\n"
              "except ImageLoadError as e: print(e)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-1500:]
    assert "oom.gif" in result.stdout and "34170×106077" in result.stdout and "above the limit" in result.stdout
