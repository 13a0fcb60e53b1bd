"""Dev loop for restore's "faded print" mode (ColorOptions.faded_print: the user says the photo
is a faded print): the fade models of bench/fade_cases.py on a development split only (train,
train2), mean CIEDE2000 to the original per model, ours as the default restore and as told
faded, beside the peers; and what told faded does to the clean variants (PSNR against the
input: a photo wrongly called faded), and to hazy scenes.

    PYTHONPATH=. python bench/told_faded_dev.py [--split train2] [--side 640] [--bordered]

Never run it on a validation split: bench_fade.py reports those.
"""
from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_fade import METHODS, WORSE, delta_e, psnr  # noqa: E402
from fade_cases import FADES, bordered_fade_cases, clean_cases, fade_cases, haze_cases  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="train2", choices=("train", "train2"))
    ap.add_argument("--side", type=int, default=640)
    ap.add_argument("--bordered", action="store_true")
    ap.add_argument("--no-clean", action="store_true")
    args = ap.parse_args()
    cases = bordered_fade_cases(args.split, args.side) if args.bordered else fade_cases(args.split, args.side)
    rows = {m: {k: [] for k in FADES} for m in ["faded", *METHODS]}
    worse = {m: 0 for m in METHODS}
    for c in cases:
        base = delta_e(c.input, c.original)
        rows["faded"][c.kind].append(base)
        for name, method in METHODS.items():
            de = delta_e(method(c.input), c.original)
            rows[name][c.kind].append(de)
            worse[name] += de > base + WORSE
    print(f"{args.split}{' bordered' if args.bordered else ''}: {len(cases)} faded; mean ΔE2000 "
          + " / ".join(FADES) + ", all (worse than faded)")
    for name, r in rows.items():
        per = " / ".join(f"{statistics.mean(r[k]):5.2f}" for k in FADES)
        every = [v for k in FADES for v in r[k]]
        print(f"  {name:22s} {per}  all {statistics.mean(every):5.2f}" + (f" ({worse[name]})" if name in worse else ""))
    if args.no_clean:
        return
    for what, cs in (("clean", clean_cases(args.split, args.side)), ("hazy", haze_cases(args.split, args.side))):
        for name in ("ours", "ours, told faded"):
            s = [psnr(METHODS[name](c.input), c.input) for c in cs]
            print(f"  {what}, {name}: min {min(s):.1f}, median {statistics.median(s):.1f}, "
                  f"≥ 35 dB {sum(v >= 35 for v in s)}/{len(s)}")


if __name__ == "__main__":
    main()
