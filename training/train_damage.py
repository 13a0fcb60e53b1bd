"""Trains the damage-segmentation network on CPU, from the corpus and the synthesiser.

    python -m training.train_damage --steps 4000 --minutes 70 [--bf16] [--threads 1] [--resume] [--out training/runs/damage_seg]

Speed (training/profile_step.py): on a CPU with AVX-512 BF16, --bf16 makes the network's
forward + backward ~1.6× faster; synthesis runs in a second process. --threads 1 leaves it
the other core: a 2-thread step waits at every op for a thread that another job preempted,
and went 4–8× slower whenever one ran, against ~1.2× for one thread.

Fixed seed; batch i is a pure function of (seed, i) (training/data.py), so --resume after
an interruption continues the same run. A checkpoint is written every epoch (--epoch-steps
steps, a few minutes); the log (CSV) gets, per epoch, the training loss, and F1 at 2 px and
threshold 0.5 on fixed crops of the tuning subset and of the validation split. The
validation figure is watched, never used to pick anything: the run ends at --steps (or at
the --minutes safety stop, whichever first) and the last weights are the model. The
learning rate is a cosine over --steps, or over the clock where --minutes runs out first.

Loss: BCE (hard-negative pixels — glints, eye highlights, borders, text, and with
--hard-negatives a model's own false alarms on real photos (training/hard_negatives.py) — weighted 3×,
because they are rare in a crop but are exactly where a detector goes wrong) + soft Tversky
(damage covers a few % of a crop; a region term keeps the positives from being drowned, and
weighing missed damage above false marks (TVERSKY_BETA) works against the shipped model's
main fault, finding only about half the damage).
"""
from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from training import corpus, data, hard_negatives, metrics, synth
from training.model import DamageNet, n_params
from training.warm_start import from_onnx

ROOT = Path(__file__).resolve().parents[1]
NEG_WEIGHT = 3.0
TVERSKY_BETA = 0.7  # weight of missed damage in the region term (0.5 = Dice); false marks get 1 − this
# --contrast-gain: a damaged pixel's BCE weight is 1 + gain·min(1, (contrast / CONTRAST_REF)²), since
# what a missed pixel costs the restore is its squared difference from the undamaged print
# (bench_detector's restore PSNR), not one count in F1. CONTRAST_REF in 8-bit levels.
CONTRAST_REF = 96.0


class _Stream(torch.utils.data.IterableDataset):
    def __init__(self, batches: data.Batches, start: int, stop: int):
        self.batches, self.start, self.stop = batches, start, stop

    def __iter__(self):
        import cv2
        cv2.setNumThreads(1)
        torch.set_num_threads(1)  # the worker makes data; the main process owns the cores
        for step in range(self.start, self.stop):
            x, y, n, c = self.batches.batch(step)
            yield step, torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(n), torch.from_numpy(c)


def to_input(x_uint8: torch.Tensor) -> torch.Tensor:
    """N×H×W×3 uint8 → N×3×H×W float in [0, 1] (the ONNX input convention), channels-last in
    memory: oneDNN's CPU convolutions train about 1.5–2× faster that way here."""
    return x_uint8.permute(0, 3, 1, 2).float().div_(255).contiguous(memory_format=torch.channels_last)


def loss_fn(logits: torch.Tensor, y: torch.Tensor, neg: torch.Tensor, contrast: torch.Tensor | None = None,
            contrast_gain: float = 0.0) -> torch.Tensor:
    y = y.float().unsqueeze(1)
    w = 1 + (NEG_WEIGHT - 1) * neg.float().unsqueeze(1)
    if contrast_gain:
        c = (contrast.float().unsqueeze(1) / CONTRAST_REF).square().clamp(max=1.0)
        w = w + contrast_gain * c * y
    bce = F.binary_cross_entropy_with_logits(logits, y, weight=w)
    p = torch.sigmoid(logits)
    tp = (p * y).sum()
    fn, fp = ((1 - p) * y).sum(), (p * (1 - y)).sum()
    tversky = 1 - (tp + 1) / (tp + TVERSKY_BETA * fn + (1 - TVERSKY_BETA) * fp + 1)
    return bce + tversky


