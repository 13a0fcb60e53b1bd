"""`photoforge --selftest`: does this installation work? No GUI, no network.

Imports every layer below the GUI, round-trips an image through the loaders and savers in a
temporary folder, runs numba, and runs ONNX inference: a tiny model generated here on
ONNX Runtime's CPU provider and on OpenVINO's CPU device, then a small built model on
ONNX Runtime CPU if one is built (in the user data dir or bundled with the app).
Prints one line per check and OK at the end; exit 0, or 1 naming the first failure.
"""
from __future__ import annotations

import importlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

MODULES = (
    "photoforge.core.imageio", "photoforge.core.document", "photoforge.core.history",
    "photoforge.core.project", "photoforge.engine.registry", "photoforge.engine.packs",
    "photoforge.engine.runtime", "photoforge.engine.inference", "photoforge.engine.tiler",
    "photoforge.ops.upscale", "photoforge.ops.restore", "photoforge.ops.inpaint",
    "photoforge.ops.stylize", "photoforge.ops.mask", "photoforge.ops.patchmatch",
    "cv2", "tifffile", "onnx", "onnxruntime", "openvino",
)
# Small models first: the check runs the first one that is built.
INFERENCE_MODELS = ("span-x2", "ffdnet-color", "span-x4")


def _imports() -> str:
    for name in MODULES:
        importlib.import_module(name)
    return f"{len(MODULES)} modules"


def _image_round_trip() -> str:
    from photoforge.core.imageio import load_image, save_image
    from photoforge.core.image import ImageData
    from photoforge.app.resources import resources_dir

    resources = resources_dir()
    sample = resources / "samples" / "astronaut.jpg" if resources else None
    if sample is not None and sample.is_file():
        image, origin = load_image(sample), sample.name
    else:  # an installed wheel carries no samples: a generated gradient does the same job
        y, x = np.mgrid[0:64, 0:96]
        image = ImageData(np.dstack([x * 2, y * 3, (x + y)]).astype(np.uint8))
        origin = "generated image"
    with tempfile.TemporaryDirectory(prefix="photoforge-selftest-") as tmp:
        for fmt in ("png", "jpg", "tif"):
            out = save_image(image, Path(tmp) / f"out.{fmt}", format=fmt)
            back = load_image(out)
            if back.pixels.shape != image.pixels.shape:
                raise AssertionError(f"{fmt}: shape {back.pixels.shape} != {image.pixels.shape}")
            if fmt != "jpg" and not np.array_equal(back.pixels, image.pixels):
                raise AssertionError(f"{fmt}: pixels changed in a lossless round trip")
    h, w = image.pixels.shape[:2]
    return f"{origin} {w}×{h} → png, jpg, tif → back"


def _numba() -> str:
    import numba

    @numba.njit(cache=False)
    def total(a):
        s = 0.0
        for v in a:
            s += v
        return s

    if total(np.arange(10.0)) != 45.0:
        raise AssertionError("numba computed a wrong sum")
    return f"numba {numba.__version__}"


def _tiny_model(path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.eye(3, dtype=np.float32).reshape(3, 3, 1, 1) * 2, "w")
    bias = numpy_helper.from_array(np.full(3, 0.25, np.float32), "b")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["input", "w", "b"], ["output"])], "selftest",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, "h", "w"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, "h", "w"])],
        initializer=[weight, bias])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _tiny_inference() -> str:
    from photoforge.engine.runtime import create_backend

    x = np.linspace(0, 1, 3 * 8 * 8, dtype=np.float32).reshape(1, 3, 8, 8)
    ran = []
    with tempfile.TemporaryDirectory(prefix="photoforge-selftest-") as tmp:
        path = Path(tmp) / "tiny.onnx"
        _tiny_model(path)
        for device in ("cpu", "openvino"):
            backend = create_backend(path, device, "fp32", 1)
            out = backend.run({"input": x})
            if not np.allclose(out, x * 2 + 0.25, atol=1e-5):
                raise AssertionError(f"{backend.label} computed a wrong result")
            ran.append(backend.label)
            del backend
    return "generated model on " + ", ".join(ran)


def _built_model_inference() -> str:
    from photoforge.engine import packs
    from photoforge.engine.inference import runner_for
    from photoforge.engine.catalog import get_model

    for model_id in INFERENCE_MODELS:
        model = get_model(model_id)
        if packs.onnx_path(model).is_file() and packs.is_built(model):
            break
    else:
        return "skipped (no model built; `photoforge models fetch span-x2` builds one)"
    size = max(16, model.size_multiple)
    x = np.linspace(0, 1, 3 * size * size, dtype=np.float32).reshape(1, 3, size, size)
    out = runner_for(model, device="cpu", precision="fp32", threads=1).run(x)
    expected = (1, 3, size * model.scale, size * model.scale)
    if out.shape != expected or not np.all(np.isfinite(out)):
        raise AssertionError(f"{model.id}: output {out.shape}, expected {expected}, finite")
    return f"{model.id} ({packs.onnx_path(model).parent}) {size}² → {out.shape[3]}²"


CHECKS: tuple[tuple[str, Callable[[], str]], ...] = (
    ("imports", _imports),
    ("image I/O", _image_round_trip),
    ("numba", _numba),
    ("ONNX inference", _tiny_inference),
    ("built model", _built_model_inference),
)


def run() -> int:
    from photoforge import __version__

    frozen = " (frozen app)" if getattr(sys, "frozen", False) else ""
    print(f"photoforge {__version__} selftest{frozen}, Python {sys.version.split()[0]}")
    for name, check in CHECKS:
        start = time.perf_counter()
        try:
            detail = check()
        except Exception as error:  # noqa: BLE001 - report which check failed, and how, then stop
            print(f"  {name}: FAILED: {type(error).__name__}: {error}")
            print("FAILED")
            return 1
        print(f"  {name}: {detail} ({time.perf_counter() - start:.2f} s)")
    print("OK")
    return 0
