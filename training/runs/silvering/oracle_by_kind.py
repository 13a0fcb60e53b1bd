"""Which miss costs the learned restore most: its PSNR when the true pixels of one kind are
added to its mask (the repair unchanged), when its marks off the damage are dropped, and
Telea handed its own mask (is it the mask or the repair?).

    PYTHONPATH=. python training/runs/silvering/oracle_by_kind.py check2 12
"""
import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import bench_detector as bd  # noqa: E402
from training import corpus, data  # noqa: E402
from photoforge.core.image import ImageData  # noqa: E402
from photoforge.ops.restore import RestoreOptions, restore  # noqa: E402

photos = data.split_photos(corpus.DEFAULT_OUT)[sys.argv[1]][:int(sys.argv[2])]
rows = {}
for i, e in enumerate(photos):
    smp = bd.restore_print(e, i)
    res = restore(ImageData(smp.image), RestoreOptions(detector="learned", sensitivity=0.5, denoise=False, color=False))
    hit = res.damage > 0

    def repaired(mask):
        m = (mask * 255).astype(np.uint8)
        return bd.psnr(restore(ImageData(smp.image), RestoreOptions(denoise=False, color=False), mask=m).image.pixels, smp.base)

    r = {"learned": bd.psnr(res.image.pixels, smp.base),
         "telea true": bd.psnr(cv2.inpaint(smp.image, smp.mask.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA), smp.base),
         "telea learned": bd.psnr(cv2.inpaint(smp.image, hit.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA), smp.base),
         "repair learned": repaired(hit)}
    near = cv2.dilate(smp.mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    r["-false marks"] = repaired(hit & near)
    r["false px %"] = 100 * float((hit & ~near).mean())
    for k in bd.KINDS:
        r[f"+{k}"] = repaired(hit | smp.masks[k]) if smp.masks[k].any() else r["repair learned"]
    print(i, e["file"], json.dumps({k: round(v, 2) for k, v in r.items()}), flush=True)
    for k, v in r.items():
        rows.setdefault(k, []).append(v)
print("MEAN", json.dumps({k: round(float(np.mean(v)), 3) for k, v in rows.items()}))
