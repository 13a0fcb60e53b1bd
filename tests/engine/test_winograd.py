"""The Winograd rewrite (engine/winograd.py) computes what the original convolutions do."""
from __future__ import annotations

import json

import numpy as np
import pytest

from photoforge.engine import runtime, winograd
from photoforge.engine.tiler import TiledRunner, TileSpec

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def dense_model(path, seed: int = 0, k: int = 3):
    """RGB → (3×3 stem, 3 → 16) → a 3-conv dense block (16 → 8, 24 → 8, 32 → 16, concats,
    LeakyRelu) → residual → 1×1 back to RGB: the shapes x4plus's trunk is made of, small."""
    rng = np.random.default_rng(seed)
    inits, nodes = [], []

    def conv(x, out, cin, cout, k=3, bias=True):
        name = f"w{len(inits)}"
        inits.append(numpy_helper.from_array(rng.normal(0, (2 / (k * k * cin)) ** 0.5,
                                                        (cout, cin, k, k)).astype(np.float32), name))
        args = [x, name]
        if bias:
            inits.append(numpy_helper.from_array(rng.normal(0, 0.1, cout).astype(np.float32), name + "b"))
            args.append(name + "b")
        nodes.append(helper.make_node("Conv", args, [out], kernel_shape=[k, k], pads=[k // 2] * 4))

    conv("input", "f", 3, 16, k=k)
    maps = ["f"]
    for i, (cin, cout) in enumerate(((16, 8), (24, 8), (32, 16))):
        x = maps[0] if len(maps) == 1 else f"cat{i}"
        if len(maps) > 1:
            nodes.append(helper.make_node("Concat", list(maps), [x], axis=1))
        conv(x, f"c{i}", cin, cout, k=k, bias=i != 1)
        nodes.append(helper.make_node("LeakyRelu", [f"c{i}"], [f"a{i}"], alpha=0.2))
        maps.append(f"a{i}")
    nodes.append(helper.make_node("Add", ["a2", "f"], ["r"]))
    conv("r", "output", 16, 3, k=1)
    graph = helper.make_graph(nodes, "dense",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, "H", "W"])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, "H", "W"])],
                              inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    return path


@pytest.fixture
def models(tmp_path):
    source = dense_model(tmp_path / "dense.onnx")
    rewritten = tmp_path / "dense.wino.onnx"
    onnx.save(winograd.rewrite(onnx.load(str(source)), min_channels=3), str(rewritten))
    return source, rewritten


def test_matrices_compute_a_3_tap_correlation():
    at, g, bt = winograd.matrices()
    rng = np.random.default_rng(2)
    d, k = rng.standard_normal(8), rng.standard_normal(3)
    np.testing.assert_allclose(at @ ((g @ k) * (bt @ d)), np.correlate(d, k, "valid"), atol=1e-10)


def test_every_3x3_conv_is_rewritten_and_the_rest_kept(models):
    source, rewritten = models
    before = [n.op_type for n in onnx.load(str(source)).graph.node]
    after = [n.op_type for n in onnx.load(str(rewritten)).graph.node]
    assert before.count("Conv") == 5 and after.count("Conv") == 1  # the final 1×1 stays
    assert "Concat" in before and after.count("MatMul") >= 4


@pytest.mark.parametrize("device", ["cpu", "openvino"])
@pytest.mark.parametrize("shape", [(1, 3, 13, 20), (2, 3, 24, 7), (1, 3, 1, 1)])
def test_rewrite_matches_the_original_on_random_input(models, device, shape):
    source, rewritten = models
    x = np.random.default_rng(3).random(shape, dtype=np.float32)
    want = runtime.create_backend(source, "cpu", "fp32", 2).run({"input": x})
    got = runtime.create_backend(rewritten, device, "winograd", 2).run({"input": x})
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=0)


def test_one_conv_against_a_direct_reference():
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((1, 5, 11, 9)), rng.standard_normal((7, 5, 3, 3)), rng.standard_normal(7)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w", "b"], ["output"], pads=[1, 1, 1, 1], kernel_shape=[3, 3])], "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 5, "H", "W"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 7, "H", "W"])],
        [numpy_helper.from_array(w.astype(np.float32), "w"), numpy_helper.from_array(b.astype(np.float32), "b")])
    model = winograd.rewrite(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8),
                             min_channels=1)
    session = runtime._ort().InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"input": x.astype(np.float32)})[0]
    np.testing.assert_allclose(got, winograd.reference_conv(x, w, b), atol=1e-4)


def test_tiled_run_of_the_rewrite_equals_the_untiled_original(models):
    """Tile edges and the rewrite's own 6-pixel grid do not line up; no seams either way."""
    source, rewritten = models
    image = np.random.default_rng(5).random((45, 58, 3), dtype=np.float32)
    original = runtime.create_backend(source, "cpu", "fp32", 2)
    wino = runtime.create_backend(rewritten, "openvino", "winograd", 2)

    def run(backend, spec):
        out = np.zeros((45, 58, 3), np.float32)
        return TiledRunner(lambda chw: backend.run({"input": chw[None]})[0], spec).run(image, out)

    whole = run(original, TileSpec(0, 0, 0, 1))
    tiled = run(wino, TileSpec(20, 6, context=8, scale=1))  # receptive field: 4 px each side
    np.testing.assert_allclose(tiled, whole, atol=1e-4, rtol=0)


def test_cached_build_is_reused_and_a_model_without_3x3_convs_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(winograd.paths, "models_dir", lambda: tmp_path / "models")
    source = dense_model(tmp_path / "dense.onnx")
    built = winograd.winograd_model(source, "net:1")
    record = json.loads(built.with_suffix(".json").read_text())
    assert record["convolutions"] == 3 and record["recipe"] == winograd.RECIPE  # the RGB stem stays
    stamp = built.stat().st_mtime_ns
    assert winograd.winograd_model(source, "net:1") == built and built.stat().st_mtime_ns == stamp
    built.write_bytes(b"damaged")
    assert winograd.winograd_model(source, "net:1").read_bytes() != b"damaged"
    thin = dense_model(tmp_path / "thin.onnx", k=1)  # 1×1 convolutions only
    with pytest.raises(winograd.NoWinograd, match="no 3×3 stride-1 convolution"):
        winograd.winograd_model(thin, "net:2")
