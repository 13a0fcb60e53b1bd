"""Turning CLI inputs (files and folders) into (input, output) pairs, the same for every op."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
