"""Write-then-rename, so a crash or a failed encode never leaves a half-written file."""
from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

# Read once at import: os.umask can only be queried by setting it, which races with threads.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _final_mode(path: Path) -> int:
    # NamedTemporaryFile creates 0600; the result should look like any other file the user
    # writes, or keep the permissions of the file it replaces.
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_UMASK


def _publish(tmp: str, path: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(tmp, path)
        return
    # A hard link fails if the destination appeared meanwhile, which a prior exists() check
    # cannot guarantee; fall back where the file system has no hard links.
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        if path.exists():
            raise FileExistsError(path) from None
        os.replace(tmp, path)
    else:
        with contextlib.suppress(OSError):  # the save itself has succeeded by now
            os.unlink(tmp)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[BinaryIO]:
    """Yield a binary file in `path`'s folder; on a clean exit it becomes `path`.

    On any exception the temporary file is removed and `path` is left as it was. Without
    `overwrite`, an existing `path` raises FileExistsError and is not touched.
    """
    path = Path(path)
    tmp = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with tmp:
            yield tmp  # type: ignore[misc]
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp.name, _final_mode(path))
        _publish(tmp.name, path, overwrite)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp.name)
        raise
    _fsync_dir(path.parent)
