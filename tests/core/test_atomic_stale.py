"""A save killed with kill -9 leaves its temporary file; the next save into that folder
removes it, and only temporary files of ours whose process is gone and that nobody wrote to
for a while (issue 16)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

from photoforge.core import atomic
from photoforge.core.atomic import STALE_AFTER, atomic_write
from tests.conftest import ROOT


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def age(path, seconds) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_a_save_killed_with_kill_9_leaves_a_temp_that_the_next_save_removes(tmp_path):
    target = tmp_path / "big.pforge"
    script = textwrap.dedent(f"""
        import sys, time
        from photoforge.core.atomic import atomic_write
        with atomic_write({str(target)!r}) as fh:
            fh.write(b"x" * 1_000_000)
            fh.flush()
            print("writing", flush=True)
            time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline() == "writing\n"
    child.send_signal(signal.SIGKILL)
    child.wait()
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert len(left) == 1 and f".pf{child.pid}." in left[0].name and left[0].stat().st_size == 1_000_000
    assert not target.exists()
    age(left[0], STALE_AFTER + 60)
    atomic._swept.clear()
    with atomic_write(tmp_path / "other.png") as fh:
        fh.write(b"new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.png"]


def test_only_stale_temps_of_dead_processes_of_ours_are_removed(tmp_path):
    dead, alive = dead_pid(), os.getpid()
    files = {
        "stale": f".a.png.pf{dead}.abcd1234.tmp",  # ours, process gone, old: removed
        "fresh": f".b.png.pf{dead}.efgh5678.tmp",  # process gone but written a moment ago
        "alive": f".c.png.pf{alive}.ijkl9012.tmp",  # its process still runs
        "other": ".notes.tmp",  # not named like ours
        "older style": ".d.png.mnop3456.tmp",  # no pid: cannot tell whose it is
        "user": f"holiday.pf{dead}.abcd1234.tmp",  # not hidden: never a temp file of ours
    }
    for kind, name in files.items():
        (tmp_path / name).write_bytes(b"x")
        if kind != "fresh":
            age(tmp_path / name, STALE_AFTER + 60)
    removed = atomic.remove_stale_temps(tmp_path)
    assert removed == [tmp_path / files["stale"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(n for k, n in files.items() if k != "stale")


def test_a_dead_but_unreaped_process_counts_as_gone(tmp_path):
    """A worker killed with its batch may stay a zombie where init never reaps (containers):
    its temporary file is still removed."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while not atomic._zombie(child.pid):  # exited, not waited for: a zombie
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(child.pid, 0)  # kill(pid, 0) alone would call it alive
    temp = tmp_path / f".a.png.pf{child.pid}.abcd1234.tmp"
    temp.write_bytes(b"x")
    assert atomic.remove_stale_temps(tmp_path, older_than=0) == [temp]
    assert not atomic._zombie(os.getpid())
    child.wait()
