"""Inpainting models the user adds (no learned inpainting weights can ship, see README).

An added ONNX file is validated (LaMa or MI-GAN signature), copied into the user data dir,
pinned by sha256 and recorded with the licence the user states; from then on it is an
ordinary registry entry. LaMa exports disagree on their output range (0–1 or 0–255), so
that is measured once, when the file is added, and recorded with it.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np

from photoforge.core import paths
from photoforge.engine.adapters import ImageMaskInput, Lama, Migan
from photoforge.engine.registry import ModelDescriptor, UserFile

_UINT8, _FLOAT = 2, 1  # onnx.TensorProto element types


class ModelSignatureError(ValueError):
    pass


def _records_path() -> Path:
    return paths.models_dir() / "user_models.json"


def _read_records() -> list[dict]:
    try:
        return json.loads(_records_path().read_text())
    except FileNotFoundError:
        return []
    except ValueError:
        return []  # a damaged list must not stop the app; the files are still on disk


def _write_records(records: list[dict]) -> None:
    tmp = _records_path().with_suffix(".tmp")
    tmp.write_text(json.dumps(records, indent=1))
    os.replace(tmp, _records_path())


def _descriptor(r: dict) -> ModelDescriptor:
    adapter = Migan() if r["signature"] == Migan.signature else Lama(output_scale=r.get("output_scale", 1.0))
    return ModelDescriptor(
        id=r["id"], task="inpaint", title=r["title"], description=f"Added by you ({r['signature']} signature).",
        speed="model", licence=r["licence"], source=UserFile(r["path"], r["sha256"]), adapter=adapter,
        # Such networks downsample by 8; one with a fixed input size gets exactly that size.
        size_multiple=1 if r.get("working_size") else 8, tileable=False, working_size=r.get("working_size", 0))


def load_user_models() -> list[ModelDescriptor]:
    records = _read_records()
    # Records written before the output range was recorded get it measured now, once.
    unmeasured = [r for r in records if r["signature"] == Lama.signature and "output_scale" not in r]
    for r in unmeasured:
        try:
            r["output_scale"] = measure_output_scale(r["path"], r.get("working_size", 0))
        except Exception:  # a missing or broken file is reported when the model is used
            continue
    if any("output_scale" in r for r in unmeasured):
        _write_records(records)
    return [_descriptor(r) for r in records]


def measure_output_scale(path: str | Path, working_size: int = 0) -> float:
    """255 for a LaMa export whose result is in 0–255, else 1: run once on the engine's test
    card with a hole in the middle (any sane fill of a photo-like card exceeds 2 in 0–255)."""
    from photoforge.engine.runtime import create_backend, probe_image

    size = working_size or 64
    hole = np.zeros((1, 1, size, size), np.uint8)
    hole[..., size // 4: size // 2, size // 4: size // 2] = 1
    feeds = Lama().feeds(ImageMaskInput(probe_image(size), hole))
    out = create_backend(Path(path), "cpu", "fp32", 1).run(feeds)
    return 255.0 if float(np.max(out)) > 2.0 else 1.0


def _dims(value_info) -> list:
    return [d.dim_value if d.HasField("dim_value") else None
            for d in value_info.type.tensor_type.shape.dim]


def inspect_inpaint_model(path: str | Path) -> tuple[str, int]:
    """(signature, fixed working size or 0) of an inpainting ONNX file, or a clear error."""
    import onnx

    path = Path(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:
        raise ModelSignatureError(f"'{path}' is not a readable ONNX file: {error}") from None
    initialisers = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initialisers]
    described = ", ".join(f"{i.name} {_dims(i)}" for i in inputs)
    expected = ("expected two inputs, image N×3×H×W and mask N×1×H×W (float32 for LaMa, "
                f"uint8 for MI-GAN), and one N×3×H×W output; found inputs: {described or 'none'}")
    if len(inputs) != 2 or len(model.graph.output) != 1:
        raise ModelSignatureError(f"'{path}' is not a LaMa or MI-GAN inpainting model: {expected}")
    by_channels = {(_dims(i) + [None, None])[1]: i for i in inputs}
    image, mask = by_channels.get(3), by_channels.get(1)
    output = model.graph.output[0]
    if image is None or mask is None or len(_dims(image)) != 4 or len(_dims(mask)) != 4 \
            or (_dims(output) + [None, None])[1] not in (3, None):
        raise ModelSignatureError(f"'{path}' is not a LaMa or MI-GAN inpainting model: {expected}")
    types = {image.type.tensor_type.elem_type, mask.type.tensor_type.elem_type}
    if types == {_FLOAT}:
        signature = "lama"
    elif types == {_UINT8}:
        signature = "migan"
    else:
        raise ModelSignatureError(f"'{path}': image and mask must both be float32 (LaMa) or uint8 (MI-GAN)")
    if image.name != "image" or mask.name != "mask":
        raise ModelSignatureError(f"'{path}': the inputs must be named 'image' and 'mask', "
                                  f"found '{image.name}' and '{mask.name}'")
    h, w = _dims(image)[2:]
    return signature, (h if h and h == w else 0)


def add_inpaint_model(path: str | Path, licence: str, title: str | None = None) -> ModelDescriptor:
    from photoforge.engine.packs import sha256_of

    source = Path(path)
    if not licence.strip():
        raise ModelSignatureError("state the licence of the model's weights")
    signature, working_size = inspect_inpaint_model(source)
    model_id = "user-" + (re.sub(r"[^a-z0-9]+", "-", source.stem.lower()).strip("-") or "inpaint")
    folder = paths.models_dir() / "user"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{model_id}.onnx"
    shutil.copyfile(source, target)
    record = {"id": model_id, "title": title or source.stem, "path": str(target),
              "sha256": sha256_of(target), "signature": signature, "licence": licence.strip(),
              "working_size": working_size}
    if signature == Lama.signature:
        try:
            record["output_scale"] = measure_output_scale(target, working_size)
        except Exception as error:  # the signature was right, but onnxruntime cannot run it
            target.unlink()
            raise ModelSignatureError(f"'{source}' does not run: {str(error)[:300]}") from None
    records = [r for r in _read_records() if r["id"] != model_id] + [record]
    _write_records(records)
    return _descriptor(record)
