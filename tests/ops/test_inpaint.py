"""Inpainting op: exact outside the mask, sensible inside, soft masks, 16 bit, ONNX slot."""
from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
from PIL import Image

from photoforge.core.image import ImageData
from photoforge.core.imageio import load_image
from photoforge.engine.adapters import Kind, Lama, Migan
from photoforge.ops.inpaint import InpaintOptions, MaskProblem, components, inpaint
from tests.conftest import ROOT


def scratch_mask(shape, seed=0):
    mask = np.zeros(shape, np.uint8)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        p0 = tuple(int(v) for v in rng.integers(10, min(shape) - 10, 2))
        p1 = tuple(int(v) for v in rng.integers(10, min(shape) - 10, 2))
        cv2.line(mask, p0, p1, 255, 3)
    return mask


def blob_mask(shape, centre, radius):
    mask = np.zeros(shape, np.uint8)
    cv2.circle(mask, centre, radius, 255, -1)
    return mask


@pytest.mark.parametrize("method", ["auto", "quick", "fill"])
def test_pixels_outside_the_mask_are_bit_identical(photo, method):
    crop = photo[100:260, 100:260].copy()
    mask = np.maximum(scratch_mask(crop.shape[:2]), blob_mask(crop.shape[:2], (80, 80), 14))
    out = inpaint(ImageData(crop), mask, InpaintOptions(method=method)).pixels
    np.testing.assert_array_equal(out[mask == 0], crop[mask == 0])
    assert np.abs(out[mask > 0].astype(int) - crop[mask > 0]).max() > 0  # something was done


def test_auto_fills_blobs_and_specks_and_heals_thin_marks():
    from photoforge.ops.inpaint import THICK_SHARE

    mask = np.zeros((300, 300), np.uint8)
    cv2.line(mask, (10, 10), (140, 140), 255, 3)  # two crossing scratches with a speck on them:
    cv2.line(mask, (10, 140), (140, 10), 255, 3)  # wide at a few pixels, thin as a whole
    cv2.circle(mask, (40, 40), 7, 255, -1)
    cv2.circle(mask, (220, 220), 30, 255, -1)  # a blob
    parts = sorted(components(mask > 0), key=lambda c: c.y0)
    assert len(parts) == 2
    assert parts[0].width > 10 and parts[0].thick < THICK_SHARE  # thin as a whole
    assert parts[1].thick >= THICK_SHARE
    # auto fills what is wide, the speck on the scratches too, and heals the rest
    from photoforge.ops.inpaint import _wide_marks

    wide = _wide_marks(mask > 0)
    assert wide[40, 40] and wide[220, 220] and not wide[120, 120] and not wide[20, 130]


def test_auto_heals_a_crack_that_runs_into_a_flake_and_fills_only_the_flake(photo):
    # One component, a third of it wide: before, all of it went to the fill on a grown mask,
    # and the crack came back as copied patches (rmse 27 against quick heal's 19).
    crop = photo[40:360, 60:380].copy()
    mask = np.zeros(crop.shape[:2], np.uint8)
    cv2.circle(mask, (250, 250), 16, 255, -1)
    cv2.polylines(mask, [np.array([[250, 250], [180, 200], [120, 190], [60, 120], [30, 40]], np.int32)], False, 255, 3)
    flake = np.zeros_like(mask)
    cv2.circle(flake, (250, 250), 22, 1, -1)
    crack, flake = (mask > 0) & (flake == 0), (mask > 0) & (flake > 0)
    out = {m: inpaint(ImageData(crop), mask, InpaintOptions(method=m)).pixels.astype(float)
           for m in ("auto", "quick", "fill")}

    def rmse(m, where):
        return np.sqrt(np.mean((out[m][where] - crop[where]) ** 2))

    assert rmse("auto", crack) <= 1.05 * rmse("quick", crack) < 0.8 * rmse("fill", crack)
    assert np.abs(out["auto"][flake] - out["quick"][flake]).mean() > 3  # the flake is filled, not smeared


def test_flat_region_comes_back_flat():
    image = np.full((120, 140, 3), (90, 140, 200), np.uint8)
    image[:, 100:] = (30, 30, 30)  # a different region elsewhere
    mask = blob_mask(image.shape[:2], (45, 60), 22)
    out = inpaint(ImageData(image), mask, InpaintOptions(method="fill")).pixels
    assert np.abs(out[mask > 0].astype(int) - (90, 140, 200)).max() <= 1


def test_fill_continues_a_periodic_texture_far_better_than_telea():
    y, x = np.mgrid[0:160, 0:160]
    texture = (127 + 100 * np.sin(2 * np.pi * x / 9.0) * np.cos(2 * np.pi * y / 13.0)).astype(np.uint8)
    image = np.repeat(texture[..., None], 3, axis=2)
    mask = blob_mask(image.shape[:2], (80, 80), 18)
    ours = inpaint(ImageData(image), mask, InpaintOptions(method="fill")).pixels
    telea = cv2.inpaint(image, mask, 5, cv2.INPAINT_TELEA)
    inside = mask > 0
    err_ours = np.mean((ours[inside].astype(float) - image[inside]) ** 2)
    err_telea = np.mean((telea[inside].astype(float) - image[inside]) ** 2)
    assert err_ours < err_telea / 3


