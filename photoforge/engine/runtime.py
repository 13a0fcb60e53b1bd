"""Runtimes behind one small interface, device probing, precision choice and fallback.

Two runtimes run the same ONNX files: ONNX Runtime (CUDA, TensorRT, DirectML, CoreML, CPU
providers) and OpenVINO (CPU with bf16 where the CPU has it, Intel GPUs). `ModelRunner`
picks the fastest device that really works, by running a tiny inference on it, and moves
down the list when a device fails later. Reduced precision is only used after it matched
fp32 on a fixed probe image (≥ 40 dB), a verdict remembered per model file and device.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from photoforge.core import paths
from photoforge.engine.progress import Aborted, Progress
from photoforge.engine.store import KeyedStore

MIN_PSNR_DB = 40.0

# Device name → (runtime, runtime's own device/provider name). Order within this dict is
# the order `auto` tries them in: GPUs first, then OpenVINO's CPU plugin (bf16, ~2× faster
# here), then ONNX Runtime's CPU provider which works everywhere.
DEVICES: dict[str, tuple[str, str]] = {
    "tensorrt": ("onnxruntime", "TensorrtExecutionProvider"),
    "cuda": ("onnxruntime", "CUDAExecutionProvider"),
    "directml": ("onnxruntime", "DmlExecutionProvider"),
    "coreml": ("onnxruntime", "CoreMLExecutionProvider"),
    "openvino-gpu": ("openvino", "GPU"),
    "openvino": ("openvino", "CPU"),
    "cpu": ("onnxruntime", "CPUExecutionProvider"),
}
# TensorRT builds an engine per input shape (minutes); only used when asked for by name.
_AUTO_SKIP = {"tensorrt"}


class DeviceError(RuntimeError):
    """No device could run the model; the message lists what failed and why."""


class OutOfMemory(RuntimeError):
    """A device ran out of memory on an input; a smaller tile may fit."""


class Backend(Protocol):
    label: str

    def run(self, feeds: dict[str, np.ndarray], progress: "Progress | None" = None) -> np.ndarray: ...


def default_threads() -> int:
    env = os.environ.get("PHOTOFORGE_THREADS")
    return int(env) if env else (os.cpu_count() or 1)


def _is_oom(error: BaseException) -> bool:
    text = str(error).lower()
    return isinstance(error, MemoryError) or any(
        s in text for s in ("bad_alloc", "out of memory", "failed to allocate", "cudnn_status_alloc"))


class OrtBackend:
    def __init__(self, path: Path, provider: str, threads: int):
        import onnxruntime as ort

        ort.set_default_logger_severity(4)  # failures reach the user as one notice, not C++ logs
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        available = ort.get_available_providers()
        if provider not in available:
            raise DeviceError(f"{provider} is not in this onnxruntime build ({', '.join(available)})")
        providers = [provider] if provider == "CPUExecutionProvider" else [provider, "CPUExecutionProvider"]
        self.session = ort.InferenceSession(str(path), options, providers=providers)
        # onnxruntime quietly drops a provider whose libraries fail to load; that is a failure.
        if provider not in self.session.get_providers():
            raise DeviceError(f"{provider} could not be initialised (missing drivers or libraries)")
        self.label = f"onnxruntime {provider.replace('ExecutionProvider', '')} fp32"

    def run(self, feeds: dict[str, np.ndarray], progress: Progress | None = None) -> np.ndarray:
        if progress is None:
            return self.session.run(None, feeds)[0]
        import onnxruntime as ort

        options = ort.RunOptions()  # its terminate flag ends the run between two nodes
        with progress.stopping(lambda: setattr(options, "terminate", True)):
            try:
                return self.session.run(None, feeds, options)[0]
            except Exception:
                if progress.cancelled:
                    raise Aborted("cancelled") from None
                raise


_OV_PRECISION = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}


class OpenVinoBackend:
    def __init__(self, path: Path, device: str, precision: str, threads: int):
        import openvino as ov

        core = ov.Core()
        if device not in core.available_devices:
            raise DeviceError(f"OpenVINO has no {device} device ({', '.join(core.available_devices)})")
        core.set_property({"CACHE_DIR": str(paths.cache_dir() / "openvino")})
        config = {"INFERENCE_PRECISION_HINT": _OV_PRECISION[precision]}
        if device == "CPU":
            config["INFERENCE_NUM_THREADS"] = threads
        self.compiled = core.compile_model(str(path), device, config)
        self.request = self.compiled.create_infer_request()
        self.label = f"OpenVINO {device} {precision}"

    def run(self, feeds: dict[str, np.ndarray], progress: Progress | None = None) -> np.ndarray:
        if progress is None:
            self.request.infer(feeds)
        else:
            self.request.start_async(feeds)
            while not self.request.wait_for(50):  # ms: how soon a cancel is noticed
                if progress.cancelled:
                    self.request.cancel()
                    with contextlib.suppress(RuntimeError):
                        self.request.wait()  # the request is reused: let it come to rest
                    raise Aborted("cancelled")
        return self.request.get_output_tensor(0).data.copy()


def reduced_precisions(device: str) -> list[str]:
    """Precisions worth trying before fp32 on a device, fastest first."""
    runtime, name = DEVICES[device]
    if runtime != "openvino":
        return []
    import openvino as ov

    try:
        caps = ov.Core().get_property(name, "OPTIMIZATION_CAPABILITIES")
    except RuntimeError:
        return []
    if name == "CPU":
        return ["bf16"] if "BF16" in caps else []
    return ["fp16"] if "FP16" in caps else []


def auto_candidates() -> list[str]:
    """Devices worth probing for `auto`: those the installed runtimes say they have."""
    found = []
    try:
        import onnxruntime as ort

        providers = set(ort.get_available_providers())
    except ImportError:
        providers = set()
    try:
        import openvino as ov

        ov_devices = set(ov.Core().available_devices)
    except (ImportError, RuntimeError):
        ov_devices = set()
    for device, (runtime, name) in DEVICES.items():
        if device in _AUTO_SKIP:
            continue
        if (runtime == "onnxruntime" and name in providers) or (runtime == "openvino" and name in ov_devices):
            found.append(device)
    return found


def create_backend(path: Path, device: str, precision: str, threads: int) -> Backend:
    runtime, name = DEVICES[device]
    if runtime == "openvino":
        return OpenVinoBackend(path, name, precision, threads)
    if precision != "fp32":
        raise DeviceError(f"{device} runs fp32 only")
    return OrtBackend(path, name, threads)


_BACKENDS: dict[tuple, Backend] = {}


def cached_backend(path: Path, device: str, precision: str, threads: int) -> Backend:
    """One compiled model per (file, device, precision, threads) for the process's life."""
    key = (str(path), device, precision, threads)
    if key not in _BACKENDS:
        _BACKENDS[key] = create_backend(path, device, precision, threads)
    return _BACKENDS[key]


