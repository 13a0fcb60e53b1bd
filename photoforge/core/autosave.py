"""Autosave and crash recovery: the open document, its mask, areas and history, kept in the
user data dir under sessions/<id>/ while the app runs.

A session is a folder of small zips in the project format's terms (project.py: .npy
members, state and step entries), so the reader, its size checks and its layout checks
are the project reader's. Each history step is one zip written once, named by the step's
History.step_id; the image before the oldest step is another ("base"), written when the
session starts and again only if the undo budget forgets steps. `manifest.json`, rewritten
atomically, lists the steps in order with the position and clean point: after an undo,
a redo or a save it is all that is written. The current image is never written: base +
steps rebuild it. A brush stroke still being painted, which is in the mask but not yet in
the history, is saved as its touched tiles and recovered as the step it would have become.

`lock` holds the PID and is flock()ed while the session is live, so a session whose lock
can be taken belongs to a process that died (the kernel drops the lock even on kill -9);
the PID is the fallback where there is no flock.
"""
from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import secrets
import shutil
import time
import weakref
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .document import LAYERS, META_FIELDS, STROKE_LABELS, Document, safe_file_name
from .history import AREAS, History, Patch, PatchStep, ReplaceStep
from .image import ImageData
# Private on purpose: a session is a project spread over files, not a second format.
from .project import (MAX_NAMES_PER_MEMBER, SUFFIX, _DAMAGE, ProjectError, _base_state, _check_layout, _Reader,
                      _Writer)

try:
    import fcntl
except ImportError:  # Windows: the PID alone says whether a session is live
    fcntl = None

FORMAT = "photoforge-session"
VERSION = 1
MANIFEST = "manifest.json"
LOCK = "lock"
STEP_JSON = "step.json"


class SessionError(ProjectError):
    """A session that cannot be recovered; the message says why."""


def sessions_dir() -> Path:
    from photoforge.core.paths import data_dir

    path = data_dir() / "sessions"
    path.mkdir(parents=True, exist_ok=True)
    return path


# ------------------------------------------------------------------------------ saving
class _PartWriter(_Writer):
    """The project writer aimed at one zip of the session: names become "<zip>:<member>",
    and arrays already in another zip of the session (the base image, a size change's
    result) are named there instead of written again."""

    def __init__(self, zf: zipfile.ZipFile, document: Document, file: str, saver: "Autosaver") -> None:
        super().__init__(zf, document)
        self.file, self.saver, self.refs = file, saver, {file}
        self.blobs = {}

    def _array(self, name: str, array: np.ndarray, deflate: bool = False) -> str:
        if array.nbytes > _SMALL:
            return f"{self.file}:{super()._array(name, array, deflate)}"
        # A stroke is dozens of 64×64 tile patches: one writestr each with a cached
        # header costs a third of the streaming path, and deflating 4 KiB saves nothing.
        info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
        array = np.ascontiguousarray(array)
        self.zf.writestr(info, _npy_header(array.shape, array.dtype.str) + array.tobytes())
        return f"{self.file}:{info.filename}"

    def _shared(self, name: str, array: np.ndarray) -> str:
        for ref, known in self.saver._shared:
            if ref() is array:
                self.refs.add(known.partition(":")[0])
                return known
        name = self._array(name, array)
        self.saver._shared.append((weakref.ref(array), name))
        return name

    def _shared_infrared(self, name: str, array: np.ndarray) -> str:
        # across the session's zips, as _shared, but each member named by at most
        # MAX_NAMES_PER_MEMBER states, as the reader allows
        for entry in self.saver._infrared:
            if entry[0]() is array and entry[2] < MAX_NAMES_PER_MEMBER:
                entry[2] += 1
                self.refs.add(entry[1].partition(":")[0])
                return entry[1]
        member = self._array(name, array)
        self.saver._infrared.append([weakref.ref(array), member, 1])
        return member


_SMALL = 256 << 10


@functools.lru_cache(maxsize=256)
def _npy_header(shape: tuple, dtype: str) -> bytes:
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        out, {"descr": dtype, "fortran_order": False, "shape": shape})
    return out.getvalue()


@dataclass
class _Part:
    file: str
    refs: frozenset[str]  # the zips its entry names, its own included


