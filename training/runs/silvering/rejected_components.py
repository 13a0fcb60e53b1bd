"""What the hysteresis throws away: every component of prob ≥ low whose peak misses its bar,
with its area, peak, median probability and wide share (the part an opening by a 5×5 disc
keeps), and how much of it is true damage. On damaged photos (all kinds, bench_detector's
restore seeds) and clean ones (as stored, and aged without damage: bench_clean_restore's
seeds). Written to an .npz for blob_rule.py.

    PYTHONPATH=. python training/runs/silvering/rejected_components.py check2 40 out.npz
"""
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path.cwd()
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import bench_detector as bd  # noqa: E402
from training import corpus, data, synth  # noqa: E402
from photoforge.ops import learned_damage as ld  # noqa: E402

DISC = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))


def rejected(prob, truth):
    high, low = ld.thresholds(0.5, None, ld.POST.low_fraction)
    weak = prob >= low
    kept = ld._hysteresis(weak, prob, high, ld.POST)
    n, lab, st, _ = cv2.connectedComponentsWithStats(weak.view(np.uint8), connectivity=8)
    wide = cv2.morphologyEx(weak.view(np.uint8), cv2.MORPH_OPEN, DISC) > 0
    rows = []
    for j in range(1, n):
        x, y, w, h, a = st[j]
        r = lab[y:y + h, x:x + w] == j
        if kept[y:y + h, x:x + w][r].any() or a < ld.POST.min_area:
            continue
        p = prob[y:y + h, x:x + w][r]
        rows.append((a, p.max(), np.median(p), wide[y:y + h, x:x + w][r].mean(),
                     truth[y:y + h, x:x + w][r].sum() if truth is not None else 0))
    return rows


split, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
table = {"damaged": [], "stored": [], "aged": []}
totals = {"damaged truth px": 0, "damaged truth kept": 0, "stored px": 0, "aged px": 0}
for i, e in enumerate(data.split_photos(corpus.DEFAULT_OUT)[split][:n]):
    rgb = bd.shrunk(data.load_rgb(e["path_on_disk"]))
    smp = bd.restore_print(e, i)
    aged = synth.synthesize(rgb, 30_000 + 100 * i, ())
    for name, img, truth in (("damaged", smp.image, smp.mask), ("stored", rgb, None), ("aged", aged.image, None)):
        rows = rejected(ld.damage_probability(img), truth)
        table[name] += [(i,) + r for r in rows]
        totals[f"{name} px" if name != "damaged" else "damaged truth px"] += int(truth.sum()) if truth is not None else img.shape[0] * img.shape[1]
    print(i, e["file"], {k: len(v) for k, v in table.items()}, flush=True)
np.savez(out, **{k: np.array(v, np.float64).reshape(-1, 6) for k, v in table.items()},
         totals=np.array([totals["damaged truth px"], totals["stored px"], totals["aged px"]]))
