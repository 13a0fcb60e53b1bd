"""The pair's threshold (merge.py: one pass each, no TTA on top), chosen as every candidate's
is (damage_seg5/choose_thresholds.py --check2), but against the shipped model *with* its flip
TTA, the same two network passes: the lowest threshold at which the post-processed mask flags
no more clean pixels than damage_seg5 (shipped before the pair) at its card's TTA threshold,
on the 40 check2 and 5 tuning photos (never trained on or mined), as stored and aged.

    PYTHONPATH=. python training/runs/ensemble/choose_threshold.py PAIR.onnx

damage_seg5's maps are choose_thresholds.py's cache when it is there (same photos, same ageing).
"""
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np

from photoforge.ops.learned_damage import mask_from_probability
from training import corpus, data, onnx_infer
from training.synth import synthesize

from photoforge.ops.learned_damage import flipped, tta_mean

CACHE = Path.home() / ".cache" / "photoforge-sweep"
BASE = Path(__file__).resolve().parents[1] / "damage_seg5" / "damage_seg5.onnx"


def clean(probs, thr: float) -> float:
    f = n = 0
    for p in probs:
        m = mask_from_probability(p, 0.5, base=thr) > 0
        f, n = f + int(m.sum()), n + m.size
    return 100 * f / n


def base_maps() -> list:
    cache = CACHE / f"choose-{hashlib.sha256(BASE.read_bytes()).hexdigest()[:12]}-n0-check2.npz"
    if cache.exists():
        with np.load(cache) as z:
            return [1 / (1 + np.exp(-z[f"fresh/h/{i}"].astype(np.float32))) for i in range(int(z["fresh/h/n"]))]
    return maps(BASE, tta=True)


def maps(model: Path, tta: bool = False) -> list:
    sess = onnx_infer.session(model, threads=2)
    split = data.split_photos(corpus.DEFAULT_OUT)
    out = []
    for e in split["check2"] + split["tune"]:
        rgb = data.load_rgb(e["path_on_disk"])
        seed = 10_000 + int(e["sha256"][:6], 16)  # as choose_thresholds.py ages them
        for img in (rgb, synthesize(rgb, seed, ()).image):
            p = onnx_infer.predict(sess, img)
            if tta:
                p = tta_mean([p, flipped(onnx_infer.predict(sess, np.ascontiguousarray(flipped(img, "h"))), "h")],
                             "logit")
            out.append(p)
    return out


if __name__ == "__main__":
    card_thr = json.loads(BASE.with_suffix(".json").read_text())["tta"]["threshold"]
    cap = clean(base_maps(), card_thr)
    pair = maps(Path(sys.argv[1]))
    a, b, best = 0.0, math.log(0.99999 / 0.00001), 0.99999
    for _ in range(16):
        mid = (a + b) / 2
        thr = round(1 / (1 + math.exp(-mid)), 6)
        if clean(pair, thr) <= cap:
            b, best = mid, thr
        else:
            a = mid
    print(f"damage_seg5, flip TTA at t {card_thr}: {cap:.4f} % of the clean pixels; pair at t {best}: "
          f"{clean(pair, best):.4f} %; pair at damage_seg5's t: {clean(pair, card_thr):.4f} %")
