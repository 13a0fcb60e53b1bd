"""The learned mask grown by 0, 1 (shipped) and 2 px before the repair: the restore on the first
N photos of a split against the undamaged print (detect + repair, denoise and colour off).

    PYTHONPATH=. python training/runs/torn_edges/grow_compare.py check2 20
"""
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import bench_detector as bd  # noqa: E402
from photoforge.core.image import ImageData  # noqa: E402
from photoforge.ops import learned_damage  # noqa: E402
from photoforge.ops.restore import RestoreOptions, restore  # noqa: E402
from training import corpus, data  # noqa: E402

photos = data.split_photos(corpus.DEFAULT_OUT)[sys.argv[1]][:int(sys.argv[2])]
shipped = learned_damage.grow
rows = {0: [], 1: [], 2: []}
for i, e in enumerate(photos):
    smp = bd.restore_print(e, i, 0, bd.RESTORE_SIDE)
    for px in rows:
        learned_damage.grow = lambda m, _, px=px: shipped(m, px)
        res = restore(ImageData(smp.image), RestoreOptions(detector="learned", denoise=False, color=False))
        rows[px].append(bd.psnr(res.image.pixels, smp.base))
    learned_damage.grow = shipped
    print(f"  {i + 1}/{len(photos)} {e['file']}: " + ", ".join(f"grow {k} {v[-1]:.2f}" for k, v in rows.items()),
          flush=True)
print(", ".join(f"grow {k} px: {np.mean(v):.2f} dB" for k, v in rows.items()))
