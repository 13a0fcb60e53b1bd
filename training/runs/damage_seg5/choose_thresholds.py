"""Thresholds for a model trained with mined hard negatives, on train-split photos only
(never validation): the photo alone's and flip TTA's (h, logit mean), each the lowest at
which the post-processed mask flags no more clean pixels than the shipped model does at its
card's thresholds, on the photos the miner never saw (training/hard_negatives.py: the 19
never-mined train photos and the 5 tuning photos, as stored and aged). The 38 mined photos
are reported apart: there the new model has been shown its old false alarms.
Then the tuning photos' F1 (bench/detector_sweep.py's score) at those thresholds, both models.

    PYTHONPATH=. python training/runs/damage_seg5/choose_thresholds.py CANDIDATE.onnx [--write] [--check2]

--write puts both thresholds into CANDIDATE.json (the card) with what they were chosen on.
--check2 (a candidate mined and trained on round 2's photos too, damage_seg6): the photos it never saw are
round 2's check2 photos and the tuning photos; "mined" are then round 1's mined photos as before.
"""
import hashlib
import json
import math
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bench"))
from detector_sweep import POST, build_view_cache, learned, line, score, with_tta  # noqa: E402

from photoforge.ops.learned_damage import flipped, mask_from_probability, to_logit, tta_mean  # noqa: E402
from training import corpus, data, hard_negatives, onnx_infer  # noqa: E402
from training.synth import synthesize  # noqa: E402

import numpy as np  # noqa: E402

candidate = Path(sys.argv[1])
shipped = onnx_infer.MODEL
card0 = onnx_infer.card()
thr0 = {"off": card0["threshold"], "h": card0["tta"]["threshold"]}
split = data.split_photos(corpus.DEFAULT_OUT)
mined, checked = hard_negatives.mined_and_checked(split["train"])
CHECK2 = "--check2" in sys.argv
groups = {"fresh": (split["check2"] if CHECK2 else checked) + split["tune"], "mined": mined}
LIMIT = int(os.environ.get("LIMIT", "0")) or None  # a quick look at the script itself


def maps(model: Path) -> dict:
    """{(group, tta): [probability maps]}, cached by the model's sha256 as float16 logits (float16
    probabilities are 0.0005 apart near 1, coarser than the thresholds compared here)."""
    sha = hashlib.sha256(model.read_bytes()).hexdigest()[:12]
    cache = Path.home() / ".cache" / "photoforge-sweep" / f"choose-{sha}-n{LIMIT or 0}{'-check2' if CHECK2 else ''}.npz"
    if cache.exists():
        with np.load(cache) as z:
            return {(g, t): [1 / (1 + np.exp(-z[f"{g}/{t}/{i}"].astype(np.float32))) for i in range(int(z[f"{g}/{t}/n"]))]
                    for g in groups for t in thr0}
    out = _maps(model)
    cache.parent.mkdir(parents=True, exist_ok=True)
    flat = {f"{g}/{t}/{i}": to_logit(m).astype(np.float16) for (g, t), ms in out.items() for i, m in enumerate(ms)}
    flat.update({f"{g}/{t}/n": np.array(len(ms)) for (g, t), ms in out.items()})
    np.savez(cache, **flat)
    return out


def _maps(model: Path) -> dict:
    sess = onnx_infer.session(model, threads=2)
    out = {(g, t): [] for g in groups for t in thr0}
    for g, photos in groups.items():
        for e in photos[:LIMIT]:
            rgb = data.load_rgb(e["path_on_disk"])
            seed = 10_000 + int(e["sha256"][:6], 16)
            for img in (rgb, synthesize(rgb, seed, ()).image):
                alone = onnx_infer.predict(sess, img)  # the photo's own view serves both
                out[g, "off"].append(alone)
                out[g, "h"].append(tta_mean([alone, flipped(onnx_infer.predict(
                    sess, np.ascontiguousarray(flipped(img, "h"))), "h")], "logit"))
    return out


def clean(probs: list, thr: float) -> float:
    f = n = 0
    for p in probs:
        m = mask_from_probability(p, 0.5, base=thr) > 0
        f, n = f + int(m.sum()), n + m.size
    return 100 * f / n


lg = lambda p: math.log(p / (1 - p))  # noqa: E731
old = maps(shipped)
if candidate.resolve() == shipped.resolve():  # fill the shipped model's cache ahead of the candidate
    sys.exit()
new = maps(candidate)
chosen = {}
for t in thr0:
    cap = clean(old["fresh", t], thr0[t])
    a, b = lg(0.5), lg(0.99999)
    best = 0.99999
    for _ in range(14):
        mid = (a + b) / 2
        thr = round(1 / (1 + math.exp(-mid)), 6)
        if clean(new["fresh", t], thr) <= cap:
            b, best = mid, thr
        else:
            a = mid
    chosen[t] = best
    print(f"{t}: shipped at t {thr0[t]} flags {cap:.4f} % of the never-mined photos' clean pixels "
          f"(mined photos {clean(old['mined', t], thr0[t]):.4f} %); candidate at t {best}: "
          f"{clean(new['fresh', t], best):.4f} % (mined photos {clean(new['mined', t], best):.4f} %); "
          f"candidate at the shipped t: {clean(new['fresh', t], thr0[t]):.4f} %", flush=True)

for name, model, thr in (("shipped", shipped, thr0), ("candidate", candidate, chosen)):
    views = build_view_cache("tune", 6, LIMIT or 0, model, ("", "h"))
    for t in thr:
        print(line(f"tune, {name}, {t} at t {thr[t]}", score(with_tta(views, t, "logit"), learned(thr[t], POST))),
              flush=True)

if "--write" in sys.argv:
    card_path = candidate.with_suffix(".json")
    card = json.loads(card_path.read_text())
    never = ("round 2's check2 photos + 5 tuning, never trained or mined" if CHECK2 else
             "19 never-mined + 5 tuning")
    how = (f"the lowest threshold at which the post-processed mask flags no more clean pixels than the shipped "
           f"model at {{}} on the {len(groups['fresh'])} train-split photos never mined for hard negatives ({never}, "
           f"as stored and aged; training/runs/damage_seg5/choose_thresholds.py{' --check2' if CHECK2 else ''})")
    card["threshold"] = chosen["off"]
    card["threshold_tuned_on"] = how.format(thr0["off"])
    card["tta"] = {"views": "h", "mean": "logit", "threshold": chosen["h"], "threshold_without_tta": chosen["off"],
                   "tuned_on": how.format(thr0["h"]) + " (flip TTA, h, logit mean)", "default": True}
    card_path.write_text(json.dumps(card, indent=1, ensure_ascii=False) + "\n")
    print(f"written to {card_path}")
