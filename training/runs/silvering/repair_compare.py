"""The repair alone, on the learned mask and on the true mask, for the first N photos of a
split with all kinds of synthetic damage (bench_detector's seeds and size): PSNR against the
undamaged print, beside Telea on the same masks. The learned masks are cached in `cache`
so trees with different repairs are compared on the same masks.

    PYTHONPATH=. python training/runs/silvering/repair_compare.py check2 12 /tmp/masks
"""
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path.cwd()
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import bench_detector as bd  # noqa: E402
from training import corpus, data  # noqa: E402
from photoforge.core.image import ImageData  # noqa: E402
from photoforge.ops.inpaint import inpaint  # noqa: E402
from photoforge.ops.learned_damage import find_damage_mask  # noqa: E402

split, n, cache = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
cache.mkdir(parents=True, exist_ok=True)
rows = {}
for i, e in enumerate(data.split_photos(corpus.DEFAULT_OUT)[split][:n]):
    smp = bd.restore_print(e, i)
    path = cache / f"{split}_{i}.npy"
    if not path.exists():
        np.save(path, find_damage_mask(smp.image, 0.5, "learned"))
    learned = np.load(path)
    true = smp.mask.astype(np.uint8) * 255
    t = time.perf_counter()
    r = {"repair learned": bd.psnr(inpaint(ImageData(smp.image), learned).pixels, smp.base),
         "repair true": bd.psnr(inpaint(ImageData(smp.image), true).pixels, smp.base)}
    r["seconds"] = time.perf_counter() - t
    hit = learned > 0
    r["repair learned & true"] = bd.psnr(inpaint(ImageData(smp.image), np.where(smp.mask, learned, 0)).pixels, smp.base) \
        if (hit & smp.mask).any() else r["repair learned"]
    for name, op in (("eroded", cv2.erode), ("grown", cv2.dilate)):
        m = op(learned, np.ones((3, 3), np.uint8))
        r[f"repair learned {name} 1"] = bd.psnr(inpaint(ImageData(smp.image), m).pixels, smp.base) if m.any() else 0.0
    r["repair learned | true"] = bd.psnr(inpaint(ImageData(smp.image), np.maximum(learned, true)).pixels, smp.base)
    r["telea learned"] = bd.psnr(cv2.inpaint(smp.image, (learned > 0).astype(np.uint8), 3, cv2.INPAINT_TELEA), smp.base)
    r["telea true"] = bd.psnr(cv2.inpaint(smp.image, true, 3, cv2.INPAINT_TELEA), smp.base)
    print(i, e["file"], json.dumps({k: round(v, 2) for k, v in r.items()}), flush=True)
    for k, v in r.items():
        rows.setdefault(k, []).append(v)
print("MEAN", json.dumps({k: round(float(np.mean(v)), 3) for k, v in rows.items()}))
