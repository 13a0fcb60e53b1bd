"""How photoforge/ops/torn_edges.py's rules were chosen: on the round-2 check photos only
(never on a validation photo), each rule set scored for
- the share of the synthetic tears' pixels in the mask, before → after (all kinds at once);
- pixels added outside the damage, with all kinds and with one kind at a time (cracks,
  scratches, dust: a tear rule has nothing to find there);
- pixels added on the clean photos as stored, at 800 and at 256 px;
- on the two README samples at 512 px: tears found with 6 seeds, and pixels added clean.

    PYTHONPATH=. python training/runs/torn_edges/sweep_rules.py [--photos 40]
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
from photoforge.ops.learned_damage import damage_probability, mask_from_probability  # noqa: E402
from photoforge.ops.torn_edges import TORN, torn_regions  # noqa: E402
from tests.training.conftest import sample  # noqa: E402
from training import corpus, data  # noqa: E402
from training.synth import KINDS, synthesize  # noqa: E402

VARIANTS = {
    "shipped": TORN,
    "no look across the marks": dataclasses.replace(TORN, alike_max=1.0),
    "no mask cover either": dataclasses.replace(TORN, alike_max=1.0, mask_cover=0.0),
    "ring p 0.2": dataclasses.replace(TORN, ring_p=0.2),
    "chroma 14": dataclasses.replace(TORN, chroma=14.0),
    "ring p 0.02": dataclasses.replace(TORN, ring_p=0.02),
    "ring p 0.01": dataclasses.replace(TORN, ring_p=0.01),
    "ring p 0.005": dataclasses.replace(TORN, ring_p=0.005),
    "ring p 0.01, mask cover 0.05": dataclasses.replace(TORN, ring_p=0.01, mask_cover=0.05),
    "ring cover 0.6": dataclasses.replace(TORN, ring_cover=0.6),
    "ring cover 0.5": dataclasses.replace(TORN, ring_cover=0.5),
    "ring cover 0.45": dataclasses.replace(TORN, ring_cover=0.45),
    "ring cover 0.45, mask cover 0.05": dataclasses.replace(TORN, ring_cover=0.45, mask_cover=0.05),
    "ring cover 0.45, mask cover 0.05, std 3": dataclasses.replace(TORN, ring_cover=0.45, mask_cover=0.05,
                                                                   region_std=3.0),
    "mask cover 0.05, std 3": dataclasses.replace(TORN, mask_cover=0.05, region_std=3.0),
    "ring p 0.02, mask cover 0.05, std 3": dataclasses.replace(TORN, ring_p=0.02, mask_cover=0.05, region_std=3.0),
}


def shrink(rgb: np.ndarray, side: int) -> np.ndarray:
    f = side / max(rgb.shape[:2])
    return cv2.resize(rgb, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 else rgb


def maps(img: np.ndarray):
    prob = damage_probability(img)
    return img, prob, mask_from_probability(prob) > 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=40)
    args = ap.parse_args()
    cases = []  # (name, image, prob, mask, truth or None)
    for i, e in enumerate(data.split_photos(corpus.DEFAULT_OUT)["check2"][:args.photos]):
        rgb = data.load_rgb(e["path_on_disk"])
        small = shrink(rgb, 800)
        damaged = synthesize(small, 20_000 + 100 * i, KINDS)
        cases.append(("all", *maps(damaged.image), damaged))
        for kind in ("crack", "scratch", "dust"):
            one = synthesize(rgb, 20_000 + 100 * i, (kind,))
            cases.append((kind, *maps(one.image), one))
        cases.append(("clean 800", *maps(small), None))
        cases.append(("clean 256", *maps(shrink(rgb, 256)), None))
        print(f"  {i + 1} {e['file']}", flush=True)
    for name in ("astronaut.jpg", "coffee.jpg"):
        rgb = sample(name, 512)
        cases.append(("sample clean", *maps(rgb), None))
        for seed in range(6):
            s = synthesize(rgb, 700 + seed, ("tear",))
            cases.append(("sample tear", *maps(s.image), s))
    for label, rules in VARIANTS.items():
        tears = {"all": np.zeros(3), "sample tear": np.zeros(3)}
        added: dict[str, int] = {}
        for name, img, prob, mask, smp in cases:
            new = torn_regions(img, prob, mask, rules) & ~mask
            if smp is None:
                added[name] = added.get(name, 0) + int(new.sum())
                continue
            damage = cv2.dilate(smp.mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
            added[name] = added.get(name, 0) + int((new & ~damage).sum())
            if name in tears:
                tear = smp.masks["tear"]
                tears[name] += ((mask & tear).sum(), ((mask | new) & tear).sum(), tear.sum())
        found = "  ".join(f"{k} {t[0] / t[2]:.3f} → {t[1] / t[2]:.3f}" for k, t in tears.items())
        print(f"{label}: tears found {found}; px added outside damage / clean: "
              + ", ".join(f"{k} {v}" for k, v in added.items()), flush=True)


if __name__ == "__main__":
    main()
