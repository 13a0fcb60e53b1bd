"""int8 builds (engine/int8.py) with the real quantiser on tiny networks: the layer whose
quantisation hurts is found by measurement and left in fp32, a network that cannot match
fp32 is refused and runs in fp32, and builds and refusals are cached and rebuilt."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from photoforge.engine import int8, runtime
from photoforge.engine.fidelity import photo_crops, psnr
from photoforge.engine.int8 import Int8Refused
from photoforge.engine.runtime import DeviceError, ModelRunner


def offset_network(path, c_kernel: int):
    """x + D(C(B(relu(A(x))))) where B puts +1000 on channel 0 and C ignores that channel:
    C's input range is set by the offset, so an 8-bit C input keeps nothing of the rest.
    C is 1×1 (6 % of the multiply–adds) or 3×3 (36 %, beyond what may stay fp32)."""
    rng = np.random.default_rng(5)
    w = {"A": rng.normal(0, 0.2, (8, 3, 3, 3)), "B": rng.normal(0, 0.1, (8, 8, 3, 3)),
         "D": rng.normal(0, 0.05, (3, 8, 3, 3))}
    b_bias = np.zeros(8)
    b_bias[0] = 1000.0
    c = np.zeros((8, 8, c_kernel, c_kernel))
    for i in range(1, 8):
        c[i, i, c_kernel // 2, c_kernel // 2] = 1.0
    w["C"] = c
    inits = [numpy_helper.from_array(v.astype(np.float32), f"w{k}") for k, v in w.items()]
    inits.append(numpy_helper.from_array(b_bias.astype(np.float32), "bB"))
    pad = [1, 1, 1, 1]
    nodes = [helper.make_node("Conv", ["input", "wA"], ["a"], name="A", pads=pad),
             helper.make_node("Relu", ["a"], ["ar"], name="relu"),
             helper.make_node("Conv", ["ar", "wB", "bB"], ["b"], name="B", pads=pad),
             helper.make_node("Conv", ["b", "wC"], ["c"], name="C", pads=[c_kernel // 2] * 4),
             helper.make_node("Conv", ["c", "wD"], ["d"], name="D", pads=pad),
             helper.make_node("Add", ["input", "d"], ["output"], name="residual")]
    graph = helper.make_graph(nodes, "offset", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                              ["N", 3, "H", "W"])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, "H", "W"])],
                              inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    return path


def feeds(x):
    return {"input": x}


def ort_run(path, x):
    return runtime.create_backend(path, "cpu", "fp32", 2).run({"input": x})


def test_the_layer_that_hurts_is_measured_and_left_in_fp32(tmp_path):
    source = offset_network(tmp_path / "net.onnx", 1)
    path = int8.int8_model(source, "net:1", feeds)
    record = json.loads(path.with_suffix(".json").read_text())
    errors = record["layer_sqnr_db"]
    assert min(errors, key=errors.get) == "C" and errors["C"] < 10 < min(errors[n] for n in "ABD")
    assert record["fp32_layers"] == ["C"] and record["tried"][0]["psnr"] < 30
    graph = onnx.load(str(path)).graph
    made = {o: n.op_type for n in graph.node for o in n.output}
    convs = {n.name: n for n in graph.node if n.op_type == "Conv"}
    assert made[convs["C"].input[0]] == "Conv" and made[convs["D"].input[0]] == "DequantizeLinear"
    assert {t.data_type for t in graph.initializer if t.name == "wA_quantized"} == {TensorProto.INT8}
    for crop in photo_crops("probe"):  # photos the build never saw
        assert psnr(ort_run(path, crop[None]), ort_run(source, crop[None])) >= 40


def test_a_network_that_cannot_match_fp32_is_refused_remembered_and_runs_fp32(tmp_path, monkeypatch):
    source = offset_network(tmp_path / "net.onnx", 3)
    with pytest.raises(Int8Refused, match=r"int8 reaches only [\d.]+ dB .* up to 25% of the work left in fp32"):
        int8.int8_model(source, "net:3", feeds)
    monkeypatch.setattr(int8, "build", lambda *a, **k: pytest.fail("the refusal was not remembered"))
    with pytest.raises(Int8Refused):
        int8.int8_model(source, "net:3", feeds)

    def make(precision):
        return ModelRunner(source, "net:3", feeds, device="cpu", precision=precision, threads=2,
                           probe_size=64, int8_model=lambda: int8.int8_model(source, "net:3", feeds))

    runner = make("auto")
    x = photo_crops("probe")[:1]
    np.testing.assert_array_equal(runner.run(x), ort_run(source, x))
    assert (runner.selection.device, runner.selection.precision) == ("cpu", "fp32")
    with pytest.raises(DeviceError, match="cpu int8: no int8 build: int8 reaches only"):
        make("int8").run(x)


def test_int8_builds_are_cached_and_rebuilt_when_damaged_or_outdated(tmp_path, monkeypatch):
    source = offset_network(tmp_path / "net.onnx", 1)
    path = int8.int8_model(source, "net:1", feeds)
    first = path.read_bytes()
    builds = []
    real_build = int8.build
    monkeypatch.setattr(int8, "build", lambda *a, **k: builds.append(1) or real_build(*a, **k))
    assert int8.int8_model(source, "net:1", feeds) == path and builds == []
    path.write_bytes(first[:-10])  # damaged
    assert int8.int8_model(source, "net:1", feeds).read_bytes() == first and len(builds) == 1
    monkeypatch.setattr(int8, "RECIPE", "another recipe")
    int8.int8_model(source, "net:1", feeds)
    assert len(builds) == 2
    assert json.loads(path.with_suffix(".json").read_text())["recipe"] == "another recipe"


def test_an_explicit_int8_run_uses_the_quantised_file(tmp_path):
    source = offset_network(tmp_path / "net.onnx", 1)
    runner = ModelRunner(source, "net:1e", feeds, device="cpu", precision="int8", threads=2, probe_size=64,
                         int8_model=lambda: int8.int8_model(source, "net:1e", feeds))
    x = photo_crops("probe")[1:2]
    out = runner.run(x)
    assert runner.selection.precision == "int8" and runner.selection.backend.label.endswith("int8")
    reference = ort_run(source, x)
    assert 40 <= psnr(out, reference) < float("inf")  # quantised, and still faithful
