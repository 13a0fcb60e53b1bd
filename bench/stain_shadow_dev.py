"""Monochrome cases on a dev split, with color.STAIN_SHADOW_RAMP's factor on and off: hazy
scenes (fade_cases.HAZES, clean: ≥ 35 dB wanted) and silver and sepia fades, plain and as
bordered prints (mean CIEDE2000 to the original, and how many end worse than faded). Then the
measure the ramp reads, blue's density minus red's at black, over the cases whose stain
confidence (the ramp off) is above 0.05: where the stained prints and the misty scenes lie.

    PYTHONPATH=. python bench/stain_shadow_dev.py --split train2
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

OFF = (-1e9, -1e9 + 1)  # the ramp's factor is 1 for every value (infinities would give nan)


def shadow_warmth(img: np.ndarray) -> tuple[float, float] | None:
    """(blue's density minus red's at black, stain confidence with the ramp off) of a photo
    measured as monochrome, else None."""
    small = color._detect_proxy(img)
    if not color._mono_kind(small)[0]:
        return None
    fade = color._density_model(color._despeckled(small).reshape(-1, 3), True)
    with mock.patch.object(color, "STAIN_SHADOW_RAMP", OFF):
        return float(fade.dark[2] - fade.dark[0]), fade.stain_confidence


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="train2")
    ap.add_argument("--side", type=int, default=640)
    args = ap.parse_args()
    print(f"CPU: {cpu()}; {args.split}, long side {args.side} px")
    rows, warmth = {}, {}
    for stem, base in fc._bases(args.split, args.side):
        cases = [(h, fc.hazy(base, h), None) for h in fc.HAZES]
        for model in ("silver", "sepia"):
            s = fc.strength(stem, model)
            cases.append((model, *fc.faded(base, model, s)[::-1]))
            cases.append(("bordered " + model, *fc.faded(fc.bordered(base, stem), model, s)[::-1]))
        for name, img, _ in cases:
            w = shadow_warmth(img)
            if w is not None and w[1] > 0.05:
                warmth.setdefault(name, []).append(w[0])
        for rule in ("off", "on"):
            with mock.patch.object(color, "STAIN_SHADOW_RAMP", OFF) if rule == "off" else contextlib.nullcontext():
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
    print("blue's minus red's density at black, where the stain confidence (ramp off) > 0.05:")
    for name, v in warmth.items():
        print(f"  {name:16s} n={len(v):3d}  min {min(v):+.3f}  median {np.median(v):+.3f}  max {max(v):+.3f}")


if __name__ == "__main__":
    main()
