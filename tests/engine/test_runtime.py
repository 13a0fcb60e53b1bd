"""Device choice, fallback and the reduced-precision fidelity gate, with simulated devices."""
from __future__ import annotations

import numpy as np
import pytest

from photoforge.engine import runtime
from photoforge.engine.fidelity import blockiness, probe_image
from photoforge.engine.runtime import DeviceError, ModelRunner, OutOfMemory


class FakeBackend:
    """Behaves like a real backend: the runtime's own errors (RuntimeError stands for them
    here) come out as RuntimeFailure or OutOfMemory."""

    def __init__(self, label, fn):
        self.label = label
        self.fn = fn
        self.calls = 0

    def run(self, feeds, progress=None):
        self.calls += 1
        try:
            return self.fn(feeds["input"])
        except RuntimeError as error:
            raise runtime._failure(error, self.label) from error


@pytest.fixture
def devices(monkeypatch):
    """Replace real backends: `behaviour[device]` is a function of the input, or an
    exception to raise when the backend is created."""
    behaviour: dict[str, object] = {}
    created: dict[tuple, FakeBackend] = {}

    def create(path, device, precision, threads):
        action = behaviour.get((device, precision), behaviour.get(device))
        if isinstance(action, DeviceError):
            raise action
        if isinstance(action, Exception):
            raise runtime._failure(action, f"{device} {precision}")
        if action is None:
            raise DeviceError(f"{device} is not present")
        backend = FakeBackend(f"{device} {precision}", action)
        created[(device, precision)] = backend
        return backend

    monkeypatch.setattr(runtime, "create_backend", create)
    monkeypatch.setattr(runtime, "reduced_precisions", lambda d: ["bf16"] if d == "openvino" else [])
    # Seconds per probe by precision, instead of timing fake backends.
    monkeypatch.setattr(runtime, "_best_seconds", lambda backend, feeds: SECONDS[backend.label.split()[-1]])
    monkeypatch.setattr(runtime, "auto_candidates", lambda: ["cuda", "openvino", "cpu"])
    return behaviour, created


SECONDS = {"fp32": 2.0, "bf16": 1.0, "int8": 0.8}


def make_runner(**kwargs):
    notices = []
    runner = ModelRunner("model.onnx", kwargs.pop("key", "m:abc"), lambda x: {"input": x},
                         notify=notices.append, **kwargs)
    return runner, notices


def identity(x):
    return x.copy()


def test_auto_skips_failing_gpu_and_names_the_failure(devices):
    behaviour, _ = devices
    behaviour["cuda"] = DeviceError("libcublasLt.so.13: cannot open shared object file")
    behaviour["openvino"] = identity
    behaviour["cpu"] = identity
    runner, notices = make_runner(key="m:gpu")
    runner.run(np.zeros((1, 3, 8, 8), np.float32))
    assert runner.selection.device == "openvino" and runner.selection.precision == "bf16"
    assert len(notices) == 1 and "libcublasLt" in notices[0] and "cuda" in notices[0]


def test_failure_during_a_run_falls_back_to_the_next_device(devices):
    behaviour, _ = devices

    def flaky(x):
        if x.shape[-1] > 16:  # the 16×16 probe passes, the real tile fails
            raise RuntimeError("device lost")
        return x.copy()

    behaviour["openvino"] = flaky
    behaviour["cpu"] = lambda x: x * 2
    runner, notices = make_runner(device="auto", precision="fp32")
    out = runner.run(np.ones((1, 3, 32, 32), np.float32))
    np.testing.assert_array_equal(out, 2.0)
    assert runner.selection.device == "cpu"
    assert any("device lost" in n for n in notices)


def test_out_of_memory_is_not_a_device_failure(devices):
    behaviour, _ = devices

    def small_only(x):
        if x.shape[-1] > 16:
            raise RuntimeError("std::bad_alloc")
        return x

    behaviour["cpu"] = small_only
    runner, _ = make_runner(device="cpu")
    with pytest.raises(OutOfMemory):
        runner.run(np.ones((1, 3, 64, 64), np.float32))
    assert runner.selection.device == "cpu"  # still selected: a smaller tile may fit


def test_no_working_device_lists_every_reason(devices):
    behaviour, _ = devices
    behaviour["cpu"] = RuntimeError("cpu says no")
    runner, _ = make_runner(device="cpu")
    with pytest.raises(DeviceError, match="cpu says no"):
        runner.run(np.zeros((1, 3, 8, 8), np.float32))


