"""Runtimes behind one small interface, device probing, precision choice and fallback.

Two runtimes run the same ONNX files: ONNX Runtime (CUDA, TensorRT, DirectML, CoreML, CPU
providers) and OpenVINO (CPU with bf16 where the CPU has it, Intel GPUs). `ModelRunner`
picks the fastest device that really works, by running a tiny inference on it, and moves
down the list when a device fails later. Reduced precision (bf16, fp16, int8) is only used
after it matched fp32 on fixed probes (engine/fidelity.py), a verdict remembered per model
file, device and CPU instruction set; `auto` takes the fastest precision that passed.

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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from photoforge.core import paths
from photoforge.engine.fidelity import MAX_BLOCKINESS, MIN_PSNR_DB, blockiness, probes, psnr
from photoforge.engine.progress import Aborted, Progress
from photoforge.engine.store import KeyedStore

# "winograd" is fp32 arithmetic with the 3×3 convolutions rewritten to Winograd F(6,3)
# (engine/winograd.py): not a reduced precision, but a derived model judged the same way.
PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8", "winograd")
_DERIVED = ("int8", "winograd")  # precisions that run another file, built from the model


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


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def default_threads() -> int:
    env = os.environ.get("PHOTOFORGE_THREADS")
    return int(env) if env else (os.cpu_count() or 1)


def _is_oom(error: BaseException) -> bool:
    text = str(error).lower()
    return isinstance(error, MemoryError) or any(
        s in text for s in ("bad_alloc", "out of memory", "failed to allocate", "cudnn_status_alloc"))


class OrtBackend:
    def __init__(self, path: Path, provider: str, threads: int, precision: str = "fp32"):
        ort = _ort()
        self.errors = runtime_errors("onnxruntime")
        try:
            self._open(ort, path, provider, threads, precision)
        except (DeviceError, OutOfMemory):
            raise
        except self.errors as error:
            raise _failure(error, f"onnxruntime {provider} could not load '{Path(path).name}'") from error

    def _open(self, ort, path: Path, provider: str, threads: int, precision: str) -> None:
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
        self.label = f"onnxruntime {provider.replace('ExecutionProvider', '')} {precision}"

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


# An int8 model carries its own precision (QDQ nodes); what it left in fp32 stays fp32.
_OV_PRECISION = {"fp32": "f32", "bf16": "bf16", "fp16": "f16", "int8": "f32", "winograd": "f32"}


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
            # OpenVINO pins its threads to the first cores. Processes that each take a share
            # (batch workers, Ray actors) would then all run on core 0; and a pinned thread
            # cannot move off a core another program is busy on, so every layer waits for it
            # (SPAN ×4 256², 2 threads on 2 shared cores at load ~9: 3.2× slower pinned).
            config["ENABLE_CPU_PINNING"] = False
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


def isa_cap() -> str:
    """oneDNN's instruction-set cap (ONEDNN_MAX_CPU_ISA, e.g. AVX2 to behave as an AVX2-only
    CPU would), "native" when unset; OpenVINO's CPU plugin honours it for its oneDNN kernels."""
    return os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper() or "native"


def _bf16_allowed() -> bool:
    # OpenVINO still reports BF16 under a cap below AVX-512 BF16, and its bf16 kernels then
    # fall back to reference code (seen crashing); an AVX2-only CPU has no bf16 at all.
    return isa_cap() in ("native", "ALL") or isa_cap().startswith(("AVX512_CORE_BF16", "AVX512_CORE_AMX", "AVX10"))


def reduced_precisions(device: str) -> list[str]:
    """Precisions worth trying before fp32 on a device (auto orders them by measured speed)."""
    runtime, name = DEVICES[device]
    if runtime != "openvino":
        return ["int8"] if device == "cpu" else []
    try:
        ov = _ov()
    except DeviceError:
        return []
    try:
        caps = ov.Core().get_property(name, "OPTIMIZATION_CAPABILITIES")
    except runtime_errors("openvino"):
        return []
    if name == "CPU":
        return (["bf16"] if "BF16" in caps and _bf16_allowed() else []) + ["int8", "winograd"]
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
    allowed = supported_precisions(device)
    if precision not in allowed:
        raise DeviceError(f"{device} runs {' or '.join(allowed)} only, not {precision}")
    if runtime == "openvino":
        return OpenVinoBackend(path, name, precision, threads)
    return OrtBackend(path, name, threads, precision)


def supported_precisions(device: str) -> tuple[str, ...]:
    """What a device can be asked for at all (whether this machine has it is probed)."""
    if DEVICES[device][0] == "openvino":
        return ("fp32", "bf16", "fp16", "int8", "winograd")
    return ("fp32", "int8", "winograd") if device == "cpu" else ("fp32",)


