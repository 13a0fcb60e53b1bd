"""Learned damage detector (photoforge/models/damage_seg.onnx) against the classical one
(photoforge.ops.damage), side by side, on the corpus's validation photos.

    python -m training.corpus build        # once: the photos (~1 min)
    PYTHONPATH=. python bench/bench_detector.py [--seeds 2] [--sensitivity 0.5] [--threshold T] [--record]

Photos: the validation split of training/corpus_manifest.json, as stored (longer side
≤ 1600 px). They were never trained on and never used to choose the threshold (that was
the tuning subset of the train split; training/export_damage.py).

Damage: training/synth.py over an aged print (monochrome/sepia/faded, grain, blur, JPEG,
and hard negatives: glints, eye highlights, borders, text), seeds 20000 + 100·photo + s.
Scenarios: one kind alone (crack — cracks and craquelure —, scratch, dust) and "all" (all
eight kinds at once). The truth is the synthesiser's mask: pixels the damage changed by
≥ 10/255 in some channel, which is what a person can see.

Score: as bench/bench_damage.py, F1 at 2 px tolerance (precision = detections within 2 px
of a damaged pixel; recall = damaged pixels within 2 px of a detection), but with counts
pooled over photos and seeds (a photo with three specks does not weigh as much as one with
three hundred). Clean: share of pixels flagged on the clean photos, as stored ("raw") and
as aged prints with hard negatives but no damage ("aged"); "neg" = share of the
hard-negative pixels themselves that are flagged.
"learned" is the probability at the threshold alone; "learned+post" adds the app's
post-processing (photoforge.ops.learned_damage.mask_from_probability at sensitivity 0.5:
hysteresis, minimum size, 1 px halo), which is what restore uses.
Time: median of 3 on one validation photo resized to 1920×1080, 2 threads (ONNX Runtime
intra-op threads and cv2), the learned time including padding and thresholding.
Goals (issue 11): F1 ≥ 0.85 for cracks, scratches and dust, each; clean ≤ 0.2 %; 2 MP ≤ 1.5 s.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import photoforge.ops.damage as classical  # noqa: E402
from photoforge.ops.damage import detect_damage  # noqa: E402
from training import corpus, data, metrics, onnx_infer  # noqa: E402
from training.synth import KINDS, synthesize  # noqa: E402

SCENARIOS = {"crack": ("crack",), "scratch": ("scratch",), "dust": ("dust",), "all": KINDS}
TOL = 2.0


def cpu_model() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    return next((l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name")), "unknown")


FALLBACKS = [0]


def classical_mask(img: np.ndarray, sensitivity: float) -> np.ndarray:
    """The classical detector; on heavily damaged photos its line check can pass more than
    32,767 ridge pixels to one cv2.remap, which OpenCV refuses. Its tiles are made not to
    change the mask (photoforge/ops/damage.py: TILE, MARGIN), so such a photo is run again
    with smaller tiles, and the bench counts how often."""
    try:
        return detect_damage(img, sensitivity) > 0
    except cv2.error:
        FALLBACKS[0] += 1
        tile = classical.TILE
        classical.TILE = 512
        try:
            return detect_damage(img, sensitivity) > 0
        finally:
            classical.TILE = tile


def median_time(fn, reps: int = 3) -> float:
    fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--sensitivity", type=float, default=0.5, help="classical detector")
    ap.add_argument("--threshold", type=float, help="learned detector (default: the model card's)")
    ap.add_argument("--corpus", type=Path, default=corpus.DEFAULT_OUT)
    ap.add_argument("--model", type=Path, default=onnx_infer.MODEL)
    ap.add_argument("--limit", type=int, default=0, help="first N validation photos only (quick look)")
    ap.add_argument("--record", action="store_true", help="write the figures into the model card")
    args = ap.parse_args()
    cv2.setNumThreads(2)
    card_path = args.model.with_suffix(".json")
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    thr = args.threshold if args.threshold is not None else card.get("threshold", 0.5)
    sess = onnx_infer.session(args.model)
    photos = data.split_photos(args.corpus)["val"]
    if args.limit:
        photos = photos[:args.limit]

    try:  # the app's post-processing of the probability (hysteresis, size, 1 px halo), if present
        from photoforge.ops.learned_damage import mask_from_probability
    except ImportError:
        mask_from_probability = None

    def run_all(img):
        prob = onnx_infer.predict(sess, img)
        out = {"learned": prob >= thr}
        if mask_from_probability is not None:
            out["learned+post"] = mask_from_probability(prob, 0.5, base=thr) > 0
        out["classical"] = classical_mask(img, args.sensitivity)
        return out

    dets = ("learned", "learned+post", "classical") if mask_from_probability else ("learned", "classical")
    counts = {(d, s): np.zeros(4, np.int64) for d in dets for s in SCENARIOS}
    clean = {(d, c): [0, 0] for d in dets for c in ("raw", "aged", "neg")}
    for i, e in enumerate(photos):
        rgb = data.load_rgb(e["path_on_disk"])
        for d, m in run_all(rgb).items():
            clean[d, "raw"][0] += int(m.sum())
            clean[d, "raw"][1] += m.size
        for s in range(args.seeds):
            seed = 20_000 + 100 * i + s
            aged = synthesize(rgb, seed, ())
            for d, m in run_all(aged.image).items():
                clean[d, "aged"][0] += int(m.sum())
                clean[d, "aged"][1] += m.size
                clean[d, "neg"][0] += int((m & aged.negatives).sum())
                clean[d, "neg"][1] += int(aged.negatives.sum())
            for name, kinds in SCENARIOS.items():
                smp = synthesize(rgb, seed, kinds)
                for d, m in run_all(smp.image).items():
                    counts[d, name] += metrics.counts(m, smp.mask, TOL)
        print(f"  {i + 1}/{len(photos)} {e['file']} ({e['subject']})", flush=True)

    print(f"\nCPU: {cpu_model()}")
    print(f"validation photos: {len(photos)}, seeds per photo: {args.seeds}, tolerance {TOL:g} px; "
          f"learned threshold {thr}, classical sensitivity {args.sensitivity}")
    print(f"{'scenario':<9} " + "  ".join(f"{d:>9} P    R    F1" for d in dets))
    fig = {"threshold": thr, "photos": len(photos), "seeds": args.seeds, "f1": {}, "clean_pct": {}}
    for name in SCENARIOS:
        cells = []
        for d in dets:
            p, r, f = metrics.f1_from_counts(counts[d, name])
            cells.append(f"{'':>9} {p:4.2f} {r:4.2f} {f:5.3f}")
            fig["f1"].setdefault(d, {})[name] = round(f, 4)
        print(f"{name:<9} " + "  ".join(cells))
    for c in ("raw", "aged", "neg"):
        vals = [100 * clean[d, c][0] / max(1, clean[d, c][1]) for d in dets]
        for d, v in zip(dets, vals):
            fig["clean_pct"].setdefault(d, {})[c] = round(v, 4)
        print(f"clean flagged, {c:<4} " + "  ".join(f"{d} {v:7.3f} %" for d, v in zip(dets, vals)))

    if FALLBACKS[0]:
        print(f"classical detector: {FALLBACKS[0]} photo(s) rerun with 512 px tiles after cv2.remap refused"
              " more than 32,767 ridge pixels")
    rgb = data.load_rgb(photos[0]["path_on_disk"])
    two = cv2.resize(rgb, (1920, 1080), interpolation=cv2.INTER_AREA)
    timed = {"learned": lambda: onnx_infer.predict(sess, two) >= thr,
             "classical": lambda: detect_damage(two, args.sensitivity)}
    if mask_from_probability is not None:
        timed["learned+post"] = lambda: mask_from_probability(onnx_infer.predict(sess, two), 0.5, base=thr)
    fig["time_2mp_s"] = {d: round(median_time(fn), 3) for d, fn in timed.items()}
    print("time, 2 MP (1920×1080): " + "  ".join(f"{d} {t:.2f} s" for d, t in fig["time_2mp_s"].items()))
    if args.record and card and not args.limit:
        card["validation"] = {**fig, "cpu": cpu_model(), "bench": "bench/bench_detector.py"}
        card_path.write_text(json.dumps(card, indent=1) + "\n")
        print(f"recorded in {card_path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