def test_soft_mask_blends_between_input_and_fill():
    image = np.full((80, 80, 3), 100, np.uint8)
    image[38:42, 10:70] = 250  # a bright scratch on flat grey
    mask = np.zeros((80, 80), np.uint8)
    mask[36:44, 8:72] = 255
    mask[39, 10:70] = 128  # one soft row
    out = inpaint(ImageData(image), mask, InpaintOptions(method="quick")).pixels
    assert abs(int(out[40, 40, 0]) - 100) <= 2  # fully masked: healed to the surroundings
    assert abs(int(out[39, 40, 0]) - 175) <= 3  # half masked: half way between 250 and 100


def test_sixteen_bit_and_alpha_are_kept(photo):
    deep = photo[100:200, 100:200].astype(np.uint16) * 257 + 3
    alpha = np.full(deep.shape[:2], 65535, np.uint16)
    mask = blob_mask(deep.shape[:2], (50, 50), 12) | scratch_mask(deep.shape[:2])
    out = inpaint(ImageData(deep, alpha=alpha.copy()), mask)
    assert out.pixels.dtype == np.uint16 and out.alpha.dtype == np.uint16
    np.testing.assert_array_equal(out.pixels[mask == 0], deep[mask == 0])
    assert np.all(out.alpha >= 65530)
    assert len(np.unique(out.pixels[mask > 0] % 257)) > 10  # not just 8-bit values scaled up


def test_bad_masks_are_clear_errors(photo):
    image = ImageData(photo[:50, :60].copy())
    with pytest.raises(MaskProblem, match="empty"):
        inpaint(image, np.zeros((50, 60), np.uint8))
    with pytest.raises(MaskProblem, match="the mask is 40×50 but the image is 60×50"):
        inpaint(image, np.ones((50, 40), np.uint8))


@pytest.mark.parametrize("method", ["auto", "quick", "fill"])
def test_a_mask_over_the_whole_photo_is_refused_by_every_method(photo, method):
    image = ImageData(photo[:50, :60].copy())
    with pytest.raises(MaskProblem, match="covers the whole photo, so nothing is left to fill it from"):
        inpaint(image, np.full((50, 60), 128, np.uint8), InpaintOptions(method=method))


def test_a_mask_whose_grown_edge_leaves_nothing_names_that(photo):
    mask = np.full((50, 60), 255, np.uint8)
    mask[0, :] = 0  # one row left, inside the fill's 2 px margin
    with pytest.raises(MaskProblem, match="grown by the fill's margin.*leave nothing of the photo"):
        inpaint(ImageData(photo[:50, :60].copy()), mask, InpaintOptions(method="fill"))


