"""Project files (.pforge): a document with its mask, the fill's sampling and exclude
areas, and its whole undo history.

A project is a zip: `manifest.json` (written last, read first) describes everything and
names the members holding the arrays, one `.npy` each. Pixels are stored, not deflated:
they barely compress and saving should cost what the disk costs. Masks are deflated at
level 1, since they are mostly flat and a scan's mask is as many bytes as its pixels.

Saving walks the history one step at a time, reading spilled steps back from their spill
files, so a project is never held in memory whole. Reading checks every size and position
before a byte is allocated for it: a project file is as hostile as any file from outside.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
import os
import tokenize
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .atomic import atomic_write
from .document import META_FIELDS, Document
from .history import AREAS, TARGETS, History, Patch, PatchStep, ReplaceStep, State
from .image import ImageData
from .imageio import DEFAULT_MAX_PIXELS

SUFFIX = ".pforge"
FORMAT = "photoforge-project"
# 2 added the areas (a state's "areas", patches of AREAS); 3 the scan's infrared channel
# in each state that has one ("infrared", H×W uint16). A project is written with the
# lowest version that holds what it uses, so one without them opens in older PhotoForges.
VERSION = 3
MANIFEST = "manifest.json"
MAX_MANIFEST = 64 << 20  # a manifest holds labels and metadata; more than this is not one
_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))
_CHUNK = 16 << 20
# What a project may expand to when opened, counted over every array it names before any
# is read: a small deflated file can declare gigabytes. Sixteen GiB holds a 300 MP 16-bit
# scan with its original and several whole-image steps.
DEFAULT_MAX_BYTES = 16 << 30
MAX_STEPS = 10_000  # far beyond any undo budget; more is a damaged or hostile file
# A member is named by more than one state only where the writer shares the current image
# and the original with the steps that produced them (_Writer._shared).
MAX_NAMES_PER_MEMBER = 4


class ProjectError(Exception):
    """A project that cannot be saved or opened; the message names the file and why."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(f"{Path(path).name}: {reason}")
        self.path, self.reason = Path(path), reason


# ------------------------------------------------------------------------------ saving
def save_project(document: Document, path: str | os.PathLike[str]) -> None:
    """Write `document`, its mask and its history to `path`, replacing it atomically:
    if anything fails, a project already at `path` is left as it was. Afterwards the
    document is saved (clean) and `path` is its project."""
    document.finish_stroke()
    path = Path(path)
    try:
        with atomic_write(path, overwrite=True) as fh, \
                zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            _Writer(zf, document).write()
    except OSError as error:
        raise ProjectError(path, f"cannot write the project ({error.strerror or error})") from error
    document.history.mark_clean()
    document.project_path = path


