"""Scan intake bench (issue 13): per hard case of synthetic 200 dpi A4 scans (tests/scan_synth.py),
prints found / expected and extra (a found print is one matched one-to-one to a true print with
IoU ≥ 0.8), worst angle error and worst edge error (over the found prints), for photoforge's
find_prints and a plain threshold + minAreaRect baseline; then a 600 dpi A4 16-bit scan (35 MP):
find + extract time and peak RSS in a fresh process; and the CPU.
`--seeds 0` is the set the method was developed on; other seeds draw other photo crops, dust,
noise and shadows for the same layouts (held out). `--cases a,b` runs only those cases (each
draws the same scan as in a full run); `--per-scan` prints each scan's cell too.
    PYTHONPATH=. python bench/bench_split.py [--seeds 3,4,5] [--cases glass_edge,touching]
        [--per-scan] [--no-big | --big-only]"""
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
    """Otsu threshold of the grey scan, outer contours, minAreaRect: what most scripts do."""
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


def _iou(a, b) -> float:
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    inter, _ = cv2.intersectConvexConvex(a, b)
    return float(inter / (cv2.contourArea(a) + cv2.contourArea(b) - inter))


def score(scan, found):
    """(found, extra, worst angle error, worst edge error): each true print matched to the
    unused detection it overlaps most (IoU ≥ 0.8)."""
    left = list(found)
    hits, ang, edge = 0, 0.0, 0.0
    for truth, angle in zip(scan.corners, scan.angles):
        if not left:
            break
        p = max(left, key=lambda p: _iou(truth, p.corners))
        if _iou(truth, p.corners) < 0.8:
            continue
        left.remove(p)
        hits += 1
        ang = max(ang, abs(p.angle - angle))
        edge = max(edge, max(edge_errors(truth, p.corners)))
    return hits, len(left), ang, edge


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
    if "--help" in sys.argv or "-h" in sys.argv:
        print(__doc__)
        return
    cpu = next((line.split(":", 1)[1].strip() for line in subprocess.run(
        ["lscpu"], capture_output=True, text=True).stdout.splitlines() if line.startswith("Model name")), "?")
    print(f"CPU: {cpu}; cv2 threads {cv2.getNumThreads()}")
    seeds = [0]
    if "--seeds" in sys.argv:
        seeds = [int(v) for v in sys.argv[sys.argv.index("--seeds") + 1].split(",")]
    names = sys.argv[sys.argv.index("--cases") + 1].split(",") if "--cases" in sys.argv else None
    per_scan = "--per-scan" in sys.argv
    print(f"seeds {','.join(map(str, seeds))}; found/expected +extra, worst angle error °, worst edge error px")
    print(f"{'case':28s} {'photoforge':34s} baseline (threshold + minAreaRect)")
    totals = {"ours": [0, 0, 0, 0.0, 0.0], "base": [0, 0, 0, 0.0, 0.0]}
    per_case: dict[str, dict[str, list]] = {}
    for seed in seeds if "--big-only" not in sys.argv else []:
        for name, scan in ss.hard_cases(dpi=200, seed=seed, names=names).items():
            t = time.perf_counter()
            ours = find_prints(scan.pixels)
            dt = time.perf_counter() - t
            case = per_case.setdefault(name, {"ours": [0, 0, 0, 0.0, 0.0], "base": [0, 0, 0, 0.0, 0.0], "t": []})
            case["t"].append(dt)
            for key, found in (("ours", ours), ("base", baseline(scan.pixels))):
                hits, extra, a, e = score(scan, found)
                if per_scan and key == "ours":
                    print(f"  seed {seed:3d} {name:28s} {hits}/{len(scan.corners)} +{extra} {a:.2f}° {e:.2f} px")
                for acc in (case[key], totals[key]):
                    acc[0] += hits
                    acc[1] += len(scan.corners)
                    acc[2] += extra
                    acc[3], acc[4] = max(acc[3], a), max(acc[4], e)

    def cell(acc) -> str:
        return f"{acc[0]:2d}/{acc[1]:<2d} +{acc[2]:<2d} {acc[3]:6.2f}° {acc[4]:8.2f} px"

    for name, case in per_case.items():
        print(f"{name:28s} {cell(case['ours'])}  ({max(case['t']):.1f} s)   {cell(case['base'])}")
    if per_case:
        print(f"{'all':28s} {cell(totals['ours'])}           {cell(totals['base'])}")
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
