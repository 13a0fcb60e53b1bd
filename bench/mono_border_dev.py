"""Grey and sepia prints with a white paper border, on a dev split: how many clean ones the
default colour stage leaves ≥ 35 dB (and which fall under it), and the mean CIEDE2000 on silver
and sepia fades of the bordered prints (fade_cases), with photoforge.ops.color._grey_picture
(a grey picture inside a paper border is measured without it) on and off.

    PYTHONPATH=. python bench/mono_border_dev.py --split train2
"""
import argparse
import contextlib
import sys
from pathlib import Path
from unittest import mock

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fade_cases as fc  # noqa: E402
from bench_fade import cpu, delta_e, ours, psnr  # noqa: E402

from photoforge.ops import color  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="train2")
    ap.add_argument("--side", type=int, default=640)
    args = ap.parse_args()
    print(f"CPU: {cpu()}; {args.split}, long side {args.side} px")
    rows = {"on": {}, "off": {}}
    for stem, base in fc._bases(args.split, args.side):
        print_ = fc.bordered(base, stem)
        cases = [(v, fc.bordered(fc.variant(base, v), stem), None) for v in ("mono", "sepia")]
        for model in ("silver", "sepia"):
            orig, faded = fc.faded(print_, model, fc.strength(stem, model))
            cases.append((model + " fade", faded, orig))
        for rule in ("off", "on"):
            with mock.patch.object(color, "_grey_picture", lambda *a: None) if rule == "off" else contextlib.nullcontext():
                for name, img, orig in cases:
                    out = ours(img)
                    v = psnr(out, img) if orig is None else delta_e(out, orig)
                    rows[rule].setdefault(name, []).append(v)
                    if orig is None and v < 35:
                        print(f"  rule {rule}: {stem} {name}: {v:.1f} dB", flush=True)
    for rule in ("off", "on"):
        parts = []
        for name, v in rows[rule].items():
            v = np.array(v)
            parts.append(f"{name}: ≥35 dB {int((v >= 35).sum())}/{len(v)} (min {v.min():.1f})" if "fade" not in name
                         else f"{name}: ΔE {v.mean():.3f}")
        print(f"rule {rule:3s} " + "  ".join(parts))


if __name__ == "__main__":
    main()