class _Writer:
    def __init__(self, zf: zipfile.ZipFile, document: Document) -> None:
        self.zf, self.doc = zf, document
        self.blobs: dict[str, str] = {}  # metadata bytes, stored once however many steps share them
        # History keeps the image arrays it was given, so the current image is usually the
        # very array of the last size change's "after" (and the original of the first's
        # "before"): such an array is written once and named twice.
        self.written: list[tuple[np.ndarray, str]] = []
        self.uses_areas = False
        # The infrared seldom changes while the photo does (a colour step keeps it): each
        # array is written once and named by up to MAX_NAMES_PER_MEMBER states.
        self.infrared_written: list[list] = []  # [array, member, uses]

    def write(self) -> None:
        doc, history = self.doc, self.doc.history
        manifest = {
            "format": FORMAT, "version": VERSION,
            # Only a name to show: a path read back from a file must never become a place
            # that Save writes to (a crafted project could name any image on the disk).
            "source_path": None, "source_name": doc.source_name,
            "current": self._state("current", doc.image.pixels, doc.image.alpha, doc.mask,
                                   {f: getattr(doc.image, f) for f in META_FIELDS}, doc.painted_areas(),
                                   doc.infrared_levels),
            "original": self._original(),
            # the state being written is the saved one
            "history": {"index": history.index, "clean": history.index,
                        "pruned_count": history.pruned_count,
                        "steps": [self._step(i) for i in range(len(history))]},
        }
        if self.infrared_written:  # where it came from, for the Restore panel to say
            manifest["infrared"] = {"source": doc.infrared_source or "the scan"}
        manifest["blobs"] = self.blobs
        manifest["version"] = 3 if self.infrared_written else 2 if self.uses_areas else 1
        with self.zf.open(MANIFEST, "w") as out:
            out.write(json.dumps(manifest, indent=1).encode())

    def _shared_infrared(self, name: str, array: np.ndarray) -> str:
        for entry in self.infrared_written:
            if entry[0] is array and entry[2] < MAX_NAMES_PER_MEMBER:
                entry[2] += 1
                return entry[1]
        member = self._array(name, array)
        self.infrared_written.append([array, member, 1])
        return member

    def _original(self) -> dict:
        return self._state("original", *_base_state(self.doc))

    def _step(self, i: int) -> dict:
        step = self.doc.history.step(i)
        if isinstance(step, ReplaceStep):
            return {"label": step.label, "kind": "replace",
                    "before": self._state(f"steps/{i}/before", *_fields(step.before)),
                    "after": self._state(f"steps/{i}/after", *_fields(step.after))}
        self.uses_areas |= any(p.target in AREAS for p in step.patches)
        return {"label": step.label, "kind": "patches", "patches": [
            {"target": p.target, "y0": p.y0, "x0": p.x0,
             "before": self._array(f"steps/{i}/{n}-before", p.before, p.target not in ("image", "alpha")),
             "after": self._array(f"steps/{i}/{n}-after", p.after, p.target not in ("image", "alpha"))}
            for n, p in enumerate(step.patches)]}

    def _state(self, prefix: str, pixels, alpha, mask, meta: dict, areas: dict | None = None,
               infrared: np.ndarray | None = None) -> dict:
        self.uses_areas |= bool(areas)
        entry = {"pixels": self._shared(f"{prefix}/pixels", pixels),
                 "alpha": None if alpha is None else self._shared(f"{prefix}/alpha", alpha),
                 "mask": self._array(f"{prefix}/mask", mask, deflate=True),
                 "areas": {n: self._array(f"{prefix}/{n}", a, deflate=True) for n, a in (areas or {}).items()},
                 "meta": {f: self._meta_value(meta.get(f)) for f in META_FIELDS}}
        if infrared is not None:  # left out where there is none, as older projects have it
            entry["infrared"] = self._shared_infrared(f"{prefix}/infrared", infrared)
        return entry

    def _shared(self, name: str, array: np.ndarray) -> str:
        known = next((n for a, n in self.written if a is array), None)
        if known is not None:
            return known
        name = self._array(name, array)
        if len(self.written) < 4:  # the current and original images only: others stream
            self.written.append((array, name))
        return name

    def _meta_value(self, value):
        if not isinstance(value, bytes):
            return value  # None or source_format's str
        key = hashlib.sha256(value).hexdigest()[:32]
        self.blobs.setdefault(key, base64.b64encode(value).decode("ascii"))
        return {"blob": key}

    def _array(self, name: str, array: np.ndarray, deflate: bool = False) -> str:
        name += ".npy"
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        if deflate:
            info.compress_type = zipfile.ZIP_DEFLATED
            # public as compress_level only from Python 3.13, which keeps this alias
            info._compresslevel = 1
        # The size must be known up front for members past 2 GiB (ZIP64 headers).
        with self.zf.open(info, "w", force_zip64=array.nbytes > 1 << 30) as out:
            np.lib.format.write_array(out, np.ascontiguousarray(array), allow_pickle=False)
        return name


def _fields(state: State):
    return state.pixels, state.alpha, state.mask, state.meta, state.areas, state.infrared


