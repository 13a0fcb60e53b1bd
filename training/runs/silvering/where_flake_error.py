"""Flaking against silvering: of the learned restore's error on the flake kind, how much is the
ragged bare-paper patches and how much the bluish silvering sheen, how much of each the mask
finds, and what the restore would gain if each were found whole (oracle: the learned mask
plus the true pixels of that part).

    PYTHONPATH=. python training/runs/silvering/where_flake_error.py check2 12
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
from training import corpus, data, synth  # noqa: E402
from training import synth_draw as d  # noqa: E402
from photoforge.core.image import ImageData  # noqa: E402
from photoforge.ops.restore import RestoreOptions, restore  # noqa: E402

photos = data.split_photos(corpus.DEFAULT_OUT)[sys.argv[1]][:int(sys.argv[2])]
rows = {}
for i, e in enumerate(photos):
    seed = 20_000 + 100 * i
    rgb = bd.shrunk(data.load_rgb(e["path_on_disk"]))
    smp = bd.restore_print(e, i)
    # the flake layer redrawn alone from its own stream, to tell its two parts apart
    h, w = smp.mask.shape
    krng = np.random.default_rng([seed, synth.KINDS.index("flake")])
    rng_print = np.random.default_rng(seed)
    img = synth.aged_print(rgb, rng_print, True, None, synth.RIM_P)[0]
    la = d.Layer(h, w)
    d.flakes(la, krng, 1.0, synth.luminance(img))
    # the sheen is the part of the layer whose tone is bluish (blobs take paper's warm tone)
    bluish = (la.tone[..., 2] > la.tone[..., 0] + 0.05) & (la.alpha > 0)
    near = cv2.dilate(bluish.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    fl = smp.masks["flake"]
    sheen, blob = fl & near, fl & ~near
    res = restore(ImageData(smp.image), RestoreOptions(detector="learned", sensitivity=0.5, denoise=False, color=False))
    hit = res.damage > 0
    se = ((res.image.pixels.astype(np.float64) - smp.base) ** 2).sum(axis=2)
    tot = se.sum()
    r = {"psnr": bd.psnr(res.image.pixels, smp.base),
         "sheen px": int(sheen.sum()), "blob px": int(blob.sum()),
         "sheen found": float((sheen & hit).sum() / max(1, sheen.sum())),
         "blob found": float((blob & hit).sum() / max(1, blob.sum())),
         "sheen err share": float(se[sheen].sum() / tot), "blob err share": float(se[blob].sum() / tot)}
    for name, part in (("sheen", sheen), ("blob", blob)):
        m = ((hit | part) * 255).astype(np.uint8)
        o = restore(ImageData(smp.image), RestoreOptions(denoise=False, color=False), mask=m)
        r[f"oracle +{name}"] = bd.psnr(o.image.pixels, smp.base)
    tel = cv2.inpaint(smp.image, smp.mask.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)
    r["telea true"] = bd.psnr(tel, smp.base)
    print(i, e["file"], json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()}), flush=True)
    for k, v in r.items():
        rows.setdefault(k, []).append(v)
print("MEAN", json.dumps({k: round(float(np.mean(v)), 3) for k, v in rows.items()}))
