"""The typed model contract: keyword descriptors, adapters per kind, the one tiled entry point
with a probability model, and ONNX files shipped inside a package (tiny models made here)."""
from __future__ import annotations

import sys
import uuid

import numpy as np
import pytest

from photoforge.engine import packs
from photoforge.engine.adapters import (ImageMaskInput, Kind, Lama, Migan, ProbabilityMap, Rgb,
                                        StylePredictor)
from photoforge.engine.inference import run_once, run_tiled
from photoforge.engine.progress import Aborted, Progress
from photoforge.engine.registry import ModelDescriptor, ShippedFile
from photoforge.engine.catalog import get_model
from tests.conftest import smooth_random

CPU = dict(device="cpu", precision="fp32", threads=2)


def tiny_segmenter(path):
    """image N×3×H×W → prob N×1×H×W, downsampling by 2 inside (so the cell phase matters);
    receptive field about ±6 px, zero padding at the border like a real network."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(3)
    weights = {"w1": (4, 3), "w2": (4, 4), "w3": (1, 4)}
    init = [numpy_helper.from_array((rng.standard_normal((o, i, 3, 3)) * 0.4).astype(np.float32), n)
            for n, (o, i) in weights.items()]
    init.append(numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"))
    nodes = [helper.make_node("Conv", ["image", "w1"], ["a"], pads=[1, 1, 1, 1]),
             helper.make_node("AveragePool", ["a"], ["b"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Conv", ["b", "w2"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["d"]),
             helper.make_node("Resize", ["d", "", "scales"], ["e"], mode="nearest"),
             helper.make_node("Conv", ["e", "w3"], ["f"], pads=[1, 1, 1, 1]),
             helper.make_node("Sigmoid", ["f"], ["prob"])]
    graph = helper.make_graph(
        nodes, "tiny_segmenter",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["N", 1, "H", "W"])], init)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    return path


@pytest.fixture
def shipped_package(tmp_path, monkeypatch):
    """A throwaway importable package holding models/seg.onnx, as the app ships its own."""
    name = f"pf_shipped_{uuid.uuid4().hex[:8]}"
    folder = tmp_path / name
    (folder / "models").mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    tiny_segmenter(folder / "models" / "seg.onnx")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, folder / "models" / "seg.onnx"
    sys.modules.pop(name, None)


def detector(package: str, sha256: str, **changes) -> ModelDescriptor:
    fields = dict(id=f"test-seg-{package}", task="damage", title="Tiny segmenter", description="test",
                  speed="fast", licence="project's own", adapter=ProbabilityMap(),
                  source=ShippedFile("models/seg.onnx", sha256, package=package),
                  size_multiple=2, context=7, memory_per_pixel=200)
    return ModelDescriptor(**{**fields, **changes})


def test_descriptors_are_built_by_keyword_and_checked():
    model = get_model("span-x2")
    assert model.kind is Kind.IMAGE and model.adapter == Rgb()
    assert get_model("ffdnet-color").kind is Kind.IMAGE_LEVEL
    assert {get_model(i).kind for i in ("multistyle26", "arbitrary-style-transform")} == {Kind.IMAGE_STYLE}
    with pytest.raises(TypeError):
        ModelDescriptor("x", "upscale", "t", "d", "fast", "MIT", model.source, Rgb())  # noqa
    with pytest.raises(ValueError, match="input's scale"):
        detector("pkg", "0" * 64, scale=2)


def test_probability_model_tiled_equals_untiled_and_reports_each_tile(shipped_package):
    package, path = shipped_package
    model = detector(package, packs.sha256_of(path))
    image = (smooth_random((75, 101), seed=2) * 255).astype(np.uint8)
    whole = run_tiled(model, image, tile=0, **CPU)
    assert whole.shape == (75, 101) and whole.dtype == np.float32
    assert 0 < whole.min() and whole.max() < 1 and whole.std() > 1e-3
    fractions = []
    tiled = run_tiled(model, image, Progress(lambda f, m: fractions.append(f)), tile=32, **CPU)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)
    # One report per tile (plus none from an already-verified shipped file), in order.
    tiles = [f for f in fractions if f > 0.02]
    assert len(tiles) >= 6 and tiles == sorted(tiles) and tiles[-1] == 1.0
    with pytest.raises(ValueError, match="H×W×3 RGB"):
        run_tiled(model, image[:, :, :1], **CPU)
    # float input in [0, 1] is the same picture as its 8-bit version
    np.testing.assert_allclose(run_tiled(model, image.astype(np.float32) / 255, tile=32, **CPU), tiled, atol=1e-6)


def test_cancel_lands_within_one_tile(shipped_package):
    package, path = shipped_package
    model = detector(package, packs.sha256_of(path))
    seen = []

    def on_progress(fraction, message):
        seen.append(fraction)
        if fraction > 0.02 and len([f for f in seen if f > 0.02]) == 2:
            progress.cancel()

    progress = Progress(on_progress)
    with pytest.raises(Aborted):
        run_tiled(model, smooth_random((96, 96)), progress, tile=32, **CPU)
    assert len([f for f in seen if f > 0.02]) == 2  # the tile after the cancel never ran


def test_shipped_file_is_hashed_once_and_named_when_missing_or_changed(shipped_package, monkeypatch):
    package, path = shipped_package
    model = detector(package, packs.sha256_of(path))
    hashed = []
    real = packs.sha256_of
    monkeypatch.setattr(packs, "sha256_of", lambda p: hashed.append(p) or real(p))
    monkeypatch.setattr(packs, "_VERIFIED", set())
    assert packs.build(model) == path and packs.is_built(model) and packs.build(model) == path
    assert hashed == [path]
    assert packs.built_hash(model) == model.source.sha256

    changed = detector(package, "0" * 64)
    with pytest.raises(packs.ModelPackError, match=f"{package}/models/seg.onnx .* has sha256"):
        packs.build(changed)
    assert not packs.is_built(changed)
    missing = detector(package, "0" * 64, source=ShippedFile("models/nope.onnx", "0" * 64, package=package))
    with pytest.raises(packs.ModelPackError, match=f"{package}/models/nope.onnx is missing"):
        run_tiled(missing, smooth_random((16, 16)), **CPU)
    no_package = detector(package, "0" * 64, source=ShippedFile("models/seg.onnx", "0" * 64, package="pf_nowhere"))
    with pytest.raises(packs.ModelPackError, match="pf_nowhere/models/seg.onnx is missing"):
        packs.build(no_package)


def test_image_mask_encodings_decode_to_unit_range():
    image = np.full((1, 3, 4, 4), 0.5, np.float32)
    hole = np.zeros((1, 1, 4, 4), np.uint8)
    hole[..., 1:3, 1:3] = 1
    feeds = Migan().feeds(ImageMaskInput(image, hole))
    assert feeds["image"].dtype == np.uint8 and feeds["image"].max() == 128
    assert set(np.unique(feeds["mask"])) == {0, 255} and feeds["mask"][0, 0, 1, 1] == 0  # 255 = keep
    assert Migan().output(np.full((1, 3, 2, 2), 255, np.uint8)).max() == 1.0
    assert Lama().feeds(ImageMaskInput(image, hole * 7))["mask"].max() == 1.0
    np.testing.assert_allclose(Lama(output_scale=255.0).output(np.full((1, 3, 2, 2), 127.5, np.float32)), 0.5)


def test_the_style_vector_is_no_image():
    model = get_model("arbitrary-style-predict")
    assert model.kind is Kind.STYLE_VECTOR and model.adapter == StylePredictor()
    with pytest.raises(ValueError, match="run_once"):
        run_tiled(model, np.zeros((16, 16, 3), np.uint8))
    vector = run_once(model, np.full((1, 3, 256, 256), 0.5, np.float32), **CPU)
    assert vector.shape == (1, 100) and np.all(np.isfinite(vector))