def _base_state(doc: Document, layers: dict[str, np.ndarray] | None = None):
    """The image, mask, metadata, areas and infrared before the oldest kept step: the original as
    opened, unless the budget forgot steps (history.pruned_count > 0). Undone one step at
    a time from the current state, copying an array only when a patch first writes into
    it. `layers` stand for the document's mask or areas when those hold paint not yet in
    the history (an open stroke)."""
    image = doc.image
    arrays = {"image": image.pixels, "alpha": image.alpha, "mask": doc.mask, **dict.fromkeys(AREAS),
              **doc.painted_areas(), **(layers or {}), "infrared": doc.infrared_levels}
    meta = {f: getattr(image, f) for f in META_FIELDS}
    owned: set[str] = set()
    history = doc.history
    for i in range(history.index - 1, -1, -1):
        data = history.peek(i)
        if isinstance(data, State):
            arrays = {"image": data.pixels, "alpha": data.alpha, "mask": data.mask,
                      **dict.fromkeys(AREAS), **data.areas, "infrared": data.infrared}
            meta, owned = dict(data.meta), set()
            continue
        for target, y0, x0, patch in data:
            if target not in owned:
                now = arrays[target]
                arrays[target] = np.zeros_like(arrays["mask"]) if now is None else np.array(now)
                owned.add(target)
            arrays[target][y0:y0 + patch.shape[0], x0:x0 + patch.shape[1]] = patch
    areas = {n: arrays[n] for n in AREAS if arrays[n] is not None and arrays[n].any()}
    return arrays["image"], arrays["alpha"], arrays["mask"], meta, areas, arrays["infrared"]


# ------------------------------------------------------------------------------ opening
# What zipfile (RuntimeError: "encrypted"), zlib, json and the .npy header parser raise on
# damaged input.
_DAMAGE = (ValueError, KeyError, TypeError, AttributeError, EOFError, RecursionError,
           NotImplementedError, RuntimeError, zlib.error, tokenize.TokenError, zipfile.LargeZipFile)


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[zipfile.ZipFile]:
    """The project's zip; every way of failing to read it becomes one ProjectError."""
    try:
        with zipfile.ZipFile(path) as zf:
            yield zf
    except ProjectError:
        raise
    except FileNotFoundError as error:
        raise ProjectError(path, "no such file") from error
    except zipfile.BadZipFile as error:
        raise ProjectError(path, f"not a PhotoForge project, or a damaged one ({error})") from error
    except OSError as error:
        raise ProjectError(path, f"cannot read it ({error.strerror or error})") from error
    except MemoryError:
        raise ProjectError(path, "not enough memory to open it") from None
    except _DAMAGE as error:
        raise ProjectError(path, f"damaged project ({type(error).__name__}: {error})") from error


