"""Each scan's own infrared channel, for every restore that works on files: `restore` in
the CLI and a restore batch in the window find it the same way, so a folder of RGBI scans
gives the same mask whichever front end runs it.

A batch looks for each file's infrared when the file has been read (the run's `check`
hook), before any work, so that a sidecar that does not fit its scan refuses that scan as
an unusable input would, and the batch goes on. The processing step then takes what was
found for its file. `sources` keeps, per input, where its infrared came from or "none",
for the end summary: a user who restores 300 scans must be able to see which of them had
their dust found in infrared.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from photoforge.app.batch import Job, Refused, path_key
from photoforge.core.infrared import (SIDECAR_SUFFIXES, Infrared, InfraredError, check_size, find_infrared,
                                      locate_infrared, read_infrared_file)

NONE = "none"


def scan_infrared(path: str | os.PathLike[str], shape: tuple[int, int],
                  given: Infrared | None = None) -> Infrared | None:
    """The infrared for the scan at `path` whose pixels are `shape` (H, W): `given` (a file
    the user named) or the scan's own (4th TIFF channel, second page, `_IR.tif` sidecar).
    InfraredError, naming the file, if it cannot be used or does not cover the scan."""
    found = given if given is not None else find_infrared(path)
    if found is not None:
        check_size(found, shape, str(path))
    return found


def split_sidecars(jobs: list[Job]) -> tuple[list[Job], list[str]]:
    """A folder of scans holds their `<stem>_IR.tif` sidecars too: those are their scans'
    infrared, not photos to restore. The jobs to run, and a notice per sidecar left out."""
    owner = {path_key(job.source.with_name(job.source.stem + suffix)): job.source
             for job in jobs for suffix in SIDECAR_SUFFIXES}
    kept, notices = [], []
    for job in jobs:
        scan = owner.get(path_key(job.source))
        if scan is None or path_key(scan) == path_key(job.source):
            kept.append(job)
        else:
            notices.append(f"'{job.source.name}' is the infrared of '{scan.name}'; it is not restored as a photo")
    return kept, notices


class BatchInfrared:
    """Per-file infrared for a batch. `check(image, job)` finds it (Refused if it cannot be
    used), `take(job)` hands it over once, as H×W float32 0–1 or None. With `enabled`
    False every file is restored without. Check and take run where the file is processed
    (this process, a worker process, a Ray worker); `summary_lines` runs on the driver."""

    def __init__(self, enabled: bool = True, given: Infrared | None = None) -> None:
        self.enabled, self.given = enabled, given
        self._found: dict[str, np.ndarray] = {}
        self._last: str | None = None

    @classmethod
    def from_option(cls, option: str, count: int) -> "BatchInfrared":
        """As `restore --infrared auto|off|FILE` asks; InfraredError for a FILE that cannot
        be read, ValueError for a FILE given to several scans."""
        if option in ("auto", "off"):
            return cls(enabled=option == "auto")
        if count > 1:
            raise ValueError("--infrared FILE is one scan's infrared; for several scans use --infrared auto, "
                             "which finds each scan's own (4th TIFF channel, second page or <stem>_IR.tif)")
        return cls(given=read_infrared_file(option))

    def check(self, image, job: Job) -> Infrared | None:
        key = self._last = path_key(job.source)
        self._found.pop(key, None)
        if not self.enabled:
            return None
        try:
            found = scan_infrared(job.source, image.pixels.shape[:2], self.given)
        except InfraredError as error:
            raise Refused(str(error)) from None
        if found is not None:
            self._found[key] = found.values
        return found

    def take(self, job: Job | None = None) -> np.ndarray | None:
        """What check() found for `job` (default: the file checked last, which is the one a
        sequential batch processes next)."""
        key = self._last if job is None else path_key(job.source)
        return self._found.pop(key, None) if key is not None else None

    def source_of(self, path: Path) -> str | None:
        """Where a file that was restored took its infrared from, read from headers only
        (a file whose infrared could not be used failed, and says why, elsewhere)."""
        if not self.enabled:
            return None
        return self.given.source if self.given is not None else locate_infrared(path)

    def summary_lines(self, jobs: list[Job]) -> list[str]:
        """One line per file done: where its infrared came from, or none."""
        lines = []
        for job in jobs:
            found = self.source_of(job.source)
            lines.append(f"{job.source.name}: infrared {NONE if found is None else 'from ' + found}")
        return lines
