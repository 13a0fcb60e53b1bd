"""Speed and fidelity of `photoforge upscale` against ncnn and the PyTorch reference.

    PYTHONPATH=. python bench/bench_upscale.py [--reps 3] [--models realesrgan-x4plus,span-x4]
                                               [--variants auto,cpu,auto:tile0] [--crop 384]
                                               [--torch-reps N]

Same centre crop (384×384 by default) of resources/samples/astronaut.jpg (saved as PNG so
every tool reads identical pixels), 2 threads everywhere. A variant is DEVICE[/PRECISION]
[:tileN], e.g. openvino/fp32, cpu/int8, auto:tile0.

(0) the physical limit: FLOPs per model (per input and per output pixel, from the ONNX
    graph's convolutions) and the machine's measured peak GFLOP/s for a 3×3 64→64 conv
    through each runtime and precision (bench/peak_gflops.py), measured in this run; each
    variant's in-process time gives its GFLOP/s and the fraction of the peak of its path.
    Under ONEDNN_MAX_CPU_ISA=AVX2 OpenVINO's oneDNN kernels behave as on an AVX2-only CPU
    (and bf16 is not offered); ncnn and ONNX Runtime's MLAS have no such switch and keep
    using AVX-512, so there the ncnn ratio is a lower bound for an AVX2 machine.

(a) whole process: `python -m photoforge upscale` per variant (auto = default device, which
    should pick OpenVINO bf16 here; cpu = onnxruntime fp32; ":tile0" adds --tile 0) against
    `python bench/ncnn_upscale.py` (ncnn Python runtime, whole image in one go, ncnn's
    default options). Runs are interleaved ncnn, ours-v1, ours-v2, … per repetition; the
    speed ratio is the median over repetitions of ncnn/ours within that repetition
    (> 1: we are faster).
(b) in process: photoforge's upscale_pixels vs the torch fp32 reference (bench/
    torch_reference.py), torch.set_num_threads(2), interleaved; ratio = median torch/ours.
(c) PSNR (dB, 8-bit) of our PNG and ncnn's PNG against the torch output quantised the same
    way (clip(0, 1)·255, rounded).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("PHOTOFORGE_DATA_DIR", "/tmp/pfdata")
os.environ.setdefault("PHOTOFORGE_CACHE_DIR", "/tmp/pfcache")

import torch_reference as tr  # noqa: E402

THREADS = 2
CROP = 384


def make_crop(dest: Path, size: int = CROP) -> Path:
    im = Image.open(ROOT / "resources/samples/astronaut.jpg").convert("RGB")
    w, h = im.size
    x0, y0 = (w - size) // 2, (h - size) // 2
    out = dest / "crop.png"
    im.crop((x0, y0, x0 + size, y0 + size)).save(out)
    return out


def child_env() -> dict:
    env = dict(os.environ)
    # An installed package has its bytecode; without it each run of ours would compile
    # ~80 modules (~0.12 s) that ncnn's side (site-packages, compiled) never does. The
    # warm-up run writes it, as it fills OpenVINO's model cache.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def parse_variant(v: str) -> tuple[str, list[str]]:
    where, _, extra = v.partition(":")
    device, _, precision = where.partition("/")
    args = ["--device", device, "--precision", precision or "auto"]
    if extra.startswith("tile"):
        args += ["--tile", extra[4:]]
    return v, args


def run_timed(cmd: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=child_env(), cwd=ROOT)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return dt, r.stderr


def ours_cmd(src: Path, dst: Path, model: str, args: list[str]) -> list[str]:
    return [sys.executable, "-m", "photoforge", "upscale", str(src), "-o", str(dst), "--model", model,
            "--threads", str(THREADS), "--overwrite", *args]


def ncnn_cmd(src: Path, dst: Path, param: Path, bin_: Path) -> list[str]:
    return [sys.executable, str(ROOT / "bench/ncnn_upscale.py"), str(src), str(dst),
            "--param", str(param), "--bin", str(bin_), "--threads", str(THREADS)]


def psnr8(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def quantise(chw: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(chw, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)


def load_png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def med(xs):
    return statistics.median(xs)


def bench_model(model: str, variants: list[str], reps: int, tmp: Path, crop: Path, torch_reps: int) -> list[dict]:
    import torch
    from photoforge.engine import inference
    from photoforge.ops.upscale import UpscaleOptions, upscale_pixels

    torch.set_num_threads(THREADS)
    param, bin_ = tr.extract_members(model, tmp)
    parsed = [parse_variant(v) for v in variants]
    outs = {v: tmp / f"{model}-{v.replace(':', '-')}.png" for v in variants}
    ncnn_out = tmp / f"{model}-ncnn.png"

    # Warm-up on a tiny image: OpenVINO model cache, precision verdicts, page cache.
    tiny = tmp / "tiny.png"
    Image.open(crop).crop((0, 0, 32, 32)).save(tiny)
    backends = {}
    for v, args in parsed:
        _, err = run_timed(ours_cmd(tiny, tmp / "tiny-out.png", model, args))
        backends[v] = next((l for l in err.splitlines() if l.startswith("notice: running on")), "")
    run_timed(ncnn_cmd(tiny, tmp / "tiny-out.png", param, bin_))

    # (a) whole-process, interleaved.
    t_ncnn, t_ours = [], {v: [] for v in variants}
    for r in range(reps):
        t, _ = run_timed(ncnn_cmd(crop, ncnn_out, param, bin_))
        t_ncnn.append(t)
        line = f"  [{model}] rep {r + 1}/{reps}: ncnn {t:.2f}s"
        for v, args in parsed:
            t, _ = run_timed(ours_cmd(crop, outs[v], model, args))
            t_ours[v].append(t)
            line += f", ours[{v}] {t:.2f}s"
        print(line, flush=True)

    # (b) in-process vs torch, interleaved (one warm-up of each first).
    ref = tr.load_reference(model, param, bin_)
    pixels = load_png(crop)
    x = np.ascontiguousarray(pixels.transpose(2, 0, 1), dtype=np.float32) / 255.0

    def ours_inproc(args):
        kw = {"device": args[1], "precision": args[3], "threads": THREADS}
        if "--tile" in args:
            kw["tile"] = int(args[args.index("--tile") + 1])
        return upscale_pixels(pixels, UpscaleOptions(model=model, **kw))

    y_torch = tr.run_torch(ref, x)
    labels = {}
    for v, args in parsed:
        ours_inproc(args)
        labels[v] = inference.last_device_label() or ""
    t_torch, t_in = [], {v: [] for v in variants}
    for r in range(reps):
        line = f"  [{model}] in-process rep {r + 1}/{reps}:"
        if r < torch_reps:
            t0 = time.perf_counter()
            tr.run_torch(ref, x)
            t_torch.append(time.perf_counter() - t0)
            line += f" torch {t_torch[-1]:.2f}s"
        for v, args in parsed:
            t0 = time.perf_counter()
            ours_inproc(args)
            t_in[v].append(time.perf_counter() - t0)
            line += f", ours[{v}] {t_in[v][-1]:.2f}s"
        print(line, flush=True)
    del ref

    # (c) fidelity against torch fp32.
    y_ref = quantise(y_torch)
    p_ncnn = psnr8(load_png(ncnn_out), y_ref)
    rows = []
    for v, _ in parsed:
        rows.append({
            "model": model, "variant": v, "backend": backends[v], "label": labels[v],
            "ours": med(t_ours[v]), "ncnn": med(t_ncnn),
            "ncnn/ours": med([n / o for n, o in zip(t_ncnn, t_ours[v])]),
            "ours_in": med(t_in[v]), "torch": med(t_torch) if t_torch else float("nan"),
            "torch/ours": med([t / o for t, o in zip(t_torch, t_in[v])]) if t_torch else float("nan"),
            "flop": flop_per_pixel(model) * CROP * CROP,
            "psnr_ours": psnr8(load_png(outs[v]), y_ref), "psnr_ncnn": p_ncnn,
        })
    return rows


def flop_per_pixel(model: str) -> float:
    """FLOPs (2 per multiply–add of the convolutions) per input pixel of the model's ONNX file."""
    from photoforge.engine import packs, speed
    from photoforge.engine.catalog import get_model

    return 2 * speed.macs_per_pixel(packs.build(get_model(model)))


