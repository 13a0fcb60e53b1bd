"""`photoforge split` on folders keeps the batch journal (issue 13): a resumed run splits only
the scans not done yet, redoes one whose pieces were damaged or that was in flight when the
batch was killed, retries a failure, refuses a rerun over its own outputs without --resume,
and batch-status reports it."""
from __future__ import annotations

import sqlite3

import cv2
import numpy as np
import pytest

from photoforge.app.journal import JOURNAL_NAME
from photoforge.cli import main
from tests import scan_synth as ss


def _scans(folder):
    folder.mkdir()
    for i in range(3):
        scan = ss.make_scan([ss.PrintSpec((2.0, 1.5), (1.4, 1.2), 5.0 - 3 * i, seed=i),
                             ss.PrintSpec((2.0, 1.5), (4.0, 1.3), -3.0 + i, seed=10 + i)],
                            dpi=60, size=(5.5, 2.6), bits=8, seed=i)
        cv2.imwrite(str(folder / f"scan{i}.png"), scan.pixels[..., ::-1])
    cv2.imwrite(str(folder / "blank.png"), np.full((156, 330, 3), 235, np.uint8))


def _pieces(out):
    return {p.name: p.read_bytes() for p in sorted(out.rglob("*.png"))}


def _states(out):
    db = sqlite3.connect(out / JOURNAL_NAME)
    try:
        return dict(db.execute("SELECT key, state FROM files"))
    finally:
        db.close()


def test_split_folder_resumes_what_is_left(tmp_path, capsys):
    src, out, reference = tmp_path / "in", tmp_path / "out", tmp_path / "ref"
    _scans(src)
    assert main(["split", str(src), "-o", str(reference)]) == 1  # the blank scan fails, the rest are split
    assert main(["split", str(src), "-o", str(out)]) == 1
    first = _pieces(out)
    assert first == _pieces(reference) and len(first) == 6
    assert _states(out) == {"in/blank.png": "failed", "in/scan0.png": "done", "in/scan1.png": "done",
                            "in/scan2.png": "done"}
    capsys.readouterr()

    # a rerun without --resume neither redoes nor skips silently
    assert main(["split", str(src), "-o", str(out)]) == 2
    assert f"'{out}' holds 3 outputs of an earlier batch" in capsys.readouterr().err

    # scan1 damaged, scan2 in flight when the batch was killed (half a piece on disk)
    (out / "in" / "scan1_2.png").write_bytes(b"not a png")
    db = sqlite3.connect(out / JOURNAL_NAME)
    db.execute("UPDATE files SET state='running' WHERE key='in/scan2.png'")
    db.commit()
    db.close()
    (out / "in" / "scan2_1.png").write_bytes(first["scan2_1.png"][:100])
    kept = (out / "in" / "scan0_1.png").stat()
    assert main(["split", str(src), "-o", str(out), "--resume", "--retries", "1"]) == 1
    err = capsys.readouterr().err
    redone = sorted(line.split(" → ")[0] for line in err.splitlines() if " → " in line)
    assert redone == [str(src / "scan1.png"), str(src / "scan2.png")]
    assert "output does not match what the journal recorded" in err and "in progress when the batch stopped" in err
    assert "failed before; retrying" in err and "3 of 4 scans split, 1 failed (1 split by an earlier run, kept)" in err
    assert _pieces(out) == _pieces(reference)  # as an uninterrupted run made them
    now = (out / "in" / "scan0_1.png").stat()
    assert (now.st_ino, now.st_mtime_ns) == (kept.st_ino, kept.st_mtime_ns)  # not split twice

    # the blank scan is given up after --retries; everything else is kept
    assert main(["split", str(src), "-o", str(out), "--resume", "--retries", "1"]) == 1
    err = capsys.readouterr().err
    assert "not retried: tried 2 times (--retries 1)" in err and "no print found" in err
    assert " → " not in err
    assert main(["batch-status", str(out)]) in (0, 1)
    status = capsys.readouterr()
    text = status.out + status.err
    assert "4 inputs: 3 done, 1 failed" in text and "blank.png" in text


def test_split_refuses_ray(tmp_path, capsys):
    _scans(tmp_path / "in")
    assert main(["split", str(tmp_path / "in" / "scan0.png"), "-o", str(tmp_path / "o"), "--engine", "ray"]) == 2
    assert "--engine ray" in capsys.readouterr().err


@pytest.mark.parametrize("resume", [False, True])
def test_one_scan_keeps_a_journal_too(tmp_path, capsys, resume):
    _scans(tmp_path / "in")
    out = tmp_path / "o"
    args = ["split", str(tmp_path / "in" / "scan0.png"), "-o", str(out)]
    assert main(args + ["--resume"] * resume) == 0
    assert (out / JOURNAL_NAME).exists() and sorted(p.name for p in out.glob("*.png")) == ["scan0_1.png",
                                                                                             "scan0_2.png"]
    assert main(args + ["--resume"]) == 0
    assert "nothing to do" in capsys.readouterr().err