class Autosaver:
    """Saves one Document's session; call save() from the document's thread after each
    step and now and then while painting. Each call writes only what changed."""

    def __init__(self, document: Document, root: str | os.PathLike[str] | None = None) -> None:
        self.doc = document
        self.root = Path(root) if root is not None else None
        self.id = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{secrets.token_hex(3)}"
        self.folder: Path | None = None
        self._lock_fd: int | None = None
        self._steps: dict[int, _Part] = {}  # History.step_id → its zip
        self._base: _Part | None = None
        self._base_pruned = -1
        self._pending: _Part | None = None
        self._pending_revision = -1
        self._shared: list[tuple[weakref.ref, str]] = []
        self._infrared: list[list] = []  # [weakref to the array, member, states naming it]
        self._files: set[str] = set()  # every zip written and not yet deleted
        self._last: tuple | None = None
        self._generation = 0
        self.last_written: list[str] = []  # for tests and the status bar: the files of the last save

    # -------------------------------------------------------------- public
    def save(self) -> bool:
        """Write what changed since the last call; False if nothing had."""
        doc, history = self.doc, self.doc.history
        stroke = doc.stroke
        ids = tuple(history.step_id(i) for i in range(len(history)))
        state = (ids, history.index, history.clean_index, history.pruned_count,
                 doc.revision if stroke is not None else None, doc.project_path)
        if state == self._last:
            return False
        pending = stroke.patches() if stroke is not None else []
        if self.folder is None and not ids and not pending:
            return False  # nothing to recover yet: no folder either
        self._open()
        self.last_written = []
        if self._base is None or self._base_pruned != history.pruned_count:
            self._write_base(pending)
        for i, step_id in enumerate(ids):
            if step_id not in self._steps:
                self._steps[step_id] = self._write_step(i)
        self._write_pending(stroke, pending)
        self._write_manifest(ids)
        self._collect(ids)
        self._last = state
        return True

    def close(self) -> None:
        """The session ends with nothing to recover (a clean exit, a discarded document):
        remove its folder."""
        folder, self.folder = self.folder, None
        self._release_lock()
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        self._steps.clear()
        self._base = self._pending = self._last = None
        self._files.clear()

    # -------------------------------------------------------------- internals
    def _open(self) -> None:
        if self.folder is not None:
            return
        root = self.root if self.root is not None else sessions_dir()
        folder = root / self.id
        folder.mkdir(parents=True)
        fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.folder, self._lock_fd = folder, fd

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # drops the flock
            self._lock_fd = None

    def _zip(self, prefix: str, write) -> _Part:
        """Write one part through a _PartWriter; `write(writer)` returns its JSON entry."""
        self._generation += 1
        file = f"{prefix}{self._generation}.zip"
        path = self.folder / file
        # No rename needed: nothing names the file until the manifest does, and a part
        # cut short by a crash is named by no manifest. No fsync either (see _publish).
        with open(path, "wb") as fh, \
                zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            writer = _PartWriter(zf, self.doc, file, self)
            entry = write(writer)
            zf.writestr(STEP_JSON, json.dumps({"entry": entry, "blobs": writer.blobs}))
        self._files.add(file)
        self.last_written.append(file)
        return _Part(file, frozenset(writer.refs))

    def _write_base(self, pending: list[Patch]) -> None:
        layers = {}
        for p in pending:  # the base is from before the open stroke too
            if p.target not in layers:
                layers[p.target] = self.doc.layer(p.target).copy()
            layers[p.target][p.y0:p.y0 + p.before.shape[0], p.x0:p.x0 + p.before.shape[1]] = p.before
        base = _base_state(self.doc, layers)
        self._base = self._zip("b", lambda w: w._state("base", *base))
        self._base_pruned = self.doc.history.pruned_count

    def _write_step(self, index: int) -> _Part:
        return self._zip("s", lambda w: w._step(index))

    def _write_pending(self, stroke, pending: list[Patch]) -> None:
        if not pending:
            self._pending = None
            return
        if self._pending is not None and self._pending_revision == self.doc.revision:
            return

        def write(w: _PartWriter) -> dict:
            return {"label": stroke.label, "kind": "patches", "patches": [
                {"target": p.target, "y0": p.y0, "x0": p.x0,
                 "before": w._array(f"pending/{n}-before", p.before, True),
                 "after": w._array(f"pending/{n}-after", p.after, True)}
                for n, p in enumerate(pending)]}
        self._pending = self._zip("p", write)
        self._pending_revision = self.doc.revision

    def _write_manifest(self, ids: tuple[int, ...]) -> None:
        doc, history = self.doc, self.doc.history
        manifest = {
            "format": FORMAT, "version": VERSION, "pid": os.getpid(), "saved_at": time.time(),
            "source_path": None, "source_name": doc.source_name,
            "project_path": None if doc.project_path is None else os.path.abspath(doc.project_path),
            "modified": not history.is_clean or self._pending is not None,
            "base": self._base.file,
            "history": {"index": history.index, "clean": history.clean_index,
                        "pruned_count": history.pruned_count,
                        "steps": [self._steps[i].file for i in ids]},
            "pending": None if self._pending is None else self._pending.file,
            # where the infrared came from; the arrays are in the states
            "infrared_source": doc.infrared_source,
        }
        _publish(self.folder / MANIFEST, json.dumps(manifest, indent=1).encode())
        self.last_written.append(MANIFEST)

    def _collect(self, ids: tuple[int, ...]) -> None:
        """Delete the zips the manifest just written no longer needs (dropped redo steps,
        forgotten steps, an old base or stroke), unless a kept part still names them."""
        for step_id in set(self._steps) - set(ids):
            del self._steps[step_id]
        parts = [*self._steps.values(), self._base] + ([self._pending] if self._pending else [])
        needed = set().union(*(p.refs for p in parts))
        for file in self._files - needed:
            with contextlib.suppress(OSError):
                (self.folder / file).unlink()
        self._files &= needed
        self._shared = [(r, n) for r, n in self._shared
                        if r() is not None and n.partition(":")[0] in needed]
        # a count cannot go down as steps are dropped, so it only errs towards a new copy
        self._infrared = [e for e in self._infrared if e[0]() is not None and e[1].partition(":")[0] in needed]


