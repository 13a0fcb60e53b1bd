"""Object removal next to faces and other distinct subjects: does the fill paste them?

    PYTHONPATH=. python bench/bench_object_removal.py [--baseline REV] [--reps 1]
                                                      [--only NAME] [--image resources/readme]

The set: bench/object_removal_masks.json, masks drawn by hand as polygons, 8–15 % of the
photo, each beside a face or another distinct subject (the astronaut's shuttle, helmet and
flag, the cat's background, the towel between two dogs, a blurred figure beside a bird).
Photos: scikit-image's data photos and two from the training corpus (skipped with a note
when ~/.cache/photoforge-corpus has not been built: `python -m training.corpus build`).

Each mask is removed with `inpaint(method="fill")`, once with this tree's photoforge and,
with --baseline REV (default main), once with the photoforge of that git revision (extracted
with `git archive` into a temporary folder), each in its own process; cv2 NS (radius 5) is
the diffusion reference. Measured on the fill (the masked pixels), against the ring = the
pixels outside the mask within 25 px of it (Euclidean distance):
  foreign  share of fill pixels whose colour appears nowhere in the ring: "appears" = within
           ΔE 10 (CIE76, CIELAB of the 8-bit sRGB result, OpenCV's conversion, D65) of at
           least one ring pixel. Goal ≤ 2 %. Pasted faces, hair, eyes score high; diffusion
           and blends of nearby colours score about 0.
  grad     mean Sobel gradient magnitude (grey) inside the fill / in the ring. Goal ≥ 0.6:
           the fill keeps the surroundings' texture (diffusion scores far below).
  s        wall time of the inpaint() call, after a warm-up fill in the same process
           (numba kernels loaded), median of --reps.
With --image, writes resources/readme/object_removal.jpg: the shuttle case, original with
the mask outlined | baseline fill | this tree's fill. The CPU model is printed (lscpu):
times depend on it and on what else the machine runs.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "bench" / "object_removal_masks.json"
CORPUS = Path(os.environ.get("PHOTOFORGE_CORPUS", Path.home() / ".cache" / "photoforge-corpus"))
RING = 25  # px
DELTA_E = 10.0
FOREIGN_GOAL, GRAD_GOAL = 0.02, 0.6


# --- the set -------------------------------------------------------------------------------
def load_case(case: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """(RGB uint8 photo, uint8 mask 0/255), or None when its photo is not on this machine."""
    kind, name = case["photo"].split(":", 1)
    if kind == "skimage":
        import skimage.data

        rgb = getattr(skimage.data, name)()
    else:
        path = CORPUS / name
        if not path.exists():
            return None
        rgb = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    mask = np.zeros(rgb.shape[:2], np.uint8)
    for poly in case["polygons"]:
        cv2.fillPoly(mask, [np.array(poly, np.int32)], 255)
    if "crop" in case:
        x0, y0, x1, y1 = case["crop"]
        rgb, mask = rgb[y0:y1, x0:x1], mask[y0:y1, x0:x1]
    side = case.get("max_side")
    if side and max(rgb.shape[:2]) > side:
        f = side / max(rgb.shape[:2])
        size = (round(rgb.shape[1] * f), round(rgb.shape[0] * f))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        mask = np.where(cv2.resize(mask, size, interpolation=cv2.INTER_AREA) >= 128, 255, 0).astype(np.uint8)
    return np.ascontiguousarray(rgb), mask


# --- metrics -------------------------------------------------------------------------------
def ring_of(hole: np.ndarray, width: int = RING) -> np.ndarray:
    dist = cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, 5)
    return ~hole & (dist <= width)


def foreign_share(rgb: np.ndarray, hole: np.ndarray, width: int = RING, delta_e: float = DELTA_E) -> float:
    """Share of hole pixels whose Lab colour is farther than `delta_e` from every ring pixel's."""
    from scipy.spatial import cKDTree

    lab = cv2.cvtColor(rgb.astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    ring = np.unique(np.round(lab[ring_of(hole, width)], 1), axis=0)
    dist, _ = cKDTree(ring).query(lab[hole], k=1, distance_upper_bound=delta_e + 1e-3)
    return float(np.mean(dist > delta_e))


def gradient(rgb: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3))


def gradient_ratio(rgb: np.ndarray, hole: np.ndarray, width: int = RING) -> float:
    g = gradient(rgb)
    return float(g[hole].mean() / max(g[ring_of(hole, width)].mean(), 1e-6))


# --- running a photoforge (this tree's or a baseline's) in its own process -----------------
def child(out: Path, reps: int, only: str | None) -> None:
    """Runs with PYTHONPATH set to the photoforge to measure; writes PNGs and times.json."""
    from photoforge.core.image import ImageData
    from photoforge.ops.inpaint import InpaintOptions, inpaint

    cv2.setNumThreads(2)
    warm = np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    wmask = np.zeros((96, 96), np.uint8)
    wmask[30:66, 30:66] = 255
    inpaint(ImageData(warm), wmask, InpaintOptions(method="fill"))  # loads numba's kernels
    times = {}
    for case in json.loads(CASES.read_text())["cases"]:
        if only and case["name"] != only:
            continue
        loaded = load_case(case)
        if loaded is None:
            continue
        rgb, mask = loaded
        runs = []
        for _ in range(reps):
            t0 = time.perf_counter()
            res = inpaint(ImageData(rgb), mask, InpaintOptions(method="fill")).pixels
            runs.append(time.perf_counter() - t0)
        assert np.array_equal(res[mask == 0], rgb[mask == 0]), "changed pixels outside the mask"
        cv2.imwrite(str(out / f"{case['name']}.png"), res[:, :, ::-1])
        times[case["name"]] = statistics.median(runs)
    (out / "times.json").write_text(json.dumps(times))


