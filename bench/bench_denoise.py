"""Noise estimation accuracy and denoising quality/speed of `photoforge.ops.denoise`.

    PYTHONPATH=. python bench/bench_denoise.py [--no-2mp] [--reps 3]

(a) Estimators: ours (Immerkær Laplacian response, median absolute value over the flattest
    30 % of pixels, clipped pixels left out) against Immerkær's original mean |response|,
    the same with Tai & Yang's 10 % Sobel edge exclusion, the wavelet MAD (Haar HH1,
    median|HH|/0.6745) and Chen et al.'s 2015 PCA estimator, on astronaut.jpg and
    coffee.jpg with Gaussian noise σ ∈ {5, 10, 15, 25, 35} (3 seeds; added on float,
    rounded and clipped to uint8). All but ours take the median over R, G, B too. The
    σ = 0 column is each method's reading of the clean JPEG (its intrinsic noise).
(b) Quality: the same photos (and Lanczos-upscaled ~2 MP versions), σ = 15 and 25 with
    fixed seeds. PSNR/SSIM (8-bit, SSIM per channel with an 11×11 σ = 1.5 Gaussian
    window, K1 = 0.01, K2 = 0.03, mean over channels) of: the noisy input; ours with the
    estimated σ; ours with the true σ; cv2.fastNlMeansDenoisingColored at the (h, hColor)
    giving the best PSNR for that very image: a 10×10 grid over 3…30 then a ±1 step search
    (2 MP: the step search only, started from the small photo's best). Margin = ours
    (estimated σ) − best cv2, in dB.
(c) Speed on astronaut.jpg: ours (estimate + denoise, default device) against cv2 at its
    best setting; median of --reps runs after a warm-up, 2 threads.
"""
from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PHOTOFORGE_DATA_DIR", "/tmp/pfdata")
os.environ.setdefault("PHOTOFORGE_CACHE_DIR", "/tmp/pfcache")
os.environ.setdefault("PHOTOFORGE_THREADS", "2")

from photoforge.engine.inference import last_device_label  # noqa: E402
from photoforge.ops.denoise import DenoiseOptions, denoise_pixels, estimate_noise  # noqa: E402

PHOTOS = ("astronaut", "coffee")
LAP = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


def load(name: str) -> np.ndarray:
    return np.asarray(Image.open(ROOT / "resources/samples" / f"{name}.jpg").convert("RGB"))


