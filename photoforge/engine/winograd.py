"""3×3 convolutions as Winograd F(6,3), written in plain ONNX operators.

A 3×3 stride-1 convolution over 6×6 output tiles costs 64 multiplies per tile and channel
pair in the Winograd domain instead of 324 directly (5.06× fewer). OpenVINO's CPU plugin
has no Winograd kernel for fp32 on AVX2 (oneDNN dropped it), so the rewrite spells the
algorithm out: each feature map is cut into overlapping 8×8 tiles and transformed
(Bᵀ d B) once, one batched MatMul over channels per transform point does the work, and
the output transform (Aᵀ m A) gives back 6×6 tiles.

A dense block (Real-ESRGAN's RRDB) feeds every convolution the concatenation of all
earlier maps. The transform is linear and per channel, so the transform of a Concat is
the Concat of the transforms: each map is transformed once and reused by every later
convolution that reads it, which is where most of the gain on x4plus comes from.

Arithmetic stays fp32; the transform points (0, ±1, ±½, ±2) keep the error near 1e-6 of
the signal. A model rewritten here is still only used after engine/fidelity.py's check.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from photoforge.core import paths
from photoforge.core.digest import sha256_of
from photoforge.engine.runtime import DeviceError
from photoforge.engine.onnx_graph import prune_graph

M, R = 6, 3  # output tile, kernel
N_T = M + R - 1  # input tile (8)
_POINTS = (0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0)  # plus infinity
_BIG = 2**62  # Slice "to the end"


@lru_cache(maxsize=1)
def matrices() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Aᵀ 6×8, G 8×3, Bᵀ 8×8) of F(6,3): the transposed Toom–Cook linear convolution,
    y = Aᵀ[(G g) ⊙ (Bᵀ d)] for the correlation y_i = Σ_k g_k d_{i+k}."""

    def vander(cols: int) -> np.ndarray:
        rows = [[p**j for j in range(cols)] for p in _POINTS]
        rows.append([0.0] * (cols - 1) + [1.0])  # the point at infinity: the leading coefficient
        return np.array(rows, np.float64)

    at = vander(M).T
    g = vander(R)
    bt = np.linalg.inv(vander(N_T)).T
    return at, g, bt


def transform_weights(w: np.ndarray) -> np.ndarray:
    """Conv weights (Cout, Cin, 3, 3) → (64, Cin, Cout): G g Gᵀ per channel pair, the
    transform points flattened row-major (a·8 + b) as the input transform lays them out."""
    _, g, _ = matrices()
    u = np.einsum("ak,oikl,bl->abio", g, w.astype(np.float64), g)
    return np.ascontiguousarray(u.reshape(N_T * N_T, w.shape[1], w.shape[0]), np.float32)


