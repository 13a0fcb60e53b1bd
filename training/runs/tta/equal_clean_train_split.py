"""Follow-up on train-split photos only (never validation): flip TTA (h, logit mean) at the
threshold at which it flags no more clean pixels of the 57 trained-on photos (as stored and
aged, pooled) than the photo alone does at the card's threshold, and the tuning photos' F1
there (bench/detector_sweep.py's view cache and score). Not validated: a candidate for a
next validation run, if one is allowed."""
import math
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
from detector_sweep import POST, build_view_cache, learned, line, score, with_tta  # noqa: E402

from photoforge.ops.learned_damage import mask_from_probability  # noqa: E402
from training import corpus, data, onnx_infer  # noqa: E402
from training.synth import synthesize  # noqa: E402

card = onnx_infer.card()
sess = onnx_infer.session(threads=1)
thr0 = card["threshold"]
probs = {"off": [], "h": []}
for i, e in enumerate(data.split_photos(corpus.DEFAULT_OUT)["train"]):
    rgb = data.load_rgb(e["path_on_disk"])
    for img in (rgb, synthesize(rgb, 10_000 + 100 * i, ()).image):
        for t in probs:
            probs[t].append(onnx_infer.predict_tta(sess, img, t, "logit"))


def clean(t: str, thr: float) -> float:
    f = n = 0
    for p in probs[t]:
        m = mask_from_probability(p, 0.5, base=thr) > 0
        f, n = f + int(m.sum()), n + m.size
    return 100 * f / n


cap = clean("off", thr0)
print(f"train split, clean (stored + aged, pooled): photo alone at t {thr0}: {cap:.4f} %")
lg = lambda p: math.log(p / (1 - p))  # noqa: E731
a, b = lg(card["tta"]["threshold"]), lg(0.9999)
best = 0.9999
for _ in range(10):
    mid = (a + b) / 2
    thr = round(1 / (1 + math.exp(-mid)), 5)
    c = clean("h", thr)
    print(f"  h at t {thr}: {c:.4f} %", flush=True)
    if c <= cap:
        b, best = mid, thr
    else:
        a = mid
print(f"h: lowest threshold at ≤ {cap:.4f} %: {best} ({clean('h', best):.4f} %)")
views = build_view_cache("tune", 6, 0)
print(line(f"tune, photo alone t {thr0}", score(with_tta(views, "off", "logit"), learned(thr0, POST))))
print(line(f"tune, h logit t {card['tta']['threshold']}", score(with_tta(views, "h", "logit"),
                                                                 learned(card["tta"]["threshold"], POST))))
print(line(f"tune, h logit t {best}", score(with_tta(views, "h", "logit"), learned(best, POST))))
