"""The torn-edge rules re-chosen for the pair of networks (training/runs/ensemble/): the
pair's lower logit marks less of a torn cut than damage_seg5 did, so fewer torn corners
passed the ring test. Each rule set's learned restore (detect + repair, denoise and colour
off) against the undamaged print, on the first N photos of a split, with the share of the
tears' pixels found and the PSNR beside Telea given the true mask.

    PYTHONPATH=. python training/runs/torn_edges/pair_rules_restore.py check2 20
"""
import dataclasses
import functools
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import bench_detector as bd  # noqa: E402
from photoforge.core.image import ImageData  # noqa: E402
from photoforge.ops import learned_damage, torn_edges  # noqa: E402
from photoforge.ops.restore import RestoreOptions, restore  # noqa: E402
from training import corpus, data  # noqa: E402

T = torn_edges.TORN
VARIANTS = {
    "shipped": T,
    "ring cover 0.45, mask cover 0.05": dataclasses.replace(T, ring_cover=0.45, mask_cover=0.05),
    "ring cover 0.45, mask cover 0.05, std 3": dataclasses.replace(T, ring_cover=0.45, mask_cover=0.05,
                                                                   region_std=3.0),
    "mask cover 0.05, std 3": dataclasses.replace(T, mask_cover=0.05, region_std=3.0),
    "ring p 0.02, mask cover 0.05, std 3": dataclasses.replace(T, ring_p=0.02, mask_cover=0.05, region_std=3.0),
}
if len(sys.argv) > 3:
    VARIANTS = {k: v for k, v in VARIANTS.items() if k == "shipped" or k in sys.argv[3:]}

photos = data.split_photos(corpus.DEFAULT_OUT)[sys.argv[1]][:int(sys.argv[2])]
rows = {k: [] for k in ["damaged", "telea, true mask", *VARIANTS]}
tears = {k: np.zeros(2) for k in VARIANTS}
original = learned_damage.torn_regions
for i, e in enumerate(photos):
    smp = bd.restore_print(e, i, 0, bd.RESTORE_SIDE)
    rows["damaged"].append(bd.psnr(smp.image, smp.base))
    rows["telea, true mask"].append(bd.psnr(cv2.inpaint(smp.image, smp.mask.astype(np.uint8) * 255, 3,
                                                        cv2.INPAINT_TELEA), smp.base))
    for name, rules in VARIANTS.items():
        learned_damage.torn_regions = functools.partial(original, rules=rules)
        res = restore(ImageData(smp.image), RestoreOptions(detector="learned", denoise=False, color=False))
        rows[name].append(bd.psnr(res.image.pixels, smp.base))
        tear = smp.masks["tear"]
        tears[name] += ((res.damage > 0)[tear].sum(), tear.sum())
    learned_damage.torn_regions = original
    print(f"  {i + 1}/{len(photos)} {e['file']}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in rows.items()),
          flush=True)
for k, v in rows.items():
    extra = f", tears found {tears[k][0] / max(tears[k][1], 1):.3f}" if k in tears else ""
    print(f"{k}: {np.mean(v):.2f} dB{extra}")