def add_noise(clean: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    noisy = clean.astype(np.float64) + np.random.default_rng(seed).normal(0, sigma, clean.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return 10 * np.log10(255.0 ** 2 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    scores = []
    for c in range(a.shape[2]):
        x, y = a[..., c].astype(np.float64), b[..., c].astype(np.float64)
        blur = lambda v: cv2.GaussianBlur(v, (11, 11), 1.5)[5:-5, 5:-5]  # noqa: E731
        mx, my = blur(x), blur(y)
        sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        m = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
        scores.append(m.mean())
    return float(np.mean(scores))


# --- (a) reference estimators, each per channel; median over channels -----------------

def immerkaer(ch: np.ndarray, edge_fraction: float = 0.0) -> float:
    x = ch.astype(np.float32)
    r = np.abs(cv2.filter2D(x, -1, LAP))[1:-1, 1:-1]
    if edge_fraction:
        g = cv2.magnitude(cv2.Sobel(x, cv2.CV_32F, 1, 0), cv2.Sobel(x, cv2.CV_32F, 0, 1))[1:-1, 1:-1]
        r = r[g <= np.quantile(g, 1 - edge_fraction)]
    return float(np.sqrt(np.pi / 2) * r.mean() / 6)


def haar_mad(ch: np.ndarray) -> float:
    x = ch.astype(np.float64)[: ch.shape[0] // 2 * 2, : ch.shape[1] // 2 * 2]
    hh = (x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]) / 2
    return float(np.median(np.abs(hh)) / 0.6745)


def pca_chen(ch: np.ndarray, p: int = 7) -> float:
    """Chen, Zhu & Heng (ICCV 2015): the noise eigenvalues of the patch covariance are the
    tail whose mean equals its median."""
    patches = np.lib.stride_tricks.sliding_window_view(ch.astype(np.float64), (p, p)).reshape(-1, p * p)
    patches = patches - patches.mean(0)
    ev = np.sort(np.linalg.eigvalsh(patches.T @ patches / len(patches)))[::-1]
    for i in range(len(ev)):
        tail = ev[i:]
        if np.median(tail) >= tail.mean():
            return float(np.sqrt(tail.mean()))
    return float(np.sqrt(ev[-1]))


def per_channel(fn):
    return lambda px: float(np.median([fn(px[..., c]) for c in range(px.shape[2])]))


ESTIMATORS = {
    "ours": estimate_noise,
    "Immerkær mean": per_channel(immerkaer),
    "Immerkær+Sobel10%": per_channel(lambda c: immerkaer(c, 0.1)),
    "Haar MAD": per_channel(haar_mad),
    "PCA (Chen 2015)": per_channel(pca_chen),
}


def bench_estimators() -> None:
    sigmas = (0, 5, 10, 15, 25, 35)
    print("(a) estimated σ (mean of 3 seeds) and error against the added σ")
    print(f"{'method':18s} {'photo':9s} " + " ".join(f"{'σ=' + str(s):>12s}" for s in sigmas) + "  max|err|")
    for method, fn in ESTIMATORS.items():
        for name in PHOTOS:
            clean, cells, worst = load(name), [], 0.0
            for s in sigmas:
                est = np.mean([fn(add_noise(clean, s, 100 * seed + s) if s else clean) for seed in range(3)])
                cells.append(f"{est:5.2f}" + (f" ({100 * (est / s - 1):+4.0f}%)" if s else "       "))
                worst = max(worst, abs(est / s - 1)) if s else worst
            print(f"{method:18s} {name:9s} " + " ".join(cells) + f"  {100 * worst:5.1f}%")


# --- (b) quality ------------------------------------------------------------------------

def nlm(noisy_rgb: np.ndarray, h: float, h_color: float) -> np.ndarray:
    # cv2 works in Lab from BGR input; feed it what it expects.
    bgr = cv2.cvtColor(noisy_rgb, cv2.COLOR_RGB2BGR)
    return cv2.cvtColor(cv2.fastNlMeansDenoisingColored(bgr, None, h, h_color, 7, 21), cv2.COLOR_BGR2RGB)


def best_nlm(noisy, clean, start=None):
    scores: dict[tuple[int, int], float] = {}

    def score(p):
        if p not in scores and min(p) >= 1:
            scores[p] = psnr(nlm(noisy, *p), clean)
        return scores.get(p, -np.inf)

    if start is None:
        for p in itertools.product(range(3, 31, 3), repeat=2):
            score(p)
        start = max(scores, key=scores.get)
    best = start
    while True:  # ±1 steps until no neighbour is better
        around = [(best[0] + dh, best[1] + dc) for dh in (-1, 0, 1) for dc in (-1, 0, 1)]
        new = max(around, key=score)
        if score(new) <= score(best):
            return best, score(best)
        best = new


def bench_quality(with_2mp: bool) -> dict:
    cases = [(name, load(name)) for name in PHOTOS]
    if with_2mp:
        for name, img in list(cases):
            f = (2e6 / (img.shape[0] * img.shape[1])) ** 0.5
            size = (round(img.shape[1] * f), round(img.shape[0] * f))
            cases.append((name + "@2MP", np.clip(cv2.resize(img, size, interpolation=cv2.INTER_LANCZOS4), 0, 255)))
    print("\n(b) PSNR dB / SSIM against the clean photo")
    print(f"{'image':14s} {'σ':>3s} {'noisy':>14s} {'ours σ̂ (σ̂)':>22s} {'ours true σ':>14s} "
          f"{'cv2 NLM best (h,hC)':>25s} {'margin':>7s}")
    starts, margins = {}, {15: [], 25: []}
    for (name, clean), sigma in itertools.product(cases, (15, 25)):
        noisy = add_noise(clean, sigma, seed=sigma * 7 + len(name))
        auto, used = denoise_pixels(noisy, DenoiseOptions())
        true, _ = denoise_pixels(noisy, DenoiseOptions(sigma=sigma))
        params, _ = best_nlm(noisy, clean, starts.get((name.split("@")[0], sigma)))
        starts.setdefault((name, sigma), params)
        cv = nlm(noisy, *params)
        margin = psnr(auto, clean) - psnr(cv, clean)
        margins[sigma].append(margin)
        cell = lambda x: f"{psnr(x, clean):6.2f}/{ssim(x, clean):.3f}"  # noqa: E731
        print(f"{name:14s} {sigma:3d} {cell(noisy):>14s} {cell(auto):>14s} ({used:5.2f}) {cell(true):>14s} "
              f"{cell(cv):>14s} ({params[0]:2d},{params[1]:2d}) {margin:+6.2f}")
    for sigma, m in margins.items():
        print(f"σ={sigma}: margin ours(σ̂) − best cv2: min {min(m):+.2f} dB, mean {np.mean(m):+.2f} dB")
    return starts


def bench_speed(params: tuple[int, int], reps: int) -> None:
    clean = load("astronaut")
    noisy = add_noise(clean, 25, seed=1)
    denoise_pixels(noisy, DenoiseOptions())  # warm-up: device probe, compiled model

    times = {"ours": [], "cv2": [], "estimate only": []}
    for _ in range(reps):
        for label, fn in (("ours", lambda: denoise_pixels(noisy, DenoiseOptions())), ("cv2", lambda: nlm(noisy, *params)),
                          ("estimate only", lambda: estimate_noise(noisy))):
            t = time.perf_counter()
            fn()
            times[label].append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n(c) astronaut 512×512, σ=25, median of {reps}: ours {med['ours']:.2f} s "
          f"(estimate {1000 * med['estimate only']:.0f} ms; {last_device_label()}), "
          f"cv2 NLM (h={params[0]}, hColor={params[1]}) {med['cv2']:.2f} s; "
          f"cv2/ours = {med['cv2'] / med['ours']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-2mp", action="store_true", help="skip the 2 MP upscaled photos")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--skip-estimators", action="store_true")
    args = parser.parse_args()
    cv2.setNumThreads(2)
    if not args.skip_estimators:
        bench_estimators()
    starts = bench_quality(not args.no_2mp)
    bench_speed(starts[("astronaut", 25)], args.reps)


if __name__ == "__main__":
    main()
