"""Fade-and-colour stage: quality on the sample photos, speed and memory on a big scan.

    PYTHONPATH=. python bench/bench_color.py [--size 6000x4000] [--reps 3]

Quality (both samples): PSNR of `correct_color` at default options against the input for
the clean photo (target ≥ 35 dB), and for a synthetically faded copy (0.55·x + 0.3,
desaturated 50 %, warm cast R×1.06 B×0.88) the PSNR against the original before and after;
the same for a faded sepia (0.5·sepia + 0.3) against the clean sepia; is_monochrome verdicts.

Speed and memory: a WxH uint8 and uint16 image made from coffee.jpg (INTER_CUBIC resize,
then faded as above) is corrected `--reps` times; the median wall time and the peak of
numpy allocations during one run (tracemalloc) are printed, next to the image's own size.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from photoforge.core.imageio import load_image  # noqa: E402
from photoforge.ops.color import correct_color, is_monochrome  # noqa: E402

LUMA = np.array([0.299, 0.587, 0.114], np.float32)
SEPIA = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], np.float32)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    top = 65535.0 if a.dtype == np.uint16 else 255.0
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(top * top / mse)


def fade(f: np.ndarray) -> np.ndarray:
    """float [0, 1] → faded float [0, 1]."""
    x = 0.55 * f + 0.3
    grey = (x @ LUMA)[..., None]
    x = grey + 0.5 * (x - grey)
    return np.clip(x * np.array([1.06, 1.0, 0.88], np.float32), 0, 1)


def quantise(f: np.ndarray, dtype) -> np.ndarray:
    top = 65535.0 if dtype == np.uint16 else 255.0
    return np.rint(np.clip(f, 0, 1) * top).astype(dtype)


def quality() -> None:
    print("quality (default options)")
    print(f"{'photo':10s} {'clean':>8s} {'faded':>8s} {'restored':>9s} {'gain':>6s}"
          f" {'sepia faded':>12s} {'restored':>9s}  is_monochrome colour / faded / grey / sepia")
    for name in ("astronaut", "coffee"):
        pixels = load_image(ROOT / "resources" / "samples" / f"{name}.jpg").pixels
        f = pixels.astype(np.float32) / 255
        clean = psnr(correct_color(pixels), pixels)
        faded = quantise(fade(f), np.uint8)
        before, after = psnr(faded, pixels), psnr(correct_color(faded), pixels)
        sepia = quantise(f @ SEPIA.T, np.uint8)
        faded_sepia = quantise(0.5 * np.clip(f @ SEPIA.T, 0, 1) + 0.3, np.uint8)
        s_before, s_after = psnr(faded_sepia, sepia), psnr(correct_color(faded_sepia), sepia)
        grey = quantise(np.repeat((f @ LUMA)[..., None], 3, 2), np.uint8)
        verdicts = " / ".join(is_monochrome(v)[1] for v in (pixels, faded, grey, sepia))
        print(f"{name:10s} {clean:8.2f} {before:8.2f} {after:9.2f} {after - before:+6.2f}"
              f" {s_before:12.2f} {s_after:9.2f}  {verdicts}")


def speed(width: int, height: int, reps: int) -> None:
    src = load_image(ROOT / "resources" / "samples" / "coffee.jpg").pixels
    big = cv2.resize(src, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32) / 255
    faded = fade(big)
    del big
    print(f"\nspeed and memory, {width}×{height} ({width * height / 1e6:.1f} MP),"
          f" median of {reps}")
    for dtype in (np.uint8, np.uint16):
        image = quantise(faded, dtype)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            correct_color(image)
            times.append(time.perf_counter() - t0)
        tracemalloc.start()
        correct_color(image)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        mb = 1024 ** 2
        print(f"  {np.dtype(dtype).name:7s} {statistics.median(times):6.2f} s"
              f"  ({width * height / 1e6 / statistics.median(times):5.1f} MP/s)"
              f"  peak numpy {peak / mb:7.1f} MB  (image {image.nbytes / mb:6.1f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="6000x4000")
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    cv2.setNumThreads(2)
    quality()
    width, height = (int(v) for v in args.size.lower().split("x"))
    speed(width, height, args.reps)


if __name__ == "__main__":
    main()