def test_unknown_device_and_precision_are_rejected():
    with pytest.raises(DeviceError, match="unknown device 'gpu9'"):
        make_runner(device="gpu9")
    with pytest.raises(DeviceError, match="unknown precision"):
        make_runner(precision="int3")


def test_reduced_precision_that_loses_fidelity_is_refused_and_remembered(devices):
    behaviour, created = devices
    rng = np.random.default_rng(0)
    behaviour[("openvino", "bf16")] = lambda x: x + rng.normal(0, 0.05, x.shape).astype(np.float32)
    behaviour[("openvino", "fp32")] = identity
    behaviour["cpu"] = identity
    runner, notices = make_runner(key="m:lossy")
    runner.run(np.zeros((1, 3, 8, 8), np.float32))
    assert (runner.selection.device, runner.selection.precision) == ("openvino", "fp32")
    assert any("differs from fp32" in n for n in notices)
    check_calls = created[("openvino", "bf16")].calls
    # A second runner for the same weights reuses the verdict instead of measuring again.
    runner2, _ = make_runner(key="m:lossy")
    runner2.run(np.zeros((1, 3, 8, 8), np.float32))
    assert runner2.selection.precision == "fp32"
    assert created[("openvino", "bf16")].calls == check_calls


def test_faithful_reduced_precision_is_used(devices):
    behaviour, _ = devices
    behaviour[("openvino", "bf16")] = lambda x: x + 1e-4
    behaviour["cpu"] = identity
    runner, _ = make_runner(key="m:good")
    runner.run(np.zeros((1, 3, 8, 8), np.float32))
    assert (runner.selection.device, runner.selection.precision) == ("openvino", "bf16"), runner.failures


def test_psnr():
    a = np.zeros((4, 4), np.float32)
    assert runtime.psnr(a, a) == float("inf")
    assert abs(runtime.psnr(a, a + 0.1) - 20.0) < 1e-4


