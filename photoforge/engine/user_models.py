"""Inpainting models the user adds (no learned inpainting weights can ship, see README).

An added ONNX file is validated before anything is registered: its signature (LaMa or
MI-GAN inputs), its input size (a fixed size PhotoForge can run), its external data (only
files beside it, which are then embedded: the stored model is one self-contained file) and
a probe run on a test card whose output must have the card's size. It is staged beside its
final place and moved there in one step (a full disk leaves nothing half-written), pinned
by sha256 and recorded with the licence the user states. LaMa exports disagree on their
output range (0–1 or 0–255), so the probe measures that too, once.

The record list is the user's file: a damaged record is skipped with a notice, never fatal.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np

from photoforge.core import paths
from photoforge.engine.adapters import ImageMaskInput, Lama, Migan
from photoforge.engine.registry import ModelDescriptor, UserFile

_UINT8, _FLOAT = 2, 1  # onnx.TensorProto element types
PROBE_SIZE = 64  # the probe's card for a model of any size (LaMa and MI-GAN downsample by 8)
MAX_WORKING_SIZE = 2048  # the largest fixed input a model may demand (the probe runs at it)
_EMBED_LIMIT = (2 << 30) - (64 << 20)  # protobuf's 2 GiB, with room for the graph itself


class ModelSignatureError(ValueError):
    """The file cannot be added (what it is, what it needs, or copying it); the message
    names the file."""


def _records_path() -> Path:
    return paths.models_dir() / "user_models.json"


def _read_raw() -> tuple[list, str | None]:
    """The record list as stored, and what is wrong with the file as a whole (if anything)."""
    path = _records_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return [], None
    except (OSError, ValueError) as error:
        return [], f"'{path}' cannot be read ({error}); no added model is listed"
    if not isinstance(data, list):
        return [], f"'{path}' is not a list of models; no added model is listed"
    return data, None


def _write_records(records: list) -> None:
    tmp = _records_path().with_suffix(".tmp")
    tmp.write_text(json.dumps(records, indent=1))
    os.replace(tmp, _records_path())


def _one_line(text: object) -> str:
    """Text for one table cell: whitespace (newlines, tabs) as single spaces, no controls."""
    return " ".join("".join(c if c.isprintable() else " " for c in str(text)).split())


_TEXT_FIELDS = ("id", "title", "path", "sha256", "signature", "licence")


def _record_problem(r: object) -> str | None:
    """Why a stored record cannot be used, None if it can."""
    if not isinstance(r, dict):
        return f"is not a model record ({type(r).__name__})"
    missing = [k for k in _TEXT_FIELDS if k not in r]
    if missing:
        return "lacks " + ", ".join(f"'{k}'" for k in missing)
    empty = [k for k in _TEXT_FIELDS if not isinstance(r[k], str) or not r[k].strip()]
    if empty:
        return "has no text in " + ", ".join(f"'{k}'" for k in empty)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", r["id"]):
        return "has an id that is not lower-case letters, digits and dashes"
    if r["signature"] not in (Lama.signature, Migan.signature):
        return f"has an unknown signature '{_one_line(r['signature'])[:40]}'"
    if not re.fullmatch(r"[0-9a-f]{64}", r["sha256"]):
        return "has a sha256 that is not one"
    size = r.get("working_size", 0)
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_WORKING_SIZE:
        return f"has a working size that is not 0–{MAX_WORKING_SIZE}"
    scale = r.get("output_scale", 1.0)
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale not in (1, 255):
        return "has an output scale that is neither 1 nor 255"
    return None


def _descriptor(r: dict) -> ModelDescriptor:
    adapter = Migan() if r["signature"] == Migan.signature \
        else Lama(output_scale=float(r.get("output_scale", 1.0)))
    return ModelDescriptor(
        id=r["id"], task="inpaint", title=_one_line(r["title"]),
        description=f"Added by you ({r['signature']} signature).", speed="model",
        licence=_one_line(r["licence"]), source=UserFile(r["path"], r["sha256"]), adapter=adapter,
        # Such networks downsample by 8; one with a fixed input size gets exactly that size.
        size_multiple=1 if r.get("working_size") else 8, tileable=False, working_size=r.get("working_size", 0))


def read_user_models() -> tuple[list[ModelDescriptor], list[str]]:
    """The added models, and a notice for each stored record that had to be skipped."""
    records, problem = _read_raw()
    notices = [problem] if problem else []
    good, seen = [], set()
    for n, r in enumerate(records, 1):
        why = _record_problem(r)
        if why is None and r["id"] in seen:
            why = f"repeats the id '{r['id']}'"
        if why is not None:
            name = f" ({_one_line(r['id'])[:60]})" if isinstance(r, dict) and isinstance(r.get("id"), str) else ""
            notices.append(f"'{_records_path()}': record {n}{name} skipped: it {why}")
            continue
        seen.add(r["id"])
        good.append(r)
    # Records written before the output range was recorded get it measured now, once.
    from photoforge.engine.runtime import DeviceError, OutOfMemory

    unmeasured = [r for r in good if r["signature"] == Lama.signature and "output_scale" not in r]
    for r in unmeasured:
        try:
            r["output_scale"] = measure_output_scale(r["path"], r.get("working_size", 0))
        except (DeviceError, OutOfMemory):  # a missing or broken file is reported when it is used
            continue
    if any("output_scale" in r for r in unmeasured):
        _write_records(records)  # skipped records stay as they were: the user's to mend
    return [_descriptor(r) for r in good], notices


def load_user_models() -> list[ModelDescriptor]:
    return read_user_models()[0]


def _probe(path: Path, signature: str, working_size: int) -> np.ndarray:
    """The model's output for the engine's test card with a hole in the middle."""
    from photoforge.engine.fidelity import probe_image
    from photoforge.engine.runtime import create_backend

    size = working_size or PROBE_SIZE
    hole = np.zeros((1, 1, size, size), np.uint8)
    hole[..., size // 4: size // 2, size // 4: size // 2] = 1
    adapter = Migan() if signature == Migan.signature else Lama()
    feeds = adapter.feeds(ImageMaskInput(probe_image(size), hole))
    return np.asarray(create_backend(Path(path), "cpu", "fp32", 1).run(feeds))


def measure_output_scale(path: str | Path, working_size: int = 0) -> float:
    """255 for a LaMa export whose result is in 0–255, else 1: run once on the engine's test
    card with a hole in the middle (any sane fill of a photo-like card exceeds 2 in 0–255)."""
    return 255.0 if float(np.max(_probe(Path(path), Lama.signature, working_size))) > 2.0 else 1.0


def _check_probe(source: Path, staged: Path, signature: str, working_size: int) -> float:
    """Run the staged model once: its output must be 1×3×S×S for an S×S card, finite.
    Returns the output scale (1 or 255) it shows."""
    from photoforge.engine.runtime import DeviceError, OutOfMemory

    size = working_size or PROBE_SIZE
    try:
        out = _probe(staged, signature, working_size)
    except (DeviceError, OutOfMemory) as error:  # the signature was right, but it cannot run
        raise ModelSignatureError(f"'{source}' does not run: {str(error)[:300]}") from None
    if out.shape != (1, 3, size, size):
        raise ModelSignatureError(
            f"'{source}' gives an output of shape {'×'.join(map(str, out.shape))} for a "
            f"{size}×{size} image; an inpainting model must return 1×3×{size}×{size}")
    if not np.all(np.isfinite(out.astype(np.float32))):
        raise ModelSignatureError(f"'{source}' gives values that are not finite numbers on a test image")
    if signature == Lama.signature and float(np.max(out)) > 2.0:
        return 255.0
    return 1.0


def _dims(value_info) -> list:
    return [d.dim_value if d.HasField("dim_value") else None
            for d in value_info.type.tensor_type.shape.dim]


def inspect_inpaint_model(path: str | Path) -> tuple[str, int]:
    """(signature, fixed working size or 0) of an inpainting ONNX file, or a clear error."""
    import onnx

    path = Path(path)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # noqa: BLE001 - protobuf's decode errors have no common base
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
    if (h or w) and h != w:
        raise ModelSignatureError(f"'{path}' needs a fixed {w or 'any'}×{h or 'any'} input; PhotoForge "
                                  "runs a fixed-size inpainting model only at a square size")
    if h and h > MAX_WORKING_SIZE:
        raise ModelSignatureError(f"'{path}' needs a fixed {w}×{h} input; PhotoForge runs inpainting "
                                  f"models at up to {MAX_WORKING_SIZE}×{MAX_WORKING_SIZE}")
    return signature, h or 0


def _external_tensors(model) -> list:
    from onnx import TensorProto
    from onnx.external_data_helper import _get_all_tensors

    return [t for t in _get_all_tensors(model) if t.data_location == TensorProto.EXTERNAL]


def _check_external_data(source: Path, model) -> None:
    """Every external-data file must be a regular file inside the model's own folder and
    hold as many bytes as the tensor says."""
    folder = source.resolve().parent
    for tensor in _external_tensors(model):
        info = {e.key: e.value for e in tensor.external_data}
        location = info.get("location", "")
        where = f"'{source}' keeps its tensor '{tensor.name}' in '{location}'"
        target = (folder / location).resolve()
        if not location or Path(location).is_absolute() or folder not in target.parents:
            raise ModelSignatureError(f"{where}, outside the model's folder; only data files beside "
                                      "the model can be added with it")
        if not target.is_file():
            raise ModelSignatureError(f"{where}, which is not a file beside the model")
        try:
            end = int(info.get("offset") or 0) + int(info.get("length") or 0)
        except ValueError:
            raise ModelSignatureError(f"{where} at an offset or length that is not a number") from None
        if end > target.stat().st_size:
            raise ModelSignatureError(f"{where}, which is shorter than the tensor ({end} bytes)")


def _write_synced(staged: Path, write) -> None:
    with open(staged, "xb") as out:
        write(out)
        out.flush()
        os.fsync(out.fileno())


def _stage(source: Path, staged: Path) -> None:
    """The model as one self-contained file at `staged`: copied as it is, or with its
    external data (already checked) embedded."""
    import onnx
    from onnx.external_data_helper import load_external_data_for_model

    model = onnx.load(str(source), load_external_data=False)
    external = _external_tensors(model)
    if not external:
        with open(source, "rb") as src:
            _write_synced(staged, lambda out: shutil.copyfileobj(src, out, 1 << 20))
        return
    size = sum(int({e.key: e.value for e in t.external_data}.get("length") or 0) for t in external)
    if size > _EMBED_LIMIT:
        raise ModelSignatureError(f"'{source}': its external data is too large to embed (over 2 GB)")
    load_external_data_for_model(model, str(source.resolve().parent))
    data = model.SerializeToString()
    _write_synced(staged, lambda out: out.write(data))


def _model_id(source: Path, digest: str, records: list) -> str:
    """The id the same weights already have, else one from the file's name (never
    `user-user-…`) that no other record or file uses (`a b.onnx`, then `a-b.onnx`:
    user-a-b, user-a-b-2)."""
    for r in records:
        if isinstance(r, dict) and r.get("sha256") == digest and isinstance(r.get("id"), str):
            return r["id"]
    stem = re.sub(r"[^a-z0-9]+", "-", source.stem.lower()).strip("-")
    base = "user-" + (re.sub(r"^(user-)+", "", stem + "-").strip("-") or "inpaint")
    taken = {r.get("id") for r in records if isinstance(r, dict)}
    model_id, n = base, 1
    while model_id in taken or (paths.models_dir() / "user" / f"{model_id}.onnx").exists():
        n += 1
        model_id = f"{base}-{n}"
    return model_id


def add_inpaint_model(path: str | Path, licence: str, title: str | None = None) -> ModelDescriptor:
    """Check, probe, copy (atomically) and record an inpainting model; the same weights
    added again keep their id and take the new licence and title."""
    import onnx

    from photoforge.core.digest import sha256_of

    source = Path(path)
    licence = _one_line(licence)
    if not licence:
        raise ModelSignatureError("state the licence of the model's weights")
    signature, working_size = inspect_inpaint_model(source)
    _check_external_data(source, onnx.load(str(source), load_external_data=False))
    folder = paths.models_dir() / "user"
    folder.mkdir(parents=True, exist_ok=True)
    staged = folder / f".adding-{os.getpid()}-{time.monotonic_ns()}.onnx"
    try:
        try:
            _stage(source, staged)
        except OSError as error:
            raise ModelSignatureError(f"could not copy '{source}' into '{folder}': "
                                      f"{error.strerror or error}") from None
        output_scale = _check_probe(source, staged, signature, working_size)
        digest = sha256_of(staged)
        records, problem = _read_raw()
        if problem is not None and _records_path().exists():  # kept for the user; a new list starts
            os.replace(_records_path(), _records_path().with_name(f"user_models.damaged-{int(time.time())}.json"))
        model_id = _model_id(source, digest, records)
        target = folder / f"{model_id}.onnx"
        if not (target.is_file() and sha256_of(target) == digest):  # else the same weights are there
            os.replace(staged, target)
    finally:
        staged.unlink(missing_ok=True)
    record = {"id": model_id, "title": _one_line(title or source.stem) or model_id, "path": str(target),
              "sha256": digest, "signature": signature, "licence": licence, "working_size": working_size}
    if signature == Lama.signature:
        record["output_scale"] = output_scale
    _write_records([r for r in records if not (isinstance(r, dict) and r.get("id") == model_id)] + [record])
    return _descriptor(record)
