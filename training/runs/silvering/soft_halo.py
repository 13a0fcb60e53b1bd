"""The 1 px halo the learned mask is grown by: repaired fully (as shipped), blended half
way, or left out, on the restore's repair of synthetic aged prints with all kinds of damage
(bench_detector's restore seeds, 800 px). PSNR against the undamaged print.

    PYTHONPATH=. python training/runs/silvering/soft_halo.py check2 12
"""
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path.cwd()
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import bench_detector as bd  # noqa: E402
from training import corpus, data  # noqa: E402
from photoforge.core.image import ImageData  # noqa: E402
from photoforge.ops import learned_damage as ld  # noqa: E402
from photoforge.ops.inpaint import inpaint  # noqa: E402
from photoforge.ops.torn_edges import torn_regions  # noqa: E402

rows = {}
for i, e in enumerate(data.split_photos(corpus.DEFAULT_OUT)[sys.argv[1]][:int(sys.argv[2])]):
    smp = bd.restore_print(e, i)
    prob = ld.damage_probability(smp.image)
    high, low = ld.thresholds(0.5, ld.recommended_threshold(), ld.POST.low_fraction)
    core = ld._hysteresis(prob >= low, prob, high, ld.POST)
    core |= torn_regions(smp.image, prob, core)
    shipped = ld.mask_from_probability(prob, 0.5, ld.recommended_threshold(), pixels=smp.image)
    halo = (shipped > 0) & ~core
    r = {}
    for name, value in (("halo full", 255), ("halo half", 128), ("halo quarter", 64), ("no halo", 0)):
        m = np.where(core, 255, np.where(halo, value, 0)).astype(np.uint8)
        r[name] = bd.psnr(inpaint(ImageData(smp.image), m).pixels, smp.base) if m.any() else bd.psnr(smp.image, smp.base)
    print(i, e["file"], json.dumps({k: round(v, 2) for k, v in r.items()}), flush=True)
    for k, v in r.items():
        rows.setdefault(k, []).append(v)
print("MEAN", json.dumps({k: round(float(np.mean(v)), 3) for k, v in rows.items()}))
