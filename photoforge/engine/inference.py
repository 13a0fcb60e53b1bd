"""From a model id to something that runs tiles: build the pack, pick a device, size tiles."""
from __future__ import annotations

from typing import Callable

import numpy as np
import psutil

from photoforge.engine import packs
from photoforge.engine.progress import Progress
from photoforge.engine.registry import ModelDescriptor
from photoforge.engine.runtime import ModelRunner
from photoforge.engine.tiler import MIN_TILE, TileSpec

DEFAULT_OVERLAP = 8
MAX_TILE = 512
# The float strip that collects one row of tiles is 16 bytes per output pixel; keep it
# modest so a 100 MP result still fits comfortably beside the output array itself.
STRIP_BUDGET = 256 << 20

_RUNNERS: dict[tuple, ModelRunner] = {}
_last_used: list[ModelRunner] = []


def last_device_label() -> str | None:
    """What the most recent model ran on, e.g. "OpenVINO CPU bf16" (for status displays)."""
    if _last_used and _last_used[0].selection is not None:
        return _last_used[0].selection.backend.label
    return None


def _inpaint_feeds(model: ModelDescriptor) -> Callable[[object], dict]:
    """Input: (image N×3×H×W float in [0, 1], hole N×1×H×W, non-zero = fill), or just an
    image (the device probe), meaning no hole."""

    def feeds(x) -> dict:
        image, hole = x if isinstance(x, tuple) else (x, np.zeros((x.shape[0], 1, *x.shape[2:]), np.uint8))
        if model.inputs == "lama":
            return {"image": image.astype(np.float32), "mask": (hole > 0).astype(np.float32)}
        return {"image": (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8),
                "mask": np.where(hole > 0, 0, 255).astype(np.uint8)}  # MI-GAN: 255 = keep

    return feeds


STYLE_VECTOR_NAME = "mobilenet_conv/Conv/BiasAdd"  # the predictor's output, the transformer's input


def _style_feeds(model: ModelDescriptor) -> Callable[[object], dict]:
    """Ops pass a tuple: multistyle (N×3×H×W, 26 weights); style-predict (1×256×256×3,);
    style-transform (1×H×W×3, 1×1×1×100 vector). A bare N×3×H×W array is the device probe
    (style 0, a zero vector, and the predictor's card resized to its fixed 256×256)."""

    def feeds(x) -> dict:
        if model.inputs == "multistyle":
            image, weights = x if isinstance(x, tuple) else (x, np.eye(26, dtype=np.float32)[0])
            return {"image": np.ascontiguousarray(image, np.float32),
                    "style_weights": np.asarray(weights, np.float32)}
        if isinstance(x, tuple):
            image, vector = x[0], (x[1] if len(x) > 1 else None)
        else:
            image = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
            if model.inputs == "style-predict":
                import cv2

                image = cv2.resize(image[0], (256, 256), interpolation=cv2.INTER_LINEAR)[None]
            vector = np.zeros((1, 1, 1, 100), np.float32)
        if model.inputs == "style-predict":
            return {"style_image": np.ascontiguousarray(image, np.float32)}
        return {"content_image": np.ascontiguousarray(image, np.float32),
                STYLE_VECTOR_NAME: np.asarray(vector, np.float32).reshape(1, 1, 1, 100)}

    return feeds


def _feeds_for(model: ModelDescriptor, sigma: float | None) -> Callable[[np.ndarray], dict]:
    if model.inputs in ("lama", "migan"):
        return _inpaint_feeds(model)
    if model.inputs in ("multistyle", "style-predict", "style-transform"):
        return _style_feeds(model)
    if model.inputs == "rgb01+sigma":
        level = np.float32((sigma if sigma is not None else 15.0) / 255.0)
        return lambda x: {"image": x, "sigma": np.full((x.shape[0], 1, 1, 1), level, np.float32)}
    return lambda x: {"input": x}


def runner_for(model: ModelDescriptor, *, device: str = "auto", precision: str = "auto",
               threads: int | None = None, notify: Callable[[str], None] | None = None,
               progress: Progress | None = None, sigma: float | None = None) -> ModelRunner:
    """A (cached) runner for the model, building its ONNX file first if needed."""
    path = packs.build(model, progress=progress)
    # σ is an input, not part of the model: one runner (one device probe, one notice about a
    # failing device) serves every noise level.
    key = (model.id, packs.built_hash(model), device, precision, threads)
    runner = _RUNNERS.get(key)
    if runner is None:
        runner = ModelRunner(path, f"{model.id}:{key[1][:16]}", _feeds_for(model, sigma),
                             device=device, precision=precision, threads=threads, notify=notify,
                             probe_size=model.working_size or max(16, model.size_multiple))
        if device == "auto" and model.auto_skip:
            runner.candidates = [c for c in runner.candidates if c not in model.auto_skip] or runner.candidates
        _RUNNERS[key] = runner
    else:
        runner.feeds = _feeds_for(model, sigma)
        if notify is not None:
            runner.notify = notify
    _last_used[:] = [runner]
    return runner


def auto_tile(model: ModelDescriptor, width: int, available: int | None = None) -> int:
    """Largest tile whose activations and row strip fit the memory we allow ourselves."""
    if available is None:
        available = psutil.virtual_memory().available
    by_activations = int((min(available // 4, 2 << 30) / model.memory_per_pixel) ** 0.5)
    strip_rows = STRIP_BUDGET // (16 * width * model.scale * model.scale)
    tile = min(MAX_TILE, by_activations, max(strip_rows, MIN_TILE))
    return max(MIN_TILE * 2, tile // 16 * 16)


def tile_spec(model: ModelDescriptor, tile: int | None, width: int) -> TileSpec:
    """tile None = automatic, 0 = the whole image in one piece, N = N×N windows."""
    if not model.tileable:
        tile = 0
    elif tile is None:
        tile = auto_tile(model, width)
    return TileSpec(tile=tile, overlap=min(DEFAULT_OVERLAP, tile // 4) if tile else 0,
                    context=model.context, scale=model.scale, multiple=model.size_multiple)
