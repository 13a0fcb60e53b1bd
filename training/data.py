"""Training crops made on the fly: a crop of a corpus photo, aged and damaged by synth.py.

Batch i of a run is a pure function of (seed, i), so a resumed run sees the same data as
an uninterrupted one. numpy/OpenCV only (torch wraps it in train_damage.py).

A few train-split photos are held back as the *tuning* subset: the threshold is chosen on
them, never on validation photos, and they are not trained on either, so the threshold is
chosen on photos the network has not memorised.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from training import corpus
from training.synth import KINDS, RIM_P, channel_max, synthesize

N_TUNE = 5  # train-split photos held back for threshold tuning
# Round 2's train photos held back from training and mining alike: what a model trained with
# round 2 has never seen, for its thresholds and the decision to ship it (never validation).
N_CHECK2 = 40


def split_photos(corpus_dir: Path, manifest: Path = corpus.MANIFEST) -> dict[str, list[dict]]:
    """{'train', 'tune', 'val', 'train2', 'check2', 'val2', 'val3', 'val4': [...]} manifest entries with
    'path_on_disk' added. tune/train/val are the first round's photos only (corpus.in_split), so
    adding photos never changes what a committed training or threshold command draws; train2,
    check2 (N_CHECK2 of round 2's train photos, by a hash of their id) and val2 are round 2's;
    val3 and val4 are all of rounds 3 and 4's (held out whole: never trained, tuned or mined on)."""
    entries = corpus.load_manifest(manifest)["photos"]
    train = by_hash([e for e in entries if corpus.in_split(e, "train")], "tune")
    out = {"tune": train[:N_TUNE], "train": train[N_TUNE:]}
    out.update({s: [e for e in entries if corpus.in_split(e, s)] for s in ("val", "train2", "val2", "val3", "val4")})
    ranked = by_hash(out["train2"], "check")
    out["check2"], out["train2"] = ranked[:N_CHECK2], ranked[N_CHECK2:]
    for group in out.values():
        for e in group:
            e["path_on_disk"] = str(corpus_dir / e["file"])
    return out


def by_hash(entries: list[dict], salt: str) -> list[dict]:
    """`entries` in the order of sha256(salt:id): a fixed draw that no photo added or removed
    elsewhere in the manifest changes for the others."""
    return sorted(entries, key=lambda e: hashlib.sha256(f"{salt}:{e['id']}".encode()).hexdigest())


def load_rgb(path: str) -> np.ndarray:
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(f"{path}: not in the corpus; run `python -m training.corpus build`")
    return np.ascontiguousarray(bgr[..., ::-1])


def subject_weights(entries: list[dict]) -> np.ndarray:
    """Landscapes dominate the wallpapers: draw each subject about equally often overall
    (weight 1/count per photo), softened by a square root so one portrait is not seen 10×
    as often as each landscape."""
    n = {}
    for e in entries:
        n[e["subject"]] = n.get(e["subject"], 0) + 1
    w = np.array([1 / np.sqrt(n[e["subject"]]) for e in entries])
    return w / w.sum()


def random_crop(rgb: np.ndarray, rng, size: int, centre: tuple[float, float] | None = None,
                plane: np.ndarray | None = None):
    """A crop at a random scale (0.35–1× the stored photo, so texture appears at many sizes),
    randomly flipped and rotated by multiples of 90°.
    centre: (y, x) in the photo that the crop must contain (somewhere, not only its middle).
    plane: an H×W bool map of the photo cut and turned with it; then (crop, plane crop) is
    returned (a pixel of the plane's crop is set if any photo pixel under it is)."""
    h, w = rgb.shape[:2]
    lo = max(0.35, (size + 2) / min(h, w))
    s = rng.uniform(lo, max(lo, 1.0))
    cs = int(np.ceil(size / s))
    if centre is None:
        y, x = int(rng.integers(0, h - cs + 1)), int(rng.integers(0, w - cs + 1))
    else:
        cy, cx = centre
        y = int(np.clip(cy - cs * rng.uniform(0.15, 0.85), 0, h - cs))
        x = int(np.clip(cx - cs * rng.uniform(0.15, 0.85), 0, w - cs))
    crop = cv2.resize(rgb[y:y + cs, x:x + cs], (size, size),
                      interpolation=cv2.INTER_AREA if cs > size else cv2.INTER_CUBIC)
    flip, turns = rng.random() < 0.5, int(rng.integers(0, 4))

    def turn(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.rot90(a[:, ::-1] if flip else a, turns))

    if plane is None:
        return turn(crop)
    part = plane[y:y + cs, x:x + cs].astype(np.uint8)
    part = cv2.resize(part, (size, size), interpolation=cv2.INTER_AREA if cs > size else cv2.INTER_NEAREST) > 0
    return turn(crop), turn(part)


# Thin damage (what the goals measure, and the hardest to tell from texture) is drawn more
# often than the large-area kinds, which are easy and, being large, dominate the loss.
KIND_P = {"crack": 0.5, "scratch": 0.65, "dust": 0.65, "hair": 0.4, "crease": 0.25, "spot": 0.25,
          "flake": 0.2, "tear": 0.15}


def choose_kinds(rng, kind_p: dict | None = None) -> tuple[str, ...]:
    """One crop in six is clean (hard negatives only); otherwise each kind is in with its
    KIND_P (at least one), so crops with a single kind are common — that is what the bench asks."""
    kind_p = kind_p or KIND_P
    if rng.random() < 1 / 6:
        return ()
    kinds = tuple(k for k in KINDS if rng.random() < kind_p[k])
    return kinds or (KINDS[int(rng.integers(len(KINDS)))],)


_HARD_STREAM = 7919  # the stream hard-crop draws come from, apart from the crop's own


def make_example(rgb: np.ndarray, seed, size: int, kind_p: dict | None = None, hard: np.ndarray | None = None,
                 p_hard: float = 0.0, rim_p: float = RIM_P):
    """(damaged image HWC uint8, mask HW bool, hard-negative mask HW bool, contrast HW uint8).
    contrast: the largest channel difference between the damaged and the undamaged crop, what
    leaving a pixel unrepaired costs the restore (train_damage's --contrast-gain weighs by it).
    hard: the photo's mined false alarms (training/hard_negatives.py); with probability p_hard
    the crop is placed over one of them, and wherever it shows them they join the drawn
    hard negatives (unless damage was drawn on top). The draws for hard crops come from a
    stream of their own, so without `hard` a seed makes exactly the crop it made before."""
    rng = np.random.default_rng(seed)
    mined = None
    if hard is not None and p_hard > 0:
        hrng = np.random.default_rng([*np.atleast_1d(seed), _HARD_STREAM])
        if hrng.random() < p_hard:
            ys, xs = np.nonzero(hard[::8, ::8])  # a coarse grid: picking from every pixel costs more than the crop
            if len(ys):
                k = int(hrng.integers(len(ys)))
                crop, mined = random_crop(rgb, rng, size, (8 * ys[k] + 4, 8 * xs[k] + 4), hard)
    if mined is None:
        crop = random_crop(rgb, rng, size)
    s = synthesize(crop, int(rng.integers(2 ** 31)), choose_kinds(rng, kind_p), density=rng.uniform(0.5, 2.0),
                   broad=True, rim_p=rim_p)
    neg = s.negatives if mined is None else s.negatives | (mined & ~s.mask)
    contrast = channel_max(cv2.absdiff(s.image, s.base))
    return s.image, s.mask, neg, contrast


class Batches:
    """Batch i = batch_size crops from photos drawn with subject weights, all from seed (seed, i).
    kind_p: KIND_P overrides; hard: {photo id: mined false alarms} with p_hard; rim_p (make_example)."""

    def __init__(self, entries: list[dict], seed: int, batch_size: int, size: int, kind_p: dict | None = None,
                 hard: dict[str, np.ndarray] | None = None, p_hard: float = 0.0, rim_p: float = RIM_P):
        self.entries, self.seed, self.batch_size, self.size = entries, seed, batch_size, size
        self.weights = subject_weights(entries)
        self.kind_p = {**KIND_P, **(kind_p or {})}
        self.hard, self.p_hard, self.rim_p = hard or {}, p_hard, rim_p
        self._cache: dict[str, np.ndarray] = {}

    def photo(self, i: int) -> np.ndarray:
        path = self.entries[i]["path_on_disk"]
        if path not in self._cache:
            self._cache[path] = load_rgb(path)
        return self._cache[path]

    def batch(self, step: int):
        rng = np.random.default_rng([self.seed, step])
        picks = rng.choice(len(self.entries), self.batch_size, p=self.weights)
        xs, ys, ns, cs = [], [], [], []
        for j, p in enumerate(picks):
            rgb = self.photo(int(p))
            hard = self.hard.get(self.entries[int(p)]["id"]) if self.hard else None
            if hard is not None and hard.shape != rgb.shape[:2]:
                raise ValueError(f"{self.entries[int(p)]['id']}: mined mask {hard.shape} does not fit the photo {rgb.shape[:2]}")
            img, mask, neg, contrast = make_example(rgb, [self.seed, step, j], self.size, self.kind_p, hard,
                                                    self.p_hard, self.rim_p)
            xs.append(img)
            ys.append(mask)
            ns.append(neg)
            cs.append(contrast)
        return np.stack(xs), np.stack(ys), np.stack(ns), np.stack(cs)


def fixed_set(entries: list[dict], seed: int, n: int, size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """n (image, mask) crops for monitoring/tuning, the same every time."""
    b = Batches(entries, seed, 1, size)
    b.weights = np.full(len(entries), 1 / len(entries))  # every photo equally
    out = []
    for i in range(n):
        x, y, _, _ = b.batch(i)
        out.append((x[0], y[0]))
    return out
