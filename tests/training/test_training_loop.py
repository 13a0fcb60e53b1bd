"""A tiny training run lowers the loss, and a resumed run picks up where it stopped."""
from __future__ import annotations

import csv

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from training import data  # noqa: E402
from training.model import DamageNet  # noqa: E402
from training.train_damage import loss_fn, to_input, train  # noqa: E402

ROOT_SAMPLES = data.corpus.ROOT / "resources" / "samples"
ENTRIES = [{"path_on_disk": str(ROOT_SAMPLES / n), "subject": s}
           for n, s in (("astronaut.jpg", "portrait"), ("coffee.jpg", "object"))]


def test_a_tiny_run_lowers_the_loss_and_resumes(tmp_path, monkeypatch):
    """45 steps cannot learn damage in general, but they must fit the two batches they are
    shown over and over: that proves the loss, gradients, optimiser and schedule work."""
    torch.set_num_threads(2)
    real_batch = data.Batches.batch
    monkeypatch.setattr(data.Batches, "batch", lambda self, step: real_batch(self, step % 2))
    kw = dict(seed=0, batch=3, size=64, lr=3e-3, epoch_steps=15, workers=0, widths=(8, 12, 16, 16),
              minutes=5, warmup=5, log=lambda s: None)
    x, y, n, _ = real_batch(data.Batches(ENTRIES, 0, 3, 64), 0)  # the first of the two batches

    def batch_loss(model):
        model.train()  # batch statistics: 45 steps are too few for BatchNorm's running ones
        with torch.no_grad():
            return loss_fn(model.logits(to_input(torch.from_numpy(x))), torch.from_numpy(y), torch.from_numpy(n)).item()

    torch.manual_seed(0)
    before = batch_loss(DamageNet(kw["widths"]))  # the run starts from these weights
    losses = train(ENTRIES, tmp_path, steps=45, **kw)
    assert len(losses) == 45
    trained = DamageNet(kw["widths"])
    trained.load_state_dict(torch.load(tmp_path / "final.pt", weights_only=False)["model"])
    assert batch_loss(trained) < before - 0.2
    assert np.mean(losses[-12:]) < np.mean(losses[:12])
    more = train(ENTRIES, tmp_path, steps=50, resume=True, **kw)
    assert len(more) == 5
    with open(tmp_path / "log.csv") as f:
        steps = [int(r["step"]) for r in csv.DictReader(f)]
    assert steps == [15, 30, 45, 50]
    assert (tmp_path / "final.pt").exists()


def _loss_gap(monkeypatch, beta: float) -> float:
    """loss(8 of 16 damaged pixels missed) − loss(8 clean pixels marked), confident logits."""
    from training import train_damage
    monkeypatch.setattr(train_damage, "TVERSKY_BETA", beta)
    y = torch.zeros(1, 16, 16, dtype=torch.bool)
    y[0, 4:8, 4:8] = True
    neg = torch.zeros_like(y)
    truth = torch.where(y, 8.0, -8.0).unsqueeze(1)
    missed, marked = truth.clone(), truth.clone()
    missed[0, 0, 4:6, 4:8] = -8.0
    marked[0, 0, 10:12, 4:8] = 8.0
    return (train_damage.loss_fn(missed, y, neg) - train_damage.loss_fn(marked, y, neg)).item()


def test_the_loss_weighs_missed_damage_above_false_marks(monkeypatch):
    """The shipped model found about half the damage: the region term charges a miss more
    than Dice (β = 0.5) does, relative to a false mark of the same size."""
    from training import train_damage
    assert _loss_gap(monkeypatch, train_damage.TVERSKY_BETA) > _loss_gap(monkeypatch, 0.5) + 0.05


def test_a_bf16_run_lowers_the_loss(tmp_path, monkeypatch):
    """The bf16 autocast path trains (and saves fp32 weights the export can read)."""
    torch.set_num_threads(2)
    real_batch = data.Batches.batch
    monkeypatch.setattr(data.Batches, "batch", lambda self, step: real_batch(self, step % 2))
    losses = train(ENTRIES, tmp_path, seed=0, steps=40, batch=3, size=64, lr=3e-3, epoch_steps=20, workers=0,
                   widths=(8, 12, 16, 16), minutes=5, warmup=5, bf16=True, log=lambda s: None)
    assert np.isfinite(losses).all()
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 0.1
    state = torch.load(tmp_path / "final.pt", weights_only=False)["model"]
    assert all(v.dtype in (torch.float32, torch.int64) for v in state.values())


def test_a_run_stopped_by_the_clock_ends_annealed(tmp_path, monkeypatch):
    """--minutes stops a run that was too slow to reach --steps; the cosine follows the clock
    then, so the last steps ran at the bottom of the schedule, not near its top."""
    real_batch = data.Batches.batch
    monkeypatch.setattr(data.Batches, "batch", lambda self, step: real_batch(self, step % 2))
    base = 3e-3
    train(ENTRIES, tmp_path, seed=0, steps=100_000, batch=2, size=32, lr=base, epoch_steps=100_000, workers=0,
          widths=(4, 4, 4, 4), minutes=0.1, warmup=1, log=lambda s: None)
    with open(tmp_path / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and int(rows[0]["step"]) < 100_000
    assert float(rows[0]["lr"]) < 0.1 * base


def test_the_contrast_gain_charges_a_missed_bright_mark_more_than_a_faint_one():
    """--contrast-gain: missing a damaged pixel costs what leaving it costs the restore; with
    no gain (every earlier run) the loss ignores contrast."""
    from training import train_damage
    y = torch.zeros(1, 8, 8, dtype=torch.bool)
    y[0, 2:6, 2:6] = True
    neg = torch.zeros_like(y)
    contrast = torch.zeros(1, 8, 8, dtype=torch.uint8)
    contrast[0, 2:4, 2:6] = 200  # top half of the mark: bright
    contrast[0, 4:6, 2:6] = 10  # bottom half: faint
    truth = torch.where(y, 8.0, -8.0).unsqueeze(1)
    miss_bright, miss_faint = truth.clone(), truth.clone()
    miss_bright[0, 0, 2:4, 2:6] = -8.0
    miss_faint[0, 0, 4:6, 2:6] = -8.0

    def loss(logits, gain):
        return train_damage.loss_fn(logits, y, neg, contrast, gain).item()

    assert loss(miss_bright, 0.0) == pytest.approx(loss(miss_faint, 0.0))
    assert loss(miss_bright, 3.0) > 2.5 * loss(miss_faint, 3.0)
    assert loss(miss_faint, 3.0) == pytest.approx(loss(miss_faint, 0.0), rel=0.05)  # (10/96)² ≈ 0.01


def test_an_example_s_contrast_is_the_damage_s_difference_from_the_print():
    rgb = np.asarray(data.load_rgb(ROOT_SAMPLES / "astronaut.jpg"))
    img, mask, _, contrast = data.make_example(rgb, [0, 1, 2], 192)
    assert contrast.shape == mask.shape and contrast.dtype == np.uint8
    assert mask.mean() > 0.01
    assert not contrast[~mask].any()  # nothing was drawn there
    assert np.median(contrast[mask]) > 10
