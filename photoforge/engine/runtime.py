"""Runtimes behind one small interface, device probing, precision choice and fallback.

Two runtimes run the same ONNX files: ONNX Runtime (CUDA, TensorRT, DirectML, CoreML, CPU
providers) and OpenVINO (CPU with bf16 where the CPU has it, Intel GPUs). `ModelRunner`
picks the fastest device that really works, by running a tiny inference on it, and moves
down the list when a device fails later. Reduced precision is only used after it matched
fp32 on a fixed probe image (≥ 40 dB), a verdict remembered per model file and device.

Only the runtimes' own exception types count as a device failure (each backend turns them
into `RuntimeFailure` or `OutOfMemory`); anything else, such as a bug in building a model's
feeds, surfaces as itself instead of being taken for a broken device.

Neither runtime may phone home or leave an identifier behind: importing this module, which
is PhotoForge's only way to either runtime, switches both telemetry systems off first.
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from photoforge.core import paths
from photoforge.engine.progress import Aborted, Progress
from photoforge.engine.store import KeyedStore

MIN_PSNR_DB = 40.0


def _no_telemetry() -> None:
    """Switch off both runtimes' telemetry before either is imported.

    ONNX Runtime ≥ 1.29 on Linux/macOS sends 1DS events and keeps a device id in
    ~/.cache/Microsoft/DeveloperTools/.onnxruntime unless ORT_DISABLE_TELEMETRY=1 is set
    before it initialises (then it creates no uploader, id or offline store).
    `import openvino` initialises its model converter's telemetry (openvino_telemetry:
    Google Analytics, ~/intel/openvino_ga_cid and ~/intel/stats), consenting by default when
    no consent file exists; the only opt-out it offers is a file in ~/intel. Without the
    openvino_telemetry module it uses its own no-op stub, so the module is made unimportable
    in this process (nothing of PhotoForge's uses it).
    """
    os.environ["ORT_DISABLE_TELEMETRY"] = "1"
    if "openvino" not in sys.modules:
        sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]


_no_telemetry()

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


class RuntimeFailure(DeviceError):
    """The runtime itself refused or failed (one of its own exception types)."""


def _ort():
    try:
        import onnxruntime as ort
    except ImportError as error:
        raise DeviceError(f"onnxruntime is not installed ({error})") from None
    ort.disable_telemetry_events()  # the environment variable above already stops it all
    return ort


def _ov():
    try:
        import openvino as ov
    except ImportError as error:
        raise DeviceError(f"OpenVINO is not installed ({error})") from None
    return ov


def runtime_errors(runtime: str) -> tuple[type[BaseException], ...]:
    """The exception types a runtime raises for its own failures (load, compile, run).

    onnxruntime raises the exceptions of its pybind module (Fail, InvalidArgument,
    RuntimeException, EPFail, …; all plain Exception subclasses). OpenVINO turns its C++
    exceptions into RuntimeError, plus a few named failures of its own. A MemoryError from
    either is an out-of-memory condition."""
    if runtime == "onnxruntime":
        from onnxruntime.capi import onnxruntime_pybind11_state as state

        own = tuple(v for v in vars(state).values() if isinstance(v, type) and issubclass(v, Exception))
    else:
        _ov()
        from openvino import _pyopenvino as state

        own = (RuntimeError,) + tuple(v for v in vars(state).values()
                                      if isinstance(v, type) and issubclass(v, Exception))
    return own + (MemoryError,)


def _failure(error: BaseException, what: str) -> Exception:
    """A runtime's own exception as OutOfMemory or RuntimeFailure (device failure)."""
    if _is_oom(error):
        return OutOfMemory(f"{what}: {error}")
    return RuntimeFailure(f"{what}: {type(error).__name__}: {error}".strip())


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
        ort = _ort()
        self.errors = runtime_errors("onnxruntime")
        try:
            self._open(ort, path, provider, threads)
        except (DeviceError, OutOfMemory):
            raise
        except self.errors as error:
            raise _failure(error, f"onnxruntime {provider} could not load '{Path(path).name}'") from error

    def _open(self, ort, path: Path, provider: str, threads: int) -> None:
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
            try:
                return self.session.run(None, feeds)[0]
            except self.errors as error:
                raise _failure(error, self.label) from error
        options = _ort().RunOptions()  # its terminate flag ends the run between two nodes
        with progress.stopping(lambda: setattr(options, "terminate", True)):
            try:
                return self.session.run(None, feeds, options)[0]
            except self.errors as error:
                if progress.cancelled:
                    raise Aborted("cancelled") from None
                raise _failure(error, self.label) from error


_OV_PRECISION = {"fp32": "f32", "bf16": "bf16", "fp16": "f16"}


class OpenVinoBackend:
    def __init__(self, path: Path, device: str, precision: str, threads: int):
        ov = _ov()
        self.errors = runtime_errors("openvino")
        try:
            self._open(ov, path, device, precision, threads)
        except (DeviceError, OutOfMemory):
            raise
        except self.errors as error:
            raise _failure(error, f"OpenVINO {device} could not load '{Path(path).name}'") from error

    def _open(self, ov, path: Path, device: str, precision: str, threads: int) -> None:
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
        try:
            if progress is None:
                self.request.infer(feeds)
            else:
                self.request.start_async(feeds)
                while not self.request.wait_for(50):  # ms: how soon a cancel is noticed
                    if progress.cancelled:
                        self.request.cancel()
                        with contextlib.suppress(*self.errors):
                            self.request.wait()  # the request is reused: let it come to rest
                        raise Aborted("cancelled")
            return self.request.get_output_tensor(0).data.copy()
        except self.errors as error:
            raise _failure(error, self.label) from error


def reduced_precisions(device: str) -> list[str]:
    """Precisions worth trying before fp32 on a device, fastest first."""
    runtime, name = DEVICES[device]
    if runtime != "openvino":
        return []
    try:
        ov = _ov()
    except DeviceError:
        return []
    try:
        caps = ov.Core().get_property(name, "OPTIMIZATION_CAPABILITIES")
    except runtime_errors("openvino"):
        return []
    if name == "CPU":
        return ["bf16"] if "BF16" in caps else []
    return ["fp16"] if "FP16" in caps else []


def auto_candidates() -> list[str]:
    """Devices worth probing for `auto`: those the installed runtimes say they have."""
    found = []
    try:
        providers = set(_ort().get_available_providers())
    except DeviceError:
        providers = set()
    try:
        ov_devices = set(_ov().Core().available_devices)
    except (DeviceError, RuntimeError):
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
    """Runs one ONNX model on the best device that works, falling back when one fails.

    The runner owns the compiled model it selected (and nothing else: a device that failed
    or lost the fidelity check is let go at once); `close()` releases it."""

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
            feeds = self.probe(card)
            # The fp32 reference lives only as long as the measurement (the verdict is kept).
            reference = create_backend(self.path, "cpu", "fp32", self.threads).run(feeds)
            score = psnr(backend.run(feeds), reference)
            verdicts.put(key, score)
        if score < MIN_PSNR_DB:
            self.notify(f"{device} {precision} differs from fp32 ({score:.1f} dB < {MIN_PSNR_DB:.0f} dB); using fp32")
            return False
        return True

    def _try(self, device: str) -> Selection | None:
        feeds = self.probe(np.full((1, 3, self.probe_size, self.probe_size), 0.5, np.float32))
        for precision in self._precisions(device):
            try:
                backend = create_backend(self.path, device, precision, self.threads)
                out = backend.run(feeds)
                if not np.all(np.isfinite(out)):
                    raise RuntimeFailure("probe inference gave non-finite values")
                if precision != "fp32" and self.precision == "auto" \
                        and not self._fidelity_ok(device, precision, backend):
                    continue
            except (DeviceError, OutOfMemory) as error:  # the runtime's failure: the next choice
                self.failures.append(f"{device} {precision}: {error}".strip()[:300])
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
        """Run on the selected device; when the runtime fails (not for lack of memory), fall
        back and retry once per device. Building the feeds is not the device's business:
        an error there surfaces as it is. With `progress`, a cancel abandons the inference
        in flight (Aborted)."""
        feeds = self.feeds(x)
        while True:
            selection = self._select()
            try:
                return selection.backend.run(feeds, progress)
            except DeviceError as error:
                self.failures.append(f"{selection.device} during run: {error}"[:300])
                self.notify(f"{selection.backend.label} failed during the run ({error}); falling back")
                self.candidates.pop(0)
                self.selection = None

    def close(self) -> None:
        """Let go of the compiled model; the next run selects a device again."""
        self.selection = None
