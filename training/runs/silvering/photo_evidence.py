"""A photo-level gate on the learned mask: a clean photo's false alarms are a few marks just
over the threshold, a damaged print has many marks the network is sure of. Rule (S, K): if
fewer than K of the mask's components peak at ≥ S, only those that do are kept. Scored as
bench_detector scores (F1 at 2 px per single-kind scenario, clean flags as stored and aged),
on check2 (never validation). Seeds and sizes as bench_detector --seeds 1.

Not shipped: at 1.5 logits, K = 1, clean flags fell 0.260 → 0.164 % as stored and 0.136 →
0.053 % aged at F1 within 0.002, but one real light scratch on a sound photo (the astronaut
in tests/ops/test_restore.py) peaks 0.65 logits over the threshold and was no longer
repaired; at 0.5 logits, which keeps it, the stored flags only fell to 0.228 %.

    PYTHONPATH=. python training/runs/silvering/photo_evidence.py check2 40 [LOGITS...]
"""
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path.cwd()
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from training import corpus, data, metrics  # noqa: E402
from training.synth import synthesize  # noqa: E402
from photoforge.ops import learned_damage as ld  # noqa: E402

HIGH = ld.thresholds(0.5)[0]
# the bar a sure mark clears, in logits over the high threshold (sys.argv[3:], default a sweep)
LOGITS = [float(a) for a in sys.argv[3:]] or [0.5, 1.0, 1.45, 2.0, 2.5, 3.06]
RULES = [(None, 0)] + [(ld._shift(HIGH, d), k) for d in LOGITS for k in (1, 2)]
SCEN = {"crack": ("crack",), "scratch": ("scratch",), "dust": ("dust",)}


def gated(mask, prob, s, k):
    if s is None:
        return mask
    n, lab = cv2.connectedComponents(mask.view(np.uint8), connectivity=8)
    peak = np.zeros(n, np.float32)
    np.maximum.at(peak, lab[mask], prob[mask])
    sure = peak >= s
    sure[0] = False
    if sure.sum() >= k:
        return mask
    return sure[lab]


split, n = sys.argv[1], int(sys.argv[2])
counts = {(r, sc): np.zeros(4, np.int64) for r in RULES for sc in SCEN}
clean = {(r, c): [0, 0] for r in RULES for c in ("raw", "aged")}
for i, e in enumerate(data.split_photos(corpus.DEFAULT_OUT)[split][:n]):
    rgb = data.load_rgb(e["path_on_disk"])
    seed = 20_000 + 100 * i
    cases = [("raw", rgb, None), ("aged", synthesize(rgb, seed, ()).image, None)]
    for sc, kinds in SCEN.items():
        smp = synthesize(rgb, seed, kinds)
        cases.append((sc, smp.image, smp.mask))
    for name, img, truth in cases:
        prob = ld.damage_probability(img)
        mask = ld.mask_from_probability(prob, 0.5, pixels=img) > 0
        for r in RULES:
            m = gated(mask, prob, *r)
            if truth is None:
                clean[r, name][0] += int(m.sum())
                clean[r, name][1] += m.size
            else:
                counts[r, name] += metrics.counts(m, truth, 2.0)
    print(i, e["file"], flush=True)
for r in RULES:
    f1 = [metrics.f1_from_counts(counts[r, sc])[2] for sc in SCEN]
    cl = [100 * clean[r, c][0] / clean[r, c][1] for c in ("raw", "aged")]
    print(f"S={r[0]} (+{0 if r[0] is None else round(float(np.log(r[0] / (1 - r[0]) / (HIGH / (1 - HIGH)))), 2)} logits) K={r[1]}: F1 crack {f1[0]:.3f} scratch {f1[1]:.3f} dust {f1[2]:.3f} | clean raw {cl[0]:.3f} % aged {cl[1]:.3f} %")
