"""Running a registered model: build its ONNX file, pick a device, tile, and translate its
inputs and outputs through the descriptor's adapter.

Ops call `run_tiled` for anything image-shaped (it also serves untileable networks, in one
piece) and `run_once` for the rest (a style vector); `runner_for` only prepares a model
ahead of time, e.g. to report the download and conversion as their own stage.

Runners (each owning one compiled model) live in one bounded cache, `RUNNERS`: the least
recently used is let go when a new model arrives beyond the bound, and `close()` lets go of
all (the GUI calls it on quit or under memory pressure).
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable

import numpy as np
import psutil

from photoforge.engine import int8, packs, speed, winograd
from photoforge.engine.adapters import Kind
from photoforge.engine.int8 import Int8Refused
from photoforge.engine.progress import Progress, null_progress
from photoforge.engine.registry import ModelDescriptor
from photoforge.engine.runtime import ModelRunner
from photoforge.engine.tiler import MIN_TILE, TiledRunner, TileSpec, windows

DEFAULT_OVERLAP = 8
MAX_TILE = 512
# The float strip that collects one row of tiles is 16 bytes per output pixel; keep it
# modest so a 100 MP result still fits comfortably beside the output array itself.
STRIP_BUDGET = 256 << 20

# Compiled models are big (x4plus: ~70 MB of weights plus the runtime's own copy and
# buffers); a few cover the restore pipeline (denoiser, detector) plus an upscaler or style.
MAX_RUNNERS = 4


class RunnerCache:
    """Runners by (model, weights, device, precision, threads), at most `limit` of them,
    least recently used let go first. Thread-safe; a runner that is in use when it is let go
    finishes its run (it holds its own compiled model) and is freed with its last user."""

    def __init__(self, limit: int = MAX_RUNNERS):
        self.limit = limit
        self._runners: OrderedDict[tuple, ModelRunner] = OrderedDict()
        self._lock = threading.Lock()
        self._last: tuple | None = None

    def get(self, key: tuple, make: Callable[[], ModelRunner]) -> ModelRunner:
        with self._lock:
            runner = self._runners.get(key)
            if runner is not None:
                self._runners.move_to_end(key)
                self._last = key
                return runner
        runner = make()  # outside the lock: building a runner may probe devices
        with self._lock:
            runner = self._runners.setdefault(key, runner)
            self._runners.move_to_end(key)
            self._last = key
            while len(self._runners) > self.limit:
                _, old = self._runners.popitem(last=False)
                old.close()
            return runner

    def __len__(self) -> int:
        return len(self._runners)

    def last_label(self) -> str | None:
        with self._lock:
            runner = self._runners.get(self._last) if self._last is not None else None
            selection = runner.selection if runner is not None else None
            return selection.backend.label if selection is not None else None

    def close(self) -> None:
        """Let go of every runner and its compiled model."""
        with self._lock:
            runners = list(self._runners.values())
            self._runners.clear()
            self._last = None
        for runner in runners:
            runner.close()


RUNNERS = RunnerCache()


def close() -> None:
    """Release every compiled model (they are rebuilt from their files on next use)."""
    RUNNERS.close()


def last_device_label() -> str | None:
    """What the most recent model ran on, e.g. "OpenVINO CPU bf16" (for status displays)."""
    return RUNNERS.last_label()


def runner_for(model: ModelDescriptor, *, device: str = "auto", precision: str = "auto",
               threads: int | None = None, notify: Callable[[str], None] | None = None,
               progress: Progress | None = None) -> ModelRunner:
    """A (cached) runner for the model, building its ONNX file first if needed. Its `run`
    takes the adapter's typed input and returns the network's raw output."""
    path = packs.build(model, progress=progress)
    key = (model.id, packs.built_hash(model), device, precision, threads)

    model_key = f"{model.id}:{key[1][:16]}"

    def build_int8() -> Path:
        if model.working_size:
            raise Int8Refused(f"{model.id} takes a fixed {model.working_size}² input; it is not quantised")
        return int8.int8_model(path, model_key, model.adapter.probe, progress)

    def make() -> ModelRunner:
        runner = ModelRunner(path, model_key, model.adapter.feeds,
                             probe=model.adapter.probe, device=device, precision=precision,
                             threads=threads, notify=notify,
                             probe_size=model.working_size or max(16, model.size_multiple),
                             int8_model=build_int8 if precision == "int8" or model.int8_auto else None,
                             winograd_model=(lambda: winograd.winograd_model(path, model_key))
                             if precision == "winograd" or model.winograd_auto else None)
        if device == "auto" and model.auto_skip:
            runner.candidates = [c for c in runner.candidates if c not in model.auto_skip] or runner.candidates
        return runner

    runner = RUNNERS.get(key, make)
    if notify is not None:
        runner.notify = notify
    return runner


def auto_tile(model: ModelDescriptor, width: int, available: int | None = None) -> int:
    """Largest tile whose activations and row strip fit the memory we allow ourselves."""
    if available is None:
        available = psutil.virtual_memory().available
    by_activations = int((min(available // 4, 2 << 30) / model.memory_per_pixel) ** 0.5)
    strip_rows = STRIP_BUDGET // (16 * width * model.scale * model.scale)
    tile = min(model.max_tile or MAX_TILE, by_activations, max(strip_rows, MIN_TILE))
    return max(MIN_TILE * 2, tile // 16 * 16)


def tile_spec(model: ModelDescriptor, tile: int | None, width: int) -> TileSpec:
    """tile None = automatic, 0 = the whole image in one piece, N = N×N windows."""
    if not model.tileable:
        tile = 0
    elif tile is None:
        tile = auto_tile(model, width)
    # Context in whole size multiples keeps every crop on the cell grid of an untiled run
    # (windows already start on it), so a network that downsamples sees the same phase.
    m = model.size_multiple
    return TileSpec(tile=tile, overlap=min(DEFAULT_OVERLAP, tile // 4) if tile else 0,
                    context=-(-model.context // m) * m, scale=model.scale, multiple=m)


def run_once(model: ModelDescriptor, x: Any, *, device: str = "auto", precision: str = "auto",
             threads: int | None = None, notify: Callable[[str], None] | None = None,
             progress: Progress | None = None) -> np.ndarray:
    """One untiled inference: the adapter's typed input → its decoded output."""
    runner = runner_for(model, device=device, precision=precision, threads=threads, notify=notify,
                        progress=progress)
    return model.adapter.output(runner.run(x))


