"""`--date`, `--circa`, `--caption`, `--date-from-folder` on split, restore and adjust: the
metadata read back with Pillow/tifffile exactly, and bad dates refused with exit code 2."""
from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from photoforge.cli import main
from photoforge.core.imageio import load_image
from photoforge.core.photo_date import PhotoDate, read_date_caption
from tests import scan_synth as ss

CPU = ["--device", "cpu", "--denoise", "off", "--scratches", "off"]


def _original_date(path) -> str:
    if path.suffix == ".tif":
        with tifffile.TiffFile(path) as tif:
            return tif.pages[0].tags["ExifTag"].value["DateTimeOriginal"]
    with Image.open(path) as im:
        return im.getexif().get_ifd(0x8769)[0x9003]


def test_adjust_dates_a_sixteen_bit_tiff(photo, tmp_path):
    src = tmp_path / "print.tif"
    tifffile.imwrite(src, photo[:80, :96].astype(np.uint16) * 257, photometric="rgb")
    out = tmp_path / "dated.tif"
    assert main(["adjust", str(src), "-o", str(out), "--date", "1962-07-14", "--caption", "Lake Constance"]) == 0
    assert _original_date(out) == "1962:07:14 00:00:00"
    image = load_image(out)
    assert image.pixels.dtype == np.uint16
    assert read_date_caption(image) == (PhotoDate(1962, 7, 14), "Lake Constance")
    with tifffile.TiffFile(out) as tif:
        assert b"<photoshop:DateCreated>1962-07-14</photoshop:DateCreated>" in tif.pages[0].tags[700].value


def test_restore_writes_a_circa_year_to_png(photo, tmp_path):
    src = tmp_path / "p.png"
    Image.fromarray(photo[:64, :64]).save(src)
    out = tmp_path / "r.png"
    assert main(["restore", str(src), "-o", str(out), "--date", "1950", "--circa", *CPU]) == 0
    assert _original_date(out) == "1950:01:01 00:00:00"
    with Image.open(out) as im:
        xmp = im.info["XML:com.adobe.xmp"]
    assert "<photoshop:DateCreated>1950</photoshop:DateCreated>" in xmp
    assert "<photoforge:DateCirca>True</photoforge:DateCirca>" in xmp


def test_split_gives_every_print_the_date(tmp_path):
    scan = ss.make_scan([ss.PrintSpec((2.0, 1.5), (1.4, 1.2), 5.0, seed=5),
                         ss.PrintSpec((2.0, 1.5), (4.0, 1.3), -3.0, seed=6)], dpi=100, size=(5.5, 2.6))
    src = tmp_path / "scan.jpg"
    Image.fromarray((scan.pixels >> 8).astype(np.uint8)).save(src, quality=95)
    assert main(["split", str(src), "-o", str(tmp_path / "out"), "--date", "1962-07", "--caption", "Rügen"]) == 0
    outs = sorted((tmp_path / "out").glob("*.jpg"))  # the folder also holds the batch journal
    assert len(outs) == 2
    for out in outs:
        assert _original_date(out) == "1962:07:01 00:00:00"
        assert read_date_caption(load_image(out)) == (PhotoDate(1962, 7), "Rügen")


def test_dates_from_folder_names_with_a_fallback(photo, tmp_path, capsys):
    for folder in ("1962_07_14", "ca 1950", "misc"):
        (tmp_path / "in" / folder).mkdir(parents=True)
        Image.fromarray(photo[:48, :48]).save(tmp_path / "in" / folder / "p.jpg")
    assert main(["adjust", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--date-from-folder",
                 "--date", "1970"]) == 0
    read = {f: read_date_caption(load_image(tmp_path / "out" / "in" / f / "p.jpg"))[0]
            for f in ("1962_07_14", "ca 1950", "misc")}
    assert read == {"1962_07_14": PhotoDate(1962, 7, 14), "ca 1950": PhotoDate(1950, circa=True),
                    "misc": PhotoDate(1970)}
    assert "p.jpg: no date in its folder's name 'misc'; --date 1970 written" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["adjust", "restore", "split"])
@pytest.mark.parametrize("option, message", [
    (["--date", "1962-13"], "error: --date '1962-13': the month must be 01–12"),
    (["--date", "07/1962"], "error: --date '07/1962' is not a date: write YYYY, YYYY-MM or YYYY-MM-DD"),
    (["--circa"], "error: --circa marks a date as an estimate: give --date or --date-from-folder too")])
def test_bad_dates_are_usage_errors(photo, tmp_path, capsys, command, option, message):
    src = tmp_path / "p.png"
    Image.fromarray(photo[:32, :32]).save(src)
    assert main([command, str(src), "-o", str(tmp_path / "o.png"), *option]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o.png").exists()
