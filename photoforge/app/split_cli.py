"""`photoforge split`: one file per print found on each scan, `<scan stem>_<n>.<ext>` in
reading order, with the scan's format, bit depth, ICC profile, EXIF/XMP and resolution.

Exit codes as the other commands: 0 all done; 1 some scans failed (the rest were done);
2 bad usage, or the only scan was unusable (unreadable, or no print found on it).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from photoforge.app.batch import Job, UsageError
from photoforge.app.dating import Dating


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


def split_scan(job: Job, options: SplitOptions, *, fmt: str | None, quality: int, overwrite: bool,
               max_pixels: int | None, protected: list[Path], say: Callable[[str], None]) -> list[Path]:
    """Load, find, check every output, then cut and write each print; the paths written.
    ImageLoadError / NoPrint / ImageSaveError name the file."""
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
    for target in targets:  # all or nothing: no half-split scan because the 3rd name was taken
        check_save_target(target, format=fmt, quality=quality, overwrite=overwrite, protected=protected,
                          make_folders=True)
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
    return written
