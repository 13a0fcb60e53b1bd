"""Infrared dust masks (photoforge.ops.infrared_dust) against the detectors that only see the
photo, on synthetic RGBI scans of held-out photos.

    PYTHONPATH=. python bench/bench_infrared.py [--photos 8] [--side 1024] [--seeds 2] [--noise 0.006]

Photos: the first N of the public corpus (~/.cache/photoforge-corpus, Debian wallpaper
packages; see training/ for its manifest) resized to SIDE px on the long side — never
astronaut.jpg, on which the infrared thresholds were looked at while writing them. Scans:
tests/infrared_synth.py — 40 dust specks 2.4–10 px across, 3 hairs 1–2 px wide and one long
scratch 1.5 px wide, drawn with soft edges, dark in RGB (as on a film scan) and blocking 90 %
of the infrared; the infrared holds a level with lamp fall-off, a ghost of the photo (gain
0.08) and Gaussian noise (σ --noise of the full scale).

Truth: pixels the defects cover by a tenth or more. Scores per scan, averaged: precision,
recall and F1 of the mask before its 1 px growth (the classical and learned detectors grow
theirs on purpose, so they are scored at 2 px tolerance: a detected pixel counts as right
within 2 px of truth, a true pixel as found within 2 px of a detection — their best light).
Repair: mean absolute error (8-bit units) on the truth pixels after inpainting each mask
(InpaintOptions auto), against the clean photo; "damaged" is before any repair.
Time: median seconds per scan for the mask alone, 2 threads, and its ratio to the classical
detector on the same scans.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from photoforge.core.image import ImageData  # noqa: E402
from photoforge.ops.infrared_dust import infrared_defects, infrared_dust_mask  # noqa: E402
from photoforge.ops.inpaint import InpaintOptions, inpaint  # noqa: E402
from photoforge.ops.learned_damage import find_damage_mask  # noqa: E402
from tests.infrared_synth import f1, rgbi_scan  # noqa: E402

CORPUS = Path.home() / ".cache" / "photoforge-corpus"


def near(a: np.ndarray, b: np.ndarray, tol: int) -> np.ndarray:
    """Pixels of `a` within `tol` px of a pixel of `b`."""
    grown = cv2.dilate(b.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * tol + 1,) * 2))
    return a & (grown > 0)


def scores(found: np.ndarray, truth: np.ndarray, tol: int) -> tuple[float, float, float]:
    if tol == 0:
        tp = float((found & truth).sum())
        p, r = tp / max(1, found.sum()), tp / max(1, truth.sum())
        return p, r, f1(found, truth)
    p = near(found, truth, tol).sum() / max(1, found.sum())
    r = near(truth, found, tol).sum() / max(1, truth.sum())
    return p, r, 2 * p * r / max(1e-9, p + r)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=8)
    ap.add_argument("--side", type=int, default=1024)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--noise", type=float, default=0.006)
    args = ap.parse_args()
    cv2.setNumThreads(2)
    paths = sorted(CORPUS.glob("*.jpg"))[:args.photos]
    if not paths:
        sys.exit(f"no photos in {CORPUS}: build the corpus first (training/README)")
    rows: dict[str, list] = {k: [] for k in ("infrared", "classical", "learned")}
    repair: dict[str, list] = {k: [] for k in ("damaged", "infrared", "classical", "learned")}
    times: dict[str, list] = {"infrared": [], "classical": []}
    for path in paths:
        bgr = cv2.imread(str(path))
        f = args.side / max(bgr.shape[:2])
        photo = cv2.resize(bgr, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)[..., ::-1].copy()
        for seed in range(args.seeds):
            scan = rgbi_scan(photo, seed, noise=args.noise)
            t = scan.truth
            t0 = time.perf_counter()
            found = infrared_defects(scan.infrared, scan.damaged)
            times["infrared"].append(time.perf_counter() - t0)
            masks = {"infrared": infrared_dust_mask(scan.infrared, scan.damaged)}
            rows["infrared"].append(scores(found, t, 0))
            t0 = time.perf_counter()
            masks["classical"] = find_damage_mask(scan.damaged, detector="classical")
            times["classical"].append(time.perf_counter() - t0)
            masks["learned"] = find_damage_mask(scan.damaged, detector="learned", device="cpu")
            for name in ("classical", "learned"):
                rows[name].append(scores(masks[name] > 0, t, 2))
            clean = scan.clean[t].astype(float)
            repair["damaged"].append(np.abs(scan.damaged[t] - clean).mean())
            for name, mask in masks.items():
                out = inpaint(ImageData(scan.damaged), mask, InpaintOptions(method="auto", device="cpu"))
                repair[name].append(np.abs(out.pixels[t] - clean).mean())
        print(f"{path.name}: done", file=sys.stderr)
    print(f"{len(paths)} held-out photos × {args.seeds} seeds, {args.side} px, IR noise σ {args.noise}")
    print("| mask | precision | recall | F1 | error on the defects after repair (8-bit) |")
    print("|---|---|---|---|---|")
    for name in ("infrared", "classical", "learned"):
        p, r, f = (statistics.mean(v[i] for v in rows[name]) for i in range(3))
        tol = "exact" if name == "infrared" else "2 px tolerance"
        print(f"| {name} ({tol}) | {p:.3f} | {r:.3f} | {f:.3f} | {statistics.mean(repair[name]):.1f} |")
    print(f"| (none: the damaged scan) | | | | {statistics.mean(repair['damaged']):.1f} |")
    ti, tc = statistics.median(times["infrared"]), statistics.median(times["classical"])
    print(f"mask time per scan: infrared {ti:.3f} s, classical detector {tc:.3f} s (ratio {ti / tc:.2f})")


if __name__ == "__main__":
    main()