def measure(tree: Path, out: Path, reps: int, only: str | None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(tree))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(out), "--reps", str(reps)]
    if only:
        cmd += ["--only", only]
    subprocess.run(cmd, env=env, check=True, cwd=tree)
    return json.loads((out / "times.json").read_text())


def extract(rev: str, into: Path) -> Path:
    """photoforge/ as of git revision `rev`, in a folder of its own."""
    data = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, "photoforge"],
                          check=True, capture_output=True).stdout
    into.mkdir(parents=True, exist_ok=True)
    tar = into / "src.tar"
    tar.write_bytes(data)
    with tarfile.open(tar) as t:
        t.extractall(into, filter="data")
    return into


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next((line.split(":", 1)[1].strip() for line in out.splitlines()
                      if line.startswith("Model name")), "unknown")
    except (OSError, subprocess.CalledProcessError):
        model = "unknown (no lscpu)"
    return f"{model}, {os.cpu_count()} logical CPUs"


# --- README picture ------------------------------------------------------------------------
def picture(rgb, mask, before, after, path: Path, window=(150, 0, 512, 512), scale=0.75) -> None:
    x0, y0, x1, y1 = window
    outline = rgb.copy()
    contours, _ = cv2.findContours((mask > 0).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(outline, contours, -1, (255, 40, 40), 2, cv2.LINE_AA)
    panels = []
    for img, text in ((outline, "mask"), (before, "before"), (after, "after")):
        p = np.ascontiguousarray(img[y0:y1, x0:x1])
        p = cv2.resize(p, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.55, 1)
        cv2.rectangle(p, (0, 0), (tw + 10, th + base + 8), (0, 0, 0), -1)
        cv2.putText(p, text, (5, th + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA)
        panels.append(p)
    gap = np.full((panels[0].shape[0], 4, 3), 255, np.uint8)
    row = np.concatenate([panels[0], gap, panels[1], gap, panels[2]], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), row[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"\n  {path}: {row.shape[1]}×{row.shape[0]}, {path.stat().st_size / 1000:.0f} KB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", default="main", help="git revision to compare with ('' for none)")
    ap.add_argument("--reps", type=int, default=1, help="timed fills per image and tree")
    ap.add_argument("--only", help="one case by name")
    ap.add_argument("--image", type=Path, help="folder for object_removal.jpg (the shuttle)")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.reps, args.only)
    cv2.setNumThreads(2)
    print(f"CPU: {cpu_model()}")
    cases = [c for c in json.loads(CASES.read_text())["cases"] if not args.only or c["name"] == args.only]
    with tempfile.TemporaryDirectory(prefix="pf-objrm-") as tmp:
        tmp = Path(tmp)
        trees = {"after": ROOT}
        if args.baseline:
            trees = {"before": extract(args.baseline, tmp / "baseline"), **trees}
        times = {label: measure(tree, tmp / label, args.reps, args.only) for label, tree in trees.items()}
        print(f"\nfill = inpaint(method='fill'); before = photoforge at {args.baseline or '-'}, after = this tree; "
              f"foreign = share of fill pixels > ΔE {DELTA_E:g} from every pixel of the {RING} px ring "
              f"(goal ≤ {100 * FOREIGN_GOAL:g} %); grad = mean gradient fill / ring (goal ≥ {GRAD_GOAL}); "
              "s = seconds per inpaint()\n")
        head = f"  {'case':20s} {'size':>9s} {'mask':>6s}"
        for label in (*trees, "cv2 NS"):
            head += f" | {label:>6s} foreign  grad" + ("      s" if label != "cv2 NS" else "")
        print(head)
        print("  " + "-" * (len(head) - 2))
        met = {label: 0 for label in trees}
        n = 0
        for case in cases:
            loaded = load_case(case)
            if loaded is None:
                print(f"  {case['name']:20s} skipped: {case['photo']} not in {CORPUS} "
                      "(python -m training.corpus build)")
                continue
            rgb, mask = loaded
            hole = mask > 0
            n += 1
            line = f"  {case['name']:20s} {rgb.shape[1]:4d}×{rgb.shape[0]:<4d} {100 * hole.mean():5.1f}%"
            results = {}
            for label in trees:
                res = cv2.imread(str(tmp / label / f"{case['name']}.png"))[:, :, ::-1]
                results[label] = res
                f, g = foreign_share(res, hole), gradient_ratio(res, hole)
                met[label] += f <= FOREIGN_GOAL and g >= GRAD_GOAL
                line += f" | {'':6s} {100 * f:6.2f}% {g:5.2f} {times[label][case['name']]:6.2f}"
            ns = cv2.inpaint(rgb, mask, 5, cv2.INPAINT_NS)
            line += f" | {'':6s} {100 * foreign_share(ns, hole):6.2f}% {gradient_ratio(ns, hole):5.2f}"
            print(line, flush=True)
            if args.image and case["name"] == "astronaut-shuttle" and "before" in results:
                shot = (rgb, mask, results["before"], results["after"])
        print()
        for label in trees:
            print(f"  {label}: both goals met on {met[label]}/{n} images")
        if args.image and args.baseline and any(c["name"] == "astronaut-shuttle" for c in cases):
            picture(*shot, args.image / "object_removal.jpg")


if __name__ == "__main__":
    main()
