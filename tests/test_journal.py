"""Issue 15, item 1: the batch journal. A folder batch killed with SIGKILL at any point
resumes doing exactly what is left (never trusting an output it cannot vouch for), changed
options or inputs are redone and said so, a damaged output is redone, failures are retried
up to --retries and counted, and `photoforge batch-status` lists it all. Runs use `adjust`
(no model) in a subprocess, as a user runs it."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from photoforge.app.batch import Job
from photoforge.core.image import ImageData
from photoforge.core.imageio import save_image
from photoforge.app.journal import JOURNAL_NAME, Journal, JournalError, file_hash, fingerprint, on_network_fs
from tests.conftest import ROOT, smooth_random


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "photoforge", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=600, env=env)


def make_folder(folder: Path, count: int, shape=(48, 64), seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        pixels = (smooth_random(shape, seed * 1000 + i) * 255).astype(np.uint8)
        save_image(ImageData(pixels), folder / f"p{i:02d}.png")
        paths.append(folder / f"p{i:02d}.png")
    return paths


def states(out: Path) -> dict[str, str]:
    db = sqlite3.connect(out / JOURNAL_NAME)
    try:
        return dict(db.execute("SELECT key, state FROM files"))
    finally:
        db.close()


def outputs(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*.png"))}


def made(stderr: str) -> list[str]:
    """The 'input → output' lines of a run."""
    return [line for line in stderr.splitlines() if " → " in line and not line.startswith("notice")]


ADJUST = ["--contrast", "15", "--saturation", "-10", "--curve", "0,0 64,80 255,255"]


# ---------------------------------------------------------------- SIGKILL, then --resume

@pytest.mark.parametrize("kill_at, workers", [(2, 1), (7, 2)])
def test_a_batch_killed_with_sigkill_resumes_doing_exactly_what_was_left(tmp_path, kill_at, workers):
    count = 12
    make_folder(tmp_path / "in", count, shape=(900, 1200))  # large enough that a file takes a while
    reference = tmp_path / "reference"
    assert cli("adjust", tmp_path / "in", "-o", reference, *ADJUST).returncode == 0
    out = tmp_path / "out"
    log = tmp_path / "stderr.txt"
    with open(log, "w") as sink:  # a file, not a pipe: the child must never block on it
        child = subprocess.Popen([sys.executable, "-m", "photoforge", "adjust", tmp_path / "in", "-o", out,
                                  *ADJUST, "--workers", str(workers)], cwd=ROOT, stdout=subprocess.DEVNULL,
                                 stderr=sink)
        deadline = time.monotonic() + 300
        while f"[{kill_at + 1}/{count}]" not in log.read_text():
            assert child.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.01)
        time.sleep(np.random.default_rng(kill_at).uniform(0, 0.3))  # anywhere inside the file
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    at_kill = states(out)
    done_before = {k for k, s in at_kill.items() if s == "done"}
    in_flight = [k for k, s in at_kill.items() if s == "running"]
    assert kill_at <= len(done_before) < count and len(in_flight) <= workers, at_kill
    kept = {k: (out / k).stat() for k in done_before}
    # Whatever is at an in-flight file's path is not trusted: put a half-written file there.
    for key in in_flight:
        (out / key).write_bytes((reference / key).read_bytes()[:500])
    result = cli("adjust", tmp_path / "in", "-o", out, *ADJUST, "--resume")
    assert result.returncode == 0, result.stderr
    remade = {line.split(" → ")[1] for line in made(result.stderr)}
    assert remade == {str(out / k) for k in at_kill if k not in done_before}  # exactly the rest
    if in_flight:
        assert "in progress when the batch stopped; redoing" in result.stderr
    assert f"{count} of {count} images done, 0 failed ({len(done_before)} done by an earlier run, kept)" \
        in result.stderr
    for key, st in kept.items():  # not processed twice: the very same files
        now = (out / key).stat()
        assert (now.st_ino, now.st_mtime_ns) == (st.st_ino, st.st_mtime_ns)
    assert outputs(out) == outputs(reference)  # bit-identical to the uninterrupted run
    assert set(states(out).values()) == {"done"}
    assert [p.name for p in out.rglob(".*")] == [JOURNAL_NAME]  # the dead run's temp files are gone


# ---------------------------------------------------------------- what changed is redone

def test_changed_options_and_a_changed_input_are_redone_and_the_cli_says_so(tmp_path):
    paths = make_folder(tmp_path / "in", 3)
    out = tmp_path / "out"
    assert cli("adjust", tmp_path / "in", "-o", out, "--contrast", "10").returncode == 0
    first = outputs(out)
    same = cli("adjust", tmp_path / "in", "-o", out, "--contrast", "10", "--resume")
    assert "nothing to do: all 3 outputs" in same.stderr and not made(same.stderr)
    changed = cli("adjust", tmp_path / "in", "-o", out, "--contrast", "30", "--resume")
    assert changed.returncode == 0, changed.stderr
    assert "notice: the options changed since 3 files were made (adjust.contrast: 0.1 → 0.3); redoing" \
        in changed.stderr
    assert len(made(changed.stderr)) == 3
    second = outputs(out)
    assert all(second[k] != first[k] for k in first)
    # an input edited in place (same name) is redone; the others are kept
    pixels = (smooth_random((48, 64), 99) * 255).astype(np.uint8)
    save_image(ImageData(pixels), paths[1], overwrite=True)
    edited = cli("adjust", tmp_path / "in", "-o", out, "--contrast", "30", "--resume")
    assert f"notice: input changed since its output was made; redoing '{paths[1]}'" in edited.stderr
    assert made(edited.stderr) == \
        [f"{paths[1]} → {out / 'in' / paths[1].name}"]
    # touched but not changed: the hash says it is the same input
    os.utime(paths[2], ns=(time.time_ns(), time.time_ns()))
    assert "nothing to do" in cli("adjust", tmp_path / "in", "-o", out, "--contrast", "30", "--resume").stderr


def test_a_damaged_or_missing_output_is_redone(tmp_path):
    make_folder(tmp_path / "in", 4)
    out = tmp_path / "out"
    assert cli("adjust", tmp_path / "in", "-o", out, *ADJUST).returncode == 0
    good = outputs(out)
    damaged, missing = out / "in" / "p01.png", out / "in" / "p02.png"
    data = bytearray(damaged.read_bytes())
    data[-20] ^= 0xFF  # one flipped byte: still the same size
    damaged.write_bytes(bytes(data))
    missing.unlink()
    result = cli("adjust", tmp_path / "in", "-o", out, *ADJUST, "--resume")
    assert result.returncode == 0, result.stderr
    assert f"output does not match what the journal recorded (damaged or edited since); redoing '{damaged}'" \
        in result.stderr
    assert f"output missing; redoing '{missing}'" in result.stderr
    assert len(made(result.stderr)) == 2
    assert outputs(out) == good


def test_a_rerun_without_resume_does_not_silently_redo_or_skip(tmp_path):
    make_folder(tmp_path / "in", 2)
    out = tmp_path / "out"
    assert cli("adjust", tmp_path / "in", "-o", out).returncode == 0
    again = cli("adjust", tmp_path / "in", "-o", out)
    assert again.returncode == 2
    assert f"error: '{out}' holds 2 outputs of an earlier batch" in again.stderr and "--resume" in again.stderr
    assert len(made(cli("adjust", tmp_path / "in", "-o", out, "--overwrite").stderr)) == 2


# ---------------------------------------------------------------- failures, retries, status

def test_failures_are_retried_up_to_retries_counted_and_listed_by_batch_status(tmp_path):
    paths = make_folder(tmp_path / "in", 3)
    broken = paths[1]
    good_bytes = broken.read_bytes()
    broken.write_bytes(good_bytes[:70])  # truncated mid-stream
    out = tmp_path / "out"
    first = cli("adjust", tmp_path / "in", "-o", out, "--retries", "1")
    assert first.returncode == 1
    assert "2 of 3 images done, 1 failed" in first.stderr
    assert "failures:" in first.stderr and f"  cannot open '{broken}'" in first.stderr.split("failures:")[1]
    retry = cli("adjust", tmp_path / "in", "-o", out, "--resume", "--retries", "1")
    assert retry.returncode == 1
    assert f"notice: failed before; retrying '{broken}'" in retry.stderr
    assert "2 of 3 images done, 1 failed (2 done by an earlier run, kept)" in retry.stderr
    given_up = cli("adjust", tmp_path / "in", "-o", out, "--resume", "--retries", "1")
    assert given_up.returncode == 1
    assert f"notice: '{broken}' not retried: tried 2 times (--retries 1); last:" in given_up.stderr
    assert "(tried 2 times)" in given_up.stderr.split("failures:")[1]
    status = cli("batch-status", out)
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert lines[0] == f"last batch: photoforge adjust {tmp_path / 'in'} -o {out} --resume --retries 1"
    assert "3 inputs: 2 done, 1 failed, 0 in progress when it stopped, 0 not started" in lines
    failure = lines[lines.index("failures:") + 1]
    assert failure.startswith(f"  cannot open '{broken}': ") and failure.endswith("(attempts: 2)")
    # --retries 3 allows more; a repaired input is redone whatever the count
    assert f"retrying '{broken}'" in cli("adjust", tmp_path / "in", "-o", out, "--resume", "--retries", "3").stderr
    broken.write_bytes(good_bytes)
    fixed = cli("adjust", tmp_path / "in", "-o", out, "--resume", "--retries", "0")
    assert fixed.returncode == 0, fixed.stderr
    assert f"input changed since its output was made; redoing '{broken}'" in fixed.stderr
    assert "3 inputs: 3 done, 0 failed" in cli("batch-status", out).stdout


def test_batch_status_of_a_folder_without_a_journal_is_a_clear_error(tmp_path):
    result = cli("batch-status", tmp_path)
    assert result.returncode == 2 and f"no batch journal in '{tmp_path}'" in result.stderr


def test_one_file_to_one_file_keeps_no_journal_and_resume_says_why(tmp_path):
    (src,) = make_folder(tmp_path / "in", 1)
    assert cli("adjust", src, "-o", tmp_path / "one.png").returncode == 0
    assert not (tmp_path / JOURNAL_NAME).exists()
    result = cli("adjust", src, "-o", tmp_path / "two.png", "--resume")
    assert result.returncode == 2 and "--resume works on folder batches" in result.stderr


# ---------------------------------------------------------------- the journal itself

def jobs_in(tmp_path, count=3) -> list[Job]:
    paths = make_folder(tmp_path / "in", count)
    return [Job(p, tmp_path / "out" / p.name) for p in paths]


def test_a_file_that_kills_the_batch_every_time_is_given_up_after_the_retries(tmp_path):
    jobs = jobs_in(tmp_path, 2)
    for attempt in range(3):  # three runs, each killed while on jobs[0]
        with Journal(tmp_path / "out") as journal:
            todo = journal.plan(jobs, {"x": 1}, resume=attempt > 0, retries=2).todo
            assert jobs[0].source in [j.source for j in todo]
            journal.running(jobs[0])
    with Journal(tmp_path / "out") as journal:
        decision = journal.plan(jobs, {"x": 1}, resume=True, retries=2)
    assert [j.source for j in decision.todo] == [jobs[1].source]
    ((job, reason, attempts),) = decision.given_up
    assert job.source == jobs[0].source and attempts == 3 and "stopped while working on it" in reason


def test_only_outputs_the_journal_made_are_replaced_on_resume(tmp_path):
    jobs = jobs_in(tmp_path, 2)
    with Journal(tmp_path / "out") as journal:
        journal.plan(jobs, {}, resume=False)
        journal.running(jobs[0])  # claimed its output path, then the process died
    with Journal(tmp_path / "out") as journal:
        todo = journal.plan(jobs, {}, resume=True).todo
    assert [(j.source, j.replace) for j in todo] == [(jobs[0].source, True), (jobs[1].source, False)]


def test_one_batch_at_a_time_per_output_folder(tmp_path):
    with Journal(tmp_path):
        with pytest.raises(JournalError, match="another PhotoForge batch is writing into"):
            Journal(tmp_path)
    Journal(tmp_path).close()  # free again


def test_fingerprints_are_size_mtime_and_sha256(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    size, mtime, digest = fingerprint(path)
    assert (size, mtime) == (3, path.stat().st_mtime_ns)
    assert digest == file_hash(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_a_journal_on_a_network_share_avoids_wal():
    mounts = "/dev/vda1 / ext4 rw 0 0\nnas:/archive /mnt/nas nfs4 rw,relatime 0 0\n"
    assert on_network_fs(Path("/mnt/nas/out"), mounts)
    assert not on_network_fs(Path("/mnt/nasty/out"), mounts) and not on_network_fs(Path("/tmp/out"), mounts)
