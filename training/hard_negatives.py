"""Hard-negative mining: where a trained damage model fires on clean train photos.

    python -m training.hard_negatives --model photoforge/models/damage_seg.onnx --out FILE.npz

The synthesiser's hard negatives (glints, rims, text, borders) are drawn; the network's own
false alarms on real photos are not drawn but real: a rocket's lattice towers, window bars,
dandelion stalks, leaf veins. Here the model runs on every *mined* train photo as stored and
the pixels it scores ≥ PROB (well under the card's threshold, so near misses count too),
grown by GROW px, are saved. Training (training/data.py Batches) then centres a share of
its crops on them and weights those pixels as it weights drawn hard negatives.

Only about two thirds of the train photos are mined (MINED_SHARE, chosen by a hash of the
photo's id); the rest, never mined, with the tuning subset, are where a mined model's clean
flags are measured: mined photos would show the network's memory of them, not whether
it learned to leave such texture alone.
"""
from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import cv2
import numpy as np

from training import corpus, data

PROB = 0.9
GROW = 2
MINED_SHARE = 2 / 3


def mined_and_checked(train: list[dict]) -> tuple[list[dict], list[dict]]:
    """The train photos split by a hash of their id: (mined, never mined)."""
    ranked = data.by_hash(train, "mine")
    n = round(len(ranked) * MINED_SHARE)
    return ranked[:n], ranked[n:]


def false_alarms(prob: np.ndarray, prob_min: float = PROB, grow: int = GROW) -> np.ndarray:
    """bool mask of the pixels scored ≥ prob_min, grown by `grow` px (the rim of a false
    mark, where the network's score falls off, is where it is least sure)."""
    hit = (prob >= prob_min).astype(np.uint8)
    if grow:
        hit = cv2.dilate(hit, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    return hit.astype(bool)


def save(path: Path, masks: dict[str, np.ndarray], model_sha: str) -> None:
    """One packed bit plane per photo id (a 4 MP mask is 0.5 MB), plus shapes and the model's sha256."""
    arrays = {}
    for pid, m in masks.items():
        arrays[f"bits:{pid}"] = np.packbits(m, axis=None)
        arrays[f"shape:{pid}"] = np.array(m.shape, np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, model_sha256=np.array(model_sha), **arrays)
    tmp.replace(path)


def load(path: Path) -> dict[str, np.ndarray]:
    """{photo id: bool mask} as save wrote it."""
    out = {}
    with np.load(path) as z:
        for key in z.files:
            if key.startswith("bits:"):
                pid = key[5:]
                shape = tuple(int(v) for v in z[f"shape:{pid}"])
                out[pid] = np.unpackbits(z[key], count=shape[0] * shape[1]).reshape(shape).astype(bool)
    return out


def main() -> None:
    from training import onnx_infer

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, default=onnx_infer.MODEL)
    ap.add_argument("--corpus", type=Path, default=corpus.DEFAULT_OUT)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--prob", type=float, default=PROB)
    ap.add_argument("--train2", action="store_true", help="mine the corpus's round-2 train photos too")
    args = ap.parse_args()
    sha = hashlib.sha256(args.model.read_bytes()).hexdigest()
    sess = onnx_infer.session(args.model)
    split = data.split_photos(args.corpus)
    mined, checked = mined_and_checked(split["train"] + (split["train2"] if args.train2 else []))
    masks, flagged, total = {}, 0, 0
    for e in mined:
        m = false_alarms(onnx_infer.predict(sess, data.load_rgb(e["path_on_disk"])), args.prob)
        masks[e["id"]] = m
        flagged, total = flagged + int(m.sum()), total + m.size
        print(f"{e['id']}: {100 * m.mean():.3f} %", flush=True)
    save(args.out, masks, sha)
    print(f"mined {len(mined)} photos (model {sha[:12]}, p ≥ {args.prob}, grown {GROW} px): "
          f"{100 * flagged / total:.3f} % of their pixels; never mined: {len(checked)} photos")


if __name__ == "__main__":
    main()
