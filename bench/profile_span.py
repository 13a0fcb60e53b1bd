"""Where SPAN ×4's time goes: per-node times from OpenVINO (PERF_COUNT) and ONNX Runtime's
profiler, grouped into convolutions, element-wise work, reorders/concats and the pixel shuffle.

    PYTHONPATH=. python bench/profile_span.py [--sides 256,512] [--reps 3] [--model FILE]
    ONEDNN_MAX_CPU_ISA=AVX2 PYTHONPATH=. python bench/profile_span.py   # as on an AVX2-only CPU

2 threads, fp32, a smooth random image; per node the median over `--reps` runs after one
warm-up. OpenVINO reports the nodes of its compiled graph (after its own fusions), so the
table also says what was fused into the convolutions. `--model` profiles another ONNX file
(e.g. a rewritten graph) beside the shipped one.
"""
from __future__ import annotations

import argparse
import collections
import json
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


def group(node_type: str) -> str:
    """A runtime's node type → the coarse kind the table reports."""
    t = node_type.lower()
    if "conv" in t:
        return "conv"
    if t in ("reorder", "transpose", "reshape"):
        return "reorder"
    if t == "concat":
        return "concat"
    if t in ("depthtospace", "pixelshuffle"):
        return "pixel shuffle"
    if t in ("parameter", "result", "input", "output", "constant"):
        return "io"
    return "eltwise"


def image(side: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    small = rng.random((1, 3, side // 8 + 1, side // 8 + 1), np.float32)
    return np.ascontiguousarray(small.repeat(8, 2).repeat(8, 3)[:, :, :side, :side])


def profile_openvino(path: Path, side: int, reps: int) -> tuple[dict, float, list[str]]:
    from photoforge.engine.runtime import _ov

    ov = _ov()
    compiled = ov.Core().compile_model(str(path), "CPU", {
        "PERF_COUNT": True, "INFERENCE_NUM_THREADS": THREADS, "INFERENCE_PRECISION_HINT": "f32"})
    request = compiled.create_infer_request()
    x = image(side)
    request.infer({0: x})
    per_node: dict[tuple, list[float]] = collections.defaultdict(list)
    walls = []
    for _ in range(reps):
        t0 = time.perf_counter()
        request.infer({0: x})
        walls.append(time.perf_counter() - t0)
        for info in request.profiling_info:
            if info.status.name == "EXECUTED":
                per_node[(info.node_name, info.node_type, info.exec_type)].append(
                    info.real_time.total_seconds())
    kinds: dict[str, float] = collections.Counter()
    exec_types = collections.Counter()
    for (_, node_type, exec_type), times in per_node.items():
        kinds[group(node_type)] += statistics.median(times)
        exec_types[f"{node_type}:{exec_type}"] += 1
    fused = [op.get_rt_info()["originalLayersNames"].astype(str)
             for op in compiled.get_runtime_model().get_ordered_ops()
             if op.get_rt_info()["layerType"].astype(str) == "Convolution"]
    notes = [f"{n} × {k}" for k, n in sorted(exec_types.items())]
    notes.append("ops fused into one conv (most): " + max(fused, key=lambda s: s.count(","), default=""))
    return dict(kinds), statistics.median(walls), notes


def profile_ort(path: Path, side: int, reps: int) -> tuple[dict, float]:
    from photoforge.engine.runtime import _ort

    ort = _ort()
    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.intra_op_num_threads = THREADS
        options.inter_op_num_threads = 1
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "ort")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        x = image(side)
        name = session.get_inputs()[0].name
        session.run(None, {name: x})
        walls = []
        for _ in range(reps):
            t0 = time.perf_counter()
            session.run(None, {name: x})
            walls.append(time.perf_counter() - t0)
        events = json.loads(Path(session.end_profiling()).read_text())
    per_node: dict[str, list[float]] = collections.defaultdict(list)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_node[(e["name"], e["args"]["op_name"])].append(e["dur"] / 1e6)
    kinds: dict[str, float] = collections.Counter()
    for (_, op), times in per_node.items():
        # the first run is the warm-up: drop it
        kinds[group(op)] += statistics.median(times[1:] or times)
    return dict(kinds), statistics.median(walls)


def print_table(title: str, kinds: dict, wall: float) -> None:
    total = sum(kinds.values())
    print(f"\n{title}: wall {wall * 1e3:.0f} ms, sum of nodes {total * 1e3:.0f} ms")
    for kind, seconds in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:14s} {seconds * 1e3:8.1f} ms  {seconds / total:6.1%}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sides", default="256,512")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--model", action="append", default=[], help="another ONNX file to profile too")
    p.add_argument("--no-ort", action="store_true")
    a = p.parse_args()
    from photoforge.engine import packs
    from photoforge.engine.catalog import get_model
    from photoforge.engine.runtime import isa_cap

    files = [packs.build(get_model("span-x4"))] + [Path(m) for m in a.model]
    print(f"ONEDNN_MAX_CPU_ISA: {isa_cap()}, {THREADS} threads, fp32")
    for side in map(int, a.sides.split(",")):
        for path in files:
            kinds, wall, notes = profile_openvino(path, side, a.reps)
            print_table(f"OpenVINO {path.name} {side}²", kinds, wall)
            for note in notes:
                print(f"    {note}")
            if not a.no_ort:
                kinds, wall = profile_ort(path, side, a.reps)
                print_table(f"ONNX Runtime {path.name} {side}²", kinds, wall)
    return 0


if __name__ == "__main__":
    sys.exit(main())
