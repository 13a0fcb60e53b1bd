"""The batch journal: a small SQLite file in a batch's output folder that says, per input,
what was done with it, so that a batch killed at any moment resumes without trusting a
half-made output and without doing a finished file twice.

Per output (the key, relative to the folder) it records the input's path, size, mtime and
sha256, the hash of the options, the state (pending → running → done | failed), the
attempts, the last error, and the sha256 of the output as written. `running` is committed
before a file's output may appear and `done` right after it is published (outputs are
written atomically, core/atomic.py), each commit durable (WAL, synchronous=FULL): a SIGKILL
or power cut loses at most the files in flight, which a resume redoes.

A command adopts it in three calls: `Journal.open(folder)`, `plan(jobs, options, …)` for
what to do, and `running`/`done`/`failed` around each file (batch.run_batch does the last
for every folder command). Nothing here knows about images.
"""
from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

JOURNAL_NAME = ".photoforge-journal.sqlite"
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
STATES = (PENDING, RUNNING, DONE, FAILED)
DEFAULT_RETRIES = 2
_SCHEMA_VERSION = "1"


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)",
    "CREATE TABLE IF NOT EXISTS options(hash TEXT PRIMARY KEY, json TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS runs(id INTEGER PRIMARY KEY, command TEXT, options_hash TEXT, "
    "started REAL, finished REAL)",
    """CREATE TABLE IF NOT EXISTS files(
        key TEXT PRIMARY KEY, source TEXT NOT NULL,
        size INTEGER, mtime_ns INTEGER, source_hash TEXT, options_hash TEXT,
        state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0, claimed INTEGER NOT NULL DEFAULT 0,
        error TEXT, output_hash TEXT, updated REAL)""",
)


class JournalError(Exception):
    """The journal cannot be used (another batch holds it, or it is not ours)."""


