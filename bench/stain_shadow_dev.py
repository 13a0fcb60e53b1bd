"""Monochrome cases on a dev split, with color.STAIN_SHADOW_RAMP's factor on and off: hazy
scenes (fade_cases.HAZES, clean: ≥ 35 dB wanted) and silver and sepia fades, plain and as
bordered prints (mean CIEDE2000 to the original, and how many end worse than faded).

    PYTHONPATH=. python bench/stain_shadow_dev.py --split train2
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fade_cases as fc  # noqa: E402
from bench_fade import delta_e, ours  # noqa: E402
from mono_border_dev import psnr  # noqa: E402

from photoforge.ops import color  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="train2")
    ap.add_argument("--side", type=int, default=640)
    args = ap.parse_args()
    on = color.STAIN_SHADOW_RAMP
    rows = {}
    for stem, base in fc._bases(args.split, args.side):
        cases = [(h, fc.hazy(base, h), None) for h in fc.HAZES]
        for model in ("silver", "sepia"):
            s = fc.strength(stem, model)
            cases.append((model, *fc.faded(base, model, s)[::-1]))
            cases.append(("bordered " + model, *fc.faded(fc.bordered(base, stem), model, s)[::-1]))
        for rule, ramp in (("off", (-1e9, -1e9 + 1)), ("on", on)):
            color.STAIN_SHADOW_RAMP = ramp
            for name, img, orig in cases:
                out = ours(img)
                if orig is None:
                    rows.setdefault((rule, name), []).append(psnr(out, img))
                else:
                    rows.setdefault((rule, name), []).append((delta_e(out, orig), delta_e(img, orig)))
    for rule in ("off", "on"):
        parts = []
        for (r, name), v in rows.items():
            if r != rule:
                continue
            if name in fc.HAZES:
                v = np.array(v)
                parts.append(f"{name} ≥35 dB {int((v >= 35).sum())}/{len(v)}")
            else:
                out, faded = np.array(v).T
                parts.append(f"{name} ΔE {out.mean():.3f} worse {int((out > faded + 0.05).sum())}")
        print(f"rule {rule:3s} " + ", ".join(parts), flush=True)


if __name__ == "__main__":
    main()
