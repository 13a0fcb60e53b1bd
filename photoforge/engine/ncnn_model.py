"""Reader for ncnn .param/.bin pairs (the form the upscaling weights ship in).

Only the layer types our model packs use are understood; anything else is a clear error,
never a silent mis-conversion.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PARAM_MAGIC = 7767517
_TAG_FP16 = 0x01306B47
_TAG_INT8 = 0x000D4B38
_TAG_FP32 = 0x0002C056


class NcnnFormatError(ValueError):
    pass


@dataclass
class NcnnLayer:
    type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    params: dict[int, object]
    weights: dict[str, np.ndarray] = field(default_factory=dict)

    def param(self, key: int, default=None):
        return self.params.get(key, default)


@dataclass
class NcnnGraph:
    layers: list[NcnnLayer]

    @property
    def input_names(self) -> list[str]:
        return [l.outputs[0] for l in self.layers if l.type == "Input"]

    @property
    def output_names(self) -> list[str]:
        consumed = {name for l in self.layers for name in l.inputs}
        return [name for l in self.layers for name in l.outputs if name not in consumed]


def _number(text: str):
    return float(text) if any(c in text for c in ".eE") else int(text)


def _parse_params(tokens: list[str]) -> dict[int, object]:
    params: dict[int, object] = {}
    for token in tokens:
        key_text, _, value = token.partition("=")
        key = int(key_text)
        if key <= -23300:  # array parameter: "-233xx=count,v1,v2,…"
            values = value.split(",")
            params[-key - 23300] = [_number(v) for v in values[1 : 1 + int(values[0])]]
        else:
            params[key] = _number(value)
    return params


def parse_param(text: str) -> list[NcnnLayer]:
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != [str(PARAM_MAGIC)]:
        raise NcnnFormatError("not an ncnn .param file (bad magic number)")
    layer_count = int(lines[1][0])
    layers = []
    for fields in lines[2 : 2 + layer_count]:
        n_in, n_out = int(fields[2]), int(fields[3])
        inputs = fields[4 : 4 + n_in]
        outputs = fields[4 + n_in : 4 + n_in + n_out]
        layers.append(NcnnLayer(fields[0], fields[1], inputs, outputs,
                                _parse_params(fields[4 + n_in + n_out :])))
    if len(layers) != layer_count:
        raise NcnnFormatError(f"expected {layer_count} layers, found {len(layers)}")
    return layers


class _BinReader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def _take(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise NcnnFormatError(".bin file is shorter than the .param file needs")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def raw_fp32(self, count: int) -> np.ndarray:
        return np.frombuffer(self._take(4 * count), dtype="<f4").astype(np.float32)

    def tagged(self, count: int) -> np.ndarray:
        """A weight blob preceded by ncnn's 4-byte storage tag."""
        (tag,) = struct.unpack("<I", self._take(4))
        if tag == _TAG_FP16:
            values = np.frombuffer(self._take(2 * count), dtype="<f2").astype(np.float32)
            self._take((-2 * count) % 4)  # fp16 blobs are padded to 4 bytes
            return values
        if tag in (0, _TAG_FP32):
            return self.raw_fp32(count)
        if tag == _TAG_INT8:
            raise NcnnFormatError("int8-quantised ncnn weights are not supported")
        # Any other non-zero tag: a 256-entry lookup table followed by uint8 indices.
        table = self.raw_fp32(256)
        indices = np.frombuffer(self._take(count), dtype=np.uint8)
        self._take((-count) % 4)
        return table[indices]


def _load_weights(layer: NcnnLayer, reader: _BinReader) -> None:
    if layer.type == "Convolution":
        out_ch = layer.param(0)
        kw = layer.param(1, 1)
        kh = layer.param(11, kw)
        size = layer.param(6)
        in_ch = size // (out_ch * kh * kw)
        if in_ch * out_ch * kh * kw != size:
            raise NcnnFormatError(f"{layer.name}: weight size {size} does not factor")
        layer.weights["weight"] = reader.tagged(size).reshape(out_ch, in_ch, kh, kw)
        if layer.param(5, 0):
            layer.weights["bias"] = reader.raw_fp32(out_ch)
    elif layer.type == "PReLU":
        layer.weights["slope"] = reader.raw_fp32(layer.param(0, 1))
    elif layer.type == "MemoryData":
        w, h, c = layer.param(0, 0), layer.param(1, 0), layer.param(2, 0)
        shape = [d for d in (c, h, w) if d]
        layer.weights["data"] = reader.raw_fp32(int(np.prod(shape))).reshape(shape)


def load_ncnn(param_path: str | Path, bin_path: str | Path) -> NcnnGraph:
    layers = parse_param(Path(param_path).read_text())
    reader = _BinReader(Path(bin_path).read_bytes())
    for layer in layers:
        _load_weights(layer, reader)
    if reader.pos != len(reader.data):
        raise NcnnFormatError(
            f".bin has {len(reader.data) - reader.pos} bytes the .param file does not use")
    return NcnnGraph(layers)
