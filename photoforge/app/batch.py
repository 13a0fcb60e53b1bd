"""Turning CLI inputs (files and folders) into (input, output) pairs, the same for every op."""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif", ".mpo",
                  ".jp2", ".j2k", ".j2c", ".jpf", ".tga", ".psd", ".qoi", ".pcx",
                  ".ppm", ".pgm", ".pnm"}
_SAVE_SUFFIX = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "tif": ".tif", "tiff": ".tif",
                "webp": ".webp", "bmp": ".bmp", "jp2": ".jp2"}
_KEEP = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".jp2", ".j2k"}
_SAME_FORMAT = {".jpe": ".jpg", ".mpo": ".jpg", ".jpf": ".jp2", ".j2c": ".j2k"}
_HIDDEN = ("hidden file", "hidden folder")  # skipped, but not for being unreadable


class UsageError(ValueError):
    """The command line itself is wrong (exit code 2)."""


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path
    # The batch journal vouches that a file at `target` is an output of this very job (a
    # resumed batch redoing it), so it is replaced even without --overwrite.
    replace: bool = False


@dataclass
class Plan:
    """The jobs, plus what the folder inputs held that is not an image PhotoForge reads
    (suffix → count) and the outputs renamed so that two inputs never share one."""
    jobs: list[Job]
    skipped: Counter = field(default_factory=Counter)
    renamed: list[tuple[Job, Path]] = field(default_factory=list)  # (job, the output it would have had)

    def skipped_text(self) -> str | None:
        """"skipped 46 files that are not images PhotoForge reads: .sgi ×9, .blp ×7 …"."""
        others = {k: n for k, n in self.skipped.items() if k not in _HIDDEN}
        parts = []
        if others:
            total = sum(others.values())
            kinds = ", ".join(f"{k} ×{n}" for k, n in sorted(others.items(), key=lambda kv: (-kv[1], kv[0])))
            what = "files that are not images" if total != 1 else "file that is not an image"
            parts.append(f"{total} {what} PhotoForge reads: {kinds}")
        parts += [f"{n} {kind}{'s' * (n != 1)}" for kind in _HIDDEN if (n := self.skipped.get(kind))]
        return "skipped " + "; ".join(parts) if parts else None


def _walk(folder: Path, out: Path, skipped: Counter) -> list[Path]:
    """Image files under `folder`, sorted; never anything inside `out` (a rerun must not
    take its own earlier outputs as inputs). Everything else is counted in `skipped`."""
    try:
        out_real = out.resolve()
    except OSError:
        out_real = None
    images = []
    for dirpath, dirnames, filenames in os.walk(folder):
        here = Path(dirpath)
        skipped["hidden folder"] += sum(d.startswith(".") for d in dirnames)  # .git, .thumbnails…
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and (here / d).resolve() != out_real)
        for name in filenames:
            path = here / name
            suffix = path.suffix.lower()
            if name.startswith("."):
                skipped["hidden file"] += 1
            elif suffix in IMAGE_SUFFIXES:
                images.append(path)
            elif path.is_file():
                skipped[suffix or "(no suffix)"] += 1
    return sorted(images)


def output_suffix(source: Path, fmt: str | None) -> str:
    if fmt:
        return _SAVE_SUFFIX[fmt.lower()]
    suffix = source.suffix.lower()
    suffix = _SAME_FORMAT.get(suffix, suffix)
    return suffix if suffix in _KEEP else ".png"  # GIF and the rest → lossless PNG


def path_key(path: Path) -> str:
    """Equal for two spellings of one path (absolute, case-folded where the system does)."""
    return os.path.normcase(os.path.abspath(path))


def _separate(jobs: list[Job]) -> tuple[list[Job], list[tuple[Job, Path]]]:
    """Give each job its own output. Where several inputs map to one name (`dup.gif` and
    `dup.png`, `UPPER.PNG` and `UPPER.png`), the input whose own name it is keeps it and the
    others keep their suffix in the name (`dup.gif.png`); what still collides is refused."""
    groups: dict[str, list[Job]] = {}
    for job in jobs:
        groups.setdefault(path_key(job.target), []).append(job)
    renamed, final = [], {}
    for group in groups.values():
        for job in group:
            if len(group) == 1 or job.source.name == job.target.name:
                final[job] = job
            else:
                final[job] = Job(job.source, job.target.with_name(job.source.name + job.target.suffix))
                renamed.append((final[job], job.target))
    result = [final[job] for job in jobs]
    seen: dict[str, Job] = {}
    for job in result:
        other = seen.setdefault(path_key(job.target), job)
        if other is not job:
            raise UsageError(f"'{other.source}' and '{job.source}' would both be written to "
                             f"'{job.target}'; rename one or process them separately")
    return result, renamed


