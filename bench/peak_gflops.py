"""The machine's measured peak for the upscalers' main operation, 3×3 convolutions, through
the same runtimes and settings photoforge uses (2 threads; OpenVINO fp32 / bf16 / int8 QDQ,
ONNX Runtime fp32 / int8): the best of two shapes, 64 → 64 channels on 192² (1.36 GFLOP) and
128 → 128 on 128² (2.42 GFLOP; more work per byte moved).

    PYTHONPATH=. python bench/peak_gflops.py

GFLOP/s counts a multiply–add as 2 FLOPs; the best of `reps` timed runs after a warm-up.
Run it under ONEDNN_MAX_CPU_ISA=AVX2 to see OpenVINO's peak with AVX-512 masked off.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

THREADS = 2
SHAPES = ((64, 192), (128, 128))  # (channels, side)


def conv_model(path: Path, int8: bool, ch: int, side: int) -> Path:
    """fp32 conv, or the same conv in QDQ form (u8 activations, per-channel s8 weights)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = rng.normal(0, 0.05, (ch, ch, 3, 3)).astype(np.float32)
    inits, nodes = [], []
    x, weight = "input", "w"
    if int8:
        w_scale = np.abs(w).reshape(ch, -1).max(axis=1) / 63
        inits += [numpy_helper.from_array(np.rint(w / w_scale[:, None, None, None]).astype(np.int8), "wq"),
                  numpy_helper.from_array(w_scale.astype(np.float32), "ws"),
                  numpy_helper.from_array(np.zeros(ch, np.int8), "wz"),
                  numpy_helper.from_array(np.array(1 / 255, np.float32), "xs"),
                  numpy_helper.from_array(np.array(0, np.uint8), "xz")]
        nodes += [helper.make_node("QuantizeLinear", ["input", "xs", "xz"], ["xq"]),
                  helper.make_node("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
                  helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wd"], axis=0)]
        x, weight = "xd", "wd"
    else:
        inits.append(numpy_helper.from_array(w, "w"))
    nodes.append(helper.make_node("Conv", [x, weight], ["output"], pads=[1, 1, 1, 1]))
    graph = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                            [1, ch, side, side])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, ch, side, side])],
                              inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    return path


def _best(fn, x, reps: int) -> float:
    fn(x)
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        fn(x)
        best = min(best, time.perf_counter() - start)
    return best


def measure(reps: int = 5) -> dict[str, float]:
    """GFLOP/s by path: "openvino fp32", "openvino bf16" (where allowed), "openvino int8",
    "onnxruntime fp32"."""
    from photoforge.engine.runtime import _bf16_allowed, create_backend, reduced_precisions

    found: dict[str, float] = {}
    for ch, side in SHAPES:
        x = np.random.default_rng(1).random((1, ch, side, side), dtype=np.float32)
        flop = 2 * ch * ch * 9 * side * side
        with tempfile.TemporaryDirectory() as tmp:
            fp32 = conv_model(Path(tmp) / "fp32.onnx", False, ch, side)
            q = conv_model(Path(tmp) / "int8.onnx", True, ch, side)
            paths = [("openvino", "fp32", fp32), ("openvino", "int8", q), ("cpu", "fp32", fp32), ("cpu", "int8", q)]
            if "bf16" in reduced_precisions("openvino") and _bf16_allowed():
                paths.insert(1, ("openvino", "bf16", fp32))
            for device, precision, path in paths:
                backend = create_backend(path, device, precision, THREADS)
                seconds = _best(lambda v: backend.run({"input": v}), x, reps)
                name = f"{'onnxruntime' if device == 'cpu' else 'openvino'} {precision}"
                found[name] = max(found.get(name, 0.0), flop / seconds / 1e9)
    return found


def main() -> int:
    print(f"3×3 convs {SHAPES} (channels, side), {THREADS} threads, ONEDNN_MAX_CPU_ISA="
          f"{os.environ.get('ONEDNN_MAX_CPU_ISA', '(unset)')}")
    for name, gflops in measure().items():
        print(f"  {name:18s} {gflops:7.1f} GFLOP/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
