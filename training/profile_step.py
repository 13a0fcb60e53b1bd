"""Profiles a training step: seconds in synthesis (data) vs forward vs backward + optimiser,
for a few recipes measured in the same process, interleaved step by step, so that the
ratios hold on a machine shared with other jobs (its absolute times swing several-fold).

    python -m training.profile_step [--steps 6] [--recipes fp32:8x192 bf16:8x192 fp32:16x128]

A recipe is precision:batch×size; bf16 runs the forward under torch.autocast (CPU bf16).
"""
from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
import torch

from training import corpus, data
from training.model import DamageNet
from training.train_damage import loss_fn, to_input


def _recipe(text: str):
    prec, shape = text.split(":")
    b, s = (int(v) for v in shape.split("x"))
    return prec, b, s


def _step(model, opt, batches, step, bf16: bool):
    t0 = time.perf_counter()
    x, y, n, _ = batches.batch(step)
    t1 = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model.logits(to_input(torch.from_numpy(x)))
    loss = loss_fn(logits.float(), torch.from_numpy(y), torch.from_numpy(n))
    t2 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return t1 - t0, t2 - t1, time.perf_counter() - t2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--recipes", nargs="+", default=["fp32:8x192", "bf16:8x192", "fp32:16x128"])
    args = ap.parse_args()
    torch.set_flush_denormal(True)
    torch.set_num_threads(2)
    cv2.setNumThreads(1)
    entries = data.split_photos(corpus.DEFAULT_OUT)["train"]
    runs = []
    for text in args.recipes:
        prec, b, s = _recipe(text)
        torch.manual_seed(0)
        model = DamageNet().to(memory_format=torch.channels_last)
        batches = data.Batches(entries, 0, b, s)
        for i in range(len(entries)):  # decode every photo now: a run pays that once
            batches.photo(i)
        runs.append((text, prec == "bf16", b * s * s, model, torch.optim.AdamW(model.parameters(), 1e-3), batches))
    times = {r[0]: [] for r in runs}
    for step in range(args.steps + 1):
        for text, bf16, _, model, opt, batches in runs:
            t = _step(model, opt, batches, step, bf16)
            if step:  # the first step warms oneDNN's kernels up
                times[text].append(t)
    ref = None
    for text, _, pixels, *_ in runs:
        d, f, b = np.mean(times[text], axis=0)
        per_px = (d + f + b) / pixels
        ref = ref or per_px
        print(f"{text:12s} data {d:.3f} s  forward {f:.3f} s  backward+opt {b:.3f} s  per step; "
              f"{60 / (d + f + b):.0f} steps/min in one process; time per pixel ×{per_px / ref:.2f} of the first")


if __name__ == "__main__":
    main()
