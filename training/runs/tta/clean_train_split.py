"""Diagnosis, train split only (the 57 trained-on photos, never validation): the share of
clean pixels the post-processed mask flags, the photo alone at the card's threshold against
flip TTA (h, logit mean) at the card's tta threshold, as stored and aged (seed 10000 + 100·i,
as detector_sweep draws them). Did a bigger clean set than the 5 tuning photos see what
validation saw?"""

from photoforge.ops.learned_damage import mask_from_probability
from training import corpus, data, onnx_infer
from training.synth import synthesize

card = onnx_infer.card()
sess = onnx_infer.session(threads=1)
thr = {"off": card["threshold"], "h": card["tta"]["threshold"]}
flag = {(t, c): [0, 0] for t in thr for c in ("raw", "aged")}
photos = data.split_photos(corpus.DEFAULT_OUT)["train"]
for i, e in enumerate(photos):
    rgb = data.load_rgb(e["path_on_disk"])
    for c, img in (("raw", rgb), ("aged", synthesize(rgb, 10_000 + 100 * i, ()).image)):
        for t in thr:
            m = mask_from_probability(onnx_infer.predict_tta(sess, img, t, "logit"), 0.5, base=thr[t]) > 0
            flag[t, c][0] += int(m.sum())
            flag[t, c][1] += m.size
    if (i + 1) % 10 == 0:
        print(f"  {i + 1}/{len(photos)}", flush=True)
for c in ("raw", "aged"):
    print(f"clean {c:<4} " + "  ".join(f"{t} (t {thr[t]}) {100 * flag[t, c][0] / flag[t, c][1]:.3f} %" for t in thr))
