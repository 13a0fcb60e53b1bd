"""Turning CLI inputs (files and folders) into (input, output) pairs, the same for every op."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".gif"}
_SAVE_SUFFIX = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "tif": ".tif", "tiff": ".tif",
                "webp": ".webp", "bmp": ".bmp"}
_KEEP = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp"}


class UsageError(ValueError):
    """The command line itself is wrong (exit code 2)."""


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def output_suffix(source: Path, fmt: str | None) -> str:
    if fmt:
        return _SAVE_SUFFIX[fmt.lower()]
    suffix = source.suffix.lower()
    return suffix if suffix in _KEEP else ".png"  # GIF and unknown → lossless PNG


def plan_jobs(inputs: list[str], output: str, fmt: str | None) -> list[Job]:
    """One input file → OUT is a file (or a folder that exists); otherwise OUT is a folder
    and each folder input's sub-folders are mirrored inside it."""
    if fmt and fmt.lower() not in _SAVE_SUFFIX:
        raise UsageError(f"unknown --format '{fmt}'; choose one of png, jpg, tif, webp, bmp")
    out = Path(output)
    paths = [Path(p) for p in inputs]
    single_file = len(paths) == 1 and not paths[0].is_dir()
    if single_file and not out.is_dir():
        if out.suffix.lower() not in _SAVE_SUFFIX.values() and out.suffix.lower() not in (".jpeg", ".tiff"):
            if fmt is None:
                raise UsageError(f"cannot tell the output format from '{out}'; add --format or a suffix")
        return [Job(paths[0], out)]
    if out.exists() and not out.is_dir():
        raise UsageError(f"'{out}' is a file, but several inputs need an output folder")
    jobs = []
    for path in paths:
        if path.is_dir():
            for image in _images_under(path):
                rel = image.relative_to(path)
                jobs.append(Job(image, (out / path.name / rel).with_suffix(output_suffix(image, fmt))))
        else:
            jobs.append(Job(path, (out / path.name).with_suffix(output_suffix(path, fmt))))
    return jobs


@dataclass
class BatchReport:
    total: int
    done: list[Job]
    failures: list[tuple[Job, str]]
    load_failures: int  # of which: the input itself was unusable
    stopped: str | None = None  # why the batch stopped early (a model it needs is unusable)

    def summary(self) -> str:
        return f"{len(self.done)} of {self.total} images done, {len(self.failures)} failed"


def run_batch(jobs: list[Job], process, *, progress, overwrite: bool = False, fmt: str | None = None,
              quality: int = 95, max_pixels: int | None = None,
              on_file: Callable[[int, Job], None] | None = None,
              say: Callable[[str], None] = lambda message: None) -> BatchReport:
    """Load → process(image, progress) → save, for each job; a bad file is reported and the
    batch goes on. Cancelling (Aborted) stops the batch and propagates."""
    from photoforge.core.imageio import DEFAULT_MAX_PIXELS, ImageLoadError, load_image, save_image
    from photoforge.engine.packs import ModelPackError
    from photoforge.engine.progress import Aborted

    inputs = [job.source for job in jobs]
    report = BatchReport(len(jobs), [], [], 0)
    for n, job in enumerate(jobs):
        part = progress.sub(n / len(jobs), (n + 1) / len(jobs))
        part.set(0.0, f"{n + 1}/{len(jobs)}: {job.source.name}")
        if on_file is not None:
            on_file(n, job)
        try:
            image = load_image(job.source, max_pixels=max_pixels or DEFAULT_MAX_PIXELS)
            seen = len(image.notices)
            for notice in image.notices:
                say(f"notice: {notice}")
            result = process(image, part)
            job.target.parent.mkdir(parents=True, exist_ok=True)
            save_image(result, job.target, format=fmt, quality=quality, overwrite=overwrite,
                       protected=inputs)
            for notice in result.notices[seen:]:
                say(f"notice: {notice}")
            report.done.append(job)
        except Aborted:
            raise
        except ModelPackError as error:  # the model, not this photo: said once, and the rest
            report.stopped = str(error)  # would fail the same way
            report.failures.extend((left, "not processed: " + str(error)) for left in jobs[n:])
            say(f"error: {error}")
            say(f"stopped: {len(jobs) - n} image{'s' * (len(jobs) - n != 1)} not processed")
            break
        except ImageLoadError as error:
            report.failures.append((job, str(error)))
            report.load_failures += 1
            say(f"error: {error}")
        except Exception as error:  # one bad file must not stop the batch; it is reported
            report.failures.append((job, f"{job.source}: {error}"))
            say(f"error: {job.source}: {error}")
        part.set(1.0)
    return report