@torch.no_grad()
def crops_f1(model: DamageNet, crops, threshold: float = 0.5, tol: float = 2.0) -> float:
    model.eval()
    c = np.zeros(4, np.int64)
    for i in range(0, len(crops), 8):
        chunk = crops[i:i + 8]
        x = to_input(torch.from_numpy(np.stack([im for im, _ in chunk])))
        prob = model(x)[:, 0].numpy()
        for pr, (_, truth) in zip(prob, chunk):
            c += metrics.counts(pr >= threshold, truth, tol)
    model.train()
    return metrics.f1_from_counts(c)[2]


def lr_at(progress: float, step: int, base: float, warmup: int = 100) -> float:
    """Linear warm-up, then cosine to 2 % over `progress` (0..1)."""
    if step < warmup:
        return base * (step + 1) / warmup
    return base * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * min(1.0, progress))))


def train(train_entries, out: Path, *, seed=0, steps=4000, minutes=70.0, batch=8, size=192, lr=2e-3,
          epoch_steps=250, resume=False, monitor=None, workers=1, widths=(24, 32, 48, 64), warmup=100,
          init: Path | None = None, bf16=False, kind_p: dict | None = None, hard: dict | None = None,
          p_hard: float = 0.0, rim_p: float = synth.RIM_P, contrast_gain: float = 0.0, log=print):
    """Runs (or resumes) training; returns the list of per-step losses of this invocation.
    monitor: {name: crops} evaluated at each epoch end (F1 at threshold 0.5).
    init: an exported ONNX model to start from (training/warm_start.py) instead of random weights.
    bf16: the forward and backward under CPU bf16 autocast (weights, optimiser and the monitor
    stay fp32, and the export is fp32): ~1.6× faster steps on a CPU with AVX-512 BF16.
    kind_p, hard, p_hard, rim_p: what data.Batches draws (KIND_P overrides; mined false alarms;
    the share of crops with rim lights); contrast_gain: loss_fn's weight on high-contrast damage."""
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = DamageNet(widths).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    ckpt_path, log_path = out / "checkpoint.pt", out / "log.csv"
    start, elapsed = 0, 0.0
    if resume and ckpt_path.exists():
        ck = torch.load(ckpt_path, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        start, elapsed = ck["step"], ck["elapsed"]
        log(f"resumed at step {start}, {elapsed / 60:.1f} min in")
    else:
        if log_path.exists():
            log_path.unlink()
        if init is not None:
            calib, _, _, _ = data.Batches(train_entries, seed + 1, 16, size).batch(0)
            from_onnx(model, init, to_input(torch.from_numpy(calib)))
            log(f"started from {init}")
    log(f"DamageNet{widths}: {n_params(model):,} parameters; steps {start}..{steps}, batch {batch}×{size}²"
        + (f"; contrast gain {contrast_gain}" if contrast_gain else ""))
    batches = data.Batches(train_entries, seed, batch, size, kind_p, hard, p_hard, rim_p)
    loader = torch.utils.data.DataLoader(_Stream(batches, start, steps), batch_size=None,
                                         num_workers=workers, prefetch_factor=4 if workers else None,
                                         # fork after OpenCV has started its thread pool can deadlock
                                         multiprocessing_context="spawn" if workers else None)
    t0, losses, epoch_losses = time.time() - elapsed, [], []
    model.train()
    for step, x, y, neg, contrast in loader:
        # The cosine follows whichever is further along, steps or the clock: a run cut by
        # --minutes (other jobs slowed it) still ends annealed instead of at a high rate.
        # The clock alone annealed too early when the first hour was slow, so choose --steps
        # from the measured step rate and let the clock only catch up when the machine stalls.
        progress = max(step / steps, (time.time() - t0) / (minutes * 60))
        for g in opt.param_groups:
            g["lr"] = lr_at(progress, step, lr, warmup)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model.logits(to_input(x))
        loss = loss_fn(logits.float(), y, neg, contrast, contrast_gain)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        epoch_losses.append(loss.item())
        over = time.time() - t0 > minutes * 60
        if (step + 1) % epoch_steps == 0 or step + 1 == steps or over:
            row = {"epoch": (step + 1 + epoch_steps - 1) // epoch_steps, "step": step + 1,
                   "minutes": round((time.time() - t0) / 60, 2), "lr": round(opt.param_groups[0]["lr"], 6),
                   "loss": round(float(np.mean(epoch_losses)), 4)}
            for name, crops in (monitor or {}).items():
                row[f"{name}_f1@0.5"] = round(crops_f1(model, crops), 4)
            new = not log_path.exists()
            with open(log_path, "a", newline="") as f:
                wr = csv.DictWriter(f, fieldnames=list(row))
                if new:
                    wr.writeheader()
                wr.writerow(row)
            log(" ".join(f"{k}={v}" for k, v in row.items()))
            epoch_losses = []
            tmp = ckpt_path.with_suffix(".tmp")
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step + 1,
                        "elapsed": time.time() - t0, "widths": widths, "seed": seed}, tmp)
            os.replace(tmp, ckpt_path)
            if over:
                log(f"time budget of {minutes} min reached at step {step + 1}")
                break
    torch.save({"model": model.state_dict(), "widths": widths, "seed": seed,
                "minutes": (time.time() - t0) / 60}, out / "final.pt")
    return losses


