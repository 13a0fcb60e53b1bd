"""Scan intake bench (issue 13): per hard case of synthetic 200 dpi A4 scans (tests/scan_synth.py),
prints found/expected, worst angle error and worst edge error, for photoforge's find_prints and a
plain threshold + minAreaRect baseline; then a 600 dpi A4 16-bit scan (35 MP): find + extract time
and peak RSS in a fresh process; and the CPU.   PYTHONPATH=. python bench/bench_split.py [--no-big]"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from photoforge.ops.split import _make_print, _reading_order, find_prints  # noqa: E402
from tests import scan_synth as ss  # noqa: E402
from tests.ops.test_split import edge_errors  # noqa: E402


def baseline(pixels):
    """Otsu threshold of the grey proxy, outer contours, minAreaRect: what most scripts do."""
    g = cv2.cvtColor((pixels // 257).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    white = np.median(np.r_[g[:5].ravel(), g[-5:].ravel()]) > 128
    _, m = cv2.threshold(g, 0, 255, (cv2.THRESH_BINARY_INV if white else cv2.THRESH_BINARY) + cv2.THRESH_OTSU)
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    side = 0.05 * min(g.shape)
    prints = [_make_print(cv2.boxPoints(cv2.minAreaRect(c)).astype(float)) for c in contours
              if min(cv2.minAreaRect(c)[1]) >= side]
    order = _reading_order([np.asarray(p.corners) for p in prints])
    return [prints[i] for i in order]


def score(scan, found):
    ang, edge = 0.0, 0.0
    for truth, angle in zip(scan.corners, scan.angles):
        c = truth.mean(0)
        if not found:
            return float("nan"), float("nan")
        p = min(found, key=lambda p: np.linalg.norm(np.asarray(p.corners).mean(0) - c))
        ang = max(ang, abs(p.angle - angle))
        edge = max(edge, max(edge_errors(truth, p.corners)))
    return ang, edge


def big_child(path: str) -> None:
    from photoforge.ops.split import extract

    def hwm() -> int:  # peak RSS in KiB of this process (ru_maxrss would carry the parent's over exec)
        return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM"))

    pixels = np.load(path)
    base = hwm()
    t = time.perf_counter()
    prints = find_prints(pixels)
    t_find = time.perf_counter() - t
    outs = [extract(pixels, p) for p in prints]
    total = time.perf_counter() - t
    peak = hwm()
    print(f"{len(prints)} {t_find:.2f} {total:.2f} {base / 1024:.0f} {peak / 1024:.0f} "
          f"{sum(o.nbytes for o in outs) / 2**20:.0f} {pixels.nbytes / 2**20:.0f}")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        return big_child(sys.argv[2])
    cpu = next((line.split(":", 1)[1].strip() for line in subprocess.run(
        ["lscpu"], capture_output=True, text=True).stdout.splitlines() if line.startswith("Model name")), "?")
    print(f"CPU: {cpu}; cv2 threads {cv2.getNumThreads()}")
    print(f"{'case':28s} {'photoforge found / angle° / edge px':38s} baseline found / angle° / edge px")
    for name, scan in ss.hard_cases(dpi=200).items():
        t = time.perf_counter()
        ours = find_prints(scan.pixels)
        dt = time.perf_counter() - t
        base = baseline(scan.pixels)
        a, e = score(scan, ours)
        ba, be = score(scan, base)
        n = len(scan.corners)
        print(f"{name:28s} {len(ours)}/{n}  {a:5.2f}  {e:6.2f}  ({dt:.1f} s)          "
              f"{len(base)}/{n}  {ba:6.2f}  {be:7.1f}")
    if "--no-big" in sys.argv:
        return
    scan = ss.big_scan()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "scan.npy")
        np.save(path, scan.pixels)
        shape = scan.pixels.shape
        truth = scan
        out = subprocess.run([sys.executable, __file__, "--child", path], capture_output=True, text=True)
    n, t_find, total, base, peak, outs, size = out.stdout.split()
    print(f"600 dpi A4 16-bit {shape[1]}×{shape[0]} ({shape[0] * shape[1] / 1e6:.1f} MP, {size} MiB): "
          f"{n}/{len(truth.corners)} prints, find {t_find} s, find + extract {total} s; "
          f"RSS {base} MiB after loading, peak {peak} MiB (prints cut: {outs} MiB)")


if __name__ == "__main__":
    main()
