"""Issue 16, the CLI side: folders name what they skip, reruns never eat their own outputs,
two inputs never share an output, hostile numbers and bad outputs are refused before any
work (exit 2, a message naming the file), library noise becomes one notice per file, and
SIGTERM is handled like Ctrl+C. Most runs use `restore` with every stage off (no model, the
pixels pass through unchanged), in a private data/cache folder that must stay empty: that
is how "before any work" is checked."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from photoforge.core.image import ImageData
from photoforge.core.imageio import load_image, save_image
from tests.conftest import ROOT

PASS_THROUGH = ["--scratches", "off", "--denoise", "off", "--color", "off", "--device", "cpu"]
RNG = np.random.default_rng(16)


def noise(h=20, w=30, c=3, dtype=np.uint8):
    return RNG.integers(0, np.iinfo(dtype).max, (h, w, c), dtype=dtype, endpoint=True)


@pytest.fixture
def run(tmp_path):
    """photoforge in a subprocess with its own empty data and cache folders."""
    env = dict(os.environ, PHOTOFORGE_DATA_DIR=str(tmp_path / "data"), PHOTOFORGE_CACHE_DIR=str(tmp_path / "cache"))

    def run(*args):
        return subprocess.run([sys.executable, "-m", "photoforge", *map(str, args)], capture_output=True,
                              text=True, cwd=ROOT, env=env, timeout=600)
    run.no_work_done = lambda: not any((tmp_path / d).exists() and any((tmp_path / d).rglob("*"))
                                       for d in ("data", "cache"))
    return run


@pytest.fixture
def photo_file(tmp_path):
    path = tmp_path / "in" / "photo.png"
    path.parent.mkdir()
    save_image(ImageData(noise(48, 64)), path)
    return path


# ---------------------------------------------------------------- item 2: what a folder held

def test_a_folder_batch_names_what_it_skipped_and_reads_archive_formats(tmp_path, run):
    folder = tmp_path / "archive"
    folder.mkdir()
    pixels = {name: noise() for name in ("a.png", "b.tga", "c.pcx", "d.qoi")}
    for name, values in pixels.items():
        Image.fromarray(values).save(folder / name)
    for name in ("e.sgi", "f.sgi", "g.blp", "notes"):
        (folder / name).write_bytes(b"not read")
    (folder / ".DS_Store").write_bytes(b"\0")
    (folder / ".thumbnails").mkdir()
    Image.fromarray(noise()).save(folder / ".thumbnails" / "a.png")
    result = run("restore", folder, "-o", tmp_path / "out", *PASS_THROUGH)
    assert result.returncode == 0, result.stderr
    assert ("notice: skipped 4 files that are not images PhotoForge reads: .sgi ×2, (no suffix) ×1, "
            ".blp ×1; 1 hidden file; 1 hidden folder") in result.stderr.splitlines()
    assert "4 of 4 images done, 0 failed" in result.stderr
    for name, values in pixels.items():
        assert np.array_equal(load_image(tmp_path / "out" / "archive" / (name[0] + ".png")).pixels, values)


def test_plan_maps_archive_formats_to_outputs(tmp_path):
    from photoforge.app.batch import plan_batch

    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.jp2", "b.j2k", "c.jpf", "d.tga", "e.psd", "f.mpo", "g.jpe"):
        (folder / name).write_bytes(b"x")
    plan = plan_batch([str(folder)], str(tmp_path / "out"), None)
    assert [job.target.name for job in plan.jobs] == ["a.jp2", "b.j2k", "c.jp2", "d.png", "e.png", "f.jpg", "g.jpg"]
    assert plan.skipped_text() is None


# ---------------------------------------------------------------- item 12: reruns

def test_a_rerun_into_a_folder_inside_the_input_never_takes_its_own_outputs(tmp_path, run):
    folder = tmp_path / "B"
    folder.mkdir()
    save_image(ImageData(noise()), folder / "x.png")
    for _ in range(3):
        result = run("restore", folder, "-o", folder / "out", "--overwrite", *PASS_THROUGH)
        assert result.returncode == 0, result.stderr
        assert "1 of 1" not in result.stderr and "→" in result.stderr
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == \
        ["out/.photoforge-journal.sqlite", "out/B/x.png", "x.png"]  # the batch's journal, and no input taken


# ---------------------------------------------------------------- item 16: one output per input

def test_inputs_that_map_to_one_name_get_separate_outputs(tmp_path, run):
    folder = tmp_path / "in"
    folder.mkdir()
    made = {}
    for name, fmt in (("UPPER.PNG", "PNG"), ("UPPER.png", "PNG"), ("dup.gif", "GIF"), ("dup.png", "PNG")):
        values = noise(c=3 if fmt == "PNG" else 1)  # grey for GIF: 256 levels, exact
        Image.fromarray(values if fmt == "PNG" else values[..., 0]).save(folder / name, fmt)
        made[name] = values if fmt == "PNG" else np.repeat(values, 3, axis=2)  # a GIF palette is RGB
    out = tmp_path / "out"
    for flags in ([], ["--overwrite"]):
        result = run("restore", folder, "-o", out, *flags, *PASS_THROUGH)
        assert result.returncode == 0, result.stderr
        outputs = {"UPPER.PNG": "UPPER.PNG.png", "UPPER.png": "UPPER.png", "dup.gif": "dup.gif.png",
                   "dup.png": "dup.png"}
        for source, target in outputs.items():
            assert np.array_equal(load_image(out / "in" / target).pixels, made[source]), (flags, source)
        assert len(list(out.rglob("*"))) == 6  # the folder, four files and the batch's journal
    assert f"notice: '{folder / 'dup.gif'}' is written as 'dup.gif.png', since another input also maps to " \
           "'dup.png'" in result.stderr


def test_two_inputs_that_still_share_an_output_are_refused_before_work(tmp_path, run):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        save_image(ImageData(noise()), tmp_path / sub / "p.png")
    result = run("restore", tmp_path / "a" / "p.png", tmp_path / "b" / "p.png", "-o", tmp_path / "out", *PASS_THROUGH)
    assert result.returncode == 2
    assert (f"error: '{tmp_path / 'a' / 'p.png'}' and '{tmp_path / 'b' / 'p.png'}' would both be written to "
            f"'{tmp_path / 'out' / 'p.png'}'") in result.stderr
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- item 11 and 16: before any work

@pytest.mark.parametrize("args,message", [
    (["--scale", "inf"], "argument --scale: must be positive and finite, got inf"),
    (["--scale", "nan"], "argument --scale: must be positive and finite, got nan"),
    (["--max-pixels", "0"], "argument --max-pixels: the pixel limit must be 1–1000000000000, not 0"),
    (["--max-pixels", "-5"], "argument --max-pixels: the pixel limit must be 1–1000000000000, not -5"),
    (["--tile", "-1"], "argument --tile: the tile size in pixels must be 32–16384 or 0 (no tiling), not -1"),
    (["--tile", "1e9"], "argument --tile: the tile size in pixels must be 32–16384 or 0 (no tiling), not 1e9"),
    (["--threads", "0"], "argument --threads: the thread count must be 1–1024, not 0"),
    (["--threads", "-3"], "argument --threads: the thread count must be 1–1024, not -3"),
    (["--quality", "0"], "argument --quality: quality must be 1–100, not 0"),
])
def test_hostile_numbers_are_refused_up_front(photo_file, tmp_path, run, args, message):
    result = run("upscale", photo_file, "-o", tmp_path / "o.jpg", "--model", "span-x2", *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and run.no_work_done() and not (tmp_path / "o.jpg").exists()


def test_a_scale_beyond_the_pixel_limit_is_refused_before_the_model_runs(photo_file, tmp_path, run):
    result = run("upscale", photo_file, "-o", tmp_path / "o.png", "--model", "span-x2", "--scale", "1e6")
    assert result.returncode == 2, result.stderr
    assert (f"error: '{photo_file}': ×1e+06 would make it 64000000×48000000 = 3.072e+09 MP, above the limit "
            "of 300 MP (--max-pixels)") in result.stderr
    assert run.no_work_done() and not (tmp_path / "o.png").exists()
    result = run("upscale", photo_file, "-o", tmp_path / "o.png", "--model", "span-x2", "--scale", "4",
                 "--max-pixels", "40000")
    assert result.returncode == 2 and "256×192 = 0.04915 MP, above the limit of 0.04 MP" in result.stderr
    assert run.no_work_done()


@pytest.mark.parametrize("case", ["under a file", "an input", "no suffix", "a folder"])
def test_bad_outputs_are_refused_before_any_work(photo_file, tmp_path, run, case):
    before = photo_file.read_bytes()
    (tmp_path / "file.png").write_bytes(b"precious")
    (tmp_path / "folder.png").mkdir()
    output, message = {
        "under a file": (tmp_path / "file.png" / "o.png", f"'{tmp_path / 'file.png'}' is a file, not a folder"),
        "an input": (photo_file, "it is one of the input images; use --overwrite to replace it"),
        "no suffix": (tmp_path / "result", "unknown output format (no extension)"),
        "a folder": (tmp_path / "folder.png", "it is a folder"),
    }[case]
    mask = tmp_path / "mask.png"
    save_image(ImageData(np.full((48, 64, 1), 255, np.uint8) * (np.arange(64) < 8)[None, :, None].astype(np.uint8)),
               mask)
    result = run("inpaint", photo_file, "--mask", mask, "-o", output, "--method", "fill")
    assert result.returncode == 2, result.stderr
    assert f"error: cannot save '{output}': {message}" in result.stderr
    assert "Traceback" not in result.stderr and "→" not in result.stderr
    assert photo_file.read_bytes() == before and (tmp_path / "file.png").read_bytes() == b"precious"
    if case in ("under a file", "an input"):  # restore and upscale check the same before any work
        result = run("restore", photo_file, "-o", output, *PASS_THROUGH)
        assert result.returncode == 2 and message in result.stderr and "→" not in result.stderr, result.stderr


def test_inpaint_quality_is_checked_before_the_fill(photo_file, tmp_path, run):
    mask = tmp_path / "mask.png"
    save_image(ImageData(np.zeros((48, 64, 1), np.uint8)), mask)
    result = run("inpaint", photo_file, "--mask", mask, "-o", tmp_path / "o.jpg", "--quality", "0")
    assert result.returncode == 2 and "argument --quality: quality must be 1–100, not 0" in result.stderr


def test_mask_out_onto_an_input_says_it_is_an_input(photo_file, tmp_path, run):
    before = photo_file.read_bytes()
    result = run("restore", photo_file, "-o", tmp_path / "o.png", "--mask-out", photo_file, *PASS_THROUGH)
    assert result.returncode == 2, result.stderr
    assert (f"error: cannot save '{photo_file}': it is one of the input images; use --overwrite to replace it"
            in result.stderr)
    assert photo_file.read_bytes() == before and not (tmp_path / "o.png").exists()
    result = run("restore", photo_file, "-o", tmp_path / "o.png", "--mask-out", tmp_path / "o.png", *PASS_THROUGH)
    assert result.returncode == 2
    assert f"error: '{tmp_path / 'o.png'}' cannot be both the output image and the mask" in result.stderr


def test_an_existing_mask_out_is_refused_before_the_restore(photo_file, tmp_path, run):
    (tmp_path / "m.png").write_bytes(b"precious")
    result = run("restore", photo_file, "-o", tmp_path / "o.png", "--mask-out", tmp_path / "m.png", *PASS_THROUGH)
    assert result.returncode == 2
    assert f"error: cannot save '{tmp_path / 'm.png'}': file exists; use --overwrite" in result.stderr
    assert (tmp_path / "m.png").read_bytes() == b"precious" and not (tmp_path / "o.png").exists()


def test_an_all_white_mask_is_a_clear_message(photo_file, tmp_path, run):
    mask = tmp_path / "white.png"
    save_image(ImageData(np.full((48, 64, 1), 255, np.uint8)), mask)
    for method in ("auto", "fill", "quick"):  # quick heal too: with nothing known it changed nothing
        result = run("inpaint", photo_file, "--mask", mask, "-o", tmp_path / "o.png", "--method", method)
        assert result.returncode == 2, result.stderr
        assert (f"error: {mask}: the mask covers the whole photo, so nothing is left to fill it from: "
                "erase the mask over what should stay") in result.stderr
        assert "Traceback" not in result.stderr and not (tmp_path / "o.png").exists()


# ---------------------------------------------------------------- item 3: library noise

def junk_jpeg(path):
    Image.fromarray(noise(32, 32)).save(path, quality=90)
    data = path.read_bytes()
    at = data.index(b"\xff\xdb")  # 4 stray bytes before the first quantisation table
    path.write_bytes(data[:at] + b"\x00\x01\x02\x03" + data[at:])


def test_decoder_complaints_become_one_notice_naming_the_file(tmp_path, run):
    folder = tmp_path / "scans"
    folder.mkdir()
    junk_jpeg(folder / "junk.jpg")
    save_image(ImageData(noise()), folder / "fine.png")
    result = run("restore", folder, "-o", tmp_path / "out", *PASS_THROUGH)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "Corrupt JPEG data" in line]
    assert lines == [f"notice: '{folder / 'junk.jpg'}': the decoder reported: Corrupt JPEG data: 4 extraneous "
                     "bytes before marker 0xdb"]


def test_inpaint_names_the_file_its_decoder_complained_about(tmp_path, run):
    junk_jpeg(tmp_path / "junk.jpg")
    mask = np.zeros((32, 32, 1), np.uint8)
    mask[10:12, 5:25] = 255
    save_image(ImageData(mask), tmp_path / "mask.png")
    result = run("inpaint", tmp_path / "junk.jpg", "--mask", tmp_path / "mask.png", "-o", tmp_path / "o.png",
                 "--method", "quick")
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "Corrupt JPEG data" in line]
    assert lines == [f"notice: '{tmp_path / 'junk.jpg'}': the decoder reported: Corrupt JPEG data: 4 extraneous "
                     "bytes before marker 0xdb"]


def test_library_messages_capture_c_output_and_warnings(capfd):
    import warnings

    from photoforge.app.batch import library_messages

    with library_messages() as messages:
        os.write(2, b"TIFFReadDirectory: Warning, Unknown field with tag 33723 (0x83bb) encountered.\n")
        os.write(2, b"Fax4Decode: Bad code word at line 3\nFax4Decode: Bad code word at line 3\n")
        warnings.warn("Corrupt EXIF data.", UserWarning)
    assert messages == ["Fax4Decode: Bad code word at line 3", "Corrupt EXIF data."]
    assert capfd.readouterr().err == ""


# ---------------------------------------------------------------- item 15: SIGTERM

def test_sigterm_cleans_up_lists_what_finished_and_exits_143(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(8):
        save_image(ImageData(noise(256, 256)), folder / f"p{i}.png")
    out = tmp_path / "out"
    log = tmp_path / "stderr.txt"
    with open(log, "w") as sink:
        child = subprocess.Popen([sys.executable, "-m", "photoforge", "upscale", folder, "-o", out, "--model",
                                  "span-x2", "--device", "cpu", "--threads", "1"], cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=sink)
        deadline = time.monotonic() + 600
        while "[3/8]" not in log.read_text():  # two finished
            assert child.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=120) == 143
    stderr = log.read_text()
    done = sorted(p.name for p in out.rglob("*.png"))
    assert 1 <= len(done) < 8 and "Traceback" not in stderr
    assert f"stopped: {len(done)} of 8 images done before the interruption" in stderr
    assert all(f"{folder / name} → {out / 'many' / name}" in stderr for name in done)
    assert stderr.rstrip().endswith("terminated")
    assert [p.name for p in out.rglob(".*")] == [".photoforge-journal.sqlite"]  # no temporary files left