def open_project(path: str | os.PathLike[str], history: History | None = None, *,
                 max_pixels: int = DEFAULT_MAX_PIXELS, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """The document saved in `path`, with its mask and undo/redo as they were. Raises
    ProjectError for anything that is not a project this version can read, and for one
    with an array over `max_pixels` or arrays adding up to more than `max_bytes`."""
    path = Path(path)
    with _reading(path) as zf:
        reader = _Reader(path, zf, max_pixels=max_pixels, max_bytes=max_bytes)
        return reader.document(history if history is not None else History())


def load_original(path: str | os.PathLike[str]) -> ImageData:
    """The image before the first step kept in the project `path` (see _base_state)."""
    path = Path(path)
    with _reading(path) as zf:
        reader = _Reader(path, zf)
        reader.check_budget([reader.manifest["original"]], [])
        pixels, alpha, _, meta, _, _ = reader.state(reader.manifest["original"])
        return ImageData(pixels, alpha, **meta)


def _brief(value) -> str:
    """A value from a file, short enough for a message (a 4000-digit number is not)."""
    text = repr(value)
    return text if len(text) <= 24 else f"{text[:12]}… ({len(text)} characters)"


class _Reader:
    def __init__(self, path: Path, zf: zipfile.ZipFile, *, max_pixels: int = DEFAULT_MAX_PIXELS,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path, self.zf = path, zf
        self.max_pixels, self.max_bytes = max_pixels, max_bytes
        self.manifest = self._manifest()
        self.shared: dict[str, np.ndarray] = {}  # read-only arrays named more than once
        self.headers: dict[str, tuple[tuple, np.dtype]] = {}

    def fail(self, reason: str) -> ProjectError:
        return ProjectError(self.path, reason)

    def _manifest(self) -> dict:
        try:
            info = self.zf.getinfo(MANIFEST)
        except KeyError:
            raise self.fail("not a PhotoForge project (it has no manifest)") from None
        if info.file_size > MAX_MANIFEST:
            raise self.fail("damaged project (its manifest is implausibly large)")
        try:
            manifest = json.loads(self.zf.read(info))
        except (UnicodeDecodeError, ValueError, RecursionError) as error:  # ValueError: a 5000-digit int too
            raise self.fail(f"damaged project (unreadable manifest: {str(error)[:200]})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise self.fail("not a PhotoForge project")
        version = manifest.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise self.fail(f"damaged project (format version {_brief(version)})")
        if version > 1000:  # formats are numbered 1, 2, 3…: this is damage, not the future
            raise self.fail(f"damaged project (format version {_brief(version)})")
        if version > VERSION:
            raise self.fail(f"saved by a newer PhotoForge (project format {version}; this "
                            f"version reads up to {VERSION}); update PhotoForge to open it")
        return manifest

    def document(self, history: History) -> Document:
        m = self.manifest
        h = m["history"]
        self.check_budget([m["current"]], h["steps"])
        pixels, alpha, mask, meta, areas, infrared = self.state(m["current"], share=True)
        steps, index = h["steps"], _int(h["index"], "history position")
        clean = None if h["clean"] is None else _int(h["clean"], "clean point")
        if not isinstance(steps, list) or not 0 <= index <= len(steps):
            raise self.fail("damaged project (history position outside the history)")
        _check_layout(self, steps, index, (pixels.shape[:2], pixels.shape[2:], pixels.dtype,
                                           alpha is not None))
        doc = Document(ImageData(pixels, alpha, **meta), None, history, project_path=self.path,
                       source_name=m.get("source_name") or m.get("source_path"))
        for array in (mask, *areas.values()):
            array.flags.writeable = True  # ours alone: brush strokes paint into it in place
        doc.mask = mask
        doc.areas.update(areas)
        history.restore(self._steps(steps), index, clean, _int(h["pruned_count"], "pruned count"))
        history.mark_clean()  # what is on screen is what the file holds
        doc.infrared_source = self.infrared_source()
        if infrared is None and self._legacy_infrared() is not None:
            infrared = self.infrared_array(self._legacy_infrared(), pixels.shape[:2])
        doc.infrared_levels = infrared
        return doc

    def infrared_source(self) -> str | None:
        entry = self.manifest.get("infrared")  # projects without infrared have none
        if entry is None:
            return None
        if not isinstance(entry, dict) or not isinstance(entry.get("source"), str):
            raise self.fail("damaged project (its infrared entry)")
        return entry["source"][:200]

    def _legacy_infrared(self):
        """The current image's infrared as projects of format 1 and 2 kept it, beside the
        states rather than in them (so no step could bring it back)."""
        entry = self.manifest.get("infrared")
        return entry.get("values") if isinstance(entry, dict) else None

    def infrared_array(self, name, shape: tuple[int, int]) -> np.ndarray:
        stored, dtype = self.header(name)
        if stored != tuple(shape) or dtype != np.uint16:
            raise self.fail(f"damaged project (an infrared channel of shape {stored} for a {shape} image)")
        return self.image_array(name, True)

    def check_budget(self, states: list, steps: list) -> None:
        """Refuse, from the array headers alone, a project that would expand beyond the
        limits: too many steps, an array over the pixel limit, one member named by many
        states, or more bytes in all than `max_bytes`. Run before any array is read."""
        if not isinstance(steps, list):
            raise self.fail("damaged project (no list of steps)")
        if len(steps) > MAX_STEPS:
            raise self.fail(f"damaged project ({len(steps)} history steps; at most {MAX_STEPS} are read)")
        names: list = [] if self._legacy_infrared() is None else [self._legacy_infrared()]

        def state(entry: dict) -> None:
            names.extend(n for n in (entry["pixels"], entry["alpha"], entry["mask"], entry.get("infrared"))
                         if n is not None)
            names.extend(self._areas(entry).values())
        for entry in states:
            state(entry)
        for step in steps:
            if step["kind"] == "replace":
                state(step["before"])
                state(step["after"])
            elif step["kind"] == "patches":
                if not isinstance(step["patches"], list):
                    raise self.fail("damaged project (a step's patches are not a list)")
                names.extend(n for p in step["patches"] for n in (p["before"], p["after"]))
        total, counts = 0, {}
        for name in names:
            if not isinstance(name, str):
                raise self.fail("damaged project (an array reference is not a name)")
            counts[name] = counts.get(name, 0) + 1
            if counts[name] > MAX_NAMES_PER_MEMBER:
                raise self.fail(f"damaged project ({name} is named by {counts[name]} states)")
            shape, dtype = self.header(name)
            total += math.prod(shape) * dtype.itemsize
            if total > self.max_bytes:
                raise self.fail(f"it would take more than {_size(self.max_bytes)} to open (its arrays, "
                                "the infrared channel among them, add up to more than the limit)")

    def _steps(self, steps: list) -> Iterator:
        for step in steps:
            label = step["label"]
            if not isinstance(label, str):
                raise self.fail("damaged project (a step without a name)")
            if step["kind"] == "replace":
                yield ReplaceStep(label, State(*self.state(step["before"])),
                                  State(*self.state(step["after"])))
            elif step["kind"] == "patches":
                patches = []
                for p in step["patches"]:
                    if p["target"] not in TARGETS:
                        raise self.fail(f"damaged project (patch target {p['target']!r})")
                    patches.append(Patch(p["target"], _int(p["y0"], "y0"), _int(p["x0"], "x0"),
                                         _frozen(self.array(p["before"])), _frozen(self.array(p["after"]))))
                yield PatchStep(label, patches)
            else:
                raise self.fail(f"damaged project (unknown step kind {step['kind']!r})")

    def _areas(self, entry: dict) -> dict:
        """A state's area members by name ({} in a version 1 project)."""
        areas = entry.get("areas", {})
        if not isinstance(areas, dict) or not set(areas) <= set(AREAS):
            raise self.fail(f"damaged project (areas {_brief(areas)})")
        return areas

    def state(self, entry: dict, share: bool = False):
        pixels = self.image_array(entry["pixels"], share)
        alpha = None if entry["alpha"] is None else self.image_array(entry["alpha"], share)
        mask = self.array(entry["mask"])
        areas = {n: self.array(name) for n, name in self._areas(entry).items()}
        infrared = None if entry.get("infrared") is None else self.infrared_array(entry["infrared"], pixels.shape[:2])
        if pixels.ndim != 3 or pixels.shape[2] not in (1, 3) or mask.dtype != np.uint8 \
                or mask.shape != pixels.shape[:2] \
                or any(a.dtype != np.uint8 or a.shape != mask.shape for a in areas.values()) \
                or (alpha is not None and (alpha.shape != mask.shape or alpha.dtype != pixels.dtype)):
            raise self.fail("damaged project (image, alpha, mask and areas do not match)")
        meta = {}
        for field in META_FIELDS:
            value = entry["meta"].get(field)
            if isinstance(value, dict):
                blob = self.manifest["blobs"].get(value.get("blob"))
                if not isinstance(blob, str):
                    raise self.fail(f"damaged project (metadata {field} is missing)")
                value = base64.b64decode(blob, validate=True)
            elif value is not None and not (field == "source_format" and isinstance(value, str)):
                raise self.fail(f"damaged project (metadata {field})")
            meta[field] = value
        return (_frozen(pixels), _frozen(alpha), _frozen(mask), meta, {n: _frozen(a) for n, a in areas.items()},
                infrared)

    def image_array(self, name, share: bool) -> np.ndarray:
        """Pixels or alpha, read once however many states name them (see _Writer._shared)."""
        if name in self.shared:
            return self.shared[name]
        array = _frozen(self.array(name))
        if share:
            self.shared[name] = array
        return array

    def header(self, name) -> tuple[tuple, np.dtype]:
        """A member's array shape and (native) dtype, read without its data."""
        if not isinstance(name, str):
            raise self.fail("damaged project (an array reference is not a name)")
        if name not in self.headers:
            try:
                with self.zf.open(name) as fh:
                    shape, dtype = self._header(name, fh)
            except KeyError:
                raise self.fail(f"damaged project (member {name} is missing)") from None
            self.headers[name] = shape, dtype.newbyteorder("=")
        return self.headers[name]

    def _header(self, name: str, fh) -> tuple[tuple, np.dtype]:
        # numpy parses the header's dict literal with Python's tokenizer, so a damaged one
        # can raise SyntaxError/IndentationError as well as ValueError (found by fuzzing).
        try:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise self.fail(f"damaged project ({name}: array format {version})")
        except (ValueError, SyntaxError, TypeError):
            raise self.fail(f"damaged project ({name}: unreadable array header)") from None
        if dtype.newbyteorder("=") not in _DTYPES or fortran or not 2 <= len(shape) <= 3 \
                or not all(isinstance(n, int) and n > 0 for n in shape) or (len(shape) == 3 and shape[2] > 4):
            raise self.fail(f"damaged project ({name}: {dtype} array of shape {shape})")
        if shape[0] * shape[1] > self.max_pixels:
            raise self.fail(f"{name} is {shape[1]} × {shape[0]} pixels, over the limit of "
                            f"{self.max_pixels / 1e6:g} MP")
        return shape, dtype

    def array(self, name) -> np.ndarray:
        """A member's array, its header checked against the member's size before the
        array is allocated, and read in chunks straight into it."""
        if not isinstance(name, str):
            raise self.fail("damaged project (an array reference is not a name)")
        try:
            info = self.zf.getinfo(name)
        except KeyError:
            raise self.fail(f"damaged project (member {name} is missing)") from None
        with self.zf.open(info) as fh:
            shape, dtype = self._header(name, fh)
            count = math.prod(shape)
            if count * dtype.itemsize != info.file_size - fh.tell():
                raise self.fail(f"damaged project ({name}: size does not match its contents)")
            array = np.empty(shape, dtype)
            view = memoryview(array.reshape(-1).view(np.uint8))
            done = 0
            while done < len(view):
                chunk = fh.read(min(_CHUNK, len(view) - done))
                if not chunk:
                    raise self.fail(f"damaged project ({name} is truncated)")
                view[done:done + len(chunk)] = chunk
                done += len(chunk)
            fh.read(1)  # reach the end, where zipfile checks the CRC
        return array if dtype.isnative else array.byteswap().view(dtype.newbyteorder("="))


def _frozen(array: np.ndarray | None) -> np.ndarray | None:
    # History copies writable arrays to protect them; these have no other owner.
    if array is not None:
        array.flags.writeable = False
    return array


def _size(count: int) -> str:
    """A byte limit for a message: "16 GiB", "300 MiB"."""
    return f"{count / (1 << 30):g} GiB" if count >= 1 << 30 else f"{count / (1 << 20):.0f} MiB"


def _int(value, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{what} {value!r}")
    return value


def _check_layout(reader: _Reader, steps: list, index: int, current: tuple) -> None:
    """Follow the image's layout from the original through every step, so that a patch
    off the image or of the wrong kind is refused now and not found at some later undo."""
    def layout(state: dict) -> tuple:
        shape, dtype = reader.header(state["pixels"])
        return tuple(shape[:2]), shape[2:], dtype, state["alpha"] is not None

    def refuse(i: int, why: str) -> ProjectError:
        return reader.fail(f"damaged project (step {i + 1}: {why})")

    now = layout(reader.manifest["original"])
    for i, step in enumerate(steps):
        if i == index and now != current:
            raise reader.fail("damaged project (the image does not match its history)")
        if step["kind"] == "replace":
            if layout(step["before"]) != now:
                raise refuse(i, "its state does not match the image before it")
            now = layout(step["after"])
            continue
        size, channels, dtype, has_alpha = now
        for p in step["patches"]:
            y0, x0 = _int(p["y0"], "y0"), _int(p["x0"], "x0")
            want = {"image": (channels, dtype), "alpha": ((), dtype),
                    **{name: ((), np.dtype(np.uint8)) for name in ("mask", *AREAS)}}
            if p["target"] not in want or (p["target"] == "alpha" and not has_alpha):
                raise refuse(i, f"a patch of {p['target']!r}")
            for key in ("before", "after"):
                shape, got = reader.header(p[key])
                if (tuple(shape[2:]), got) != want[p["target"]] or len(shape) < 2 \
                        or y0 + shape[0] > size[0] or x0 + shape[1] > size[1]:
                    raise refuse(i, "a patch does not fit the image")
    if index == len(steps) and now != current:
        raise reader.fail("damaged project (the image does not match its history)")
