"""Automatic fade correction against its peers, on held-out corpus photos.

    PYTHONPATH=. python bench/bench_fade.py [--split val] [--side 640] [--details]

Photos: the public corpus (training/corpus_manifest.json, `python -m training.corpus
build`), the split given (report figures on `val`; tune on `train` only), downsized to
--side px, each with the variants and fade models of bench/fade_cases.py (golden hour,
tungsten, shade, snow-like high key, night-like low key, mono, sepia; cyan dye loss,
yellowed base, compressed range, silver print, sepia print).

Clean photos: PSNR of the default restore's colour stage (`correct_color` with
RestoreOptions().color_options) against its input; the goal is ≥ 35 dB for every photo
and a median ≥ 45 dB. The peers' PSNR is printed beside it.

Faded photos: mean CIEDE2000 (skimage) and PSNR against the unfaded original, for the
faded input, ours and each peer, per fade model, and how many each makes worse than the
faded input (ΔE up by more than 0.05).

"Ours, told faded" is the same stage with the user's word that the photo is a faded print
(`restore --color faded`, ColorOptions.faded_print): its faded rows are what that mode is
for; its clean and hazy rows show what it does to a photo wrongly called faded.

Peers (maths implemented here, applied to every photo whether faded or not):
  * ImageMagick `-auto-level`: the exact minimum and maximum over all channels together
    (IM's default channel sync) stretched to 0 and 1;
  * GIMP-style stretch (Colors ▸ Auto ▸ White Balance): per channel, 0.05 % of the pixels
    discarded at each end, the rest stretched to 0 and 1;
  * grey-world: each channel scaled so its mean equals the mean of the three means.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fade_cases import (BORDER_VARIANTS, FADES, HAZES, VARIANTS, bordered_clean_cases, bordered_fade_cases,
                        clean_cases, fade_cases, haze_cases)

from photoforge.ops.color import correct_color, measure_fading
from photoforge.ops.restore import RestoreOptions

WORSE = 0.05  # ΔE2000 by which a result must exceed the faded input's to count as worse


def im_auto_level(p: np.ndarray) -> np.ndarray:
    lo, hi = float(p.min()), float(p.max())
    if hi <= lo:
        return p.copy()
    return np.rint((p.astype(np.float64) - lo) / (hi - lo) * 255).clip(0, 255).astype(np.uint8)


def gimp_stretch(p: np.ndarray) -> np.ndarray:
    out = np.empty_like(p)
    for c in range(p.shape[2]):
        ch = p[..., c].astype(np.float64)
        lo, hi = np.percentile(ch, [0.05, 99.95])
        out[..., c] = p[..., c] if hi <= lo else np.rint((ch - lo) / (hi - lo) * 255).clip(0, 255)
    return out


def grey_world(p: np.ndarray) -> np.ndarray:
    f = p.astype(np.float64)
    means = f.reshape(-1, 3).mean(axis=0)
    gains = means.mean() / np.maximum(means, 1e-6)
    return np.rint(f * gains).clip(0, 255).astype(np.uint8)


def ours(p: np.ndarray) -> np.ndarray:
    return correct_color(p, RestoreOptions().color_options)


def ours_told_faded(p: np.ndarray) -> np.ndarray:
    """The restore's colour stage with "faded print" ticked (the user says it is one)."""
    return correct_color(p, replace(RestoreOptions().color_options, faded_print=True))


METHODS = {"ours": ours, "ours, told faded": ours_told_faded, "IM -auto-level": im_auto_level,
           "GIMP 0.05%": gimp_stretch, "grey-world": grey_world}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def delta_e(a: np.ndarray, b: np.ndarray) -> float:
    return float(deltaE_ciede2000(rgb2lab(a), rgb2lab(b)).mean())


def cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except Exception:  # noqa: BLE001
        return "unknown"


def clean_table(split: str, side: int, details: bool) -> None:
    cases = clean_cases(split, side)
    n = len(cases)
    _unchanged_table(cases, VARIANTS, details,
                     f"clean photos ({split} split): {n} = {n // len(VARIANTS)} photos × {len(VARIANTS)} variants")


def haze_table(split: str, side: int, details: bool) -> None:
    cases = haze_cases(split, side)
    n = len(cases)
    _unchanged_table(cases, HAZES, details,
                     f"hazy scenes ({split} split, clean: lifted blacks from the air, not a fade):"
                     f" {n} = {n // len(HAZES)} photos × {len(HAZES)} veils")


def _unchanged_table(cases, kinds, details: bool, title: str) -> None:
    """PSNR of each method's output against its input: a clean photo should come back as it was."""
    scores = {m: [] for m in METHODS}
    per_kind = {v: [] for v in kinds}
    for case in cases:
        for name, method in METHODS.items():
            scores[name].append(psnr(method(case.input), case.input))
        per_kind[case.kind].append(scores["ours"][-1])
        if details:
            print(f"  {case.name[:38]:38s} {case.kind:9s} {measure_fading(case.input).describe():28s}"
                  f" ours {scores['ours'][-1]:5.1f} dB")
    n = len(cases)
    print(f"\n{title}; PSNR of the output against the input (99 = unchanged)")
    print(f"  {'method':16s} {'min':>6s} {'median':>7s} {'mean':>6s} {'≥ 35 dB':>8s} {'unchanged':>10s}")
    for name, s in scores.items():
        print(f"  {name:16s} {min(s):6.1f} {statistics.median(s):7.1f} {statistics.mean(s):6.1f}"
              f" {sum(v >= 35 for v in s):4d}/{n:<3d} {sum(v >= 99 for v in s):6d}/{n}")
    print("  ours by kind (min / median dB, count):  " + "  ".join(
        f"{k} {min(v):.1f}/{statistics.median(v):.1f} ({len(v)})" for k, v in per_kind.items() if v))


