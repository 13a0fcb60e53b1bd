"""Tuning loop for the automatic fade correction, on the corpus's train split only.

    PYTHONPATH=. python bench/tune_fade.py [--set NAME=VALUE ...] [--details] [--only clean|haze|faded|traps]

bench_fade.py's cases and metrics (PSNR of clean photos against themselves, CIEDE2000 of
faded ones to their original, "worse" = ΔE up by more than 0.05), but the photos, the
originals' Lab and the peers' scores are cached (~/.cache/photoforge-tune), so a run costs
only our own correction and its ΔE. --set overrides a constant of photoforge.ops.color for
the run (e.g. --set MONO_LIFT_RAMP=0.5,0.7). The traps (fade_cases.TRAPS: red crops, a
warm veil on grey scenes) and the red crops' fades are reported last. There is no --split:
the val split is for reporting with bench_fade.py, never for tuning.
"""
from __future__ import annotations

import argparse
import pickle
import statistics
import sys
from pathlib import Path

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_fade import METHODS, WORSE, psnr  # noqa: E402
from fade_cases import (FADES, HAZES, TRAP_FADES, TRAPS, VARIANTS, clean_cases, fade_cases, haze_cases,  # noqa: E402
                        trap_cases, trap_fade_cases)

import photoforge.ops.color as color  # noqa: E402

CACHE = Path.home() / ".cache" / "photoforge-tune"
PEERS = [m for m in METHODS if not m.startswith("ours")]  # cached: our own methods change as they are tuned
KINDS: set[str] | None = None  # --kinds: only these variants / fade models


def _cached(name: str, build):
    path = CACHE / name
    if path.exists():
        return pickle.loads(path.read_bytes())
    value = build()
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(value))
    return value


def _clean(side: int):
    def build():
        cases = clean_cases("train", side)
        return [(c.name, c.kind, c.input, {m: psnr(METHODS[m](c.input), c.input) for m in PEERS})
                for c in cases]
    return _cached(f"clean_train_{side}.pkl", build)


def _hazy(side: int):
    def build():
        return [(c.name, c.kind, c.input, {m: psnr(METHODS[m](c.input), c.input) for m in PEERS})
                for c in haze_cases("train", side)]
    return _cached(f"haze_train_{side}.pkl", build)


def _faded(side: int):
    def build():
        out = []
        for c in fade_cases("train", side):
            lab = rgb2lab(c.original).astype(np.float32)
            base = float(deltaE_ciede2000(rgb2lab(c.input), lab).mean())
            peers = {m: float(deltaE_ciede2000(rgb2lab(METHODS[m](c.input)), lab).mean()) for m in PEERS}
            out.append((c.name, c.kind, c.s, c.input, lab, base, peers))
        return out
    return _cached(f"faded_train_{side}.pkl", build)


def _traps(side: int):
    def build():
        return [(c.name, c.kind, c.input, {}) for c in trap_cases("train", side)]
    return _cached(f"traps_train_{side}.pkl", build)


def _trap_fades(side: int):
    def build():
        out = []
        for c in trap_fade_cases("train", side):
            lab = rgb2lab(c.original).astype(np.float32)
            out.append((c.name, c.kind, c.s, c.input, lab, float(deltaE_ciede2000(rgb2lab(c.input), lab).mean())))
        return out
    return _cached(f"trap_fades_train_{side}.pkl", build)


def trap_report(side: int, details: bool) -> None:
    """The traps (fade_cases.TRAPS) and the red crops' fades: train photos only."""
    cases = [c for c in _traps(side) if KINDS is None or c[1] in KINDS]
    ours = [psnr(color.correct_color(img), img) for _, _, img, _ in cases]
    for kind in TRAPS:
        s = [o for o, c in zip(ours, cases) if c[1] == kind]
        if s:
            print(f"trap {kind:18s} ({len(s)}): min {min(s):.1f} median {statistics.median(s):.1f}"
                  f" ≥35 {sum(v >= 35 for v in s)}/{len(s)} unchanged {sum(v >= 99 for v in s)}/{len(s)}")
    if details:
        for (name, kind, img, _), o in zip(cases, ours):
            if o < 45:
                print(f"  trap {name[:34]:34s} {kind:18s} {color.measure_fading(img).describe():28s} {o:5.1f} dB")
    for model in TRAP_FADES:
        rows = [c for c in _trap_fades(side) if c[1] == model]
        if not rows:  # no train photo gave a red crop: nothing to average
            print(f"red-crop {model:12s} (0)")
            continue
        base, de = [], []
        for name, kind, s, img, lab, b in rows:
            base.append(b)
            de.append(float(deltaE_ciede2000(rgb2lab(color.correct_color(img)), lab).mean()))
            if details and abs(de[-1] - b) > WORSE:
                print(f"  red-crop {name[:30]:30s} {kind:11s} s {s:.2f} ΔE {b:5.2f} → {de[-1]:5.2f}"
                      f"{' WORSE' if de[-1] > b + WORSE else ''}")
        print(f"red-crop {model:12s} ({len(rows)}): faded {statistics.mean(base):5.2f} ours {statistics.mean(de):5.2f}"
              f" ({sum(d < b - WORSE for d, b in zip(de, base))}/{sum(d > b + WORSE for d, b in zip(de, base))})")


