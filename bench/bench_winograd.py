"""One Real-ESRGAN x4plus dense block (5 convs 3×3: 64 → 32, 96 → 32, 128 → 32, 160 → 32,
192 → 64, LeakyRelu 0.2, x + 0.2·x5), direct (OpenVINO's own convolutions) against the same
block rewritten to Winograd F(6,3) in plain ONNX ops (photoforge/engine/winograd.py), both
compiled by OpenVINO CPU fp32 with 2 threads, timed interleaved (direct, winograd, …).

    PYTHONPATH=. python bench/bench_winograd.py [--side 128] [--reps 7] [--weights x4plus|random]

Prints the median direct/winograd ratio of per-repetition times (> 1: Winograd is faster)
and their agreement (PSNR with the block output's peak-to-peak as the signal, max abs
difference). Run twice to compare ISAs: once as is, once with ONEDNN_MAX_CPU_ISA=AVX2
(OpenVINO's oneDNN kernels then run jit_avx2; the env var must be set before the process
starts). `--weights x4plus` takes the first dense block of the installed x4plus model;
`--whole` times the whole x4plus network against its cached rewrite (engine/winograd.py,
dense-block convolutions only) on a random RGB input. Each also prints the sum of OpenVINO's
per-node times (PERF_COUNT) for one run: what the kernels take, without the time spent
between them.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PHOTOFORGE_DATA_DIR", "/tmp/pfdata")
os.environ.setdefault("PHOTOFORGE_CACHE_DIR", "/tmp/pfcache")

THREADS = 2
WIDTHS = ((64, 32), (96, 32), (128, 32), (160, 32), (192, 64))


def block_weights(source: str) -> list[tuple[np.ndarray, np.ndarray]]:
    if source == "random":
        rng = np.random.default_rng(0)
        return [(rng.normal(0, (2 / (9 * ci)) ** 0.5, (co, ci, 3, 3)).astype(np.float32),
                 rng.normal(0, 0.01, co).astype(np.float32)) for ci, co in WIDTHS]
    import onnx
    from onnx import numpy_helper

    from photoforge.engine import packs
    from photoforge.engine.catalog import get_model

    model = onnx.load(str(packs.build(get_model("realesrgan-x4plus"))))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    convs = [n for n in model.graph.node if n.op_type == "Conv"][1:6]  # after the stem
    return [(inits[n.input[1]], inits[n.input[2]]) for n in convs]


def dense_block(path: Path, weights) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, maps = [], [], ["input"]
    for i, (w, b) in enumerate(weights):
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        x = maps[0] if len(maps) == 1 else f"cat{i}"
        if len(maps) > 1:
            nodes.append(helper.make_node("Concat", list(maps), [x], axis=1))
        nodes.append(helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"conv{i}"], kernel_shape=[3, 3],
                                      pads=[1, 1, 1, 1], strides=[1, 1], dilations=[1, 1]))
        if i < len(weights) - 1:
            nodes.append(helper.make_node("LeakyRelu", [f"conv{i}"], [f"act{i}"], alpha=0.2))
            maps.append(f"act{i}")
    inits.append(numpy_helper.from_array(np.array(0.2, np.float32), "scale"))
    nodes += [helper.make_node("Mul", [f"conv{len(weights) - 1}", "scale"], ["scaled"]),
              helper.make_node("Add", ["scaled", "input"], ["output"])]
    dims = ["N", 64, "H", "W"]
    graph = helper.make_graph(nodes, "dense", [helper.make_tensor_value_info("input", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, dims)], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    return path


def kernel_seconds(path: Path, x: np.ndarray) -> tuple[float, int]:
    """The sum of OpenVINO's per-node times for one run, and how many nodes ran: what the
    kernels take, without the scheduling between them."""
    import openvino as ov

    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                          "INFERENCE_NUM_THREADS": THREADS, "PERF_COUNT": True})
    request = compiled.create_infer_request()
    request.infer({0: x})
    request.infer({0: x})
    info = [p for p in request.profiling_info if p.real_time.total_seconds() > 0]
    return sum(p.real_time.total_seconds() for p in info), len(info)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--side", type=int, default=128)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--weights", choices=("x4plus", "random"), default="x4plus")
    parser.add_argument("--whole", action="store_true",
                        help="the whole x4plus network and its cached rewrite instead of one block")
    args = parser.parse_args()
    import onnx

    from photoforge.engine import packs, speed, winograd
    from photoforge.engine.catalog import get_model
    from photoforge.engine.runtime import create_backend

    with tempfile.TemporaryDirectory() as tmp:
        if args.whole:
            direct = packs.build(get_model("realesrgan-x4plus"))
            wino = winograd.winograd_model(direct, "bench-x4plus")
            x = np.random.default_rng(1).random((1, 3, args.side, args.side), dtype=np.float32)
            flop = 2 * speed.macs_per_pixel(direct) * args.side**2
        else:
            direct = dense_block(Path(tmp) / "direct.onnx", block_weights(args.weights))
            wino = Path(tmp) / "winograd.onnx"
            onnx.save(winograd.rewrite(onnx.load(str(direct))), str(wino))
            x = np.random.default_rng(1).normal(0, 0.5, (1, 64, args.side, args.side)).astype(np.float32)
            flop = 2 * sum(ci * co * 9 for ci, co in WIDTHS) * args.side**2
        backends = {name: create_backend(p, "openvino", "fp32", THREADS)
                    for name, p in (("direct", direct), ("winograd", wino))}
        kernels = {name: kernel_seconds(p, x) for name, p in (("direct", direct), ("winograd", wino))}
        outs = {name: b.run({"input": x}) for name, b in backends.items()}  # warm-up
        times: dict[str, list[float]] = {name: [] for name in backends}
        for _ in range(args.reps):
            for name, b in backends.items():
                start = time.perf_counter()
                b.run({"input": x})
                times[name].append(time.perf_counter() - start)
    a, b = outs["direct"].astype(np.float64), outs["winograd"].astype(np.float64)
    peak = float(a.max() - a.min())
    err = float(np.mean((a - b) ** 2))
    ratio = statistics.median(d / w for d, w in zip(times["direct"], times["winograd"]))
    what = "whole x4plus" if args.whole else f"dense block, {args.weights} weights,"
    print(f"{what} {args.side}², {THREADS} threads, "
          f"ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', '(unset)')}")
    for name, t in times.items():
        print(f"  {name:9s} median {statistics.median(t) * 1e3:7.1f} ms  best {min(t) * 1e3:7.1f} ms  "
              f"({flop / min(t) / 1e9:6.1f} direct-equivalent GFLOP/s); its {kernels[name][1]} kernels' "
              f"own time (OpenVINO PERF_COUNT) {kernels[name][0] * 1e3:7.1f} ms")
    print(f"  direct/winograd ratio (median of {args.reps} interleaved reps): {ratio:.2f}×")
    print(f"  agreement: PSNR {10 * np.log10(peak**2 / err) if err else float('inf'):.1f} dB "
          f"(peak-to-peak {peak:.2f}), max abs {np.abs(a - b).max():.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
