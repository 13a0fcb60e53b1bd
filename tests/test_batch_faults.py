"""A big batch with broken files in it: every bad file is named, the rest are done, the exit
code says some failed, and memory stays flat from the first hundred files to the last."""
from __future__ import annotations

import subprocess
import sys
import time

import cv2
import numpy as np
import psutil

from tests.conftest import ROOT

COUNT, BROKEN_EVERY = 1000, 20  # 5 % broken


def test_a_thousand_files_with_five_percent_broken(tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    rng = np.random.default_rng(0)
    broken = []
    for i in range(COUNT):
        path = folder / f"img{i:04d}.png"
        cv2.imwrite(str(path), (rng.random((24, 32, 3)) * 255).astype(np.uint8))
        if i % BROKEN_EVERY == 7:
            path.write_bytes(path.read_bytes()[:60])  # truncated mid-stream
            broken.append(path.name)
    log = tmp_path / "stderr.txt"  # a file, not a pipe: a full pipe would stall the batch
    with open(log, "w") as sink:
        child = subprocess.Popen([sys.executable, "-m", "photoforge", "upscale", str(folder), "-o",
                                  str(tmp_path / "out"), "--model", "span-x2", "--device", "cpu", "--threads", "2"],
                                 cwd=ROOT, stdout=subprocess.DEVNULL, stderr=sink)
    samples = []  # (seconds, RSS) of the running batch
    watched = psutil.Process(child.pid)
    start = time.monotonic()
    while child.poll() is None:
        try:
            samples.append((time.monotonic() - start, watched.memory_info().rss))
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    child.wait(timeout=600)
    stderr = log.read_text()
    assert child.returncode == 1, stderr[-2000:]
    assert f"{COUNT - len(broken)} of {COUNT} images done, {len(broken)} failed" in stderr
    assert all(name in stderr for name in broken) and "Traceback" not in stderr
    assert len(list((tmp_path / "out").rglob("*.png"))) == COUNT - len(broken)
    # Flat memory: once the model is loaded (the first third), the last third uses no more.
    total = samples[-1][0]
    early = max(rss for t, rss in samples if total / 3 <= t < total / 2)
    late = max(rss for t, rss in samples if t >= 2 * total / 3)
    assert late <= early + (30 << 20), (early >> 20, late >> 20)