def plan_batch(inputs: list[str], output: str, fmt: str | None) -> Plan:
    """One input file → OUT is a file (or a folder that exists); otherwise OUT is a folder
    and each folder input's sub-folders are mirrored inside it."""
    if fmt and fmt.lower() not in _SAVE_SUFFIX:
        raise UsageError(f"unknown --format '{fmt}'; choose one of png, jpg, tif, webp, bmp, jp2")
    out = Path(output)
    paths = [Path(p) for p in inputs]
    single_file = len(paths) == 1 and not paths[0].is_dir()
    if single_file and not out.is_dir():
        if out.suffix.lower() not in _SAVE_SUFFIX.values() and out.suffix.lower() not in (".jpeg", ".tiff", ".j2k"):
            if fmt is None:
                raise UsageError(f"cannot tell the output format from '{out}'; add --format or a suffix")
        return Plan([Job(paths[0], out)])
    if out.exists() and not out.is_dir():
        raise UsageError(f"'{out}' is a file, but several inputs need an output folder")
    jobs, skipped, seen = [], Counter(), set()
    for path in paths:
        if path.is_dir():
            for image in _walk(path, out, skipped):
                rel = image.relative_to(path)
                jobs.append(Job(image, (out / path.name / rel).with_suffix(output_suffix(image, fmt))))
        else:
            jobs.append(Job(path, (out / path.name).with_suffix(output_suffix(path, fmt))))
    unique = []
    for job in jobs:  # the same file named twice (or a file inside a folder also given) runs once
        key = path_key(job.source.resolve() if job.source.exists() else job.source)
        if key not in seen:
            seen.add(key)
            unique.append(job)
    jobs, renamed = _separate(unique)
    return Plan(jobs, skipped, renamed)


def plan_jobs(inputs: list[str], output: str, fmt: str | None) -> list[Job]:
    return plan_batch(inputs, output, fmt).jobs


class Refused(Exception):
    """A run_batch `check` refuses a job before any work on it (counted like an unusable input)."""


@dataclass
class BatchAction:
    """A front end's per-file work with what it needs besides process(image, progress):
    `select(jobs) -> (jobs, notices)` drops inputs that are not photos of their own (a
    scan's infrared sidecar), `check(image, job)` runs before the work and may refuse the
    file, and `notes(jobs done)` gives lines for the end summary."""
    process: Callable
    check: Callable[[object, "Job"], object] | None = None
    select: Callable[[list["Job"]], tuple[list["Job"], list[str]]] | None = None
    notes: Callable[[list["Job"]], list[str]] = lambda done: []


@dataclass
class BatchReport:
    total: int
    done: list[Job] = field(default_factory=list)
    failures: list[tuple[Job, str]] = field(default_factory=list)
    load_failures: int = 0  # of which: the input itself was unusable
    kept: list[Job] = field(default_factory=list)  # done by an earlier run (journal), output intact
    stopped: str | None = None  # why the batch stopped early (a model it needs is unusable)
    notes: list[str] = field(default_factory=list)  # for the end summary (each scan's infrared)

    def summary(self) -> str:
        text = f"{len(self.done) + len(self.kept)} of {self.total} images done, {len(self.failures)} failed"
        return text + (f" ({len(self.kept)} done by an earlier run, kept)" if self.kept else "")

    def failure_lines(self) -> list[str]:
        """Every failure with its reason, each naming its input."""
        return [f"  {reason}" if str(job.source) in reason else f"  {job.source}: {reason}"
                for job, reason in self.failures]


# Library messages that change nothing about the pixels (libtiff on tags it does not know).
_HARMLESS = ("Unknown field with tag", "does not end in null byte", "not sorted in ascending order",
             "Palette images with Transparency expressed in bytes")


@contextlib.contextmanager
def library_messages(messages: list[str] | None = None, *, fd: bool = True) -> Iterator[list[str]]:
    """Collect what libraries say while the block runs: Python warnings and, with `fd`, what
    C libraries (libjpeg, libtiff, libpng) write straight to file descriptor 2. Yields a list
    (`messages` if given) that gains the distinct, meaningful lines when the block ends;
    nothing reaches stderr raw. Process-wide: for one-thread front ends like the CLI."""
    messages = [] if messages is None else messages
    with contextlib.ExitStack() as stack:
        caught = stack.enter_context(warnings.catch_warnings(record=True))
        warnings.simplefilter("always")
        sink = saved = None
        if fd:
            try:  # no stderr (a daemon) or no temp space: warnings are still caught
                sink = stack.enter_context(tempfile.TemporaryFile())
                sys.stderr.flush()
                saved = os.dup(2)
                os.dup2(sink.fileno(), 2)
            except OSError:
                if saved is not None:
                    os.close(saved)
                sink = saved = None
        try:
            yield messages
        finally:
            lines = []
            if saved is not None:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                sink.seek(0)
                lines = sink.read(1 << 16).decode("utf-8", "replace").splitlines()  # a flood: its start
            lines += [str(w.message) for w in caught]
            for line in (line.strip() for line in lines):
                if line and line not in messages and not any(h in line for h in _HARMLESS):
                    messages.append(line)


