"""Learned damage detector (photoforge/models/damage_seg.onnx) against the classical one
(photoforge.ops.damage), side by side, on the corpus's validation photos.

    python -m training.corpus build        # once: the photos (~1 min)
    PYTHONPATH=. python bench/bench_detector.py [--seeds 2] [--sensitivity 0.5] [--threshold T]
        [--split val|val2|tune|check2] [--restore N] [--record] [--tta h[:logit|prob]]

Photos: the validation split of training/corpus_manifest.json, as stored (longer side
≤ 1600 px). They were never trained on and never used to choose the threshold or the
post-processing rules (that was the tuning subset of the train split:
training/export_damage.py, bench/detector_sweep.py); `--split tune` scores that subset
instead, to compare with the sweep. `val2` is the validation photos of the corpus's second
round, `check2` its train photos held back from training and mining (training/data.py).

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
hysteresis, speck rule, torn corners and edges, 1 px halo), which is what restore uses; "both" is
`--detector both` (photoforge.ops.learned_damage.fuse: the classical mask seeds that
hysteresis and every classical mark is kept).
Time: median of 3 on one validation photo resized to 1920×1080, 2 threads (ONNX Runtime
intra-op threads and cv2), the learned time including padding and thresholding, "both"
the network, the classical detector and the fusion; detectors timed in turn within each
repetition, so machine load falls on all of them alike.
--record merges the figures into the model card (photoforge/models/damage_seg.json,
"validation" or "tune"), keeping what this run did not measure.
--tta: the learned detector (and the restore's) averages the network over the flipped views
(photoforge.ops.learned_damage.TTA_VIEWS) at the threshold the card's "tta" block holds
for them (chosen on the tuning photos, bench/detector_sweep.py --tta-only); the time row
then also has the photo alone ("learned+post, no tta"), for the ratio in one run;
--record puts the figures in that block ("validation").
--restore adds the repair: PSNR against the undamaged print after the restore's detect +
repair, beside Telea handed the true mask (restore_psnr).
Goals (issue 11): F1 ≥ 0.85 for cracks, scratches and dust, each; clean ≤ 0.2 %; 2 MP ≤ 1.5 s;
restore within 1 dB of Telea on the true mask.
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
sys.path.insert(0, str(ROOT / "bench"))
from photoforge.ops.damage import detect_damage  # noqa: E402
from photoforge.ops import learned_damage  # noqa: E402
from photoforge.ops.learned_damage import fuse, mask_from_probability  # noqa: E402
from bench_restore import label, psnr  # noqa: E402
from training import corpus, data, metrics, onnx_infer  # noqa: E402
from training.synth import KINDS, synthesize  # noqa: E402

SCENARIOS = {"crack": ("crack",), "scratch": ("scratch",), "dust": ("dust",), "all": KINDS}
TOL = 2.0
RESTORE_SIDE = 800


def cpu_model() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    return next((l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name")), "unknown")


SPLIT_NAMES = {"val": "validation", "val2": "round-2 validation", "tune": "tuning", "check2": "round-2 check",
               "val3": "round-3 validation", "val4": "round-4 validation"}


def shrunk(rgb: np.ndarray, side: int = RESTORE_SIDE) -> np.ndarray:
    """The photo with its longer side at most `side` px (the fill of large areas is slow)."""
    f = side / max(rgb.shape[:2])
    return cv2.resize(rgb, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 else rgb


def restore_print(entry: dict, i: int, s: int = 0, side: int = RESTORE_SIDE):
    """The restore rows' synthetic print of the split's i-th photo: all kinds, seed s."""
    return synthesize(shrunk(data.load_rgb(entry["path_on_disk"]), side), 20_000 + 100 * i + s, KINDS)


def restore_psnr(photos, seeds: int, sensitivity: float, side: int = RESTORE_SIDE) -> dict:
    """PSNR against the undamaged aged print after the damage part of the restore (detect +
    repair: photoforge.ops.restore with denoise and colour off, since both change the
    undamaged pixels on purpose and the reference is the print before damage), per detector,
    beside the damaged input and cv2.inpaint Telea (radius 3) handed the true mask. All
    eight kinds at once ("all" scenario), seeds as above, photos shrunk to `side` px (the
    fill of large areas is slow). Means over photos × seeds."""
    from photoforge.core.image import ImageData
    from photoforge.ops.restore import RestoreOptions, restore

    rows: dict[str, list[float]] = {}
    shares: dict[str, list[float]] = {}
    found = {k: np.zeros(2, np.int64) for k in KINDS}
    for i, e in enumerate(photos):
        for s in range(seeds):
            smp = restore_print(e, i, s, side)
            out = {"damaged": smp.image,
                   "telea, true mask": cv2.inpaint(smp.image, smp.mask.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)}
            for det in ("learned", "classical", "both"):
                opts = RestoreOptions(detector=det, sensitivity=sensitivity, denoise=False, color=False)
                res = restore(ImageData(smp.image), opts)
                out[f"restore, {det}"] = res.image.pixels
                if det == "learned":
                    where_the_error_is(res.image.pixels, res.damage, smp, shares, found)
            out["restore's repair, true mask"] = restore(
                ImageData(smp.image), RestoreOptions(denoise=False, color=False),
                mask=smp.mask.astype(np.uint8) * 255).image.pixels
            for k, v in out.items():
                rows.setdefault(k, []).append(psnr(v, smp.base))
        print(f"  restore {i + 1}/{len(photos)} {e['file']}", flush=True)
    out = {k: round(float(np.mean(v)), 2) for k, v in rows.items()}
    out["learned: share of its squared error"] = {k: round(float(np.mean(v)), 3) for k, v in shares.items()}
    out["learned: share of each kind's pixels found"] = {k: round(float(c[0] / max(1, c[1])), 3)
                                                         for k, c in found.items()}
    return out


def where_the_error_is(restored, damage, smp, shares: dict, found: dict) -> None:
    """What is left of the gap to the undamaged print, kind by kind: the share of the
    restore's squared error on each kind's pixels (a pixel two kinds drew counts for the
    first in KINDS) and on no kind's (what the repair changed that was not damaged), and the
    share of each kind's pixels the restore's mask covered. Appended to `shares`, added to `found`."""
    se = ((restored.astype(np.float64) - smp.base) ** 2).sum(axis=2)
    total = max(float(se.sum()), 1e-9)
    left = np.ones(se.shape, bool)
    hit = damage > 0 if damage is not None else np.zeros(se.shape, bool)
    for k in KINDS:
        m = smp.masks[k]
        shares.setdefault(k, []).append(float(se[m & left].sum()) / total)
        found[k] += (int((m & hit).sum()), int(m.sum()))
        left &= ~m
    shares.setdefault("no kind", []).append(float(se[left].sum()) / total)


def interleaved_times(fns: dict, reps: int = 3) -> dict[str, float]:
    """Median seconds per function, the functions run in turn within each repetition."""
    for fn in fns.values():
        fn()
    ts = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            ts[k].append(time.perf_counter() - t)
    return {k: round(float(np.median(v)), 3) for k, v in ts.items()}


def merged(old: dict, new: dict) -> dict:
    """`new` over `old`, nested dicts merged key by key (a run without --restore keeps the
    recorded restore figures, a run without "both" keeps its column)."""
    out = dict(old)
    for k, v in new.items():
        out[k] = merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def readme_image(path: Path, detector: str, seed: int = 7) -> None:
    """README figure: astronaut.jpg (a README sample, held out of training and tuning) as a
    synthetic aged, damaged print | the damage the restore found, in red | after the restore
    (denoise and repair; colour off, to compare with the undamaged print) | the undamaged print."""
    from photoforge.core.image import ImageData
    from photoforge.ops.restore import PRESETS, restore

    rgb = np.ascontiguousarray(cv2.imread(str(ROOT / "resources" / "samples" / "astronaut.jpg"))[..., ::-1])
    smp = synthesize(rgb, seed, tuple(k for k in KINDS if k != "tear"))
    opts = PRESETS["standard"].__class__(**{**PRESETS["standard"].__dict__, "detector": detector, "color": False})
    res = restore(ImageData(smp.image.copy()), opts)
    out, mask = res.image.pixels, res.damage > 0
    ys, xs = slice(10, 410), slice(60, 460)
    bgr = lambda a: cv2.cvtColor(np.ascontiguousarray(a[ys, xs]), cv2.COLOR_RGB2BGR)  # noqa: E731
    over = bgr(smp.image).copy()
    over[mask[ys, xs]] = (0, 0, 255)
    gap = np.full((400 + 26, 8, 3), 255, np.uint8)
    f1 = metrics.f1(mask, smp.mask, TOL)
    panels = [label(bgr(smp.image), f"aged, damaged (synthetic): {psnr(smp.image, smp.base):.1f} dB"), gap,
              label(over, f"found ({detector}): F1 {f1:.2f} at 2 px"), gap,
              label(bgr(out), f"restored: {psnr(out, smp.base):.1f} dB"), gap,
              label(bgr(smp.base), "the print before damage")]
    img = np.hstack(panels)
    cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"wrote {path} ({img.shape[1]}×{img.shape[0]}); whole photo: damaged {psnr(smp.image, smp.base):.2f} dB,"
          f" restored {psnr(out, smp.base):.2f} dB, detector F1 {f1:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--sensitivity", type=float, default=0.5, help="classical detector")
    ap.add_argument("--threshold", type=float, help="learned detector (default: the model card's)")
    ap.add_argument("--corpus", type=Path, default=corpus.DEFAULT_OUT)
    ap.add_argument("--model", type=Path, default=onnx_infer.MODEL)
    ap.add_argument("--limit", type=int, default=0, help="first N validation photos only (quick look)")
    ap.add_argument("--record", action="store_true", help="merge the figures into the model card")
    ap.add_argument("--split", default="val", choices=("val", "val2", "tune", "check2", "val3", "val4"),
                    help="val: the held-out photos (default); val2: those added to the corpus in round 2; "
                         "tune: the train split's tuning subset; check2: round 2's train photos held back "
                         "from training and mining (training/data.py N_CHECK2)")
    ap.add_argument("--restore", type=int, default=0, metavar="N",
                    help="also the restore's PSNR against Telea on the true mask, on the first N photos")
    ap.add_argument("--no-classical", action="store_true", help="the learned model only (e.g. another model file)")
    ap.add_argument("--tta", default=f"{learned_damage.TTA}:{learned_damage.TTA_MEAN}", metavar="VIEWS[:MEAN]",
                    help="test-time augmentation for the learned detector: off, h or hv, :logit or :prob"
                         " (default: the app's)")
    ap.add_argument("--readme-image", type=Path, help="only write the README before/after figure here")
    ap.add_argument("--readme-detector", default="learned", choices=("learned", "classical", "both"))
    args = ap.parse_args()
    cv2.setNumThreads(2)
    if args.readme_image:
        readme_image(args.readme_image, args.readme_detector)
        return
    card_path = args.model.with_suffix(".json")
    card = json.loads(card_path.read_text()) if card_path.exists() else {}
    tta, _, mean = args.tta.partition(":")
    mean = mean or "logit"
    aug = card.get("tta") or {}
    if tta != "off" and args.threshold is None and ((aug.get("views"), aug.get("mean")) != (tta, mean)
                                                     or aug.get("threshold") is None):
        ap.error(f"the card has no threshold for --tta {tta}:{mean}: give --threshold")
    # the restore (--restore) goes through the app, which reads its threshold from the card
    # (not --threshold: a threshold given here is the detectors' rows' only)
    learned_damage.TTA, learned_damage.TTA_MEAN = tta, mean
    card_thr = aug.get("threshold") if tta != "off" else card.get("threshold", 0.5)
    thr = args.threshold if args.threshold is not None else card_thr
    sess = onnx_infer.session(args.model)
    predict = lambda img: onnx_infer.predict_tta(sess, img, tta, mean)  # noqa: E731
    photos = data.split_photos(args.corpus)[args.split]
    if args.limit:
        photos = photos[:args.limit]

    def run_all(img):
        prob = predict(img)
        out = {"learned": prob >= thr, "learned+post": mask_from_probability(prob, 0.5, base=thr, pixels=img) > 0}
        if not args.no_classical:
            classical = detect_damage(img, args.sensitivity)
            out["classical"] = classical > 0
            out["both"] = fuse(prob, classical, 0.5, base=thr, pixels=img) > 0
        return out

    dets = ("learned", "learned+post") + (() if args.no_classical else ("classical", "both"))
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
    print(f"{SPLIT_NAMES[args.split]} photos: {len(photos)}, seeds per photo: {args.seeds}, tolerance {TOL:g} px; "
          f"learned threshold {thr}, TTA {tta}" + (f" (mean of {mean}s)" if tta != "off" else "")
          + f", classical sensitivity {args.sensitivity}")
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

    rgb = data.load_rgb(photos[0]["path_on_disk"])
    two = cv2.resize(rgb, (1920, 1080), interpolation=cv2.INTER_AREA)
    timed = {"learned": lambda: predict(two) >= thr,
             "learned+post": lambda: mask_from_probability(predict(two), 0.5, base=thr, pixels=two)}
    if tta != "off":
        thr0 = card.get("threshold", 0.5)
        timed["learned+post, no tta"] = lambda: mask_from_probability(onnx_infer.predict(sess, two), 0.5, base=thr0,
                                                                      pixels=two)
    if not args.no_classical:
        timed["classical"] = lambda: detect_damage(two, args.sensitivity)
        timed["both"] = lambda: fuse(predict(two), detect_damage(two, args.sensitivity), 0.5, base=thr, pixels=two)
    fig["time_2mp_s"] = interleaved_times(timed)
    print("time, 2 MP (1920×1080): " + "  ".join(f"{d} {t:.2f} s" for d, t in fig["time_2mp_s"].items()))
    if args.restore:
        fig["restore_psnr_db"] = {
            "photos": f"first {args.restore} {args.split} photos at {RESTORE_SIDE} px, {args.seeds} seeds, all kinds",
            **restore_psnr(photos[:args.restore], args.seeds, args.sensitivity)}
        print("PSNR vs the undamaged print, all kinds (mean dB): "
              + "  ".join(f"{k} {v:.2f}" for k, v in fig["restore_psnr_db"].items()
                          if not isinstance(v, (str, dict))))
        for k, v in fig["restore_psnr_db"].items():
            if isinstance(v, dict):
                print(f"{k}: " + "  ".join(f"{kind} {x:.3f}" for kind, x in v.items()))
    if args.record and card and not args.limit:
        key = {"val": "validation", "val2": "validation2"}.get(args.split, args.split)
        card = json.loads(card_path.read_text())  # as it is now: another split's run may have recorded meanwhile
        fig = {**fig, "cpu": cpu_model(), "bench": "bench/bench_detector.py" + (f" --tta {args.tta}" if tta != "off" else "")}
        if tta != "off":
            card.setdefault("tta", {})[key] = merged(card["tta"].get(key, {}), fig)
        else:
            card[key] = merged(card.get(key, {}), fig)
        card_path.write_text(json.dumps(card, indent=1) + "\n")
        print(f"recorded in {card_path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
