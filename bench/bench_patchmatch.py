"""Content-aware fill (photoforge.ops.patchmatch): cold start, numba vs numpy, timings.

    PYTHONPATH=. python bench/bench_patchmatch.py [--reps 3] [--out DIR] [--skip-numpy]

1. Cold start: `import` + a first tiny fill in a fresh process, with an empty numba cache
   (JIT compile) and again with the cache that run left (what every later run pays).
2. The inner NNF search both ways on the same input (a 600×600 crop of coffee.jpg with a
   ~300 px blob hole, Telea-initialised, the same random initial field, colour only): the
   module's numba kernel (sequential PatchMatch scan) against a vectorised numpy PatchMatch
   (jump flooding: every target tries its 4 neighbours' shifted matches and one random
   sample per radius at once). Prints time and mean patch distance per number of sweeps,
   and the ratio of the times each needs to reach the same mean distance.
3. fill() on crops made the way photoforge.ops.inpaint makes them (hole bounding box plus
   0.6 × its size on each side): a 100 px blob on astronaut.jpg's mission patch, a 150 px
   irregular blob over the flag's edge, a 100 px blob on coffee.jpg's table and the
   ~600×600 crop with a ~300 px blob. Median and min wall time over --reps, and a per-level
   breakdown (PatchMatch, voting, the rest). Before/after PNGs go to --out.
Single-threaded numba; OpenCV is held to 2 threads. The machine may be shared: repeat.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from photoforge.ops import patchmatch as pm  # noqa: E402

COLD = """
import time; t0 = time.perf_counter()
import numpy as np
from photoforge.ops.patchmatch import fill
t1 = time.perf_counter()
img = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
hole = np.zeros((64, 64), bool); hole[20:40, 20:40] = True
fill(img, hole)
print(t1 - t0, time.perf_counter() - t1)
"""


def blob(h, w, cy, cx, radius, seed=0, wobble=0.25):
    """An irregular blob: a disk whose radius wobbles with a few low angular harmonics."""
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    ang = np.arctan2(yy - cy, xx - cx)
    rng = np.random.default_rng(seed)
    rad = 1.0 + sum(wobble / k * np.sin(k * ang + rng.uniform(0, 2 * np.pi)) for k in range(2, 6))
    return np.hypot(yy - cy, xx - cx) <= radius * rad


def load(name):
    bgr = cv2.imread(str(ROOT / "resources" / "samples" / name), cv2.IMREAD_COLOR)
    return np.ascontiguousarray(bgr[:, :, ::-1].astype(np.float32) / 255)


def crop(img, hole):
    ys, xs = np.nonzero(hole)
    size = max(np.ptp(ys) + 1, np.ptp(xs) + 1)
    pad = max(24, int(0.6 * size))
    y0, y1 = max(0, ys.min() - pad), min(img.shape[0], ys.max() + 1 + pad)
    x0, x1 = max(0, xs.min() - pad), min(img.shape[1], xs.max() + 1 + pad)
    return np.ascontiguousarray(img[y0:y1, x0:x1]), np.ascontiguousarray(hole[y0:y1, x0:x1])


def big_case():
    """coffee.jpg enlarged to 900×600, its middle 600×600, a ~300 px blob over the cup."""
    img = cv2.resize(load("coffee.jpg"), (900, 600), interpolation=cv2.INTER_CUBIC)[:, 150:750]
    return np.ascontiguousarray(np.clip(img, 0, 1)), blob(600, 600, 300, 300, 150, seed=1, wobble=0.15)


def cases():
    astro, coffee = load("astronaut.jpg"), load("coffee.jpg")
    yield "astronaut patch, 100 px blob", *crop(astro, blob(512, 512, 385, 170, 50, seed=3, wobble=0.1))
    yield "astronaut flag, 150 px irregular", *crop(astro, blob(512, 512, 190, 75, 75, seed=4, wobble=0.3))
    yield "coffee table, 100 px blob", *crop(coffee, blob(400, 600, 300, 540, 50, seed=5, wobble=0.2))
    yield "coffee 600×600, 300 px blob", *big_case()


def cold_start():
    print("== cold start (fresh process: import, first 64×64 fill) ==")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as cache:
        env["NUMBA_CACHE_DIR"] = cache
        for label in ("empty numba cache (JIT compile)", "warm numba cache"):
            out = subprocess.run([sys.executable, "-c", COLD], env=env, capture_output=True, text=True, check=True)
            imp, first = map(float, out.stdout.split())
            print(f"  {label:34s} import {imp:5.2f} s   first fill {first:5.2f} s")


# --- the vectorised numpy prototype of the same search -------------------------------------
def numpy_patchmatch(img, tys, txs, valid, sidx, sweeps, rng, r):
    """Jump-flooding PatchMatch: all targets at once per candidate kind. Returns matches
    (flat indices) and their patch distances."""
    h, w, c = img.shape
    flat = img.reshape(-1, c)
    offs = np.array([dy * w + dx for dy in range(-r, r + 1) for dx in range(-r, r + 1)])
    target = np.stack([flat[tys * w + txs + o] for o in offs], 1)  # N × p² × C, fixed per call

    def cost(src, sel):
        d = np.zeros(len(src), np.float32)
        for k, o in enumerate(offs):
            e = flat[src + o] - target[sel, k]
            d += np.einsum("ij,ij->i", e, e)
        return d

    n = len(tys)
    sidx = sidx.copy()
    best = cost(sidx, np.arange(n))
    index = np.full((h, w), -1, np.int64)
    index[tys, txs] = np.arange(n)
    vflat = valid.ravel()

    def offer(sel, cand):
        keep = vflat[cand] & (cand != sidx[sel])
        sel, cand = sel[keep], cand[keep]
        d = cost(cand, sel)
        better = d < best[sel]
        sidx[sel[better]], best[sel[better]] = cand[better], d[better]

    for _ in range(sweeps):
        for dy, dx in ((0, 1), (1, 0), (0, -1), (-1, 0)):
            ny, nx = tys - dy, txs - dx
            inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
            nb = np.full(n, -1)
            nb[inside] = index[ny[inside], nx[inside]]
            sel = np.nonzero(nb >= 0)[0]
            cy, cx = sidx[nb[sel]] // w + dy, sidx[nb[sel]] % w + dx
            ok = (cy >= 0) & (cy < h) & (cx >= 0) & (cx < w)
            offer(sel[ok], (cy * w + cx)[ok])
        rad = max(h, w)
        while rad >= 1:
            cy = np.clip(sidx // w + rng.integers(-rad, rad + 1, n), r, h - 1 - r)
            cx = np.clip(sidx % w + rng.integers(-rad, rad + 1, n), r, w - 1 - r)
            offer(np.arange(n), cy * w + cx)
            rad //= 2
    return sidx, best


def numba_vs_numpy(skip_numpy: bool):
    print("== NNF search on the same input: numba kernel vs vectorised numpy ==")
    img, hole = big_case()
    r = 3
    lv = pm._Level(hole, np.zeros_like(hole), np.ones_like(hole), 2 * r + 1, 1)  # sources: anywhere
    start = pm._telea(img, hole)
    tys, txs = np.nonzero(lv.targets)
    vy, vx = np.nonzero(lv.valid)
    pick = np.random.default_rng(0).integers(0, len(vy), len(tys))
    h, w = hole.shape
    care = np.ones((h, w), np.float32)
    no_penalty = np.zeros((h, w), np.float32)
    print(f"  600×600, {hole.sum()} hole px, {len(tys)} target patches, {len(vy)} source patches, 7×7×3")

    def run_numba(sweeps):
        nnf = np.zeros((h, w, 2), np.int64)
        nnf[tys, txs, 0], nnf[tys, txs, 1] = vy[pick], vx[pick]
        cost = np.zeros((h, w), np.float32)
        t = time.perf_counter()
        pm._patchmatch(start, care, no_penalty, lv.targets, lv.valid, nnf, cost, sweeps, 0, r)
        return time.perf_counter() - t, float(cost[tys, txs].mean())

    run_numba(1)
    numba = {}
    for sweeps in (1, 2, 4, 8):
        runs = [run_numba(sweeps) for _ in range(3)]
        numba[sweeps] = (min(t for t, _ in runs), runs[0][1])
        print(f"  numba  {sweeps:2d} sweeps: {numba[sweeps][0]:7.3f} s   mean distance {numba[sweeps][1]:.4f}")
    if skip_numpy:
        return
    numpy = []
    for sweeps in (1, 2, 4, 8, 16):
        t = time.perf_counter()
        _, best = numpy_patchmatch(start, tys, txs, lv.valid, vy[pick] * w + vx[pick], sweeps,
                                   np.random.default_rng(0), r)
        numpy.append((sweeps, time.perf_counter() - t, float(best.mean())))
        print(f"  numpy  {sweeps:2d} sweeps: {numpy[-1][1]:7.3f} s   mean distance {numpy[-1][2]:.4f}")
    print(f"  per sweep: numpy/numba = {numpy[0][1] / numba[1][0]:.0f}× (1 sweep each)")
    for sweeps, (t_nb, d_nb) in numba.items():
        reached = [(t, s) for s, t, d in numpy if d <= d_nb]
        if reached:
            t_np, s_np = reached[0]
            print(f"  to reach numba's {sweeps}-sweep distance numpy needs {s_np} sweeps: "
                  f"{t_np:.2f} s vs {t_nb:.3f} s = {t_np / t_nb:.0f}×")
        else:
            print(f"  numba's {sweeps}-sweep distance {d_nb:.4f}: not reached by numpy in 16 sweeps "
                  f"({numpy[-1][1]:.1f} s, ≥ {numpy[-1][1] / t_nb:.0f}×)")


# --- whole fills ----------------------------------------------------------------------------
def fills(reps: int, out: Path):
    print(f"== fill() on inpaint-style crops (patch 7, {reps} reps; median / min) ==")
    spent = defaultdict(float)
    for name in ("_patchmatch", "_vote"):
        kernel = getattr(pm, name)

        def timed(*args, _kernel=kernel, _name=name):
            t = time.perf_counter()
            _kernel(*args)
            spent[(args[0].shape[:2], _name)] += time.perf_counter() - t

        setattr(pm, name, timed)
    out.mkdir(parents=True, exist_ok=True)
    for i, (name, img, hole) in enumerate(cases()):
        times, breakdown = [], None
        for _ in range(reps):
            spent.clear()
            t = time.perf_counter()
            result = pm.fill(img, hole)
            times.append(time.perf_counter() - t)
            if breakdown is None or times[-1] == min(times):
                breakdown = dict(spent)
        h, w = hole.shape
        print(f"  {name}: crop {w}×{h}, hole {hole.sum()} px: {np.median(times):.2f} s / {min(times):.2f} s")
        shapes = sorted({k[0] for k in breakdown}, reverse=True)
        for level, shape in enumerate(shapes):
            pmt, vote = breakdown.get((shape, "_patchmatch"), 0), breakdown.get((shape, "_vote"), 0)
            print(f"      level {level} {shape[1]:4d}×{shape[0]:<4d} PatchMatch {pmt:6.3f} s  vote {vote:6.3f} s")
        print(f"      rest (pyramid, features, Telea, NNF upsampling) {min(times) - sum(breakdown.values()):6.3f} s")
        shown = img.copy()
        shown[hole] = (1.0, 0.0, 1.0)
        pair = np.concatenate([shown, np.full((h, 4, 3), 1.0, np.float32), result], axis=1)
        cv2.imwrite(str(out / f"fill_{i}.png"), np.rint(pair[:, :, ::-1] * 255).astype(np.uint8))
    print(f"  before/after PNGs in {out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "bench_patchmatch")
    ap.add_argument("--skip-numpy", action="store_true", help="the numpy prototype takes ~1 min")
    args = ap.parse_args()
    cv2.setNumThreads(2)
    cold_start()
    numba_vs_numpy(args.skip_numpy)
    fills(args.reps, args.out)


if __name__ == "__main__":
    main()
