"""`photoforge split`: one file per print found on each scan, `<scan stem>_<n>.<ext>` in
reading order, with the scan's format, bit depth, ICC profile, EXIF/XMP and resolution.

Exit codes as the other commands: 0 all done; 1 some scans failed (the rest were done);
2 bad usage, or the only scan was unusable (unreadable, or no print found on it).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from photoforge.app.batch import Job, UsageError
from photoforge.app.dating import Dating
from photoforge.core.infrared import SIDECAR_SUFFIXES


@dataclass(frozen=True)
class SplitOptions:
    lid: str = "auto"
    min_size: float | None = None
    trim: int = 0
    single: bool = False
    dating: Dating | None = None  # the date and caption every print of a scan gets


class NoPrint(Exception):
    """No print was found on a scan."""


def plan_split(inputs: list[str], output: str, fmt: str | None) -> tuple[list[Job], str | None]:
    """Jobs whose target is `<OUT>/<scan stem>.<ext>` (mirroring folder inputs); the files
    written are `<stem>_<n>.<ext>` beside it. OUT is always a folder."""
    from photoforge.app.batch import output_suffix, plan_batch

    out = Path(output)
    if out.exists() and not out.is_dir():
        raise UsageError(f"'{out}' is a file; split writes one file per print into a folder")
    paths = [Path(p) for p in inputs]
    if len(paths) == 1 and not paths[0].is_dir():
        return [Job(paths[0], out / paths[0].with_suffix(output_suffix(paths[0], fmt)).name)], None
    plan = plan_batch(inputs, output, fmt)
    return plan.jobs, plan.skipped_text()


def piece_paths(job: Job, count: int) -> list[Path]:
    t = job.target
    return [t.with_name(f"{t.stem}_{n}{t.suffix}") for n in range(1, count + 1)]


def infrared_path(piece: Path) -> Path:
    """Where a print's piece of the scan's infrared goes: the sidecar `restore` looks for."""
    return piece.with_name(f"{piece.stem}{SIDECAR_SUFFIXES[0]}")


def save_infrared(levels: np.ndarray, piece: Path, **save) -> Path:
    """A print's piece of the scan's infrared (H×W or H×W×1 uint16) written as its sidecar,
    16-bit grey TIFF, whatever the piece's own format."""
    from photoforge.core.image import ImageData
    from photoforge.core.imageio import save_image

    return save_image(ImageData(levels), infrared_path(piece), format="TIFF", **save)


def infrared_levels(source: Path, shape) -> tuple[np.ndarray, str] | None:
    """The scan's infrared as H×W×1 uint16 levels and where it came from, or None when it
    has none; InfraredError when it has one that cannot be used."""
    from photoforge.app.scan_infrared import scan_infrared
    from photoforge.core.infrared import to_levels

    found = scan_infrared(source, shape)
    return None if found is None else (to_levels(found.values)[..., None], found.source)


def _scan_infrared(job: Job, shape, say) -> np.ndarray | None:
    """infrared_levels, or None for one that cannot be used: said, and the prints are cut
    without it, as restore would go without."""
    from photoforge.core.infrared import InfraredError

    try:
        found = infrared_levels(job.source, shape)
    except InfraredError as error:
        say(f"notice: {error}; the prints are written without infrared")
        return None
    return None if found is None else found[0]


def pieces_present(job: Job) -> bool:
    return piece_paths(job, 1)[0].exists()


def pieces_digest(job: Job) -> str:
    """What the journal records for a split scan: the sha256 over its pieces `_1`, `_2`, …
    (names and contents) as they are now. A piece missing, damaged or added changes it;
    FileNotFoundError when there is none."""
    from photoforge.app.journal import file_hash

    h = hashlib.sha256()
    n = 1
    while (path := piece_paths(job, n)[-1]).exists():
        h.update(f"{path.name}\0{file_hash(path)}\n".encode())
        n += 1
    if n == 1:
        raise FileNotFoundError(path)
    return h.hexdigest()


