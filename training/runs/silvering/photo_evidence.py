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
sys.path.insert(0, str(Path(__file__).resolve().parent))
from post_sweep import score, with_rules  # noqa: E402
from photoforge.ops import learned_damage as ld  # noqa: E402

HIGH = ld.thresholds(0.5)[0]
# the bar a sure mark clears, in logits over the high threshold (sys.argv[3:], default a sweep)
LOGITS = [float(a) for a in sys.argv[3:]] or [0.5, 1.0, 1.45, 2.0, 2.5, 3.06]
shipped = with_rules(ld.POST)


def gated(s: float, k: int):
    def mask(prob, img):
        m = shipped(prob, img)
        n, lab = cv2.connectedComponents(m.view(np.uint8), connectivity=8)
        peak = np.zeros(n, np.float32)
        np.maximum.at(peak, lab[m], prob[m])
        sure = peak >= s
        sure[0] = False
        return m if sure.sum() >= k else sure[lab]
    return mask


variants = {"shipped": shipped}
for d in LOGITS:
    for k in (1, 2):
        variants[f"+{d} logits, K {k}"] = gated(ld._shift(HIGH, d), k)
score(sys.argv[1], int(sys.argv[2]), variants)