def decoder_notice(path: Path, messages: list[str], shown: int = 3) -> str | None:
    """One notice naming the file for everything its libraries said."""
    if not messages:
        return None
    text = "; ".join(messages[:shown])
    more = f" (and {len(messages) - shown} more)" if len(messages) > shown else ""
    return f"'{path}': the decoder reported: {text}{more}"


def quietly(path, say: Callable[[str], None], read, *args):
    """read(*args) (a loader of the file `path`), with what the decoders said turned into one
    notice naming the file."""
    messages: list[str] = []
    try:
        with library_messages(messages):
            return read(*args)
    finally:
        if (notice := decoder_notice(Path(path), messages)) is not None:
            say(f"notice: {notice}")


@dataclass
class Outcome:
    """What became of one job (run_one): an error (None = done), whether the input itself was
    unusable, the input's fingerprint as read and the output's sha256 (for the journal), and
    the notices to show."""
    job: Job
    error: str | None = None
    load_failure: bool = False
    source: tuple[int, int, str] | None = None
    output_hash: str | None = None
    notices: list[str] = field(default_factory=list)
    model_failure: bool = False  # the model, not this photo: every later file would fail too


def run_one(job: Job, process, part, *, inputs: list[Path], overwrite: bool = False, fmt: str | None = None,
            quality: int = 95, max_pixels: int | None = None, check: Callable[[object, Job], None] | None = None,
            quiet_decoders: bool = False, claim: Callable[[Job], None] | None = None,
            fingerprints: bool = False) -> Outcome:
    """Check the output → claim(job) → load → check(image, job) → process(image, part) → save,
    for one job. Errors are returned, not raised, except Aborted and interrupts. With
    `fingerprints`, the input and output are hashed for a journal. The same on every engine."""
    from photoforge.core.imageio import (DEFAULT_MAX_PIXELS, ImageLoadError, check_save_target, load_image,
                                         save_image)
    from photoforge.engine.packs import ModelPackError
    from photoforge.engine.progress import Aborted

    outcome = Outcome(job)
    messages: list[str] = []
    quiet = (lambda fd=True: library_messages(messages, fd=fd)) if quiet_decoders \
        else (lambda fd=True: contextlib.nullcontext())
    told = 0  # messages[:told] were reported already; the same line is not repeated for a file

    def tell(notices=()) -> None:
        nonlocal told
        if (notice := decoder_notice(job.source, messages[told:])) is not None:
            outcome.notices.append(notice)
        told = len(messages)
        outcome.notices.extend(notices)

    overwrite = overwrite or job.replace
    try:
        check_save_target(job.target, format=fmt, quality=quality, overwrite=overwrite,
                          protected=inputs, make_folders=True)
        if claim is not None:
            claim(job)
        if fingerprints:
            from photoforge.app.journal import fingerprint

            try:
                outcome.source = fingerprint(job.source)
            except OSError:
                pass  # load_image says why, in its words
        with quiet():
            image = load_image(job.source, max_pixels=max_pixels or DEFAULT_MAX_PIXELS)
        seen = len(image.notices)
        tell(image.notices)
        if check is not None:
            check(image, job)
        with quiet(fd=False):  # the progress bar is drawn on stderr meanwhile
            result = process(image, part)
        job.target.parent.mkdir(parents=True, exist_ok=True)
        with quiet():
            save_image(result, job.target, format=fmt, quality=quality, overwrite=overwrite, protected=inputs)
        if fingerprints:
            from photoforge.app.journal import file_hash

            outcome.output_hash = file_hash(job.target)
        tell(result.notices[seen:])
    except Aborted:
        raise
    except ModelPackError as error:
        tell()
        outcome.error, outcome.model_failure = str(error), True
    except (ImageLoadError, Refused) as error:
        tell()
        outcome.error, outcome.load_failure = str(error), True
    except Exception as error:  # noqa: BLE001 - one bad file must not stop the batch; it is reported
        tell()
        outcome.error = f"{job.source}: {error}"
    return outcome


