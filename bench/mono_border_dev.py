"""Grey and sepia prints with a white paper border, on a dev split: how many clean ones the
default colour stage leaves ≥ 35 dB, and the mean CIEDE2000 on silver and sepia fades of the
bordered prints (fade_cases), with the rule for a neutral picture inside a warm paper on and off
(photoforge.ops.color.NEUTRAL_PICTURE_RULE).

    PYTHONPATH=. python bench/mono_border_dev.py --split train2
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fade_cases as fc  # noqa: E402
from bench_fade import delta_e, ours  # noqa: E402

from photoforge.ops import color  # noqa: E402


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 99.0 if mse == 0 else min(99.0, 10 * np.log10(255.0 ** 2 / mse))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default="train2")
    ap.add_argument("--side", type=int, default=640)
    args = ap.parse_args()
    rows = {True: {}, False: {}}
    for stem, base in fc._bases(args.split, args.side):
        print_ = fc.bordered(base, stem)
        cases = [(v, fc.bordered(fc.variant(base, v), stem), None) for v in ("mono", "sepia")]
        for model in ("silver", "sepia"):
            orig, faded = fc.faded(print_, model, fc.strength(stem, model))
            cases.append((model + " fade", faded, orig))
        for rule in (False, True):
            color.NEUTRAL_PICTURE_RULE = rule
            for name, img, orig in cases:
                out = ours(img)
                v = psnr(out, img) if orig is None else delta_e(out, orig)
                rows[rule].setdefault(name, []).append(v)
                if orig is None and rule and v < 35:
                    print(f"  {stem} {name}: {v:.1f} dB", flush=True)
    for rule in (False, True):
        parts = []
        for name, v in rows[rule].items():
            v = np.array(v)
            parts.append(f"{name}: ≥35 dB {int((v >= 35).sum())}/{len(v)} (min {v.min():.1f})" if "fade" not in name
                         else f"{name}: ΔE {v.mean():.3f}")
        print(f"rule {'on ' if rule else 'off'}  " + "  ".join(parts))


if __name__ == "__main__":
    main()