def _publish(path: Path, data: bytes) -> None:
    """Replace `path` by rename, without the fsyncs of atomic_write: what autosave guards
    against is the app dying, and the page cache outlives the app. They cost 3–10 ms a
    step here, a step's whole budget; after an OS crash a part the disk lost is reported
    as damage by the reader's size and CRC checks, not loaded."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


# ------------------------------------------------------------------------------ finding
@dataclass(frozen=True)
class SessionInfo:
    folder: Path
    name: str  # the document's file name, or "Untitled"
    saved_at: float  # seconds since the epoch
    steps: int
    error: str | None = None  # set if the manifest itself is unreadable


def _is_live(folder: Path) -> bool:
    try:
        fd = os.open(folder / LOCK, os.O_RDWR)
    except FileNotFoundError:
        return False
    except OSError:
        return True  # not ours to judge (another user's folder?): leave it alone
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            return False  # the lock was free: its owner is gone, even if its PID was reused
        pid = int(os.read(fd, 32) or b"0")
    except ValueError:
        return False
    finally:
        os.close(fd)  # also releases the flock just taken
    return _pid_alive(pid)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def orphaned_sessions(root: str | os.PathLike[str] | None = None) -> list[SessionInfo]:
    """Sessions left by processes that died, newest first. Those with nothing unsaved
    (never autosaved, or saved when the crash came) are removed on the way."""
    root = Path(root) if root is not None else sessions_dir()
    found = []
    for folder in root.iterdir() if root.is_dir() else ():
        if not folder.is_dir() or _is_live(folder):
            continue
        try:
            manifest = _read_manifest(folder)
        except FileNotFoundError:
            discard_session(folder)  # died before its first autosave
            continue
        except SessionError as error:
            found.append(SessionInfo(folder, folder.name, folder.stat().st_mtime, 0, error.reason))
            continue
        if not manifest.get("modified"):
            discard_session(folder)
            continue
        name = safe_file_name(manifest.get("source_name")) or safe_file_name(manifest.get("source_path"))
        history = manifest.get("history")
        steps = history.get("steps") if isinstance(history, dict) else None
        saved = manifest.get("saved_at")
        if not isinstance(saved, (int, float)) or not 0 <= saved < 1e11:  # a time, or the folder's
            saved = folder.stat().st_mtime
        found.append(SessionInfo(folder, name or "Untitled", saved,
                                 len(steps) if isinstance(steps, list) else 0))
    return sorted(found, key=lambda s: s.saved_at, reverse=True)


def discard_session(folder: str | os.PathLike[str]) -> None:
    shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------------------ recovering
def _read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    try:
        raw = path.read_bytes()  # FileNotFoundError passes: no manifest is no session
        manifest = json.loads(raw)
    except FileNotFoundError:
        raise
    except OSError as error:
        raise SessionError(folder, f"cannot read it ({error.strerror or error})") from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SessionError(folder, f"damaged session (unreadable manifest: {error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SessionError(folder, "not a PhotoForge session")
    version = manifest.get("version")
    if not isinstance(version, int) or version < 1 or version > VERSION:
        raise SessionError(folder, f"session format {version!r} is not one this version reads")
    return manifest


class _Info:
    __slots__ = ("zf", "info", "file_size")

    def __init__(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
        self.zf, self.info, self.file_size = zf, info, info.file_size


class _Parts:
    """What _Reader asks of a ZipFile (getinfo, open), over a session's zips, whose
    members are named "<zip>:<member>"."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.zips: dict[str, zipfile.ZipFile] = {}

    def zip(self, file: str) -> zipfile.ZipFile:
        if not isinstance(file, str) or not file.endswith(".zip") or Path(file).name != file:
            raise KeyError(file)
        if file not in self.zips:
            try:
                self.zips[file] = zipfile.ZipFile(self.folder / file)
            except FileNotFoundError:
                raise KeyError(file) from None
        return self.zips[file]

    def split(self, name: str) -> tuple[zipfile.ZipFile, str]:
        file, sep, member = name.partition(":")
        if not sep:
            raise KeyError(name)
        return self.zip(file), member

    def getinfo(self, name: str) -> _Info:
        zf, member = self.split(name)
        return _Info(zf, zf.getinfo(member))

    def open(self, name):
        if isinstance(name, _Info):
            return name.zf.open(name.info)
        zf, member = self.split(name)
        return zf.open(member)

    def part(self, file: str) -> tuple[dict, dict]:
        """A part's JSON entry and metadata blobs."""
        data = json.loads(self.zip(file).read(STEP_JSON))
        return data["entry"], data["blobs"]

    def close(self) -> None:
        for zf in self.zips.values():
            zf.close()


