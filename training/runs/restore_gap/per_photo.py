"""Per photo, where the learned restore loses to Telea given the true mask: PSNR of Telea
(true mask), of the restore's repair given the true mask, and of the learned restore; then
the learned restore's own squared error split by where it is: damage it missed more than
3 px from anything it flagged (whole marks missed), damage it missed within 3 px of its mask,
damage it flagged (the repair's), and pixels it flagged that are not damage. First N photos of
a split; totals over them at the end.

    PYTHONPATH=. python training/runs/restore_gap/per_photo.py check2 20
"""
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
import bench_detector as bd  # noqa: E402
from photoforge.core.image import ImageData  # noqa: E402
from photoforge.ops.restore import RestoreOptions, restore  # noqa: E402
from training import corpus, data  # noqa: E402

PARTS = ("missed, far", "missed, near", "found", "false")


def psnr_se(se: float, n: int) -> float:
    return 10 * np.log10(n * 255.0 ** 2 / max(se, 1e-9))


def main() -> None:
    photos = data.split_photos(corpus.DEFAULT_OUT)[sys.argv[1]][:int(sys.argv[2])]
    rows, totals, grand = [], dict.fromkeys(PARTS, 0.0), 0.0
    print(f"{'photo':<48} {'telea':>6} {'repair':>6} {'learn':>6}  share of learned SE: "
          f"{' / '.join(PARTS)}  mask% true%")
    for i, e in enumerate(photos):
        smp = bd.restore_print(e, i, 0, bd.RESTORE_SIDE)
        n = smp.base.size
        telea = cv2.inpaint(smp.image, smp.mask.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)
        res = restore(ImageData(smp.image), RestoreOptions(detector="learned", denoise=False, color=False))
        true = restore(ImageData(smp.image), RestoreOptions(denoise=False, color=False),
                       mask=smp.mask.astype(np.uint8) * 255)
        se = {k: ((v.astype(np.float64) - smp.base) ** 2).sum(axis=2)
              for k, v in (("t", telea), ("r", true.image.pixels), ("l", res.image.pixels))}
        hit = res.damage > 0
        near = cv2.dilate(hit.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
        dmg = smp.mask.astype(bool)
        where = {"missed, far": dmg & ~near, "missed, near": dmg & ~hit & near, "found": dmg & hit,
                 "false": ~dmg & hit}
        part = {k: float(se["l"][m].sum()) for k, m in where.items()}
        for k in PARTS:
            totals[k] += part[k]
        total = max(float(se["l"].sum()), 1e-9)
        grand += total
        p = {k: psnr_se(float(v.sum()), n) for k, v in se.items()}
        rows.append(p)
        print(f"{e['file'][:48]:<48} {p['t']:6.2f} {p['r']:6.2f} {p['l']:6.2f}  "
              + " / ".join(f"{part[k] / total:.2f}" for k in PARTS)
              + f"  {hit.mean() * 100:5.2f} {dmg.mean() * 100:5.2f}", flush=True)
    print("mean PSNR: " + "  ".join(f"{name} {np.mean([r[k] for r in rows]):.2f}"
                                    for k, name in (("t", "telea, true mask"), ("r", "repair, true mask"),
                                                    ("l", "learned restore"))))
    print("share of the learned restore's squared error over all photos: "
          + ", ".join(f"{k} {v / grand:.3f}" for k, v in totals.items()))


if __name__ == "__main__":
    main()