def peak_key(label: str) -> str:
    """"OpenVINO CPU bf16" → "openvino bf16", "onnxruntime CPU fp32" → "onnxruntime fp32".
    Winograd is fp32 arithmetic: its direct-equivalent GFLOP/s is set against the fp32 peak."""
    words = label.split()
    return f"{words[0].lower()} {'fp32' if words[-1] == 'winograd' else words[-1]}" if words else ""


def print_limits(models: list[str], peaks: dict[str, float]) -> None:
    from photoforge.engine.catalog import get_model
    from photoforge.engine.runtime import isa_cap

    print(f"\nCPU: {cpu_name()}; ONEDNN_MAX_CPU_ISA: {isa_cap()}")
    print("measured peak (3×3 convs 64→64 on 192² and 128→128 on 128², 2 threads, best of 5): "
          + ", ".join(f"{k} {v:.1f} GFLOP/s" for k, v in peaks.items()))
    for model in models:
        f, s = flop_per_pixel(model), get_model(model).scale
        print(f"{model}: {f / 1e6:.1f} MFLOP per input pixel, {f / s / s / 1e6:.2f} MFLOP per output pixel, "
              f"{f * CROP * CROP / 1e9:.1f} GFLOP for the {CROP}² crop")


def cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return "unknown"
    name = next((l.split(":", 1)[1].strip() for l in lines if l.startswith("model name")), "unknown")
    flags = next((l.split(":", 1)[1].split() for l in lines if l.startswith("flags")), [])
    has = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{name} ({', '.join(has)})"


