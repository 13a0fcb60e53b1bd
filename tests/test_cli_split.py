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


@pytest.mark.parametrize("stored", ["4th channel", "sidecar"])
def test_split_cuts_the_infrared_with_each_print(tmp_path, capsys, stored):
    """An RGBI scan split into two prints: each piece gets a `<piece>_IR.tif` cut by the same
    geometry, with the scan's dust where it falls on that print, and restore finds it."""
    import tifffile

    from photoforge.core.imageio import load_image
    from photoforge.core.infrared import locate_infrared

    scan = ss.make_scan([ss.PrintSpec((2.0, 1.5), (1.4, 1.2), 4.0, seed=1),
                         ss.PrintSpec((2.0, 1.5), (4.0, 1.3), -3.0, seed=2)],
                        dpi=80, size=(5.5, 2.6), bits=16, seed=3)
    H, W = scan.pixels.shape[:2]
    infrared = np.full((H, W), 52000, np.uint16)
    dust = {0: [(20.0, 15.0), (120.0, 80.0)], 1: [(60.0, 50.0)]}  # per print, in its frame (x, y px)
    for k, spots in dust.items():
        tl, tr, _, bl = scan.corners[k]
        ex, ey = (tr - tl) / np.linalg.norm(tr - tl), (bl - tl) / np.linalg.norm(bl - tl)
        for x, y in spots:
            cx, cy = tl + ex * x + ey * y
            cv2.circle(infrared, (round(cx), round(cy)), 2, 6000, -1)
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    if stored == "4th channel":
        tifffile.imwrite(src / "scan.tif", np.dstack([scan.pixels, infrared]), photometric="rgb", extrasamples=[0])
    else:
        tifffile.imwrite(src / "scan.tif", scan.pixels, photometric="rgb")
        tifffile.imwrite(src / "scan_IR.tif", infrared)
    assert main(["split", str(src), "-o", str(out), "--format", "png"]) == 0
    assert "split as a scan" in capsys.readouterr().err or stored == "4th channel"
    pieces = sorted((out / "in").glob("scan_?.png"))  # a folder's scans go to OUT/<folder>
    assert [p.name for p in pieces] == ["scan_1.png", "scan_2.png"]
    for k, piece in enumerate(pieces):
        pixels = load_image(piece).pixels
        sidecar = out / "in" / f"scan_{k + 1}_IR.tif"
        assert pixels.shape[2] == 3 and locate_infrared(piece) == f"'{sidecar.name}'"
        ir = tifffile.imread(sidecar)
        assert ir.shape == pixels.shape[:2] and ir.dtype == np.uint16
        dark = ir < 30000
        n, labels = cv2.connectedComponents(dark.astype(np.uint8))
        assert n - 1 == len(dust[k])  # the print's own specks, none of the other print's
        for x, y in dust[k]:  # each where it lies on the print (piece pixel centres at +0.5)
            assert ir[round(y - 0.5), round(x - 0.5)] < 20000
            assert labels[round(y - 0.5), round(x - 0.5)] > 0
        assert np.median(ir[~dark]) == pytest.approx(52000, abs=300)
