"""Where a scan's infrared channel is found: 4th TIFF channel, second page, sidecar."""
from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from photoforge.core.imageio import load_image
from photoforge.core.infrared import InfraredError, find_infrared, read_infrared_file

RNG = np.random.default_rng(7)
RGB = RNG.integers(0, 65535, (24, 32, 3), dtype=np.uint16)
IR = RNG.integers(0, 65535, (24, 32), dtype=np.uint16)


def test_an_unspecified_fourth_channel_is_infrared_and_not_loaded_as_pixels(tmp_path):
    path = tmp_path / "scan.tif"
    tifffile.imwrite(path, np.dstack([RGB, IR]), photometric="rgb", extrasamples=[0])
    found = find_infrared(path)
    assert found.source == "its 4th TIFF channel"
    assert found.values.dtype == np.float32 and np.allclose(found.values, IR / 65535)
    image = load_image(path)
    assert image.alpha is None and np.array_equal(image.pixels, RGB)


@pytest.mark.parametrize("kind", [1, 2])
def test_a_fourth_channel_marked_alpha_is_not_infrared(tmp_path, kind):
    path = tmp_path / "alpha.tif"
    tifffile.imwrite(path, np.dstack([RGB, IR]), photometric="rgb", extrasamples=[kind])
    assert find_infrared(path) is None
    assert load_image(path).alpha is not None


def test_an_eight_bit_rgbi_scan(tmp_path):
    path = tmp_path / "scan8.tif"
    rgb8, ir8 = (RGB >> 8).astype(np.uint8), (IR >> 8).astype(np.uint8)
    tifffile.imwrite(path, np.dstack([rgb8, ir8]), photometric="rgb", extrasamples=[0])
    assert np.allclose(find_infrared(path).values, ir8 / 255)
    assert np.array_equal(load_image(path).pixels, rgb8)


def test_lzw_scans_without_imagecodecs(tmp_path):
    import cv2

    path = tmp_path / "lzw.tif"
    cv2.imwrite(str(path), np.dstack([RGB[..., ::-1], IR]))  # LZW, 4 samples, no ExtraSamples tag
    assert np.allclose(find_infrared(path).values, IR / 65535)
    assert np.array_equal(load_image(path).pixels, RGB)
    paged = tmp_path / "lzw_pages.tif"
    cv2.imwritemulti(str(paged), [RGB[..., ::-1], IR])
    found = find_infrared(paged)
    assert found.source == "its second TIFF page" and np.allclose(found.values, IR / 65535)


def test_a_grey_scan_with_an_infrared_sample(tmp_path):
    path = tmp_path / "grey.tif"
    tifffile.imwrite(path, np.dstack([RGB[..., 0], IR]), photometric="minisblack", extrasamples=[0],
                     planarconfig="contig")
    found = find_infrared(path)
    assert found.source == "its 2nd TIFF channel (after grey)" and np.allclose(found.values, IR / 65535)
    image = load_image(path)
    assert image.pixels.shape == (24, 32, 1) and image.alpha is None


def test_a_second_page_of_the_same_size(tmp_path):
    path = tmp_path / "pages.tif"
    with tifffile.TiffWriter(path) as tif:
        tif.write(RGB, photometric="rgb")
        tif.write(IR, photometric="minisblack")
    found = find_infrared(path)
    assert found.source == "its second TIFF page" and np.allclose(found.values, IR / 65535)


def test_a_preview_page_is_not_infrared(tmp_path):
    path = tmp_path / "preview.tif"
    with tifffile.TiffWriter(path) as tif:
        tif.write(RGB, photometric="rgb")
        tif.write(IR, photometric="minisblack", subfiletype=1)  # reduced-resolution image
    assert find_infrared(path) is None


def test_a_sidecar_beside_the_scan(tmp_path):
    path = tmp_path / "roll 3.tif"
    tifffile.imwrite(path, RGB, photometric="rgb")
    assert find_infrared(path) is None
    tifffile.imwrite(tmp_path / "roll 3_IR.tif", IR)
    found = find_infrared(path)
    assert found.source == "'roll 3_IR.tif'" and np.allclose(found.values, IR / 65535)


def test_a_sidecar_of_a_jpeg_scan(tmp_path):
    Image.fromarray((RGB >> 8).astype(np.uint8)).save(tmp_path / "s.jpg")
    Image.fromarray((IR >> 8).astype(np.uint8)).save(tmp_path / "s_IR.tif")
    assert np.allclose(find_infrared(tmp_path / "s.jpg").values, (IR >> 8) / 255)


def test_the_infrared_turns_with_the_exif_orientation(tmp_path):
    path = tmp_path / "turned.tif"
    tifffile.imwrite(path, np.dstack([RGB, IR]), photometric="rgb", extrasamples=[0],
                     extratags=[(0x0112, "H", 1, 6, True)])  # Orientation: turn 90° clockwise to display
    found = find_infrared(path)
    image = load_image(path)
    assert image.pixels.shape[:2] == (32, 24)
    assert np.allclose(found.values, np.rot90(IR, -1) / 65535)


def test_a_bad_sidecar_names_the_file(tmp_path):
    bad = tmp_path / "notes_IR.tif"
    bad.write_text("not an image")
    with pytest.raises(InfraredError, match="cannot use '.*notes_IR.tif' as infrared"):
        read_infrared_file(bad)
    with pytest.raises(InfraredError, match="no such file"):
        read_infrared_file(tmp_path / "missing.tif")


def test_the_document_and_its_project_keep_the_channel(tmp_path):
    from photoforge.core.document import Document
    from photoforge.core.project import open_project, save_project

    path = tmp_path / "scan.tif"
    tifffile.imwrite(path, np.dstack([RGB, IR]), photometric="rgb", extrasamples=[0])
    doc = Document.open(path)
    assert doc.infrared.source == "its 4th TIFF channel"
    save_project(doc, tmp_path / "work.pforge")
    again = open_project(tmp_path / "work.pforge")
    assert again.infrared.source == "its 4th TIFF channel"
    assert np.abs(again.infrared.values - IR / 65535).max() < 1e-6  # stored as 16 bits: exact here
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, RGB, photometric="rgb")
    save_project(Document.open(plain), tmp_path / "plain.pforge")
    assert open_project(tmp_path / "plain.pforge").infrared is None


def test_a_document_whose_sidecar_does_not_fit_opens_without_it(tmp_path):
    from photoforge.core.document import Document

    path = tmp_path / "scan.tif"
    tifffile.imwrite(path, RGB, photometric="rgb")
    tifffile.imwrite(tmp_path / "scan_IR.tif", IR[:10])
    doc = Document.open(path)
    assert doc.infrared is None
    assert any("cannot use 'scan_IR.tif' as infrared for" in n and "32×10" in n for n in doc.image.notices)