def print_table(rows: list[dict], reps: int, peaks: dict[str, float]) -> None:
    head = ("model", "ours", "ours s", "ncnn s", "ncnn/ours", "ours-in s", "torch s", "torch/ours",
            "PSNR ours", "PSNR ncnn", "GFLOP/s", "of peak")
    lines = [head]
    for r in rows:
        rate = r["flop"] / r["ours_in"] / 1e9
        peak = peaks.get(peak_key(r["label"]))
        lines.append((r["model"], r["variant"], f"{r['ours']:.2f}", f"{r['ncnn']:.2f}",
                      f"{r['ncnn/ours']:.2f}", f"{r['ours_in']:.2f}", f"{r['torch']:.2f}",
                      f"{r['torch/ours']:.2f}", f"{r['psnr_ours']:.2f}", f"{r['psnr_ncnn']:.2f}",
                      f"{rate:.1f}", f"{rate / peak:.0%}" if peak else "?"))
    widths = [max(len(l[i]) for l in lines) for i in range(len(head))]
    print(f"\n{CROP}×{CROP} astronaut crop, {THREADS} threads, medians of {reps} interleaved runs; "
          "'ours s'/'ncnn s' whole process, 'ours-in'/'torch' in process; PSNR vs torch fp32 (dB)")
    for i, l in enumerate(lines):
        print("  ".join(c.rjust(widths[j]) if j > 1 else c.ljust(widths[j]) for j, c in enumerate(l)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for r in rows:
        print(f"{r['model']} [{r['variant']}] ran on {r['label'] or '?'}; {r['backend'][:110]}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--models", default="realesrgan-x4plus,span-x4")
    p.add_argument("--variants", default="auto,cpu,auto:tile0",
                   help="DEVICE[/PRECISION][:tileN], e.g. openvino/fp32 or auto:tile0")
    p.add_argument("--crop", type=int, default=CROP, help="edge of the square test crop")
    p.add_argument("--torch-reps", type=int, default=None,
                   help="timed torch runs (default --reps; 0: torch only as the PSNR reference)")
    a = p.parse_args()
    globals()["CROP"] = a.crop
    import peak_gflops

    peaks = peak_gflops.measure()
    models = a.models.split(",")
    print_limits(models, peaks)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        crop = make_crop(tmp, CROP)
        for model in models:
            rows += bench_model(model, a.variants.split(","), a.reps, tmp, crop,
                                a.reps if a.torch_reps is None else a.torch_reps)
    # Again after the models (the machine is shared): the peak is the best seen.
    peaks = {k: max(v, peaks.get(k, 0.0)) for k, v in peak_gflops.measure().items()}
    print_limits(models, peaks)
    print_table(rows, a.reps, peaks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