class _SessionReader(_Reader):
    def __init__(self, folder: Path, parts: _Parts, manifest: dict) -> None:
        self.session_manifest = manifest
        super().__init__(folder, parts)

    def _manifest(self) -> dict:
        """The project-format manifest the session stands for, its step entries read
        from their zips."""
        m, parts = self.session_manifest, self.zf
        h = m["history"]
        blobs: dict = {}

        def entry(file) -> dict:
            try:
                value, more = parts.part(file)
            except KeyError:
                raise self.fail(f"damaged session (part {file} is missing)") from None
            blobs.update(more)
            return value
        if not isinstance(h["steps"], list):
            raise self.fail("damaged session (no list of steps)")
        return {"source_path": m["source_path"], "source_name": m.get("source_name"),
                "project_path": m.get("project_path"), "original": entry(m["base"]),
                "history": {**h, "steps": [entry(f) for f in h["steps"]]},
                "pending": None if m["pending"] is None else entry(m["pending"]),
                "blobs": blobs,
                **({} if m.get("infrared_source") is None else {"infrared": {"source": m["infrared_source"]}})}


def recover_session(folder: str | os.PathLike[str], history: History | None = None) -> Document:
    """The session's document as it was at its last autosave: image, mask and history
    (position and clean point included); a stroke being painted then becomes its step.
    Raises SessionError if the session is damaged or incomplete."""
    folder = Path(folder)
    manifest = None
    try:
        manifest = _read_manifest(folder)
    except FileNotFoundError:
        raise SessionError(folder, "nothing was autosaved in this session") from None
    parts = _Parts(folder)
    try:
        reader = _SessionReader(folder, parts, manifest)
        return _rebuild(reader, history if history is not None else History())
    except SessionError:
        raise
    except ProjectError as error:
        raise SessionError(folder, error.reason) from error
    except zipfile.BadZipFile as error:
        raise SessionError(folder, f"damaged session ({error})") from error
    except OSError as error:
        raise SessionError(folder, f"cannot read it ({error.strerror or error})") from error
    except MemoryError:
        raise SessionError(folder, "not enough memory to recover it") from None
    except _DAMAGE as error:
        raise SessionError(folder, f"damaged session ({type(error).__name__}: {error})") from error
    finally:
        parts.close()