def reference_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Plain 3×3, stride 1, pad 1 convolution (N, C, H, W) in float64, for checks."""
    n, c, h, wd = x.shape
    p = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((n, w.shape[0], h, wd))
    for k in range(3):
        for l in range(3):
            out += np.einsum("nchw,oc->nohw", p[:, :, k:k + h, l:l + wd], w[:, :, k, l])
    return out if b is None else out + b.reshape(1, -1, 1, 1)


class _Graph:
    """Appends nodes and constants to a graph under a private name prefix."""

    def __init__(self, graph, prefix: str = "wg_"):
        self.graph, self.prefix, self.count = graph, prefix, 0
        self.nodes: list = []

    def name(self, what: str) -> str:
        self.count += 1
        return f"{self.prefix}{what}{self.count}"

    def const(self, value, what: str = "c") -> str:
        from onnx import numpy_helper

        name = self.name(what)
        self.graph.initializer.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], **attrs) -> str:
        from onnx import helper

        out = self.name(op_type)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def ints(self, *values: int) -> str:
        return self.const(np.array(values, np.int64), "i")


class _Tiles:
    """Shape values shared by every map of one spatial size (N, H, W of the conv input)."""

    def __init__(self, g: _Graph, x: str):
        shape = g.op("Shape", [x])
        self.n = g.op("Slice", [shape, g.ints(0), g.ints(1)])
        self.hw = g.op("Slice", [shape, g.ints(2), g.ints(4)])  # [H, W]
        six = g.ints(M)
        self.thw = g.op("Div", [g.op("Add", [self.hw, g.ints(M - 1)]), six])  # tiles: ceil(H/6)
        padded = g.op("Mul", [g.op("Add", [self.thw, g.ints(1)]), six])  # one spare tile row/column
        end = g.op("Sub", [g.op("Sub", [padded, self.hw]), g.ints(1)])
        self.pads = g.op("Concat", [g.ints(0, 0, 1, 1, 0, 0), end], axis=0)
        th = g.op("Slice", [self.thw, g.ints(0), g.ints(1)])
        tw1 = g.op("Slice", [g.op("Add", [self.thw, g.ints(1)]), g.ints(1), g.ints(2)])
        self.th, self.tw = th, g.op("Slice", [self.thw, g.ints(1), g.ints(2)])
        self.split6 = lambda c: g.op("Concat", [g.ints(0, -1, M), tw1, g.ints(M, c)], axis=0)


def input_transform(g: _Graph, t: _Tiles, x: str, channels: int) -> str:
    """(N, C, H, W) → (64, N·tiles, C): Bᵀ d B of every 8×8 tile (stride 6, zero border)."""
    _, _, bt = matrices()
    p = g.op("Pad", [x, t.pads])
    p = g.op("Transpose", [p], perm=[0, 2, 3, 1])  # channels last: each transform point a row
    p = g.op("Reshape", [p, t.split6(channels)])  # (N, th+1, 6, tw+1, 6, C)
    # an 8-tile is its own 6 rows plus the first 2 of the next tile's
    rows = g.op("Concat", [g.op("Slice", [p, g.ints(0), g.ints(-1), g.ints(1)]),
                           g.op("Slice", [p, g.ints(1, 0), g.ints(_BIG, 2), g.ints(1, 2)])], axis=2)
    tiles = g.op("Concat", [g.op("Slice", [rows, g.ints(0), g.ints(-1), g.ints(3)]),
                            g.op("Slice", [rows, g.ints(1, 0), g.ints(_BIG, 2), g.ints(3, 4)])], axis=4)
    d = g.op("Transpose", [tiles], perm=[2, 4, 0, 1, 3, 5])  # (8r, 8s, N, th, tw, C)
    bt32 = g.const(bt.astype(np.float32), "bt")
    v = g.op("MatMul", [bt32, g.op("Reshape", [d, g.ints(N_T, -1)])])
    v = g.op("MatMul", [bt32, g.op("Reshape", [v, g.ints(N_T, N_T, -1)])])
    return g.op("Reshape", [v, g.ints(N_T * N_T, -1, channels)])


def output_transform(g: _Graph, t: _Tiles, m: str, channels: int) -> str:
    """(64, N·tiles, Cout) → (N, Cout, H, W): Aᵀ m A per tile, tiles put back, cropped."""
    at, _, _ = matrices()
    at32 = g.const(at.astype(np.float32), "at")
    y = g.op("MatMul", [at32, g.op("Reshape", [m, g.ints(N_T, -1)])])
    y = g.op("MatMul", [at32, g.op("Reshape", [y, g.ints(M, N_T, -1)])])  # (6i, 6j, N·th·tw·C)
    shape = g.op("Concat", [g.ints(M, M), t.n, t.th, t.tw, g.ints(channels)], axis=0)
    y = g.op("Transpose", [g.op("Reshape", [y, shape])], perm=[2, 5, 3, 0, 4, 1])  # (N, C, th, 6, tw, 6)
    full = g.op("Mul", [t.thw, g.ints(M)])
    y = g.op("Reshape", [y, g.op("Concat", [g.ints(0, channels), full], axis=0)])
    return g.op("Slice", [y, g.ints(0, 0), t.hw, g.ints(2, 3)])


def _eligible(node, inits: dict) -> bool:
    if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in inits:
        return False
    ints = {a.name: list(a.ints) for a in node.attribute}
    group = {a.name: a.i for a in node.attribute}.get("group", 1)
    return (list(inits[node.input[1]].dims[2:]) == [3, 3] and group == 1
            and ints.get("strides", [1, 1]) == [1, 1] and ints.get("dilations", [1, 1]) == [1, 1]
            and ints.get("pads") == [1, 1, 1, 1])


def _parts(node, producers: dict) -> list[str]:
    """The maps a convolution reads: the inputs of a channel Concat, else its one input."""
    concat = producers.get(node.input[0])
    if concat is not None and concat.op_type == "Concat" and {a.name: a.i for a in concat.attribute}.get("axis") == 1:
        return list(concat.input)
    return [node.input[0]]


def rewrite(model, min_channels: int = 16, shared_only: bool = False):
    """A copy of `model` with every 3×3, stride-1, pad-1, ungrouped convolution of at least
    `min_channels` input channels in Winograd form (the RGB stem and thin layers stay: too
    little work there to pay for the transforms). Inputs that are Concats of other maps are
    transformed per part, each part once for all its readers. `shared_only` keeps the
    convolutions that share no input map with another in their direct form (x4plus: the
    trunk's last conv and the upsampling ones, at 4-16× the pixels, where the transformed
    maps no longer fit in cache)."""
    import onnx
    from onnx import numpy_helper, shape_inference

    out = onnx.ModelProto()
    out.CopyFrom(model)
    inferred = shape_inference.infer_shapes(model)
    channels = {v.name: v.type.tensor_type.shape.dim[1].dim_value
                for v in [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]
                if len(v.type.tensor_type.shape.dim) == 4}
    inits = {t.name: t for t in out.graph.initializer}
    producers = {o: n for n in out.graph.node for o in n.output}
    chosen = {}
    for index, node in enumerate(out.graph.node):
        if _eligible(node, inits) and inits[node.input[1]].dims[1] >= min_channels:
            parts = _parts(node, producers)
            if all(channels.get(p) for p in parts):
                chosen[index] = parts
    readers: dict[str, int] = {}
    for parts in chosen.values():
        for p in parts:
            readers[p] = readers.get(p, 0) + 1
    if shared_only:
        chosen = {i: parts for i, parts in chosen.items() if any(readers[p] > 1 for p in parts)}
    g = _Graph(out.graph)
    tiles: dict[str, _Tiles] = {}  # by the first map of a spatial size seen (its shape ops)
    transformed: dict[str, str] = {}
    new_nodes = []
    for index, node in enumerate(out.graph.node):
        parts = chosen.get(index)
        if parts is None:
            new_nodes.append(node)
            continue
        g.nodes = []
        key = parts[0]
        t = tiles.setdefault(key, _Tiles(g, key))
        for p in parts:
            if p not in transformed:
                transformed[p] = input_transform(g, t, p, channels[p])
        u = transformed[parts[0]] if len(parts) == 1 else \
            g.op("Concat", [transformed[p] for p in parts], axis=2)
        weights = numpy_helper.to_array(inits[node.input[1]])
        m = g.op("MatMul", [u, g.const(transform_weights(weights), "w")])
        y = output_transform(g, t, m, weights.shape[0])
        if len(node.input) > 2 and node.input[2]:
            bias = numpy_helper.to_array(inits[node.input[2]]).reshape(1, -1, 1, 1).astype(np.float32)
            y = g.op("Add", [y, g.const(bias, "b")])
        g.nodes.append(onnx.helper.make_node("Identity", [y], list(node.output), name=g.name("out")))
        new_nodes.extend(g.nodes)
    del out.graph.node[:]
    out.graph.node.extend(new_nodes)
    prune_graph(out.graph)  # the Concats the rewrite bypassed
    return out


RECIPE = "winograd F(6,3) fp32, shared inputs only, v1"


class NoWinograd(DeviceError):
    """The model has no 3×3 convolution worth rewriting."""


def winograd_model(source: Path, model_key: str) -> Path:
    """The Winograd rewrite of `source`, made on first use and again whenever the cached one
    is missing, damaged or from another source file or recipe (cached like the int8 builds)."""
    import onnx

    out = paths.models_dir() / "winograd" / f"{model_key.replace(':', '-')}.onnx"
    record_path = out.with_suffix(".json")
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError):
        record = None
    source_hash = sha256_of(source)
    if isinstance(record, dict) and record.get("recipe") == RECIPE and record.get("source_sha256") == source_hash:
        if "refused" in record:
            raise NoWinograd(record["refused"])
        if out.is_file() and sha256_of(out) == record.get("onnx_sha256"):
            return out
    model = onnx.load(str(source))
    rewritten = rewrite(model, shared_only=True)
    count = sum(n.op_type == "Conv" for n in model.graph.node) - sum(n.op_type == "Conv" for n in rewritten.graph.node)
    record = {"recipe": RECIPE, "source_sha256": source_hash, "convolutions": count}
    out.parent.mkdir(parents=True, exist_ok=True)
    if count == 0:
        record["refused"] = "no 3×3 stride-1 convolution to rewrite"
    else:
        staged = out.with_name(f"{out.name}.{os.getpid()}.tmp")
        onnx.save(rewritten, str(staged))
        record["onnx_sha256"] = sha256_of(staged)
        os.replace(staged, out)
    staged = record_path.with_name(f"{record_path.name}.{os.getpid()}.tmp")
    staged.write_text(json.dumps(record, indent=1))
    os.replace(staged, record_path)
    if "refused" in record:
        raise NoWinograd(record["refused"])
    return out
