"""Upscale one image with the `ncnn` Python runtime: the competitor in bench_upscale.py.

    python bench/ncnn_upscale.py IN OUT.png --param X.param --bin X.bin [--threads 2]
                                 [--tile 0] [--fp32]

Runs the whole image in one go (tile 0, the default) or in plain non-overlapping tiles with
a context margin. By default ncnn's own options are used (as an ncnn user gets them);
--fp32 turns fp16/bf16 storage and arithmetic off. Output: clip(0, 1)·255 rounded, PNG.
Kept free of photoforge imports so the process does only what an ncnn user's would.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
from PIL import Image


def blob_names(param: str) -> tuple[str, str]:
    lines = [l.split() for l in open(param).read().splitlines()[2:] if l.strip()]
    inputs, produced, consumed = [], [], set()
    for f in lines:
        n_in, n_out = int(f[2]), int(f[3])
        ins, outs = f[4:4 + n_in], f[4 + n_in:4 + n_in + n_out]
        consumed.update(ins)
        produced += outs
        if f[0] == "Input":
            inputs.append(outs[0])
    outputs = [b for b in produced if b not in consumed]
    return inputs[0], outputs[0]


def make_net(param: str, bin_: str, threads: int, fp32: bool):
    import ncnn

    net = ncnn.Net()
    net.opt.num_threads = threads
    net.opt.use_vulkan_compute = False
    if fp32:
        net.opt.use_fp16_storage = False
        net.opt.use_fp16_arithmetic = False
        net.opt.use_fp16_packed = False
        net.opt.use_bf16_storage = False
    if net.load_param(param) != 0 or net.load_model(bin_) != 0:
        raise SystemExit(f"ncnn could not load {param} / {bin_}")
    return net


def infer(net, names, chw: np.ndarray) -> np.ndarray:
    import ncnn

    data = np.ascontiguousarray(chw, dtype=np.float32)  # ncnn.Mat borrows this buffer
    ex = net.create_extractor()
    ex.input(names[0], ncnn.Mat(data))
    ret, out = ex.extract(names[1])
    if ret != 0:
        raise SystemExit(f"ncnn extract failed ({ret})")
    result = np.array(out, copy=True)
    del ex, data
    return result


def upscale(net, names, chw: np.ndarray, scale: int, tile: int, context: int = 16) -> np.ndarray:
    _, h, w = chw.shape
    if tile <= 0 or (tile >= h and tile >= w):
        return infer(net, names, chw)
    out = np.empty((3, h * scale, w * scale), np.float32)
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(h, y0 + tile), min(w, x0 + tile)
            cy0, cx0 = max(0, y0 - context), max(0, x0 - context)
            cy1, cx1 = min(h, y1 + context), min(w, x1 + context)
            part = infer(net, names, chw[:, cy0:cy1, cx0:cx1])
            oy, ox = (y0 - cy0) * scale, (x0 - cx0) * scale
            out[:, y0 * scale:y1 * scale, x0 * scale:x1 * scale] = \
                part[:, oy:oy + (y1 - y0) * scale, ox:ox + (x1 - x0) * scale]
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--param", required=True)
    p.add_argument("--bin", required=True)
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tile", type=int, default=0, help="0 = whole image")
    p.add_argument("--fp32", action="store_true", help="no fp16/bf16 storage or arithmetic")
    a = p.parse_args(argv)
    net = make_net(a.param, a.bin, a.threads, a.fp32)
    names = blob_names(a.param)
    rgb = np.asarray(Image.open(a.input).convert("RGB"), dtype=np.float32) / 255.0
    y = upscale(net, names, rgb.transpose(2, 0, 1), a.scale, a.tile)
    pixels = np.rint(np.clip(y, 0.0, 1.0) * 255.0).astype(np.uint8).transpose(1, 2, 0)
    Image.fromarray(np.ascontiguousarray(pixels)).save(a.output, compress_level=6)
    return 0


if __name__ == "__main__":
    sys.exit(main())