def _rebuild(reader: _SessionReader, history: History) -> Document:
    m = reader.manifest
    h = m["history"]
    reader.check_budget([m["original"]], h["steps"] + ([m["pending"]] if m["pending"] else []))
    pixels, alpha, mask, meta, areas, infrared = reader.state(m["original"], share=True)
    steps, index = h["steps"], h["index"]
    clean = h["clean"]
    if not isinstance(index, int) or not 0 <= index <= len(steps):
        raise reader.fail("damaged session (history position outside the history)")
    _check_layout(reader, steps, index, _layout_at(reader, steps, index))
    # Replay the steps up to the position to get the current state; a patch copies its
    # target the first time it writes into it, never the image per step.
    now = {"image": pixels, "alpha": alpha, "mask": mask, **dict.fromkeys(AREAS), **areas, "infrared": infrared}
    owned: set[str] = set()

    def replayed():
        nonlocal meta, owned
        for i, step in enumerate(reader._steps(steps)):
            if i < index:
                if isinstance(step, ReplaceStep):
                    s = step.after
                    now.update({"image": s.pixels, "alpha": s.alpha, "mask": s.mask,
                                **dict.fromkeys(AREAS), **s.areas, "infrared": s.infrared})
                    meta, owned = dict(s.meta), set()
                else:
                    for p in step.patches:
                        if p.target not in owned:
                            was = now[p.target]
                            now[p.target] = np.zeros_like(now["mask"]) if was is None else np.array(was)
                            owned.add(p.target)
                        now[p.target][p.y0:p.y0 + p.after.shape[0], p.x0:p.x0 + p.after.shape[1]] = p.after
            yield step
    history.restore(replayed(), index, clean, h["pruned_count"])
    image = ImageData(_frozen(now["image"]), _frozen(now["alpha"]), **{f: meta[f] for f in META_FIELDS})
    # The photo's name to show, and the project it was saved in, so that Save goes on
    # writing that project; never a place to write an image (see Document.path).
    doc = Document(image, None, history, source_name=m.get("source_name") or m["source_path"],
                   project_path=_project_hint(m.get("project_path")))
    doc.mask = np.array(now["mask"])
    doc.areas.update({n: np.array(now[n]) for n in AREAS if now[n] is not None})
    doc.infrared_levels, doc.infrared_source = now["infrared"], reader.infrared_source()
    if m["pending"] is not None:
        _apply_pending(reader, doc, m["pending"])
    return doc


def _apply_pending(reader: _SessionReader, doc: Document, entry: dict) -> None:
    patches = []
    for p in entry["patches"]:
        before, after = reader.array(p["before"]), reader.array(p["after"])
        y0, x0, target = p["y0"], p["x0"], p["target"]
        region = doc.layer(target)[y0:y0 + before.shape[0], x0:x0 + before.shape[1]] \
            if target in LAYERS and isinstance(y0, int) and isinstance(x0, int) and y0 >= 0 and x0 >= 0 else None
        if region is None or region.shape != before.shape or (patches and target != patches[0].target) \
                or not np.array_equal(region, before) or after.shape != before.shape:
            raise reader.fail("damaged session (the stroke being painted does not fit the mask)")
        patches.append(Patch(target, y0, x0, _frozen(before), _frozen(after)))
    for p in patches:
        doc.layer(p.target)[p.y0:p.y0 + p.after.shape[0], p.x0:p.x0 + p.after.shape[1]] = p.after
    if patches:
        labels = STROKE_LABELS[patches[0].target]
        doc.history.push(PatchStep(entry["label"] if entry["label"] in labels else labels[0], patches))


def _layout_at(reader: _SessionReader, steps: list, index: int) -> tuple:
    """The image's (size, channels, dtype, has alpha) after `index` steps, from headers."""
    state = reader.manifest["original"]
    for step in steps[:index]:
        if step["kind"] == "replace":
            state = step["after"]
    shape, dtype = reader.header(state["pixels"])
    return tuple(shape[:2]), shape[2:], dtype, state["alpha"] is not None


def _project_hint(value) -> Path | None:
    """The project a session was saved in, if the note is an absolute path to a project
    file: Save may write there, and must never write an image over anything."""
    if not isinstance(value, str) or "\0" in value or not value.lower().endswith(SUFFIX):
        return None
    path = Path(value)
    return path if path.is_absolute() and not path.is_dir() else None


def _frozen(array):
    if array is not None:
        array.flags.writeable = False
    return array

