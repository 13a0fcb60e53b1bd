"""Inpainting models the user adds (no learned inpainting weights can ship, see README).

An added ONNX file is validated (LaMa or MI-GAN signature), copied into the user data dir,
pinned by sha256 and recorded with the licence the user states; from then on it is an
ordinary registry entry.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from photoforge.core import paths
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
    return ModelDescriptor(
        r["id"], "inpaint", r["title"], f"Added by you ({r['signature']} signature).", "model",
        1, 8, 0, False, r["licence"], UserFile(r["path"], r["sha256"]), 0,
        inputs=r["signature"], working_size=r.get("working_size", 0))


def load_user_models() -> list[ModelDescriptor]:
    return [_descriptor(r) for r in _read_records()]


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
    records = [r for r in _read_records() if r["id"] != model_id] + [record]
    _write_records(records)
    return _descriptor(record)