def parse_kind_p(text: str) -> dict[str, float]:
    """'flake=0.35,tear=0.3' → {'flake': 0.35, 'tear': 0.3}, every name a kind, every value in (0, 1]."""
    out = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        name, _, value = item.partition("=")
        try:
            p = float(value)
        except ValueError:
            raise SystemExit(f"--kind-p: {item!r} is not kind=probability") from None
        if name not in data.KIND_P or not 0 < p <= 1:
            raise SystemExit(f"--kind-p: {item!r}: the kind must be one of {', '.join(data.KIND_P)} and 0 < p ≤ 1")
        out[name] = p
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=corpus.DEFAULT_OUT)
    ap.add_argument("--out", type=Path, default=ROOT / "training" / "runs" / "damage_seg")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--minutes", type=float, default=70.0)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--epoch-steps", type=int, default=150)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--bf16", action="store_true", help="train under CPU bf16 autocast (needs AVX-512 BF16 or AMX)")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--init", type=Path, help="start from this exported model (e.g. the shipped one)")
    ap.add_argument("--kind-p", default="", help="KIND_P overrides, e.g. flake=0.35,tear=0.3")
    ap.add_argument("--hard-negatives", type=Path, help="mined false alarms (python -m training.hard_negatives)")
    ap.add_argument("--p-hard", type=float, default=0.3, help="share of crops placed on a mined false alarm")
    ap.add_argument("--train2", action="store_true", help="train on the corpus's round-2 train photos too")
    ap.add_argument("--rim-p", type=float, default=synth.RIM_P,
                    help="share of crops with rim lights (specular arcs along the photo's contours) as hard negatives")
    ap.add_argument("--contrast-gain", type=float, default=0.0,
                    help="extra BCE weight on damaged pixels by their contrast with the undamaged print (loss_fn)")
    args = ap.parse_args()
    # Gradients of a converging network underflow to denormals, which x86 computes many times
    # slower; set before the thread pool exists, so its threads inherit the setting
    torch.set_flush_denormal(True)
    torch.set_num_threads(args.threads)
    import cv2
    cv2.setNumThreads(1)
    split = data.split_photos(args.corpus)
    photos = split["train"] + (split["train2"] if args.train2 else [])
    kind_p = parse_kind_p(args.kind_p)
    hard = None
    if args.hard_negatives:
        hard = hard_negatives.load(args.hard_negatives)
        unknown = set(hard) - {e["id"] for e in photos}
        if unknown:  # a tuning or validation photo must never be trained on, even as a negative
            raise SystemExit(f"{args.hard_negatives}: not train photos: {sorted(unknown)[:3]}")
    monitor = {"tune": data.fixed_set(split["tune"], 1001, 24, 256),
               "val": data.fixed_set(split["val"], 2002, 24, 256)}
    print(f"train photos {len(photos)}, tuning {len(split['tune'])}, validation {len(split['val'])}", flush=True)
    train(photos, args.out, seed=args.seed, steps=args.steps, minutes=args.minutes, batch=args.batch,
          size=args.size, lr=args.lr, epoch_steps=args.epoch_steps, resume=args.resume, monitor=monitor, init=args.init,
          bf16=args.bf16, kind_p=kind_p, hard=hard, p_hard=args.p_hard if hard else 0.0, rim_p=args.rim_p,
          contrast_gain=args.contrast_gain, log=lambda s: print(s, flush=True))


if __name__ == "__main__":
    main()