def run_tiled(model: ModelDescriptor, image: np.ndarray, progress: Progress | None = None, *,
              extra: Any = None, out: np.ndarray | None = None, tile: int | None = None,
              device: str = "auto", precision: str = "auto", threads: int | None = None,
              notify: Callable[[str], None] | None = None) -> np.ndarray:
    """Run an image model over H×W×3 RGB (uint8, uint16, or float32 in [0, 1]) in tiles.

    extra: what the model's kind needs besides the image — the noise level σ (0–255 units),
    the H×W hole mask (non-zero = fill), or the style weights / vector; None otherwise.
    out: where to write an image result, (H·s)×(W·s)×3 of any of those dtypes (default a
    new float32 array). A probability model returns an H×W float32 map.
    tile: None = automatic, 0 = in one piece (always so for untileable models), N = N×N.
    Progress is reported once per tile and a cancel raises `Aborted` before the next one.
    """
    progress = progress or null_progress()
    if model.kind is Kind.STYLE_VECTOR:
        raise ValueError(f"'{model.id}' gives a style vector, not an image: use run_once")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"'{model.id}' takes H×W×3 RGB, got an array of shape {image.shape}")
    adapter = model.adapter
    runner = runner_for(model, device=device, precision=precision, threads=threads, notify=notify,
                        progress=progress.sub(0.0, 0.02))
    h, w = image.shape[:2]
    if out is None:
        out = np.empty((h * model.scale, w * model.scale, adapter.channels), np.float32)

    tiles = progress.sub(0.02, 1.0)
    spec = tile_spec(model, tile, w)
    count = len(windows(h, spec.tile, spec.overlap, spec.multiple)) * len(windows(w, spec.tile, spec.overlap, spec.multiple)) \
        if spec.tile else 1
    key = f"{model.id}:{packs.built_hash(model)[:16]}:{device}:{precision}:{threads}"
    clock = _TileClock(tiles, count, speed.seconds_per_pixel(key, runner.path))

    def infer(crop: np.ndarray) -> np.ndarray:
        with clock.tile(crop.shape[-2] * crop.shape[-1]):
            return adapter.output(runner.run(adapter.tile_input(crop[None], extra), tiles))[0]

    try:
        TiledRunner(infer, spec, tiles).run(adapter.stack(image, extra), out)
    finally:
        speed.record(key, clock.seconds, clock.pixels)
    return out[:, :, 0] if model.kind is Kind.PROBABILITY else out


class _TileClock:
    """Times each tile (for engine/speed.py) and, while one runs, moves the progress bar
    by the time it is expected to take, so a long tile shows movement at least every
    TICK seconds; never past 90 % of the tile, never backwards."""

    TICK = 1.0

    def __init__(self, progress: Progress, count: int, seconds_per_pixel: float | None) -> None:
        self.progress, self.share, self.rate = progress, 1.0 / max(1, count), seconds_per_pixel
        self.seconds, self.pixels = 0.0, 0

    @contextlib.contextmanager
    def tile(self, pixels: int):
        start, base = time.perf_counter(), self.progress.fraction
        expected = self.rate * pixels if self.rate else None
        done = threading.Event()

        def tick() -> None:
            while not done.wait(self.TICK):
                elapsed = time.perf_counter() - start
                estimate = base + self.share * min(0.9, elapsed / expected)
                if not done.is_set() and estimate > self.progress.fraction:
                    self.progress.set(estimate)

        ticker = threading.Thread(target=tick, daemon=True) if expected else None
        if ticker:
            ticker.start()
        try:
            yield
        finally:
            done.set()
            if ticker:
                ticker.join()
            self.seconds += time.perf_counter() - start
            self.pixels += pixels