def file_hash(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def fingerprint(path: str | os.PathLike[str]) -> tuple[int, int, str]:
    """(size, mtime in ns, sha256) of a file as it is now."""
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns, file_hash(path)


def canonical(value, drop: frozenset[str] = frozenset()):
    """A JSON-able form of options: dataclasses (minus fields named in `drop`), enums,
    paths, numpy arrays (by digest), tuples and dicts, the same on every run."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__type__": type(value).__name__,
                **{f.name: canonical(getattr(value, f.name), drop) for f in dataclasses.fields(value)
                   if f.name not in drop}}
    if isinstance(value, enum.Enum):
        return canonical(value.value, drop)
    if isinstance(value, dict):
        return {str(k): canonical(v, drop) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
                if k not in drop}
    if isinstance(value, (list, tuple)):
        return [canonical(v, drop) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, float):
        return repr(value)  # exact, and nan/inf stay JSON
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if hasattr(value, "tobytes") and hasattr(value, "dtype"):  # numpy, without importing it
        return {"dtype": str(value.dtype), "shape": list(value.shape),
                "sha256": hashlib.sha256(value.tobytes()).hexdigest()}
    return repr(value)


# Options that change how fast, never what: left out of the options' hash.
SPEED_ONLY = frozenset({"threads"})


def options_hash(options, drop: frozenset[str] = SPEED_ONLY) -> tuple[str, str]:
    """(hash, canonical JSON) of `options` (see `canonical`), without the fields in `drop`."""
    text = json.dumps(canonical(options, drop), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32], text


def _differences(old: str | None, new: str, limit: int = 4) -> str:
    """'scale: 2 → 3, model: … → …' between two canonical JSON texts (best effort)."""
    if old is None:
        return ""
    a, b = json.loads(old), json.loads(new)

    def flat(v, prefix=""):
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if k != "__type__":
                    out.update(flat(x, f"{prefix}{k}." if prefix or k != "options" else ""))
            return out
        return {prefix.rstrip("."): v}

    fa, fb = flat(a), flat(b)
    changed = [f"{k or 'options'}: {_show(fa.get(k))} → {_show(fb.get(k))}"
               for k in sorted(set(fa) | set(fb)) if fa.get(k) != fb.get(k)]
    more = f" (and {len(changed) - limit} more)" if len(changed) > limit else ""
    return ", ".join(changed[:limit]) + more


def _show(v) -> str:
    if isinstance(v, str):
        try:
            return f"{float(v):g}" if v.replace(".", "", 1).lstrip("-").isdigit() else v
        except ValueError:
            return v
    return "none" if v is None else json.dumps(v)


@dataclass
class Row:
    key: str
    source: str
    state: str
    attempts: int
    claimed: bool
    size: int | None
    mtime_ns: int | None
    source_hash: str | None
    options_hash: str | None
    error: str | None
    output_hash: str | None


@dataclass
class Decision:
    """What a batch does: `todo` (jobs, with `replace` set where the journal vouches that the
    output in the way is its own), `kept` (done, output intact), `given_up` (failed or
    killed more often than --retries allows: (job, reason, attempts)), and notices."""
    todo: list = field(default_factory=list)
    kept: list = field(default_factory=list)
    given_up: list = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


@dataclass
class Status:
    folder: Path
    counts: dict[str, int]
    failures: list[tuple[str, str, str, int]]  # (source, output, error, attempts)
    running: list[tuple[str, str]]  # (source, output)
    command: str | None
    started: float | None
    finished: float | None


def _names(items: Sequence[str], shown: int = 5) -> str:
    text = ", ".join(f"'{x}'" for x in items[:shown])
    return text + (f" and {len(items) - shown} more" if len(items) > shown else "")


_NETWORK_FS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "9p", "ceph", "glusterfs", "lustre", "gpfs",
               "beegfs", "fuse.sshfs", "fuse.glusterfs", "fuse.cephfs", "fuse.juicefs", "afs")


def on_network_fs(path: Path, mounts: str | None = None) -> bool:
    """Whether `path` is on a network file system (Linux: /proc/self/mounts), where SQLite's
    WAL mode cannot be used (its index lives in shared memory)."""
    try:
        mounts = (Path("/proc/self/mounts").read_text() if mounts is None else mounts).splitlines()
    except OSError:
        return False
    real, best, kind = os.path.realpath(path), "", ""
    for line in mounts:
        fields = line.split()
        if len(fields) >= 3:
            point = fields[1].replace("\\040", " ")
            if (real == point or real.startswith(point.rstrip("/") + "/")) and len(point) > len(best):
                best, kind = point, fields[2]
    return kind in _NETWORK_FS


class Journal:
    """The journal of the batches written into one output folder. One batch at a time holds
    it (an advisory lock, where the system has one); use as a context manager.

    `digest(job) → str` is what an intact output means (default: the sha256 of the file at
    `job.target`) and `present(job) → bool` whether a job's output is there (default: the file
    at `job.target` exists); a command with several outputs per input (split) passes its own,
    and gives `done` the digest's value."""

    def __init__(self, folder: str | os.PathLike[str], *, create: bool = True, digest=None, present=None):
        self.digest = digest or (lambda job: file_hash(job.target))
        self.present = present or (lambda job: Path(job.target).exists())
        self.folder = Path(folder)
        self.path = self.folder / JOURNAL_NAME
        if not create and not self.path.exists():
            raise FileNotFoundError(self.path)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock_fd = None
        if create:
            self._lock()
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        # WAL: 2 durable commits cost ~7 ms per file here, against ~40 ms with a rollback
        # journal; but WAL needs shared memory, which a network file system does not share.
        self.db.execute(f"PRAGMA journal_mode={'DELETE' if on_network_fs(self.folder) else 'WAL'}")
        self.db.execute("PRAGMA synchronous=FULL")  # each commit survives a power cut
        with self._tx():
            for statement in _SCHEMA:
                self.db.execute(statement)
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (_SCHEMA_VERSION,))
        self.run_id: int | None = None
        self.options_hash: str | None = None

    # ------------------------------------------------------------------ plumbing
    def _lock(self) -> None:
        try:
            import fcntl
        except ImportError:  # Windows: no advisory lock; one batch per folder is on the user
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise JournalError(f"another PhotoForge batch is writing into '{self.folder}'; "
                               "wait for it to finish (or stop it) first") from None
        self._lock_fd = fd

    class _Tx:
        def __init__(self, db):
            self.db = db

        def __enter__(self):
            self.db.execute("BEGIN IMMEDIATE")

        def __exit__(self, kind, value, tb):
            self.db.execute("COMMIT" if kind is None else "ROLLBACK")

    def _tx(self):
        return self._Tx(self.db)

    def close(self) -> None:
        self.db.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # after SQLite's own descriptors: see sqlite.org/lockingv3
            self._lock_fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def key(self, target: str | os.PathLike[str]) -> str:
        target = Path(target)
        try:
            return target.relative_to(self.folder).as_posix()
        except ValueError:
            return os.path.abspath(target)

    def _target(self, key: str) -> Path:
        return Path(key) if os.path.isabs(key) else self.folder / key

    def rows(self) -> dict[str, Row]:
        cur = self.db.execute("SELECT key, source, state, attempts, claimed, size, mtime_ns, source_hash, "
                              "options_hash, error, output_hash FROM files")
        return {r[0]: Row(r[0], r[1], r[2], r[3], bool(r[4]), *r[5:]) for r in cur}

    # ------------------------------------------------------------------ planning
    def plan(self, jobs: Sequence, options, *, resume: bool, retries: int = DEFAULT_RETRIES,
             overwrite: bool = False, command: str = "") -> Decision:
        """Decide, and record as pending, what this batch does with `jobs` (objects with
        `source`, `target` and a `replace` field). Without `resume` every job is done afresh
        (JournalError if outputs of an earlier batch are in the way and not `overwrite`)."""
        self.options_hash, text = options_hash(options)
        rows = self.rows()
        old_options = dict(self.db.execute("SELECT hash, json FROM options"))
        decision = Decision()
        now = time.time()
        reset: list[tuple] = []  # (key, source): back to pending, attempts 0
        if not resume:
            ours = [j for j in jobs if (r := rows.get(self.key(j.target))) is not None and r.claimed
                    and r.source == os.path.abspath(j.source) and self.present(j)]
            if ours and not overwrite:
                raise JournalError(
                    f"'{self.folder}' holds {len(ours)} output{'s' * (len(ours) != 1)} of an earlier batch "
                    "(see `photoforge batch-status`); add --resume to finish that batch (only what is "
                    "missing, failed or changed is done) or --overwrite to redo everything")
            for job in jobs:
                reset.append((self.key(job.target), os.path.abspath(job.source)))
            decision.todo = list(jobs)
        else:
            decision = self._resume(jobs, rows, old_options, text, retries, reset)
        with self._tx():
            self.db.execute("INSERT OR IGNORE INTO options VALUES (?, ?)", (self.options_hash, text))
            self.db.executemany(
                "INSERT INTO files(key, source, state, attempts, claimed, options_hash, updated) "
                "VALUES (?, ?, 'pending', 0, 0, ?, ?) ON CONFLICT(key) DO UPDATE SET source=excluded.source, "
                "state='pending', attempts=0, options_hash=excluded.options_hash, error=NULL, "
                "output_hash=NULL, updated=excluded.updated, "
                "claimed=CASE WHEN files.source=excluded.source THEN files.claimed ELSE 0 END",
                [(k, s, self.options_hash, now) for k, s in reset])
            self.run_id = self.db.execute("INSERT INTO runs(command, options_hash, started) VALUES (?, ?, ?)",
                                          (command, self.options_hash, now)).lastrowid
        return decision

    def _resume(self, jobs, rows, old_options, text, retries, reset) -> Decision:
        d = Decision()
        changed_options: dict[str | None, list[str]] = {}
        changed_input, damaged, missing, again, retried = [], [], [], [], []
        for job in jobs:
            key, source = self.key(job.target), os.path.abspath(job.source)
            row = rows.get(key)
            if row is None or row.source != source:
                reset.append((key, source))
                d.todo.append(job)
                continue
            mine = dataclasses.replace(job, replace=True) if row.claimed else job
            if row.state == PENDING:
                if row.options_hash != self.options_hash:
                    reset.append((key, source))
                d.todo.append(mine)
                continue
            if row.options_hash != self.options_hash:
                changed_options.setdefault(row.options_hash, []).append(str(job.source))
                reset.append((key, source))
                d.todo.append(mine)
                continue
            if row.source_hash is not None and self._input_changed(job.source, row):
                changed_input.append(str(job.source))
                reset.append((key, source))
                d.todo.append(mine)
                continue
            if row.state == DONE:
                target = Path(job.target)
                try:
                    intact = row.output_hash is not None and self.digest(job) == row.output_hash
                except FileNotFoundError:
                    intact = None
                except OSError:  # a folder in its place, unreadable…
                    intact = False
                if intact is None:
                    missing.append(str(target))
                    reset.append((key, source))
                    d.todo.append(mine)
                elif not intact:
                    damaged.append(str(target))
                    reset.append((key, source))
                    d.todo.append(mine)
                else:
                    d.kept.append(job)
                continue
            # running (the batch stopped while it was in flight) or failed
            if row.attempts > retries:
                reason = row.error if row.state == FAILED else \
                    "the batch stopped while working on it (killed, or out of memory?)"
                d.given_up.append((job, reason, row.attempts))
            else:
                (again if row.state == RUNNING else retried).append(str(job.source))
                d.todo.append(mine)
        for old, names in changed_options.items():
            diff = _differences(old_options.get(old), text)
            d.notices.append(f"the options changed since {len(names)} file{'s' * (len(names) != 1)} "
                             f"{'were' if len(names) != 1 else 'was'} made" + (f" ({diff})" if diff else "")
                             + f"; redoing {_names(names)}")
        if changed_input:
            d.notices.append(f"input changed since its output was made; redoing {_names(changed_input)}")
        if damaged:
            d.notices.append(f"output does not match what the journal recorded (damaged or edited since); "
                             f"redoing {_names(damaged)}")
        if missing:
            d.notices.append(f"output missing; redoing {_names(missing)}")
        if again:
            d.notices.append(f"in progress when the batch stopped; redoing {_names(again)}")
        if retried:
            d.notices.append(f"failed before; retrying {_names(retried)}")
        for job, reason, attempts in d.given_up:
            d.notices.append(f"'{job.source}' not retried: tried {attempts} time{'s' * (attempts != 1)} "
                             f"(--retries {retries}); last: {reason}")
        return d

    @staticmethod
    def _input_changed(source, row: Row) -> bool:
        try:
            st = os.stat(source)
        except OSError:
            return True
        if st.st_size == row.size and st.st_mtime_ns == row.mtime_ns:
            return False
        return st.st_size != row.size or file_hash(source) != row.source_hash

    # ------------------------------------------------------------------ recording
    def running(self, job) -> None:
        """The job may write its output now (its target was checked): committed first."""
        with self._tx():
            self.db.execute("UPDATE files SET state='running', attempts=attempts+1, claimed=1, error=NULL, "
                            "updated=? WHERE key=?", (time.time(), self.key(job.target)))

    def done(self, job, source: tuple[int, int, str] | None, output_hash: str) -> None:
        """Its output is published; `source` = fingerprint() of the input as it was read."""
        self._finish(job, DONE, None, source, output_hash)

    def failed(self, job, error: str, source: tuple[int, int, str] | None = None, *, unclaimed: bool = False) -> None:
        """`unclaimed`: it failed before `running` (split knows its outputs only after finding
        the prints): the attempt is counted all the same, nothing is claimed."""
        self._finish(job, FAILED, error, source, None, attempt=unclaimed)

    def _finish(self, job, state, error, source, output_hash, attempt: bool = False) -> None:
        size, mtime, digest = source or (None, None, None)
        with self._tx():
            self.db.execute("UPDATE files SET state=?, error=?, output_hash=?, updated=?, "
                            "size=COALESCE(?, size), mtime_ns=COALESCE(?, mtime_ns), "
                            "source_hash=COALESCE(?, source_hash), attempts=attempts+? WHERE key=?",
                            (state, error, output_hash, time.time(), size, mtime, digest, int(attempt),
                             self.key(job.target)))

    def finish_run(self) -> None:
        if self.run_id is not None:
            with self._tx():
                self.db.execute("UPDATE runs SET finished=? WHERE id=?", (time.time(), self.run_id))

    # ------------------------------------------------------------------ reading
    def status(self) -> Status:
        counts = dict.fromkeys(STATES, 0)
        counts.update(self.db.execute("SELECT state, count(*) FROM files GROUP BY state"))
        failures = [(s, str(self._target(k)), e or "", a) for k, s, e, a in self.db.execute(
            "SELECT key, source, error, attempts FROM files WHERE state='failed' ORDER BY key")]
        running = [(s, str(self._target(k))) for k, s in self.db.execute(
            "SELECT key, source FROM files WHERE state='running' ORDER BY key")]
        last = self.db.execute("SELECT command, started, finished FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        return Status(self.folder, counts, failures, running, *(last or (None, None, None)))


def describe(status: Status) -> Iterable[str]:
    """The lines `photoforge batch-status` prints."""
    c = status.counts
    total = sum(c.values())
    if status.command:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(status.started)) if status.started else "?"
        how = "finished" if status.finished else "stopped before the end (or still running)"
        yield f"last batch: {status.command}"
        yield f"started {when}, {how}"
    yield (f"{total} input{'s' * (total != 1)}: {c[DONE]} done, {c[FAILED]} failed, "
           f"{c[RUNNING]} in progress when it stopped, {c[PENDING]} not started")
    if status.failures:
        yield "failures:"
        for source, _output, error, attempts in status.failures:
            text = error if source in error else f"{source}: {error}"
            yield f"  {text} (attempts: {attempts})"
    if status.running:
        yield "in progress when it stopped (redone by --resume):"
        for source, _output in status.running:
            yield f"  {source}"
