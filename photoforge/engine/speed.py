"""How long a model takes on this machine, so that progress can move while one long tile
runs (a cancel no longer waits for tiles: the runtimes abandon an inference mid-way).

Each tiled run records its seconds per window pixel (per model build, device, precision
and threads). Before any run, the cost is estimated from the network's multiply–adds per
pixel (counted from the ONNX graph) at a deliberately low rate.
"""
from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path

from photoforge.engine.store import KeyedStore

ASSUMED_MACS_PER_SECOND = 8e9  # before anything was measured: 2 fp32 cores, pessimistic
_MEMORY = 0.7  # weight of the previous estimate when a new measurement comes in
_store = KeyedStore("model_speed.json")


@lru_cache(maxsize=32)
def _conv_macs(path: str, mtime: float) -> tuple[tuple[str, float], ...] | None:
    """(node name, multiply–adds per input pixel) of each of the graph's convolutions, from a
    64×64 shape inference; None when the graph does not say (e.g. fixed sizes, quantised
    weights). Unnamed nodes are called `Conv_<index>`."""
    import onnx
    from onnx import shape_inference

    side = 64
    try:
        model = onnx.load(path)
        dims = model.graph.input[0].type.tensor_type.shape.dim
        if len(dims) != 4:
            return None
        for i, value in ((0, 1), (2, side), (3, side)):
            dims[i].ClearField("dim_param")
            dims[i].dim_value = value
        model = shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - an estimate only: no estimate is an answer too
        return None
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in [*model.graph.value_info, *model.graph.output]}
    weights = {t.name: list(t.dims) for t in model.graph.initializer}
    found = []
    for index, node in enumerate(model.graph.node):
        if node.op_type != "Conv":
            continue
        w, out = weights.get(node.input[1]), shapes.get(node.output[0])
        if w is None or not out or len(out) != 4 or not all(out):
            return None
        found.append((node.name or f"Conv_{index}", math.prod(out) * math.prod(w[1:]) / (side * side)))
    return tuple(found) or None


def conv_macs(path: Path) -> dict[str, float] | None:
    """Multiply–adds per input pixel of each convolution, by node name."""
    found = _conv_macs(str(path), os.path.getmtime(path))
    return None if found is None else dict(found)


def macs_per_pixel(path: Path) -> float | None:
    """Multiply–adds of the graph's convolutions per input pixel (None: unknown)."""
    found = _conv_macs(str(path), os.path.getmtime(path))
    return None if found is None else sum(m for _, m in found)


def seconds_per_pixel(key: str, path: Path) -> float | None:
    """Measured (or estimated) seconds per input window pixel; None if neither is known."""
    measured = _store.get(key)
    if isinstance(measured, (int, float)) and measured > 0:
        return float(measured)
    macs = macs_per_pixel(path)
    return None if macs is None else macs / ASSUMED_MACS_PER_SECOND


def record(key: str, seconds: float, pixels: int) -> None:
    """Fold one run's timing into what is remembered."""
    if pixels <= 0 or seconds <= 0:
        return
    rate = seconds / pixels
    old = _store.get(key)
    if isinstance(old, (int, float)) and old > 0:
        rate = _MEMORY * old + (1 - _MEMORY) * rate
    try:
        _store.put(key, rate)
    except OSError:
        pass  # a read-only cache costs only the next estimate


