"""Write-then-rename, so a crash or a failed encode never leaves a half-written file."""
from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

# Our temporary files are named ".<target name>.pf<pid>.<random>.tmp": the pid says whose
# they are, so one left by a killed process (kill -9, power cut) can be recognised and removed
# on a later save into the same folder. Nothing else is ever matched.
_TEMP_NAME = re.compile(r"\..+\.pf(\d+)\.[a-z0-9_]{8}\.tmp")
STALE_AFTER = 10 * 60  # seconds without a write before a dead process's temp file is stale

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


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # another user's process, or cannot tell: leave it alone
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A dead process not yet reaped (an orphan in a container whose init never reaps, e.g. a
    batch worker killed with its driver) still answers kill(pid, 0)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False  # no /proc (not Linux): as before


def remove_stale_temps(folder: str | os.PathLike[str], *, older_than: float = STALE_AFTER) -> list[Path]:
    """Remove temporary files of ours in `folder` whose process is gone and that have not been
    written for `older_than` seconds; the paths removed. Never raises."""
    removed = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.fullmatch(entry.name)
        if match is None:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if not entry.is_file(follow_symlinks=False) or now - st.st_mtime < older_than:
                continue
            if _pid_alive(int(match[1])):
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except (OSError, ValueError):
            continue
    return removed


_swept: dict[str, float] = {}  # folder → when this process last swept it


def _sweep_now_and_then(folder: Path) -> None:
    """remove_stale_temps, at most once per folder every few minutes: a batch writing
    thousands of files into one folder must not list it thousands of times."""
    key = os.path.abspath(folder)
    now = time.monotonic()
    if now - _swept.get(key, -STALE_AFTER) < STALE_AFTER / 2:
        return
    _swept[key] = now
    remove_stale_temps(folder)


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
    _sweep_now_and_then(path.parent)
    tmp = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.pf{os.getpid()}.", suffix=".tmp",
                                      delete=False)
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