class Dispatch:
    """The driver's side of the engines whose workers run whole files elsewhere (worker
    processes, Ray): the queue, each file claimed before it leaves (its output path checked,
    `running` committed, so the worker may replace what it finds there: a retry of its own
    partial work), and the outcomes recorded as they come back, in completion order."""

    def __init__(self, jobs: list[Job], *, report: BatchReport, progress, on_file: Callable[[int, Job], None],
                 say: Callable[[str], None], journal=None, overwrite: bool = False, fmt: str | None = None,
                 quality: int = 95, inputs: list[Path]):
        self.queue = deque(jobs)
        self.total, self.finished = len(jobs), 0
        self.report, self.progress, self.on_file, self.say, self.journal = report, progress, on_file, say, journal
        self.target_rules = dict(format=fmt, quality=quality, protected=inputs, make_folders=True)
        self.overwrite = overwrite

    def next_job(self) -> Job | None:
        """The next job, claimed, or None when none is left; a job whose output cannot be
        written is recorded as failed on the way."""
        from photoforge.core.imageio import ImageSaveError, check_save_target

        while self.queue:
            job = self.queue.popleft()
            try:
                check_save_target(job.target, overwrite=self.overwrite or job.replace, **self.target_rules)
            except ImageSaveError as error:
                self.done(Outcome(job, error=str(error), load_failure=True))
                continue
            if self.journal is not None:
                self.journal.running(job)
            return Job(job.source, job.target, replace=True)
        return None

    def retry_first(self, job: Job) -> None:
        self.queue.appendleft(job)

    def done(self, outcome: Outcome) -> None:
        """Record an outcome; after a model failure the rest is not sent (it would fail alike)."""
        self.on_file(self.finished, outcome.job)
        record(outcome, self.report, self.journal, self.say)
        self.finished += 1
        self.progress.set(self.finished / self.total, f"{self.finished}/{self.total}: {outcome.job.source.name}")
        if outcome.model_failure and self.report.stopped is None:
            self.report.stopped = outcome.error
            self.report.failures.extend((left, "not processed: " + outcome.error) for left in self.queue)
            self.say(f"stopped: {len(self.queue)} image{'s' * (len(self.queue) != 1)} not processed")
            self.queue.clear()


def record(outcome: Outcome, report: BatchReport, journal=None, say: Callable[[str], None] = lambda m: None) -> None:
    """Show an outcome's notices and error, count it, and (with a journal) commit it."""
    job = outcome.job
    for notice in outcome.notices:
        say(f"notice: {notice}")
    if outcome.error is None:
        if journal is not None:
            journal.done(job, outcome.source, outcome.output_hash)
        report.done.append(job)
    else:
        if journal is not None:
            journal.failed(job, outcome.error, outcome.source)
        report.failures.append((job, outcome.error))
        report.load_failures += outcome.load_failure
        say(f"error: {outcome.error}")


def run_batch(jobs: list[Job], process, *, progress, overwrite: bool = False, fmt: str | None = None,
              quality: int = 95, max_pixels: int | None = None,
              on_file: Callable[[int, Job], None] | None = None,
              say: Callable[[str], None] = lambda message: None,
              check: Callable[[object, Job], None] | None = None,
              report: BatchReport | None = None, quiet_decoders: bool = False,
              journal=None, inputs: list[Path] | None = None) -> BatchReport:
    """Check the output → load → check(image, job) → process(image, progress) → save, for each
    job; a bad file is reported and the batch goes on. Cancelling (Aborted) and interrupts
    stop the batch and propagate; pass `report` to see what was done by then.
    `quiet_decoders` (a CLI, one thread) turns decoder chatter on stderr into notices.
    With a `journal` (photoforge.app.journal.Journal), each job is recorded running before its
    output may appear and done/failed after, committed each time. `inputs` (default: the
    jobs' sources) are never written over without `overwrite`."""
    inputs = [job.source for job in jobs] if inputs is None else inputs
    report = report if report is not None else BatchReport(len(jobs))
    if not report.total:
        report.total = len(jobs)
    for n, job in enumerate(jobs):
        if on_file is not None:
            on_file(n, job)
        part = progress.sub(n / len(jobs), (n + 1) / len(jobs))
        part.set(0.0, f"{n + 1}/{len(jobs)}: {job.source.name}")
        outcome = run_one(job, process, part, inputs=inputs, overwrite=overwrite, fmt=fmt, quality=quality,
                          max_pixels=max_pixels, check=check, quiet_decoders=quiet_decoders,
                          claim=journal.running if journal is not None else None,
                          fingerprints=journal is not None)
        record(outcome, report, journal, say)
        part.set(1.0)
        if outcome.model_failure:  # said once; the rest would fail the same way
            report.stopped = outcome.error
            report.failures.extend((left, "not processed: " + outcome.error) for left in jobs[n + 1:])
            say(f"stopped: {len(jobs) - n} image{'s' * (len(jobs) - n != 1)} not processed")
            break
    return report
