"""Peak memory of `photoforge upscale` on a 12-megapixel photo (→ 192 MP with span-x4).

    PYTHONPATH=. python bench/bench_memory.py [--model span-x4] [--size 4000x3000]
        [--format png|jpg|tif] [--alpha] [--keep DIR] [--interval 0.5] [-- extra CLI args]

Makes a 4000×3000 JPEG from resources/samples/coffee.jpg (cv2 INTER_CUBIC resize plus mild
Gaussian noise, so it is not trivially compressible; with --alpha an RGBA PNG whose alpha is
a vignette), runs `python -m photoforge upscale big.jpg -o out.png --model span-x4
--threads 2` (out.jpg or out.tif with --format) in a subprocess, and reports peak RSS two
ways: psutil sampling every 0.5 s (process and children) and the kernel's ru_maxrss for
waited-for children. Each sample is tagged with the stage it was taken in — startup/load
(before the progress bar moves), inference (the bar's percentage) and save (the output file
growing after 100 %) — and the peak of each stage is printed, together with wall time and
output size. Target: ≤ 1.5 GB peak.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
TARGET_BYTES = int(1.5 * 1024 ** 3)
MB = 1024 ** 2


def make_big_input(path: Path, width: int, height: int, seed: int = 0) -> None:
    """The test photo as a JPEG, or for a .png path as RGBA with a vignette in the alpha."""
    src = cv2.imread(str(ROOT / "resources/samples/coffee.jpg"), cv2.IMREAD_COLOR)
    big = cv2.resize(src, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    rng = np.random.default_rng(seed)
    big += rng.normal(0.0, 3.0, big.shape).astype(np.float32)
    pixels = np.clip(np.rint(big), 0, 255).astype(np.uint8)
    if path.suffix == ".png":
        y, x = np.ogrid[-1:1:height * 1j, -1:1:width * 1j]
        alpha = np.clip(255 * (1.6 - np.hypot(x, y)), 0, 255).astype(np.uint8)
        cv2.imwrite(str(path), np.dstack([pixels, alpha]))
    else:
        cv2.imwrite(str(path), pixels, [cv2.IMWRITE_JPEG_QUALITY, 92])


def tree_rss(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def dir_bytes(folder: Path) -> int:
    total = 0
    for entry in os.scandir(folder):
        try:
            total += entry.stat().st_size
        except OSError:
            pass
    return total


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="span-x4")
    p.add_argument("--size", default="4000x3000")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--interval", type=float, default=0.5)
    p.add_argument("--format", default="png", choices=("png", "jpg", "tif"), help="output file type")
    p.add_argument("--alpha", action="store_true", help="an RGBA PNG input (alpha vignette) instead of the JPEG")
    p.add_argument("--keep", help="folder for big.jpg / out.png / the RSS log (default: a temp dir)")
    p.add_argument("extra", nargs="*", help="extra arguments for photoforge upscale (after --)")
    a = p.parse_args()
    width, height = (int(v) for v in a.size.lower().split("x"))

    tmp_ctx = tempfile.TemporaryDirectory() if not a.keep else None
    work = Path(a.keep or tmp_ctx.name)
    work.mkdir(parents=True, exist_ok=True)
    src, out_dir = work / ("big.png" if a.alpha else "big.jpg"), work / "out"
    out_dir.mkdir(exist_ok=True)
    dst = out_dir / f"out.{a.format}"
    if not src.exists():
        make_big_input(src, width, height)
    print(f"input: {src} {width}×{height} ({width * height / 1e6:.1f} MP), {src.stat().st_size / MB:.1f} MB")

    env = dict(os.environ)
    env.setdefault("PHOTOFORGE_DATA_DIR", "/tmp/pfdata")
    env.setdefault("PHOTOFORGE_CACHE_DIR", "/tmp/pfcache")
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    cmd = [sys.executable, "-m", "photoforge", "upscale", str(src), "-o", str(dst), "--model", a.model,
           "--threads", str(a.threads), "--overwrite", *a.extra]
    print("command:", " ".join(cmd[1:]), flush=True)

    state = {"percent": None, "done": False, "stderr": []}

    def read_stderr(stream):
        for line in stream:
            state["stderr"].append(line.rstrip())
            m = re.search(r"\|\s*(\d+)%", line)
            if m:
                state["percent"] = int(m.group(1))
            if "→" in line:
                state["done"] = True

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    reader = threading.Thread(target=read_stderr, args=(proc.stderr,), daemon=True)
    reader.start()
    ps = psutil.Process(proc.pid)
    samples = []  # (t, rss, stage, percent, output bytes)
    while proc.poll() is None:
        try:
            rss = tree_rss(ps)
        except psutil.Error:
            break
        written = dir_bytes(out_dir)
        pct = state["percent"]
        if pct is None:
            stage = "startup+load"
        elif pct < 100:
            stage = "inference"
        else:
            stage = "save" if written > 0 else "finish-inference"
        samples.append((time.perf_counter() - t0, rss, stage, pct, written))
        time.sleep(a.interval)
    proc.wait()
    wall = time.perf_counter() - t0
    reader.join(timeout=5)
    maxrss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss

    if a.keep:
        with open(work / "rss_log.tsv", "w") as fh:
            fh.write("t_s\trss_mb\tstage\tpercent\tout_mb\n")
            for t, rss, stage, pct, written in samples:
                fh.write(f"{t:.1f}\t{rss / MB:.0f}\t{stage}\t{pct}\t{written / MB:.1f}\n")

    print("\n".join("  stderr: " + l for l in state["stderr"][-6:]))
    if proc.returncode != 0:
        print(f"FAILED: exit code {proc.returncode}")
    out_size = dst.stat().st_size if dst.exists() else 0
    peak_poll = max((s[1] for s in samples), default=0)
    peak_kernel = maxrss_kb * 1024

    print(f"\nstage peaks (psutil every {a.interval} s):")
    order = ["startup+load", "inference", "finish-inference", "save"]
    for stage in order:
        ss = [s for s in samples if s[2] == stage]
        if ss:
            top = max(ss, key=lambda s: s[1])
            print(f"  {stage:<17} {ss[0][0]:7.1f}–{ss[-1][0]:7.1f} s  peak {top[1] / MB:7.0f} MB "
                  f"at {top[0]:.1f} s (progress {top[3]}%)")
    # Coarse RSS-over-time trace: one line per ~5 % of the run.
    step = max(1, len(samples) // 20)
    print("\nRSS over time:")
    for t, rss, stage, pct, written in samples[::step]:
        print(f"  {t:7.1f} s  {rss / MB:6.0f} MB  {stage:<17} {'' if pct is None else f'{pct:3d}%'}"
              f"  out {written / MB:6.1f} MB")

    ok = proc.returncode == 0 and max(peak_kernel, peak_poll) <= TARGET_BYTES
    print(f"\n{'model':<10} {'format':>6} {'input':>10} {'wall s':>8} {'peak RSS (ru_maxrss)':>21} "
          f"{'peak RSS (psutil)':>18} {'output':>10} {'target':>8}")
    print(f"{a.model:<10} {a.format:>6} {a.size:>10} {wall:8.1f} {peak_kernel / MB:18.0f} MB {peak_poll / MB:15.0f} MB "
          f"{out_size / MB:7.1f} MB {'OK' if ok else 'OVER':>8}")
    print(f"(target ≤ {TARGET_BYTES / MB:.0f} MB; output {width * 4}×{height * 4} = "
          f"{width * height * 16 / 1e6:.0f} MP if ×4)")
    if tmp_ctx:
        tmp_ctx.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
