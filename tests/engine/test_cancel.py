"""Cancel stops the work: the inference in flight is abandoned (onnxruntime's terminate
flag, OpenVINO's request cancel), so the CPU time spent after a cancel is a small part of
one tile's; and progress moves while a long tile runs."""
from __future__ import annotations

import threading
import time

import numpy as np
import psutil
import pytest

from photoforge.engine.inference import run_tiled
from photoforge.engine.progress import Aborted, Progress
from photoforge.engine.catalog import get_model


def cpu_seconds() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


@pytest.mark.parametrize("device", ["cpu", "openvino"])
def test_cpu_time_after_a_cancel_is_a_fraction_of_one_tile(device):
    model = get_model("span-x2")
    image = (np.random.default_rng(0).random((1024, 1024, 3)) * 255).astype(np.uint8)
    run_tiled(model, image[:64, :64], device=device)  # build, choose and compile outside the timing
    updates = []
    first_tile = threading.Event()
    progress = Progress(lambda f, m: (updates.append((time.perf_counter(), cpu_seconds(), f)),
                                      f >= 0.02 + 0.98 / 9 - 1e-6 and first_tile.set()))
    outcome = {}

    def work():
        try:
            run_tiled(model, image, progress, device=device, tile=256)
            outcome["result"] = "finished"
        except Aborted:
            outcome["result"] = "aborted"
        outcome["cpu"], outcome["time"] = cpu_seconds(), time.perf_counter()

    start_cpu = cpu_seconds()
    thread = threading.Thread(target=work)
    thread.start()
    assert first_tile.wait(120), "the first tile never finished"
    tile_cpu = cpu_seconds() - start_cpu  # at least one whole tile's worth
    time.sleep(0.3)  # well inside the second tile
    cancelled_at, cancel_cpu = time.perf_counter(), cpu_seconds()
    progress.cancel()
    thread.join(60)
    assert outcome["result"] == "aborted"
    after = outcome["cpu"] - cancel_cpu
    assert after < 0.5 * tile_cpu, f"{after:.2f} s of CPU after the cancel; a tile took {tile_cpu:.2f} s"
    assert outcome["time"] - cancelled_at < 0.5 * tile_cpu + 0.2


def test_progress_moves_during_a_long_tile(monkeypatch):
    from photoforge.engine import inference

    monkeypatch.setattr(inference._TileClock, "TICK", 0.05)
    model = get_model("span-x2")
    image = (np.random.default_rng(1).random((384, 384, 3)) * 255).astype(np.uint8)
    run_tiled(model, image[:64, :64], device="cpu")
    seen = []
    run_tiled(model, image, Progress(lambda f, m: seen.append(f)), device="cpu", tile=0)  # one piece
    assert seen == sorted(seen) and seen[-1] == 1.0
    inside = [f for f in seen if 0.02 < f < 1.0]
    assert len(inside) >= 3  # it moved while the single tile ran, not only at its end