def test_real_runtimes_run_the_same_onnx_file(tmp_path):
    """Both real runtimes load one small ONNX graph and agree with each other."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = np.random.default_rng(1).standard_normal((3, 3, 3, 3)).astype(np.float32) * 0.2
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w"], ["output"], pads=[1, 1, 1, 1])], "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [numpy_helper.from_array(w, "w")])
    path = tmp_path / "conv.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    x = probe_image(32)
    ort_out = runtime.create_backend(path, "cpu", "fp32", 2).run({"input": x})
    ov_out = runtime.create_backend(path, "openvino", "fp32", 2).run({"input": x})
    np.testing.assert_allclose(ov_out, ort_out, atol=1e-5)
    with pytest.raises(DeviceError, match="cpu runs fp32 or int8 or winograd only, not bf16"):
        runtime.create_backend(path, "cpu", "bf16", 2)
    # No process is pinned, whether it takes a share of the cores (a batch worker, a Ray
    # actor: OpenVINO would put each one's thread on the same first core) or all of them
    # (a pinned thread waits out any other program on its core).
    for threads in (1, runtime._usable_cores()):
        backend = runtime.create_backend(path, "openvino", "fp32", threads)
        assert backend.compiled.get_property("ENABLE_CPU_PINNING") is False


def test_auto_candidates_come_from_the_installed_runtimes():
    found = runtime.auto_candidates()
    assert found[-1] == "cpu" and "tensorrt" not in found
    assert found == [d for d in runtime.DEVICES if d in found]  # preference order kept


# ----- what counts as a device failure (issue 16, item 8) ---------------------------------

def test_a_bug_in_building_the_feeds_surfaces_instead_of_falling_back(devices):
    behaviour, created = devices
    behaviour["openvino"] = identity
    behaviour["cpu"] = identity

    def feeds(x):
        if x.shape[-1] > 16:  # the probe's feeds are fine; the real input hits the bug
            return {"input": x}["typo"]
        return {"input": x}

    runner = ModelRunner("model.onnx", "m:bug", feeds, device="auto", precision="fp32")
    runner.run(np.ones((1, 3, 8, 8), np.float32))
    with pytest.raises(KeyError, match="typo"):
        runner.run(np.ones((1, 3, 32, 32), np.float32))
    assert runner.selection.device == "openvino" and created[("openvino", "fp32")].calls == 2
    assert [f for f in runner.failures if "openvino" in f] == [] and ("cpu", "fp32") not in created


def test_a_backend_bug_that_is_not_a_runtime_error_surfaces(devices):
    behaviour, _ = devices

    def broken(x):
        raise TypeError("unsupported operand")

    behaviour["cpu"] = broken
    runner, _ = make_runner(device="cpu")
    with pytest.raises(TypeError, match="unsupported operand"):
        runner.run(np.zeros((1, 3, 8, 8), np.float32))


def _fixed_conv(path):
    """A conv with a fixed 1×3×8×8 input: any other size fails inside the runtime."""
    from onnx import TensorProto, helper, numpy_helper
    import onnx

    w = np.ones((3, 3, 1, 1), np.float32)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w"], ["output"])], "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 8, 8])],
        [numpy_helper.from_array(w, "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    return path


@pytest.mark.parametrize("device, label", [("cpu", "onnxruntime CPU fp32"), ("openvino", "OpenVINO CPU fp32")])
def test_real_runtime_errors_become_device_failures_naming_the_device(tmp_path, device, label):
    backend = runtime.create_backend(_fixed_conv(tmp_path / "fixed.onnx"), device, "fp32", 1)
    assert backend.run({"input": np.zeros((1, 3, 8, 8), np.float32)}).shape == (1, 3, 8, 8)
    with pytest.raises(runtime.RuntimeFailure, match=f"^{label}: "):
        backend.run({"input": np.zeros((1, 3, 16, 16), np.float32)})
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"\x08\x07garbage")
    with pytest.raises(runtime.RuntimeFailure, match="could not load 'broken.onnx'"):
        runtime.create_backend(broken, device, "fp32", 1)


def test_a_real_runtime_failure_during_a_run_is_a_device_failure(tmp_path):
    """OpenVINO accepts the 8×8 probe, then fails on a 16×16 input inside the runtime: the
    runner drops the device, says so, and with no device left names every failure."""
    path = _fixed_conv(tmp_path / "fixed.onnx")
    notices = []
    runner = ModelRunner(path, "m:fixed", lambda x: {"input": x}, device="openvino", precision="fp32",
                         threads=1, notify=notices.append, probe_size=8)
    with pytest.raises(DeviceError, match="no device could run the model:\n  openvino during run: OpenVINO CPU"):
        runner.run(np.zeros((1, 3, 16, 16), np.float32))
    assert any("OpenVINO CPU fp32 failed during the run" in n for n in notices)


def blocky(x):
    """x plus a different small offset on every 8×8 block (≈ 50 dB, but visible blocks)."""
    rng = np.random.default_rng(3)
    h, w = x.shape[-2:]
    offsets = rng.choice([-0.004, 0.004], size=(-(-h // 8), -(-w // 8))).astype(np.float32)
    return x + np.kron(offsets, np.ones((8, 8), np.float32))[:h, :w]


@pytest.fixture
def with_int8(devices, monkeypatch):
    monkeypatch.setattr(runtime, "reduced_precisions", lambda d: ["bf16", "int8"] if d == "openvino" else [])
    behaviour, created = devices
    behaviour[("openvino", "fp32")] = identity
    behaviour[("openvino", "bf16")] = lambda x: x + 1e-4
    behaviour["cpu"] = identity
    return behaviour, created


def int8_runner(**kwargs):
    return make_runner(int8_model=lambda: "model.int8.onnx", **kwargs)


def chosen(maker, **kwargs) -> tuple[str, list[str]]:
    """The precision a runner settles on for its first run, and its notices."""
    runner, notices = maker(**kwargs)
    runner.run(np.zeros((1, 3, 8, 8), np.float32))
    return runner.selection.precision, notices


def test_auto_takes_the_fastest_precision_that_passed(with_int8, monkeypatch):
    behaviour, _ = with_int8
    behaviour[("openvino", "int8")] = lambda x: x + 2e-3
    runner, _ = int8_runner(key="m:fast-int8")
    runner.run(np.zeros((1, 3, 8, 8), np.float32))
    assert runner.selection.precision == "int8"  # 0.8 s against bf16's 1.0 s and fp32's 2.0 s
    monkeypatch.setitem(SECONDS, "int8", 1.5)
    runner, _ = int8_runner(key="m:slow-int8")
    runner.run(np.zeros((1, 3, 8, 8), np.float32))
    assert runner.selection.precision == "bf16"
    monkeypatch.setitem(SECONDS, "bf16", 2.5)
    runner, _ = int8_runner(key="m:slow-both")  # faithful but slower than fp32: not worth it
    monkeypatch.setitem(SECONDS, "int8", 3.0)
    runner.run(np.zeros((1, 3, 8, 8), np.float32))
    assert runner.selection.precision == "fp32"


def test_int8_that_fails_its_check_falls_back_and_an_explicit_request_says_why(with_int8):
    behaviour, _ = with_int8
    rng = np.random.default_rng(0)
    behaviour[("openvino", "int8")] = lambda x: x + rng.normal(0, 0.03, x.shape).astype(np.float32)
    runner, notices = int8_runner(key="m:lossy-int8")
    runner.run(np.zeros((1, 3, 8, 8), np.float32))
    assert runner.selection.precision == "bf16"
    assert any(n.startswith("openvino int8 differs from fp32 (") and "dB < 40 dB on the probe photos" in n
               for n in notices)
    runner, _ = int8_runner(key="m:lossy-int8", device="openvino", precision="int8")
    with pytest.raises(DeviceError, match=r"openvino int8: openvino int8 differs from fp32 \(\d+\.\d dB < 40 dB "
                                          r"on the probe photos\); use --precision fp32 or auto"):
        runner.run(np.zeros((1, 3, 8, 8), np.float32))


def test_blocky_int8_is_refused_even_above_40_db(with_int8):
    behaviour, _ = with_int8
    behaviour[("openvino", "int8")] = blocky
    precision, notices = chosen(int8_runner, key="m:blocky")
    assert precision == "bf16"
    assert any("openvino int8 differs from fp32 (blockiness" in n for n in notices)


def test_a_model_without_an_int8_build_runs_fp32_and_explicit_int8_says_so(with_int8):
    behaviour, _ = with_int8
    behaviour[("openvino", "bf16")] = blocky
    assert chosen(make_runner, key="m:no-int8")[0] == "fp32"
    runner, _ = make_runner(key="m:no-int8", device="openvino", precision="int8")
    with pytest.raises(DeviceError, match="openvino int8: this model has no int8 build"):
        runner.run(np.zeros((1, 3, 8, 8), np.float32))


def test_verdicts_are_per_instruction_set_and_a_cap_below_avx512_has_no_bf16(with_int8, monkeypatch):
    behaviour, created = with_int8
    behaviour[("openvino", "int8")] = lambda x: x + 2e-3
    int8_runner(key="m:isa")[0].run(np.zeros((1, 3, 8, 8), np.float32))
    first = created[("openvino", "int8")]
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    int8_runner(key="m:isa")[0].run(np.zeros((1, 3, 8, 8), np.float32))
    assert created[("openvino", "int8")] is not first  # measured again for the AVX2 kernels
    assert runtime.isa_cap() == "AVX2" and not runtime._bf16_allowed()
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx512_core_bf16")
    assert runtime._bf16_allowed()


def test_blockiness_tells_grid_edges_from_noise():
    rng = np.random.default_rng(1)
    x = probe_image(64)
    noisy = x + rng.normal(0, 0.01, x.shape).astype(np.float32)
    assert 0.9 < blockiness(noisy, x) < 1.1
    assert blockiness(blocky(x), x) > 3
    assert blockiness(x + 1e-5, x) == 1.0  # nothing that could show


def test_winograd_is_chosen_where_faster_and_faithful_and_falls_back_when_made_to_fail(devices, monkeypatch):
    """The Winograd rewrite is judged like a reduced precision: a verdict against fp32."""
    monkeypatch.setattr(runtime, "reduced_precisions", lambda d: ["winograd"] if d == "openvino" else [])
    monkeypatch.setitem(SECONDS, "winograd", 1.2)
    behaviour, created = devices
    behaviour[("openvino", "fp32")] = identity
    behaviour["cpu"] = identity
    behaviour[("openvino", "winograd")] = lambda x: x + 1e-6
    files = []

    def winograd_runner(**kwargs):
        return make_runner(winograd_model=lambda: files.append(1) or "model.winograd.onnx", **kwargs)

    assert chosen(winograd_runner, key="m:wino")[0] == "winograd" and files
    assert chosen(make_runner, key="m:wino-none")[0] == "fp32"  # no rewrite offered: fp32
    rng = np.random.default_rng(0)
    behaviour[("openvino", "winograd")] = lambda x: x + rng.normal(0, 0.03, x.shape).astype(np.float32)
    precision, notices = chosen(winograd_runner, key="m:wino-broken")
    assert precision == "fp32"
    assert any(n.startswith("openvino winograd differs from fp32 (") and "dB < 40 dB" in n for n in notices)
    runner, _ = winograd_runner(key="m:wino-broken", device="openvino", precision="winograd")
    with pytest.raises(DeviceError, match=r"openvino winograd differs from fp32 .*use --precision fp32 or auto"):
        runner.run(np.zeros((1, 3, 8, 8), np.float32))
