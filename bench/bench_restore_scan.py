"""The default restore of a big 16-bit scan, per damage detector: time and peak memory of
the whole CLI process, as a user runs it, with the ratio to the classical detector.

    PYTHONPATH=. python bench/bench_restore_scan.py [--size 6000x4000] [--detectors learned,classical]

The scan is coffee.jpg resized (bicubic) to --size and stored as a 16-bit TIFF (×257). Each
detector runs `python -m photoforge restore SCAN -o OUT --detector D` in a fresh process,
one after the other, so machine load falls on both alike; the peak is that process's
maximum resident set (getrusage of the finished child). The output is checked to be uint16.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import tifffile

ROOT = Path(__file__).resolve().parents[1]


def make_scan(path: Path, width: int, height: int) -> None:
    rgb = cv2.imread(str(ROOT / "resources" / "samples" / "coffee.jpg"))[..., ::-1]
    big = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.uint16) * 257
    tifffile.imwrite(path, big)


def run(scan: Path, out: Path, detector: str) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of one restore process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    pid = subprocess.Popen([sys.executable, "-m", "photoforge", "restore", str(scan), "-o", str(out),
                            "--detector", detector], env=env, stdout=subprocess.DEVNULL).pid
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"restore --detector {detector} failed")
    return seconds, usage.ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="6000x4000")
    ap.add_argument("--detectors", default="learned,classical")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    detectors = args.detectors.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        scan = Path(tmp) / "scan16.tif"
        make_scan(scan, width, height)
        rows = {}
        for det in detectors:
            out = Path(tmp) / f"{det}.tif"
            rows[det] = run(scan, out, det)
            assert tifffile.imread(out).dtype == np.uint16, f"{det}: the output is not 16-bit"
    cpu = next((l.split(":", 1)[1].strip() for l in subprocess.run(["lscpu"], capture_output=True, text=True)
                .stdout.splitlines() if l.startswith("Model name")), "unknown")
    print(f"restore of a {width}×{height} 16-bit TIFF ({width * height / 1e6:.0f} MP), whole process; "
          f"CPU {cpu}, load {os.getloadavg()[0]:.1f}")
    base = rows.get("classical")
    for det, (sec, mib) in rows.items():
        ratio = f"  ({sec / base[0]:.2f}× the time, {mib / base[1]:.2f}× the memory of classical)" if base else ""
        print(f"  {det:<10} {sec:7.1f} s  peak {mib:7.0f} MiB{ratio}")


if __name__ == "__main__":
    main()