def _override(assignments: list[str]) -> None:
    for item in assignments:
        name, value = item.split("=", 1)
        old = getattr(color, name)
        parts = [float(v) for v in value.split(",")]
        setattr(color, name, tuple(parts) if isinstance(old, tuple) else type(old)(parts[0]))


def clean_report(side: int, details: bool, hazy: bool = False) -> None:
    cases = [c for c in (_hazy if hazy else _clean)(side) if KINDS is None or c[1] in KINDS]
    if not cases:
        return
    ours = []
    for name, kind, img, _ in cases:
        ours.append(psnr(color.correct_color(img), img))
        if details and ours[-1] < 45:
            print(f"  clean {name[:34]:34s} {kind:9s} {color.measure_fading(img).describe():28s} {ours[-1]:5.1f} dB")
    n = len(cases)
    print(f"{'hazy' if hazy else 'clean'} ({n}): ours min {min(ours):.1f} median {statistics.median(ours):.1f}"
          f" ≥35 {sum(v >= 35 for v in ours)}/{n} unchanged {sum(v >= 99 for v in ours)}/{n}")
    for m in PEERS:
        s = [c[3][m] for c in cases]
        print(f"  {m:16s} min {min(s):.1f} median {statistics.median(s):.1f} ≥35 {sum(v >= 35 for v in s)}/{n}")
    for v in HAZES if hazy else VARIANTS:
        s = [o for o, c in zip(ours, cases) if c[1] == v]
        if not s:
            continue
        print(f"  {v}: {min(s):.1f}/{statistics.median(s):.1f}", end="")
    print()


def faded_report(side: int, details: bool) -> None:
    cases = [c for c in _faded(side) if KINDS is None or c[1] in KINDS]
    if not cases:
        return
    rows = {f: {"faded": [], "ours": [], **{m: [] for m in PEERS}} for f in FADES}
    counts = {f: [0, 0] for f in FADES}
    for name, kind, s, img, lab, base, peers in cases:
        out = color.correct_color(img)
        de = float(deltaE_ciede2000(rgb2lab(out), lab).mean())
        rows[kind]["faded"].append(base)
        rows[kind]["ours"].append(de)
        for m in PEERS:
            rows[kind][m].append(peers[m])
        counts[kind][0] += de < base - WORSE
        counts[kind][1] += de > base + WORSE
        if details:
            r = color.measure_fading(img)
            flag = " WORSE" if de > base + WORSE else ""
            print(f"  faded {name[:34]:34s} {kind:11s} s {s:.2f} {r.describe():26s} conf {r.confidence:.2f}"
                  f" ΔE {base:5.2f} → {de:5.2f} (IM {peers['IM -auto-level']:5.2f}){flag}")
    print(f"faded: {'model':12s} faded  ours (better/worse)  " + "  ".join(f"{m}" for m in PEERS))
    everything = {k: [] for k in rows[FADES[0]]}
    for f in [f for f in FADES if rows[f]["faded"]]:
        for k, v in rows[f].items():
            everything[k] += v
        print(f"  {f:12s} {statistics.mean(rows[f]['faded']):5.2f} {statistics.mean(rows[f]['ours']):5.2f}"
              f" ({counts[f][0]}/{counts[f][1]})  " + "  ".join(f"{statistics.mean(rows[f][m]):5.2f}" for m in PEERS))
    print(f"  {'all':12s} {statistics.mean(everything['faded']):5.2f} {statistics.mean(everything['ours']):5.2f}"
          f" ({sum(c[0] for c in counts.values())}/{sum(c[1] for c in counts.values())})  "
          + "  ".join(f"{statistics.mean(everything[m]):5.2f}" for m in PEERS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=640)
    parser.add_argument("--set", action="append", default=[], help="NAME=VALUE[,VALUE]: a constant of ops.color")
    parser.add_argument("--only", choices=["clean", "haze", "faded", "traps"])
    parser.add_argument("--details", action="store_true")
    parser.add_argument("--kinds", help="comma-separated variants / fade models to run (default: all)")
    args = parser.parse_args()
    import cv2
    cv2.setNumThreads(1)
    _override(args.set)
    if args.kinds:
        global KINDS
        KINDS = set(args.kinds.split(","))
    if args.only in (None, "clean"):
        clean_report(args.side, args.details)
    if args.only in (None, "haze"):
        clean_report(args.side, args.details, hazy=True)
    if args.only in (None, "faded"):
        faded_report(args.side, args.details)
    if args.only in (None, "traps"):
        trap_report(args.side, args.details)


if __name__ == "__main__":
    main()