def probe_image(size: int = 64) -> np.ndarray:
    """A fixed photo-like test card (smooth shading, edges, texture): 1×3×size×size in [0, 1]."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    rng = np.random.default_rng(1234)
    r = 0.5 + 0.35 * np.sin(6.0 * x + 2.0 * y)
    g = np.where((x - 0.5) ** 2 + (y - 0.45) ** 2 < 0.08, 0.8, 0.25) + 0.1 * y
    b = 0.3 + 0.4 * x * y + 0.05 * rng.standard_normal((size, size)).astype(np.float32)
    return np.clip(np.stack([r, g, b])[None], 0.0, 1.0).astype(np.float32)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((np.clip(a, 0, 1) - np.clip(b, 0, 1)) ** 2, dtype=np.float64))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


@dataclass
class Selection:
    device: str
    precision: str
    backend: Backend


class ModelRunner:
    """Runs one ONNX model on the best device that works, falling back when one fails."""

    def __init__(self, path: Path, model_key: str, feeds: Callable[[Any], dict],
                 *, probe: Callable[[np.ndarray], dict] | None = None, device: str = "auto",
                 precision: str = "auto", threads: int | None = None,
                 notify: Callable[[str], None] | None = None, probe_size: int = 16):
        if device != "auto" and device not in DEVICES:
            raise DeviceError(f"unknown device '{device}'; choose auto or one of: {', '.join(DEVICES)}")
        if precision not in ("auto", "fp32", "bf16", "fp16"):
            raise DeviceError(f"unknown precision '{precision}'; choose auto, fp32, bf16 or fp16")
        self.path = Path(path)
        self.model_key = model_key  # identifies the weights (e.g. id + ONNX hash) for verdicts
        self.feeds = feeds  # builds the model's input dict from what `run` is given
        self.probe = probe or feeds  # the same from a plain N×3×H×W test image
        self.threads = threads or default_threads()
        self.notify = notify or (lambda message: None)
        self.precision = precision
        self.probe_size = probe_size
        self.candidates = auto_candidates() if device == "auto" else [device]
        self.failures: list[str] = []
        self.selection: Selection | None = None

    def _precisions(self, device: str) -> list[str]:
        if self.precision != "auto":
            return [self.precision]
        return reduced_precisions(device) + ["fp32"]

    def _fidelity_ok(self, device: str, precision: str, backend: Backend) -> bool:
        key = f"{self.model_key}|{device}|{precision}"
        verdicts = KeyedStore("precision_checks.json")
        score = verdicts.get(key)
        if score is None:
            card = probe_image(max(64, self.probe_size))  # a fixed-size network needs its size
            reference = cached_backend(self.path, "cpu", "fp32", self.threads).run(self.probe(card))
            score = psnr(backend.run(self.probe(card)), reference)
            verdicts.put(key, score)
        if score < MIN_PSNR_DB:
            self.notify(f"{device} {precision} differs from fp32 ({score:.1f} dB < {MIN_PSNR_DB:.0f} dB); using fp32")
            return False
        return True

    def _try(self, device: str) -> Selection | None:
        for precision in self._precisions(device):
            try:
                backend = cached_backend(self.path, device, precision, self.threads)
                x = np.full((1, 3, self.probe_size, self.probe_size), 0.5, np.float32)
                out = backend.run(self.probe(x))
                if not np.all(np.isfinite(out)):
                    raise DeviceError("probe inference gave non-finite values")
            except Exception as error:  # any failure moves on to the next choice, recorded
                self.failures.append(f"{device} {precision}: {error}".strip()[:300])
                continue
            if precision != "fp32" and self.precision == "auto" and not self._fidelity_ok(device, precision, backend):
                continue
            return Selection(device, precision, backend)
        return None

    def _select(self) -> Selection:
        while self.selection is None:
            if not self.candidates:
                raise DeviceError("no device could run the model:\n  " + "\n  ".join(self.failures))
            skipped = len(self.failures)
            self.selection = self._try(self.candidates[0])
            if self.selection is None:
                self.candidates.pop(0)
            elif skipped:
                reasons = "; ".join(f.splitlines()[0][:120] for f in self.failures)
                self.notify(f"running on {self.selection.backend.label} ({reasons})")
        return self.selection

    def run(self, x: Any, progress: Progress | None = None) -> np.ndarray:
        """Run on the selected device; on a non-memory failure, fall back and retry once per
        device. With `progress`, a cancel abandons the inference in flight (Aborted)."""
        while True:
            selection = self._select()
            try:
                return selection.backend.run(self.feeds(x), progress)
            except Aborted:
                raise
            except Exception as error:
                if _is_oom(error):
                    raise OutOfMemory(f"{selection.backend.label}: {error}") from error
                self.failures.append(f"{selection.device} during run: {error}"[:300])
                self.notify(f"{selection.backend.label} failed during the run ({error}); falling back")
                _BACKENDS.pop((str(self.path), selection.device, selection.precision, self.threads), None)
                self.candidates.pop(0)
                self.selection = None
