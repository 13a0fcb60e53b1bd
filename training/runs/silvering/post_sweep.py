"""The post-processing's speck rule and low threshold, swept on a split's photos (the
network run once per photo and scenario): F1 at 2 px per single-kind scenario and clean
flags as stored and aged, as bench_detector scores them (--seeds 1). `score` is shared
with photo_evidence.py.

    PYTHONPATH=. python training/runs/silvering/post_sweep.py check2 40
"""
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path.cwd()
sys.path.insert(0, str(ROOT))
from training import corpus, data, metrics  # noqa: E402
from training.synth import synthesize  # noqa: E402
from photoforge.ops import learned_damage as ld  # noqa: E402

SCEN = {"crack": ("crack",), "scratch": ("scratch",), "dust": ("dust",)}


def score(split: str, n: int, variants: dict) -> None:
    """Print each variant's row. variants: {name: fn(prob, pixels) → H×W bool mask}."""
    counts = {(v, sc): np.zeros(4, np.int64) for v in variants for sc in SCEN}
    clean = {(v, c): [0, 0] for v in variants for c in ("raw", "aged")}
    for i, e in enumerate(data.split_photos(corpus.DEFAULT_OUT)[split][:n]):
        rgb = data.load_rgb(e["path_on_disk"])
        seed = 20_000 + 100 * i
        cases = [("raw", rgb, None), ("aged", synthesize(rgb, seed, ()).image, None)]
        for sc, kinds in SCEN.items():
            smp = synthesize(rgb, seed, kinds)
            cases.append((sc, smp.image, smp.mask))
        for name, img, truth in cases:
            prob = ld.damage_probability(img)
            for v, fn in variants.items():
                m = fn(prob, img)
                if truth is None:
                    clean[v, name][0] += int(m.sum())
                    clean[v, name][1] += m.size
                else:
                    counts[v, name] += metrics.counts(m, truth, 2.0)
        print(i, e["file"], flush=True)
    for v in variants:
        f1 = [metrics.f1_from_counts(counts[v, sc]) for sc in SCEN]
        cl = [100 * clean[v, c][0] / clean[v, c][1] for c in ("raw", "aged")]
        print(f"{v:<26} " + "  ".join(f"{sc} P {p:.3f} R {r:.3f} F1 {f:.3f}" for sc, (p, r, f) in zip(SCEN, f1))
              + f" | clean raw {cl[0]:.3f} % aged {cl[1]:.3f} %")


def with_rules(rules):
    return lambda prob, img: ld.mask_from_probability(prob, 0.5, rules=rules, pixels=img) > 0


if __name__ == "__main__":
    rules = {"shipped": ld.POST}
    for peak in (0.8, 0.7, 0.5):
        rules[f"speck_peak {peak}"] = replace(ld.POST, speck_peak=peak)
    for size in (32, 128):
        rules[f"speck_max {size}"] = replace(ld.POST, speck_max=size)
    for size, peak in ((128, 0.8), (32, 0.8), (128, 0.7)):
        rules[f"speck_max {size} peak {peak}"] = replace(ld.POST, speck_max=size, speck_peak=peak)
    for low in (0.2, 0.4):
        rules[f"low {low}"] = replace(ld.POST, low_fraction=low)
    score(sys.argv[1], int(sys.argv[2]), {k: with_rules(r) for k, r in rules.items()})