def cli(*args):
    return subprocess.run([sys.executable, "-m", "photoforge", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_cli_inpaint_and_its_errors(photo, tmp_path):
    src = tmp_path / "scan.png"
    Image.fromarray(photo[:128, :160]).save(src)
    mask_path = tmp_path / "mask.png"
    mask = scratch_mask((128, 160))
    Image.fromarray(mask).save(mask_path)
    out = tmp_path / "out.png"
    result = cli("inpaint", src, "--mask", mask_path, "-o", out)
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(load_image(out).pixels[mask == 0], photo[:128, :160][mask == 0])
    Image.fromarray(np.zeros((128, 160), np.uint8)).save(tmp_path / "empty.png")
    result = cli("inpaint", src, "--mask", tmp_path / "empty.png", "-o", tmp_path / "o2.png")
    assert result.returncode == 2 and "empty" in result.stderr and "empty.png" in result.stderr
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "small.png")
    result = cli("inpaint", src, "--mask", tmp_path / "small.png", "-o", tmp_path / "o3.png")
    assert result.returncode == 2 and "small.png" in result.stderr and "10×10" in result.stderr
    assert "Traceback" not in result.stderr


# ----- the slot for learned models: a plumbing test with tiny models made here -----------

def tiny_lama(path, grey=0.5, gain=1.0):
    """LaMa signature: image, mask float32 → image × gain; fills the hole with flat grey."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes = [helper.make_node("Sub", ["one", "mask"], ["keep"]),
             helper.make_node("Mul", ["image", "keep"], ["kept"]),
             helper.make_node("Mul", ["mask", "grey"], ["filled"]),
             helper.make_node("Add", ["kept", "filled"], ["sum"]),
             helper.make_node("Mul", ["sum", "gain"], ["output"])]
    graph = helper.make_graph(
        nodes, "tiny_lama",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"]),
         helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N", 1, "H", "W"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [numpy_helper.from_array(np.array(1, np.float32), "one"),
         numpy_helper.from_array(np.array(grey, np.float32), "grey"),
         numpy_helper.from_array(np.array(gain, np.float32), "gain")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    return path


def test_onnx_slot_plumbing_validates_adds_and_runs_a_lama_style_model(tmp_path, photo):
    from photoforge.engine.catalog import get_model, models_for
    from photoforge.engine.user_models import add_inpaint_model

    model = add_inpaint_model(tiny_lama(tmp_path / "Tiny LaMa.onnx"), licence="CC0 (test)")
    assert model.id == "user-tiny-lama" and model.kind is Kind.IMAGE_MASK
    assert model.adapter == Lama(output_scale=1.0)
    assert get_model(model.id).licence == "CC0 (test)" and model in models_for("inpaint")
    crop = photo[:96, :96].copy()
    mask = blob_mask(crop.shape[:2], (48, 48), 15)
    out = inpaint(ImageData(crop), mask, InpaintOptions(method=model.id, dilate=0, device="cpu")).pixels
    assert np.abs(out[mask > 0].astype(int) - 128).max() <= 2
    np.testing.assert_array_equal(out[mask == 0], crop[mask == 0])


def test_a_lama_export_with_0_255_output_is_measured_once_and_recorded(tmp_path, photo):
    import json

    from photoforge.core import paths
    from photoforge.engine.catalog import get_model
    from photoforge.engine.user_models import add_inpaint_model

    model = add_inpaint_model(tiny_lama(tmp_path / "lama255.onnx", gain=255.0), licence="CC0 (test)")
    assert model.adapter == Lama(output_scale=255.0)
    crop = photo[:64, :64].copy()
    mask = blob_mask(crop.shape[:2], (32, 32), 10)
    out = inpaint(ImageData(crop), mask, InpaintOptions(method=model.id, dilate=0, device="cpu")).pixels
    assert np.abs(out[mask > 0].astype(int) - 128).max() <= 2
    # A record from before the range was recorded gets it measured on first load.
    records_path = paths.models_dir() / "user_models.json"
    records = json.loads(records_path.read_text())
    for r in records:
        r.pop("output_scale", None)
    records_path.write_text(json.dumps(records))
    assert get_model(model.id).adapter == Lama(output_scale=255.0)
    assert {r["id"]: r.get("output_scale") for r in json.loads(records_path.read_text())}[model.id] == 255.0


def test_onnx_slot_rejects_models_without_the_signature(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    from photoforge.engine.user_models import ModelSignatureError, add_inpaint_model

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])])
    bad = tmp_path / "upscaler.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), bad)
    with pytest.raises(ModelSignatureError, match="upscaler.onnx' is not a LaMa or MI-GAN"):
        add_inpaint_model(bad, licence="MIT")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not onnx")
    with pytest.raises(ModelSignatureError, match="junk.onnx' is not a readable ONNX file"):
        add_inpaint_model(junk, licence="MIT")


def test_onnx_slot_plumbing_runs_a_migan_style_uint8_model(tmp_path, photo):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from photoforge.engine.user_models import add_inpaint_model

    graph = helper.make_graph(
        [helper.make_node("Equal", ["mask", "zero"], ["hole"]),
         helper.make_node("Where", ["hole", "fill", "image"], ["result"])], "tiny_migan",
        [helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", 3, "H", "W"]),
         helper.make_tensor_value_info("mask", TensorProto.UINT8, ["N", 1, "H", "W"])],
        [helper.make_tensor_value_info("result", TensorProto.UINT8, ["N", 3, "H", "W"])],
        [numpy_helper.from_array(np.array(0, np.uint8), "zero"),
         numpy_helper.from_array(np.array(200, np.uint8), "fill")])
    path = tmp_path / "migan.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    model = add_inpaint_model(path, licence="MIT (test)")
    assert model.kind is Kind.IMAGE_MASK and model.adapter == Migan()
    crop = photo[:80, :80].copy()
    mask = blob_mask(crop.shape[:2], (40, 40), 12)
    out = inpaint(ImageData(crop), mask, InpaintOptions(method=model.id, dilate=0, device="cpu")).pixels
    assert np.abs(out[mask > 0].astype(int) - 200).max() <= 1
    np.testing.assert_array_equal(out[mask == 0], crop[mask == 0])


@pytest.mark.parametrize("sigma", [3.0, 24.0, 150.0])
def test_seam_smoothing_is_the_gaussian_blur_at_any_width(sigma):
    """The seam match blurs on a coarse grid for wide holes (a full-kernel blur took 3 s per
    call at 2 MP); the field it gives must stay the Gaussian's."""
    from photoforge.ops.inpaint import _smooth

    ring = np.zeros((900, 700), np.float32)
    cv2.circle(ring, (350, 450), 300, 1.0, 3)  # the one-pixel-wide ring a seam match reads
    ring[100:110, 50:650] = 0.5
    exact = cv2.GaussianBlur(ring, (0, 0), sigma)
    fast = _smooth(ring, sigma)
    assert fast.shape == exact.shape and fast.dtype == np.float32
    assert np.abs(fast - exact).max() <= 0.03 * exact.max()
    assert np.abs(fast - exact).mean() <= 0.002 * exact.max()
