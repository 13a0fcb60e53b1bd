"""int8 builds of a model, made here from its pinned fp32 ONNX file and cached beside it.

ONNX Runtime's post-training static quantiser makes a QDQ model (both runtimes execute QDQ
as int8): per-channel int8 weights, uint8 activations from min/max ranges over calibration
crops of public photos shipped with the package (engine/fidelity.py; never the probe
photos the verdict uses). Only convolutions are quantised. NNCF would do the same for
OpenVINO but brings scikit-learn, ninja and more; ONNX Runtime's quantiser is already here.

Weights keep 7 bits (`reduce_range`): a CPU without VNNI (AVX2) multiplies uint8 by int8
with `vpmaddubsw`, whose 16-bit pair sums saturate with full 8-bit weights. Measured with
OpenVINO under ONEDNN_MAX_CPU_ISA=AVX2, SPAN ×4 with 8-bit weights gave 19.9 dB against
fp32, with 7-bit weights 34.2 dB, the same as with AVX-512 VNNI.

Which convolutions stay fp32 is measured, not guessed. Each convolution's own error is
measured by running its quantised copy beside it on the fp32 network's activations over
the calibration crops (`layer_errors`: SQNR of its output); the worst are put back to fp32
a few at a time until the whole network matches fp32 on the calibration crops by
TARGET_DB, or until fp32 would keep more than MAX_FP32_SHARE of the multiply–adds, when the
model is refused (it runs in fp32). Build and refusal are both remembered, keyed by the
fp32 file's hash and RECIPE.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Callable

import numpy as np

from photoforge.core import paths
from photoforge.core.digest import sha256_of
from photoforge.engine import speed
from photoforge.engine.fidelity import MIN_PSNR_DB, photo_crops, psnr
from photoforge.engine.onnx_graph import prune_graph
from photoforge.engine.progress import Progress, null_progress
from photoforge.engine.runtime import DeviceError, _ort, default_threads

RECIPE = "ort-qdq conv u8/s7 per-channel minmax v1"
TARGET_DB = MIN_PSNR_DB + 1.0  # on the calibration crops: a margin for photos never seen
MAX_FP32_SHARE = 0.25  # beyond this much fp32 work int8 would hardly pay


class Int8Refused(DeviceError):
    """The model has no int8 build that matches fp32; it runs in fp32."""


def _session(model, threads: int):
    ort = _ort()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _named(model):
    """Every node named (the quantiser's exclusions and the error probes go by name)."""
    for index, node in enumerate(model.graph.node):
        if not node.name:
            node.name = f"{node.op_type}_{index}"
    return model


def _producers(model) -> dict:
    return {out: node for node in model.graph.node for out in node.output}


def _quantised_inputs(qdq, conv) -> tuple | None:
    """(the float activation, its QuantizeLinear, its DequantizeLinear, and the
    DequantizeLinear (or None) of each further input) of a quantised convolution."""
    made = _producers(qdq)
    dq = made.get(conv.input[0])
    q = made.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
    if q is None or q.op_type != "QuantizeLinear":
        return None
    rest = [made.get(name) if made.get(name) is not None and made[name].op_type == "DequantizeLinear" else None
            for name in conv.input[1:]]
    return q.input[0], q, dq, rest


def layer_errors(fp32, qdq, feeds: list[dict], threads: int) -> dict[str, float]:
    """SQNR (dB) of each quantised convolution's output against fp32, both fed the fp32
    network's own activations: the error that layer alone adds, summed over `feeds`."""
    import onnx
    from onnx import TensorProto, helper

    probe = onnx.ModelProto()
    probe.CopyFrom(fp32)
    del probe.opset_import[:]
    probe.opset_import.extend(qdq.opset_import)
    graph = probe.graph
    originals = {n.name: n for n in fp32.graph.node if n.op_type == "Conv"}
    have = {t.name for t in graph.initializer}
    qdq_inits = {t.name: t for t in qdq.graph.initializer}
    measured = []
    for conv in qdq.graph.node:
        found = _quantised_inputs(qdq, conv) if conv.op_type == "Conv" else None
        if found is None or conv.name not in originals:
            continue
        x, q, dq, rest = found
        p = f"pf_err{len(measured)}_"
        nodes = [helper.make_node("QuantizeLinear", [x, *q.input[1:]], [p + "q"], name=p + "Q"),
                 helper.make_node("DequantizeLinear", [p + "q", *dq.input[1:]], [p + "x"], name=p + "DQ")]
        inputs, needed = [p + "x"], [*q.input[1:], *dq.input[1:]]
        for i, (name, deq) in enumerate(zip(conv.input[1:], rest), 1):
            if deq is None:
                inputs.append(name)
                needed.append(name)
                continue
            copy = onnx.NodeProto()
            copy.CopyFrom(deq)
            copy.name, copy.output[0] = p + f"DQ{i}", p + f"in{i}"
            nodes.append(copy)
            inputs.append(p + f"in{i}")
            needed += deq.input[:]
        shadow = onnx.NodeProto()
        shadow.CopyFrom(conv)
        shadow.name = p + "conv"
        del shadow.input[:], shadow.output[:]
        shadow.input.extend(inputs)
        shadow.output.append(p + "y")
        y = originals[conv.name].output[0]
        nodes += [shadow,
                  helper.make_node("Sub", [p + "y", y], [p + "d"], name=p + "Sub"),
                  helper.make_node("ReduceSumSquare", [p + "d"], [p + "err"], keepdims=0, name=p + "E"),
                  helper.make_node("ReduceSumSquare", [y], [p + "pow"], keepdims=0, name=p + "P")]
        graph.node.extend(nodes)
        for name in needed:
            if name and name not in have and name in qdq_inits:
                graph.initializer.append(qdq_inits[name])
                have.add(name)
        graph.output.extend([helper.make_tensor_value_info(p + k, TensorProto.FLOAT, []) for k in ("err", "pow")])
        measured.append((conv.name, p + "err", p + "pow"))
    session = _session(probe, threads)
    names = [n for _, err, pow_ in measured for n in (err, pow_)]
    totals = np.zeros(len(names), np.float64)
    for feed in feeds:
        totals += np.array([float(v) for v in session.run(names, feed)])
    return {name: float(10 * np.log10(max(totals[2 * i + 1], 1e-30) / max(totals[2 * i], 1e-30)))
            for i, (name, _, _) in enumerate(measured)}


def keep_fp32(qdq, fp32, names: set[str]):
    """The QDQ model with the named convolutions back on their fp32 inputs and weights
    (their now unused Quantize/DequantizeLinear nodes and initializers removed)."""
    import onnx

    model = onnx.ModelProto()
    model.CopyFrom(qdq)
    originals = {n.name: n for n in fp32.graph.node if n.op_type == "Conv"}
    weights = {t.name: t for t in fp32.graph.initializer}
    added = set()
    for node in model.graph.node:
        if node.op_type != "Conv" or node.name not in names:
            continue
        found = _quantised_inputs(model, node)
        original = originals[node.name]
        inputs = [found[0] if found else node.input[0]]
        for name, current in zip(original.input[1:], node.input[1:]):
            if name not in weights:  # computed, not stored: nothing was quantised there
                inputs.append(current)
                continue
            if name not in added:  # under a new name: in the QDQ graph the old one may be a node's output
                tensor = onnx.TensorProto()
                tensor.CopyFrom(weights[name])
                tensor.name = f"{name}_fp32"
                model.graph.initializer.append(tensor)
                added.add(name)
            inputs.append(f"{name}_fp32")
        del node.input[:]
        node.input.extend(inputs)
    _prune(model)
    return model


def _prune(model) -> None:
    """Drop the quantise/dequantise pairs nothing reads any more, and their constants."""
    prune_graph(model.graph, lambda node: node.op_type in ("QuantizeLinear", "DequantizeLinear"))


def _steps(count: int):
    """How many of the worst layers to put back in fp32, in turn: 0, 1, 2, 3, 4, 6, 8, 12…"""
    k = 0
    while k <= count:
        yield k
        k = k + 1 if k < 4 else k + k // 2


def build(source: Path, probe: Callable[[np.ndarray], dict], out: Path,
          progress: Progress | None = None, threads: int | None = None) -> dict:
    """Quantise `source` into `out` (atomically); return the build record. A model that
    cannot match fp32 gets a record with "refused" and no file."""
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    progress = progress or null_progress()
    threads = threads or default_threads()
    feeds = [probe(c[None]) for c in photo_crops("calibration")]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.left = iter(feeds)

        def get_next(self):
            return next(self.left, None)

    record = {"recipe": RECIPE, "source_sha256": sha256_of(source)}
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        fp32 = _named(onnx.load(str(source)))
        named, quantised = Path(tmp) / "fp32.onnx", Path(tmp) / "qdq.onnx"
        onnx.save(fp32, str(named))
        progress.set(0.05, "calibrating int8")
        logging.disable(logging.WARNING)  # its advice to pre-process, printed on every call
        try:
            quantize_static(str(named), str(quantised), Reader(), quant_format=QuantFormat.QDQ,
                            op_types_to_quantize=["Conv"], per_channel=True, reduce_range=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax)
        finally:
            logging.disable(logging.NOTSET)
        qdq = onnx.load(str(quantised))
        progress.check_aborted()
        progress.set(0.4, "measuring each layer's int8 error")
        errors = layer_errors(fp32, qdq, feeds, threads)
        macs = speed.conv_macs(named) or {}
        total = sum(macs.values()) or 1.0
        reference = _session(fp32, threads)
        expected = [reference.run(None, f)[0] for f in feeds]
        del reference
        worst = sorted(errors, key=errors.get)
        tried = []
        for k in _steps(len(worst)):
            progress.check_aborted()
            kept = worst[:k]
            share = sum(macs.get(n, 0.0) for n in kept) / total
            if share > MAX_FP32_SHARE:
                break
            candidate = keep_fp32(qdq, fp32, set(kept))
            session = _session(candidate, threads)
            score = min(psnr(session.run(None, f)[0], e) for f, e in zip(feeds, expected))
            tried.append({"fp32_layers": k, "fp32_share": round(share, 4), "psnr": round(score, 2)})
            progress.set(min(0.95, 0.5 + 0.05 * len(tried)), f"int8 with {k} layers in fp32: {score:.1f} dB")
            if score >= TARGET_DB:
                staged = Path(tmp) / "int8.onnx"
                onnx.save(candidate, str(staged))
                record.update(onnx_sha256=sha256_of(staged), fp32_layers=kept, fp32_share=share,
                              calibration_psnr=score, layer_sqnr_db={n: round(errors[n], 2) for n in worst},
                              tried=tried)
                os.replace(staged, out)
                return record
        best = max((t["psnr"] for t in tried), default=float("nan"))
        record.update(refused=f"int8 reaches only {best:.1f} dB against fp32 on the calibration photos "
                              f"with up to {MAX_FP32_SHARE:.0%} of the work left in fp32 "
                              f"(needs {TARGET_DB:.0f} dB)", tried=tried,
                      layer_sqnr_db={n: round(errors[n], 2) for n in worst})
        return record


def int8_model(source: Path, model_key: str, probe: Callable[[np.ndarray], dict],
               progress: Progress | None = None) -> Path:
    """The int8 build of `source` (ONNX), made on first use and whenever the cached one is
    missing, damaged or from another fp32 file or recipe. Raises Int8Refused for a model
    whose int8 build cannot match fp32 (the refusal is remembered the same way)."""
    folder = paths.models_dir() / "int8"
    out = folder / f"{model_key.replace(':', '-')}.onnx"
    record_path = out.with_suffix(".json")
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError):
        record = None
    fresh = isinstance(record, dict) and record.get("recipe") == RECIPE \
        and record.get("source_sha256") == sha256_of(source)
    if fresh and "refused" in record:
        raise Int8Refused(f"no int8 build: {record['refused']}")
    if fresh and out.is_file() and sha256_of(out) == record.get("onnx_sha256"):
        return out
    record = build(source, probe, out, progress)
    staged = record_path.with_name(f"{record_path.name}.{os.getpid()}.tmp")
    staged.write_text(json.dumps(record, indent=1))
    os.replace(staged, record_path)
    if "refused" in record:
        raise Int8Refused(f"no int8 build: {record['refused']}")
    return out
