"""ncnn graph → ONNX model, so every runtime we support can run the shipped weights.

The ONNX model takes `input` (float32 N×3×H×W, RGB in [0, 1]) and gives `output` in the
same convention, whatever blob names the ncnn file used.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from photoforge.engine.ncnn_model import NcnnFormatError, NcnnGraph, NcnnLayer

INPUT_NAME = "input"
OUTPUT_NAME = "output"
_INTERP_MODES = {1: "nearest", 2: "linear", 3: "cubic"}
_BINARY_OPS = {0: "Add", 1: "Sub", 2: "Mul", 3: "Div", 4: "Max", 5: "Min", 6: "Pow"}
_REVERSED_BINARY_OPS = {7: "Sub", 8: "Div", 9: "Pow"}


class _Builder:
    def __init__(self, graph: NcnnGraph):
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.alias: dict[str, str] = {}
        inputs, outputs = graph.input_names, graph.output_names
        if len(inputs) != 1 or len(outputs) != 1:
            raise NcnnFormatError(f"expected one input and one output, got {inputs} → {outputs}")
        self.alias[inputs[0]] = INPUT_NAME
        self.final_output = outputs[0]

    def name(self, blob: str) -> str:
        if blob == self.final_output:
            return OUTPUT_NAME
        return self.alias.get(blob, blob)

    def const(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], outputs: list[str], **attrs) -> None:
        self.nodes.append(helper.make_node(op, inputs, outputs, **attrs))

    def activation(self, layer: NcnnLayer, src: str, dst: str) -> None:
        kind = layer.param(9, 0)
        args = layer.param(10, [])
        if kind == 0:
            self.node("Identity", [src], [dst])
        elif kind == 1:
            self.node("Relu", [src], [dst]) if not args or args[0] == 0 else \
                self.node("LeakyRelu", [src], [dst], alpha=float(args[0]))
        elif kind == 2:
            self.node("LeakyRelu", [src], [dst], alpha=float(args[0]))
        elif kind == 3:
            lo = self.const(f"{layer.name}_min", np.float32(args[0]))
            hi = self.const(f"{layer.name}_max", np.float32(args[1]))
            self.node("Clip", [src, lo, hi], [dst])
        elif kind == 4:
            self.node("Sigmoid", [src], [dst])
        else:
            raise NcnnFormatError(f"{layer.name}: activation type {kind} is not supported")

    def add(self, layer: NcnnLayer) -> None:
        ins = [self.name(b) for b in layer.inputs]
        outs = [self.name(b) for b in layer.outputs]
        kind = layer.type
        if kind == "Input":
            return
        if kind == "Split":
            for blob in layer.outputs:
                self.alias[blob] = ins[0]
            return
        if kind == "Convolution":
            self._convolution(layer, ins[0], outs[0])
        elif kind == "PReLU":
            slope = layer.weights["slope"]
            slope = slope.reshape(-1, 1, 1) if slope.size > 1 else slope.reshape(())
            self.node("PRelu", [ins[0], self.const(f"{layer.name}_slope", slope)], outs)
        elif kind == "Sigmoid":
            self.node("Sigmoid", ins, outs)
        elif kind == "Swish":
            gate = f"{layer.name}_gate"
            self.node("Sigmoid", ins, [gate])
            self.node("Mul", [ins[0], gate], outs)
        elif kind == "Concat":
            self.node("Concat", ins, outs, axis=1 + int(layer.param(0, 0)))
        elif kind == "Eltwise":
            self._eltwise(layer, ins, outs[0])
        elif kind == "BinaryOp":
            self._binary(layer, ins, outs[0])
        elif kind == "MemoryData":
            self.const(outs[0], layer.weights["data"][None])
        elif kind == "PixelShuffle":
            if layer.param(1, 0) != 0:
                raise NcnnFormatError(f"{layer.name}: PixelShuffle mode {layer.param(1)}")
            self.node("DepthToSpace", ins, outs, blocksize=int(layer.param(0, 1)), mode="CRD")
        elif kind == "Interp":
            self._interp(layer, ins[0], outs[0])
        else:
            raise NcnnFormatError(f"{layer.name}: layer type {kind} is not supported")

    def _convolution(self, layer: NcnnLayer, src: str, dst: str) -> None:
        p = layer.param
        kw = p(1, 1)
        kh = p(11, kw)
        dil_w = p(2, 1)
        stride_w = p(3, 1)
        pad_l = p(4, 0)
        pad_t, pad_r = p(14, pad_l), p(15, pad_l)
        pad_b = p(16, pad_t)
        if min(pad_l, pad_t, pad_r, pad_b) < 0 or p(8, 0):
            raise NcnnFormatError(f"{layer.name}: automatic padding / int8 not supported")
        inputs = [src, self.const(f"{layer.name}_w", layer.weights["weight"])]
        if "bias" in layer.weights:
            inputs.append(self.const(f"{layer.name}_b", layer.weights["bias"]))
        conv_out = dst if p(9, 0) == 0 else f"{layer.name}_conv"
        self.node("Conv", inputs, [conv_out], kernel_shape=[kh, kw],
                  dilations=[p(12, dil_w), dil_w], strides=[p(13, stride_w), stride_w],
                  pads=[pad_t, pad_l, pad_b, pad_r])
        if conv_out != dst:
            self.activation(layer, conv_out, dst)

    def _eltwise(self, layer: NcnnLayer, ins: list[str], dst: str) -> None:
        op = layer.param(0, 1)
        coeffs = layer.param(1, [])
        if op == 1 and coeffs and any(c != 1 for c in coeffs):
            scaled = []
            for i, (blob, c) in enumerate(zip(ins, coeffs)):
                out = f"{layer.name}_scaled{i}"
                self.node("Mul", [blob, self.const(f"{layer.name}_c{i}", np.float32(c))], [out])
                scaled.append(out)
            ins = scaled
        self.node({0: "Mul", 1: "Sum", 2: "Max"}[op], ins, [dst])

    def _binary(self, layer: NcnnLayer, ins: list[str], dst: str) -> None:
        op = layer.param(0, 0)
        if layer.param(1, 0):  # second operand is a scalar parameter
            ins = [ins[0], self.const(f"{layer.name}_b", np.float32(layer.param(2, 0.0)))]
        if op in _BINARY_OPS:
            self.node(_BINARY_OPS[op], ins, [dst])
        elif op in _REVERSED_BINARY_OPS:
            self.node(_REVERSED_BINARY_OPS[op], ins[::-1], [dst])
        else:
            raise NcnnFormatError(f"{layer.name}: BinaryOp type {op} is not supported")

    def _interp(self, layer: NcnnLayer, src: str, dst: str) -> None:
        mode = _INTERP_MODES.get(layer.param(0, 0))
        if mode is None or layer.param(3, 0) or layer.param(4, 0) or layer.param(5, 0):
            raise NcnnFormatError(f"{layer.name}: only scale-factor Interp is supported")
        scales = np.array([1, 1, layer.param(1, 1.0), layer.param(2, 1.0)], np.float32)
        attrs = {"mode": mode}
        if mode == "nearest":
            # ncnn picks floor(x / scale): ONNX's asymmetric + floor is the same rule.
            attrs.update(coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        else:
            align = layer.param(6, 0)
            attrs["coordinate_transformation_mode"] = "align_corners" if align else "half_pixel"
            if mode == "cubic":
                attrs["cubic_coeff_a"] = -0.75  # ncnn's bicubic kernel
        self.node("Resize", [src, "", self.const(f"{layer.name}_scales", scales)], [dst], **attrs)


def ncnn_to_onnx(graph: NcnnGraph, out_path: str | Path | None = None,
                 *, name: str = "model", opset: int = 17) -> onnx.ModelProto:
    builder = _Builder(graph)
    for layer in graph.layers:
        builder.add(layer)
    dims = ["N", 3, "H", "W"]
    model = helper.make_model(
        helper.make_graph(
            builder.nodes, name,
            [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, dims)],
            [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", 3, "H2", "W2"])],
            builder.initializers),
        opset_imports=[helper.make_opsetid("", opset)], producer_name="photoforge")
    model.ir_version = 8
    onnx.checker.check_model(model)
    if out_path is not None:
        onnx.save(model, str(out_path))
    return model
