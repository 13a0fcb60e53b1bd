"""Times candidate architectures, untrained, in ONNX Runtime CPU fp32 on a 1920×1080 input
with 2 threads (the budget: ≤ ~1.0 s for the network, so 2 MP detection fits in 1.5 s).

    python -m training.time_arch [--widths 24,32,48,64 16,24,32,48 ...] [--reps 3]

Also prints the receptive-field context (px from the output pixel to the farthest input
pixel with a non-zero gradient), which the tiler needs as overlap.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from training.model import DOWNSAMPLE, DamageNet, export_onnx, n_params

H, W = 1088, 1920  # 1080 rounded up to the size multiple, as the tiler pads


def ort_session(path, threads: int = 2) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def time_onnx(path, reps: int) -> float:
    sess = ort_session(path)
    x = np.random.default_rng(0).random((1, 3, H, W), dtype=np.float32)
    sess.run(None, {"image": x})
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        sess.run(None, {"image": x})
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def context_px(model: torch.nn.Module, size: int = 256) -> int:
    """Farthest input pixel that influences the centre output pixel (eval mode, random weights)."""
    model.eval()
    x = torch.rand(1, 3, size, size, requires_grad=True)
    y = model.logits(x)
    y[0, 0, size // 2, size // 2].backward()
    g = x.grad.abs().sum(1)[0] > 0
    ys, xs = np.nonzero(g.numpy())
    return int(max(abs(ys - size // 2).max(), abs(xs - size // 2).max()))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--widths", nargs="+", default=["16,24,32,48", "24,32,48,64", "32,48,64,96"])
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    torch.manual_seed(0)
    print(f"ONNX Runtime {ort.__version__} CPU fp32, 2 threads, input {W}×{H}, size multiple {DOWNSAMPLE}")
    for spec in args.widths:
        widths = tuple(int(v) for v in spec.split(","))
        model = DamageNet(widths)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "m.onnx"
            export_onnx(model, path)
            t = time_onnx(path, args.reps)
            size = path.stat().st_size
        print(f"widths {spec:<14} params {n_params(model):>8,}  onnx {size / 1e6:5.2f} MB  "
              f"context {context_px(model)} px  time {t:.3f} s", flush=True)


if __name__ == "__main__":
    main()
