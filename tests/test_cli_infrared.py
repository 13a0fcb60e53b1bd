"""`photoforge restore --infrared`: RGBI scans end to end, in a subprocess as a user runs it."""
from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from photoforge.core.imageio import load_image
from tests.infrared_synth import rgbi_scan
from tests.test_cli_upscale import cli

REPAIR = ["--denoise", "off", "--color", "off", "--device", "cpu"]
ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _scan16(photo, seed=0):
    scan = rgbi_scan(photo.astype(np.uint16) * 257, seed)
    return scan, scan.infrared_as(np.uint16)


def test_a_fourth_channel_repairs_and_is_not_written(photo, tmp_path):
    scan, ir = _scan16(photo)
    src, out, mask = tmp_path / "film.tif", tmp_path / "out.tif", tmp_path / "mask.png"
    tifffile.imwrite(src, np.dstack([scan.damaged, ir]), photometric="rgb", extrasamples=[0], iccprofile=ICC)
    result = cli("restore", src, "-o", out, "--mask-out", mask, *REPAIR)
    assert result.returncode == 0, result.stderr
    assert "film.tif: dust and scratches found in the infrared of its 4th TIFF channel" in result.stderr
    with tifffile.TiffFile(out) as tif:
        page = tif.pages[0]
        assert page.samplesperpixel == 3 and page.dtype == np.uint16 and len(tif.pages) == 1
        assert page.tags[34675].value == ICC
    restored = load_image(out).pixels.astype(float)
    t = scan.truth
    assert np.abs(restored[t] - scan.clean[t]).mean() < np.abs(scan.damaged[t].astype(float) - scan.clean[t]).mean() / 4
    assert ((np.asarray(Image.open(mask)) > 0) >= t).all()


@pytest.mark.parametrize("workers", ["1", "2"])  # 2: found in worker processes, summed up on the driver
def test_a_second_page_and_a_sidecar(photo, tmp_path, workers):
    scan, ir = _scan16(photo, 1)
    paged = tmp_path / "in" / "paged.tif"
    paged.parent.mkdir()
    with tifffile.TiffWriter(paged) as tif:
        tif.write(scan.damaged, photometric="rgb")
        tif.write(ir, photometric="minisblack")
    tifffile.imwrite(tmp_path / "in" / "side.tif", scan.damaged, photometric="rgb")
    tifffile.imwrite(tmp_path / "in" / "side_IR.tif", ir)
    result = cli("restore", tmp_path / "in", "-o", tmp_path / "out", "--workers", workers, *REPAIR)  # a folder holding the sidecar
    assert result.returncode == 0, result.stderr
    assert "paged.tif: dust and scratches found in the infrared of its second TIFF page" in result.stderr
    assert "side.tif: dust and scratches found in the infrared of 'side_IR.tif'" in result.stderr
    assert "'side_IR.tif' is the infrared of 'side.tif'; it is not restored as a photo" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out" / "in").iterdir()) == ["paged.tif", "side.tif"]
    summary = result.stderr.split("\ninfrared:\n", 1)[1].splitlines()  # each scan's source, at the end
    assert sorted(summary) == ["  paged.tif: infrared from its second TIFF page",
                               "  side.tif: infrared from 'side_IR.tif'"]
    for name in ("paged.tif", "side.tif"):
        out = load_image(tmp_path / "out" / "in" / name).pixels.astype(float)
        t = scan.truth
        assert np.abs(out[t] - scan.clean[t]).mean() < np.abs(scan.damaged[t].astype(float) - scan.clean[t]).mean() / 4


def test_a_given_file_and_off(photo, tmp_path):
    scan, ir = _scan16(photo, 2)
    src = tmp_path / "scan.tif"
    tifffile.imwrite(src, scan.damaged, photometric="rgb")
    tifffile.imwrite(tmp_path / "dust channel.tif", ir)
    result = cli("restore", src, "-o", tmp_path / "a.tif", "--infrared", tmp_path / "dust channel.tif", *REPAIR)
    assert result.returncode == 0, result.stderr
    assert "dust and scratches found in 'dust channel.tif'" in result.stderr
    result = cli("restore", src, "-o", tmp_path / "b.tif", "--infrared", "off", *REPAIR)
    assert result.returncode == 0 and "dust and scratches found" not in result.stderr
    a, b = load_image(tmp_path / "a.tif").pixels, load_image(tmp_path / "b.tif").pixels
    t = scan.truth
    assert np.abs(a[t].astype(float) - scan.clean[t]).mean() < np.abs(b[t].astype(float) - scan.clean[t]).mean()


def test_a_scan_without_infrared_is_restored_as_before(photo, tmp_path):
    src = tmp_path / "plain.png"
    Image.fromarray(photo[:160, :200]).save(src)
    auto = cli("restore", src, "-o", tmp_path / "auto.png", *REPAIR)
    off = cli("restore", src, "-o", tmp_path / "off.png", "--infrared", "off", *REPAIR)
    assert auto.returncode == off.returncode == 0 and "dust and scratches found" not in auto.stderr
    assert (tmp_path / "auto.png").read_bytes() == (tmp_path / "off.png").read_bytes()


def test_a_bad_infrared_file_is_a_usage_error_naming_it(photo, tmp_path):
    src = tmp_path / "scan.png"
    Image.fromarray(photo[:64, :64]).save(src)
    bad = tmp_path / "ir.tif"
    bad.write_bytes(b"II*\0garbage")
    result = cli("restore", src, "-o", tmp_path / "o.png", "--infrared", bad, *REPAIR)
    assert result.returncode == 2 and f"cannot use '{bad}' as infrared" in result.stderr
    assert not (tmp_path / "o.png").exists()
    missing = cli("restore", src, "-o", tmp_path / "o.png", "--infrared", tmp_path / "none.tif", *REPAIR)
    assert missing.returncode == 2 and "none.tif' as infrared: no such file" in missing.stderr
    Image.fromarray(photo[:32, :64, 0]).save(tmp_path / "small.tif")
    small = cli("restore", src, "-o", tmp_path / "o.png", "--infrared", tmp_path / "small.tif", *REPAIR)
    assert small.returncode == 2 and "'small.tif' as infrared for" in small.stderr and "64×32" in small.stderr
