"""What the restore's damage stage does to photos that have no damage, per detector.

    PYTHONPATH=. python bench/bench_clean_restore.py [--split val] [--side 1600] [--limit N]

A detector's false alarms are repaired like damage, so on a sound photo they become
changes. For each photo of the split (the validation photos by default, never trained or
tuned on), as stored and as an aged print without damage (training/synth.py, seed
30000 + 100·photo: monochrome, sepia or faded, grain, glints, borders, text), the restore
runs with only its damage stage (photoforge.ops.restore, denoise and colour off, the
detector's default sensitivity) and is compared with its input: PSNR, and the share of
pixels the stage flagged. The colour issue's goal for a clean photo after the default
restore is ≥ 35 dB; bench/bench_fade.py measures the colour stage, this the damage stage.
Per detector: photos at ≥ 35 dB, the minimum, the median, and the mean share flagged.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bench_restore import psnr  # noqa: E402
from training import corpus, data  # noqa: E402
from training.synth import synthesize  # noqa: E402

DETECTORS = ("classical", "learned", "both")
GOAL_DB = 35.0


def clean_restores(photos: list[dict], side: int, detectors=DETECTORS, log=print) -> dict:
    """{detector: [(name, variant, psnr dB, % flagged), …]} over photos × (stored, aged)."""
    from photoforge.core.image import ImageData
    from photoforge.ops.restore import RestoreOptions, restore

    out: dict[str, list] = {d: [] for d in detectors}
    for i, e in enumerate(photos):
        rgb = data.load_rgb(e["path_on_disk"])
        f = side / max(rgb.shape[:2])
        rgb = cv2.resize(rgb, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 else rgb
        for variant, img in (("stored", rgb), ("aged", synthesize(rgb, 30_000 + 100 * i, ()).image)):
            for det in detectors:
                res = restore(ImageData(img), RestoreOptions(detector=det, denoise=False, color=False))
                flagged = 0.0 if res.damage is None else 100 * float((res.damage > 0).mean())
                out[det].append((e["file"], variant, psnr(res.image.pixels, img), flagged))
        log(f"  {i + 1}/{len(photos)} {e['file']}")
    return out


def summary(rows: list) -> dict:
    dbs = [r[2] for r in rows]
    return {"at_goal": sum(d >= GOAL_DB for d in dbs), "n": len(dbs), "min_db": min(dbs),
            "median_db": statistics.median(dbs), "flagged_pct": float(np.mean([r[3] for r in rows]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--split", default="val", choices=("val", "tune", "train", "val2", "check2", "val3", "val4"))
    ap.add_argument("--side", type=int, default=1600, help="longer side, px (photos above it are shrunk)")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--details", action="store_true", help="every photo's row")
    args = ap.parse_args()
    cv2.setNumThreads(2)
    photos = data.split_photos(corpus.DEFAULT_OUT)[args.split][:args.limit or None]
    rows = clean_restores(photos, args.side, log=lambda s: print(s, flush=True))
    print(f"\n{args.split} photos: {len(photos)}, as stored and aged, ≤ {args.side} px; damage stage only")
    print(f"{'detector':<10} {'≥ 35 dB':>9} {'min dB':>7} {'median':>7} {'flagged %':>10}")
    for det, rs in rows.items():
        s = summary(rs)
        print(f"{det:<10} {s['at_goal']:>4}/{s['n']:<4} {s['min_db']:>7.2f} {s['median_db']:>7.2f} {s['flagged_pct']:>10.3f}")
    if args.details:
        for det, rs in rows.items():
            for name, variant, db, fl in sorted(rs, key=lambda r: r[2])[:8]:
                print(f"  {det:<10} {db:6.2f} dB {fl:6.3f} % {variant:<6} {name}")


if __name__ == "__main__":
    main()