def split_scan(job: Job, options: SplitOptions, *, fmt: str | None, quality: int, overwrite: bool,
               max_pixels: int | None, protected: list[Path], say: Callable[[str], None],
               claim: Callable[[Job], None] | None = None) -> list[Path]:
    """Load, find, check every output, claim(job), then cut and write each print; the paths
    written. ImageLoadError / NoPrint / ImageSaveError name the file."""
    from photoforge.app.batch import quietly
    from photoforge.core.imageio import DEFAULT_MAX_PIXELS, check_save_target, load_image, save_image
    from photoforge.core.resolution import read_dpi, write_dpi
    from photoforge.ops.split import extract, find_prints

    image = quietly(job.source, say, load_image, job.source, max_pixels or DEFAULT_MAX_PIXELS)
    for notice in image.notices:
        say(f"notice: {notice}")
    if options.dating is not None:  # each print inherits the scan's metadata
        image = options.dating.stamp(image, job.source, say)
    prints = find_prints(image.pixels, lid=options.lid, min_size=options.min_size, single=options.single)
    if not prints:
        raise NoPrint(f"'{job.source}': no print found on the scan (try --lid, a smaller --min-size, "
                      "or --single for a scan of one print)")
    targets = piece_paths(job, len(prints))
    # the scan's infrared is cut with each print into a `<piece>_IR.tif` sidecar, whatever the
    # pieces' format (JPEG and PNG hold no 4th channel, and most readers take a TIFF's 4th
    # sample for transparency), so `restore` on a piece finds its dust as on the scan
    infrared = _scan_infrared(job, image.pixels.shape[:2], say)
    sidecars = [infrared_path(t) for t in targets] if infrared is not None else []
    for target in targets:  # all or nothing: no half-split scan because the 3rd name was taken
        check_save_target(target, format=fmt, quality=quality, overwrite=overwrite, protected=protected,
                          make_folders=True)
    for sidecar in sidecars:
        check_save_target(sidecar, format="TIFF", quality=quality, overwrite=overwrite, protected=protected,
                          make_folders=True)
    if claim is not None:  # the journal says "running" before any piece may appear
        claim(job)
    dpi = read_dpi(job.source)
    targets[0].parent.mkdir(parents=True, exist_ok=True)
    written = []
    for pr, target in zip(prints, targets):
        piece = image.with_pixels(extract(image.pixels, pr, trim=options.trim))
        seen = len(piece.notices)
        save_image(piece, target, format=fmt, quality=quality, overwrite=overwrite, protected=protected)
        if dpi is not None and not write_dpi(target, dpi) and not written:
            say(f"notice: {target.suffix} files hold no resolution; {dpi[0]:g} dpi was not written")
        for notice in piece.notices[seen:]:
            say(f"notice: {target.name}: {notice}")
        written.append(target)
        if infrared is not None:  # the same warp as the pixels: the dust stays where it is seen
            written.append(save_infrared(extract(infrared, pr, trim=options.trim), target,
                                         overwrite=overwrite, protected=protected))
    return written


def run_split(jobs: list[Job], options: SplitOptions, *, output: str, fmt: str | None, quality: int,
              overwrite: bool, max_pixels: int | None, resume: bool, retries: int, command: str,
              say: Callable[[str], None]):
    """Split every scan, keeping the batch journal in OUT as the other folder commands do:
    with `resume` only what is not done yet (or changed, failed, damaged) is split again.
    The BatchReport."""
    from photoforge.app.batch import BatchReport
    from photoforge.app.journal import Journal
    from photoforge.core.atomic import remove_stale_temps

    report = BatchReport(len(jobs))
    inputs = [job.source for job in jobs]
    with Journal(output, digest=pieces_digest, present=pieces_present) as journal:
        decision = journal.plan(jobs, {"command": "split", "options": options, "format": fmt, "quality": quality},
                                resume=resume, retries=retries, overwrite=overwrite, command=command)
        for notice in decision.notices:
            say(f"notice: {notice}")
        report.kept = decision.kept
        report.failures += [(job, f"{reason} (tried {n} time{'s' * (n != 1)})")
                            for job, reason, n in decision.given_up]
        if resume:  # temporary files of the killed run, in the folders it was writing to
            for folder in {job.target.parent for job in decision.todo if job.replace}:
                remove_stale_temps(folder, older_than=0)
        try:
            for job in decision.todo:
                _split_one(job, options, journal, report, say, fmt=fmt, quality=quality,
                           overwrite=overwrite or job.replace, max_pixels=max_pixels, protected=inputs)
        except KeyboardInterrupt:
            say(f"stopped: {len(report.done) + len(report.kept)} of {len(jobs)} scans split before the "
                f"interruption; the journal in '{output}' has the rest: add --resume to the same command")
            raise
        journal.finish_run()
    if report.kept and not decision.todo:
        say(f"nothing to do: all {len(report.kept)} scans in '{output}' are split and intact")
    return report


def _split_one(job: Job, options: SplitOptions, journal, report, say, **save) -> None:
    """One scan, recorded in the journal: running once its outputs are checked, then done or
    failed (an attempt that fails before it claimed anything still counts)."""
    from photoforge.app.journal import fingerprint
    from photoforge.core.imageio import ImageLoadError, ImageSaveError

    claimed: list[Job] = []

    def claim(job: Job) -> None:
        journal.running(job)
        claimed.append(job)

    source = None
    try:
        source = fingerprint(job.source)
    except OSError:
        pass  # load_image says why, in its words
    try:
        written = split_scan(job, options, say=say, claim=claim, **save)
    except (ImageLoadError, NoPrint, ImageSaveError) as error:  # these name the file
        _failed(job, str(error), source, journal, report, say, not claimed)
        report.load_failures += not isinstance(error, ImageSaveError)
        return
    except (MemoryError, ValueError) as error:  # one bad scan must not stop the batch
        _failed(job, f"{job.source}: {error}", source, journal, report, say, not claimed)
        return
    journal.done(job, source, pieces_digest(job))
    report.done.append(job)
    say(f"{job.source} → " + ", ".join(str(p) for p in written))


def _failed(job: Job, text: str, source, journal, report, say, unclaimed: bool) -> None:
    journal.failed(job, text, source, unclaimed=unclaimed)
    report.failures.append((job, text))
    say(f"error: {text}")