def fade_table(split: str, side: int, details: bool, cases=None, what: str = "faded photos") -> None:
    cases = fade_cases(split, side) if cases is None else cases
    rows = {model: {m: [] for m in ["faded", *METHODS]} for model in FADES}
    worse = {model: {m: 0 for m in METHODS} for model in FADES}
    better = {model: {m: 0 for m in METHODS} for model in FADES}
    psnrs = {model: {m: [] for m in ["faded", *METHODS]} for model in FADES}
    words = {model: [] for model in FADES}
    for case in cases:
        base = delta_e(case.input, case.original)
        rows[case.kind]["faded"].append(base)
        psnrs[case.kind]["faded"].append(psnr(case.input, case.original))
        report = measure_fading(case.input)
        words[case.kind].append(report.describe())
        for name, method in METHODS.items():
            out = method(case.input)
            de = delta_e(out, case.original)
            rows[case.kind][name].append(de)
            psnrs[case.kind][name].append(psnr(out, case.original))
            worse[case.kind][name] += de > base + WORSE
            better[case.kind][name] += de < base - WORSE
        if details:
            print(f"  {case.name[:38]:38s} {case.kind:11s} s {case.s:.2f} {report.describe():28s}"
                  f" conf {report.confidence:.2f} ΔE faded {base:5.2f} ours {rows[case.kind]['ours'][-1]:5.2f}")
    n = len(cases) // len(FADES)
    print(f"\n{what} ({split} split): {n} photos × {len(FADES)} fade models, strength 0.35–1;"
          " mean CIEDE2000 to the unfaded original (lower is better), mean PSNR in brackets;"
          " better/worse = photos ending better/worse than the faded input (by > 0.05 ΔE)")
    header = f"  {'model':12s} {'faded':>14s}" + "".join(f" {m:>25s}" for m in METHODS)
    print(header)
    everything = {m: [] for m in ["faded", *METHODS]}
    total_worse = {m: 0 for m in METHODS}
    total_better = {m: 0 for m in METHODS}
    for model in FADES:
        line = f"  {model:12s} {statistics.mean(rows[model]['faded']):5.2f} ({statistics.mean(psnrs[model]['faded']):4.1f} dB)"
        everything["faded"] += rows[model]["faded"]
        for m in METHODS:
            everything[m] += rows[model][m]
            total_worse[m] += worse[model][m]
            total_better[m] += better[model][m]
            line += (f" {statistics.mean(rows[model][m]):5.2f} ({statistics.mean(psnrs[model][m]):4.1f})"
                     f" {better[model][m]:2d}/{worse[model][m]:<2d}")
        print(line)
    line = f"  {'all':12s} {statistics.mean(everything['faded']):5.2f}{'':9s}"
    for m in METHODS:
        line += f" {statistics.mean(everything[m]):5.2f}{'':8s} {total_better[m]:2d}/{total_worse[m]:<2d}"
    print(line)
    for model in FADES:
        counts = {w: words[model].count(w) for w in sorted(set(words[model]))}
        print(f"  ours says, {model}: " + ", ".join(f"{w} ×{c}" for w, c in counts.items()))


def bordered_tables(split: str, side: int, details: bool) -> None:
    """The same photos as prints with a white paper border (fade_cases.bordered): clean ones
    under each light, and the fade models over the whole print, border and all."""
    cases = bordered_clean_cases(split, side)
    _unchanged_table(cases, BORDER_VARIANTS, details,
                     f"clean bordered prints ({split} split): {len(cases)} = {len(cases) // len(BORDER_VARIANTS)}"
                     f" photos × {len(BORDER_VARIANTS)} variants")
    fade_table(split, side, details, bordered_fade_cases(split, side), "faded bordered prints")


def speed() -> None:
    rng = np.random.default_rng(0)
    big = rng.integers(40, 200, (4000, 6000, 3), dtype=np.uint8)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        measure_fading(big)
        times.append(time.perf_counter() - t0)
    print(f"\nmeasure_fading on 24 MP uint8: median {statistics.median(times) * 1000:.0f} ms of 3")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="val", choices=["train", "val", "train2", "val2", "val3", "val4"],
                        help="val: the first round's held-out photos; val2, val3, val4: those added in rounds 2-4")
    parser.add_argument("--side", type=int, default=640, help="long side of the downsized photos")
    parser.add_argument("--details", action="store_true", help="one line per photo")
    parser.add_argument("--no-speed", action="store_true")
    args = parser.parse_args()
    import cv2
    cv2.setNumThreads(1)
    print(f"CPU: {cpu()}")
    clean_table(args.split, args.side, args.details)
    haze_table(args.split, args.side, args.details)
    fade_table(args.split, args.side, args.details)
    bordered_tables(args.split, args.side, args.details)
    if not args.no_speed:
        speed()


if __name__ == "__main__":
    main()