def _best_seconds(backend: Backend, feeds: dict, runs: int = 2) -> float:
    """The shortest of a few timed runs (the machine may be busy with other work)."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        backend.run(feeds)
        best = min(best, time.perf_counter() - start)
    return best


@dataclass
class Selection:
    device: str
    precision: str
    backend: Backend


class ModelRunner:
    """Runs one ONNX model on the best device that works, falling back when one fails.

    The runner owns the compiled model it selected (and nothing else: a device that failed
    or lost the fidelity check is let go at once); `close()` releases it.

    int8_model, when given, returns the path of the model's int8 build (building it on first
    use) or raises DeviceError when the model has none; winograd_model the same for its
    Winograd rewrite."""

    def __init__(self, path: Path, model_key: str, feeds: Callable[[Any], dict],
                 *, probe: Callable[[np.ndarray], dict] | None = None, device: str = "auto",
                 precision: str = "auto", threads: int | None = None,
                 notify: Callable[[str], None] | None = None, probe_size: int = 16,
                 int8_model: Callable[[], Path] | None = None,
                 winograd_model: Callable[[], Path] | None = None):
        if device != "auto" and device not in DEVICES:
            raise DeviceError(f"unknown device '{device}'; choose auto or one of: {', '.join(DEVICES)}")
        if precision not in PRECISIONS:
            raise DeviceError(f"unknown precision '{precision}'; choose {', '.join(PRECISIONS[:-1])} "
                              f"or {PRECISIONS[-1]}")
        self.path = Path(path)
        self.model_key = model_key  # identifies the weights (e.g. id + ONNX hash) for verdicts
        self.feeds = feeds  # builds the model's input dict from what `run` is given
        self.probe = probe or feeds  # the same from a plain N×3×H×W test image
        self.threads = threads or default_threads()
        self.notify = notify or (lambda message: None)
        self.precision = precision
        self.probe_size = probe_size
        self.derived = {"int8": int8_model, "winograd": winograd_model}
        self.candidates = auto_candidates() if device == "auto" else [device]
        self.failures: list[str] = []
        self.selection: Selection | None = None

    def _file(self, precision: str) -> Path:
        if precision not in _DERIVED:
            return self.path
        if self.derived[precision] is None:
            raise DeviceError(f"this model has no {precision} build")
        return self.derived[precision]()

    def _verdict(self, device: str, precision: str) -> dict:
        """How the precision compares with fp32 on this device and CPU (measured once, then
        remembered): worst probe PSNR, worst blockiness, seconds per probe against fp32's."""
        key = f"{self.model_key}|{device}|{precision}|{isa_cap()}"
        verdicts = KeyedStore("precision_checks.json")
        verdict = verdicts.get(key)
        if not isinstance(verdict, dict) or "passed" not in verdict:
            verdict = self._measure(device, precision)
            verdicts.put(key, verdict)
        return verdict

    def _measure(self, device: str, precision: str) -> dict:
        inputs = [self.probe(x) for x in probes(self.probe_size)]
        backend = create_backend(self._file(precision), device, precision, self.threads)
        # fp32 on ONNX Runtime's CPU provider is the reference; it lives only as long as the
        # measurement (the verdict is kept).
        reference = create_backend(self.path, "cpu", "fp32", self.threads)
        outs = [(backend.run(f), reference.run(f)) for f in inputs]
        score = min(psnr(a, b) for a, b in outs)
        blocks = max(blockiness(a, b) for a, b in outs)
        seconds = _best_seconds(backend, inputs[0])
        try:
            same = create_backend(self.path, device, "fp32", self.threads) if device != "cpu" else reference
            fp32_seconds = _best_seconds(same, inputs[0])
        except (DeviceError, OutOfMemory):
            fp32_seconds = None  # then a reduced precision that passed is taken to be faster
        return {"psnr": score, "blockiness": blocks, "seconds": seconds, "fp32_seconds": fp32_seconds,
                "passed": bool(score >= MIN_PSNR_DB and blocks <= MAX_BLOCKINESS)}

    def _refusal(self, device: str, precision: str, verdict: dict) -> str:
        if verdict["psnr"] < MIN_PSNR_DB:
            why = f"{verdict['psnr']:.1f} dB < {MIN_PSNR_DB:.0f} dB"
        else:
            why = f"blockiness {verdict['blockiness']:.2f} > {MAX_BLOCKINESS}"
        return f"{device} {precision} differs from fp32 ({why} on the probe photos)"

    def _precisions(self, device: str) -> list[str]:
        """An explicit precision alone; for auto the reduced precisions that passed their
        check on this device, fastest first and only if faster than fp32, then fp32."""
        if self.precision != "auto":
            return [self.precision]
        timed = []
        for precision in reduced_precisions(device):
            if precision in _DERIVED and self.derived[precision] is None:
                continue
            try:
                verdict = self._verdict(device, precision)
            except (DeviceError, OutOfMemory) as error:
                self.failures.append(f"{device} {precision}: {error}".strip()[:300])
                continue
            if not verdict["passed"]:
                self.notify(self._refusal(device, precision, verdict) + "; using fp32")
            elif verdict.get("fp32_seconds") is None or verdict["seconds"] < verdict["fp32_seconds"]:
                timed.append((verdict["seconds"], precision))
        return [precision for _, precision in sorted(timed)] + ["fp32"]

    def _try(self, device: str) -> Selection | None:
        feeds = self.probe(np.full((1, 3, self.probe_size, self.probe_size), 0.5, np.float32))
        for precision in self._precisions(device):
            try:
                if precision in _DERIVED and self.precision == precision:  # asked for: still never lossy
                    verdict = self._verdict(device, precision)
                    if not verdict["passed"]:
                        raise DeviceError(self._refusal(device, precision, verdict)
                                          + "; use --precision fp32 or auto")
                backend = create_backend(self._file(precision), device, precision, self.threads)
                out = backend.run(feeds)
                if not np.all(np.isfinite(out)):
                    raise RuntimeFailure("probe inference gave non-finite values")
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
