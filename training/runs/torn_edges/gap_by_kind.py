"""Where the learned restore loses to Telea given the true mask, kind by kind: each kind's
share of the difference in squared error (learned − Telea) over the first N photos of a split
(a pixel two kinds drew counts for the first in KINDS), with the share of each kind's pixels
the learned mask found, and how much of the missed pixels lie in holes the mask encloses; beside it, the same difference for the restore's repair given
the true mask (what is the repair's, not the detector's).

    PYTHONPATH=. python training/runs/torn_edges/gap_by_kind.py check2 20
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
from training.synth import KINDS  # noqa: E402


def holes(mask: np.ndarray) -> np.ndarray:
    """Pixels the mask encloses (not reachable from the image border without crossing it)."""
    m = mask.astype(np.uint8)
    pad = np.pad(1 - m, 1, constant_values=1)
    ff = pad.copy()
    cv2.floodFill(ff, None, (0, 0), 2)
    return (ff[1:-1, 1:-1] == 1)


photos = data.split_photos(corpus.DEFAULT_OUT)[sys.argv[1]][:int(sys.argv[2])]
gap = {k: 0.0 for k in (*KINDS, "no kind")}
gap_true = dict(gap)
no_kind = {}
found = {k: np.zeros(3) for k in KINDS}
total_l = total_t = 0.0
for i, e in enumerate(photos):
    smp = bd.restore_print(e, i, 0, bd.RESTORE_SIDE)
    telea = cv2.inpaint(smp.image, smp.mask.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)
    res = restore(ImageData(smp.image), RestoreOptions(detector="learned", denoise=False, color=False))
    se_l = ((res.image.pixels.astype(np.float64) - smp.base) ** 2).sum(axis=2)
    true = restore(ImageData(smp.image), RestoreOptions(denoise=False, color=False),
                   mask=smp.mask.astype(np.uint8) * 255)
    se_r = ((true.image.pixels.astype(np.float64) - smp.base) ** 2).sum(axis=2)
    se_t = ((telea.astype(np.float64) - smp.base) ** 2).sum(axis=2)
    total_l += se_l.sum()
    total_t += se_t.sum()
    hit = res.damage > 0
    enclosed = holes(hit)
    left = np.ones(hit.shape, bool)
    for k in KINDS:
        m = smp.masks[k] & left
        gap[k] += float((se_l - se_t)[m].sum())
        gap_true[k] += float((se_r - se_t)[m].sum())
        found[k] += ((m & hit).sum(), m.sum(), (m & ~hit & enclosed).sum())
        left &= ~smp.masks[k]
    gap["no kind"] += float((se_l - se_t)[left].sum())
    near = cv2.dilate(smp.mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    for part, where in (("flagged, within 2 px of damage", hit & near), ("flagged, farther", hit & ~near),
                        ("not flagged", ~hit)):
        no_kind[part] = no_kind.get(part, 0.0) + float((se_l - se_t)[left & where].sum())
    gap_true["no kind"] += float((se_r - se_t)[left].sum())
    print(f"  {i + 1}/{len(photos)} {e['file']}", flush=True)
d = total_l - total_t
print(f"squared error: learned {total_l:.4g}, telea {total_t:.4g}; the gap by kind:")
for k, v in gap.items():
    extra = "" if k == "no kind" else (f"; found {found[k][0] / max(found[k][1], 1):.3f}, missed in enclosed holes "
                                       f"{found[k][2] / max(found[k][1], 1):.3f}")
    print(f"  {k}: {v / d:+.3f} (the repair given the true mask: {gap_true[k] / d:+.3f}){extra}")
print("  no kind, by where: " + ", ".join(f"{k} {v / d:+.3f}" for k, v in no_kind.items()))
