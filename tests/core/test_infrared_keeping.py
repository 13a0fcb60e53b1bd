"""The scan's infrared channel as part of the document: it moves with the pixels (rotate,
flip, crop, straighten), undo and redo put it back bit for bit, project files and autosave
keep it at 16 bits, and a project that declares a huge one is refused before it is read."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from photoforge.core.autosave import Autosaver, recover_session
from photoforge.core.document import Document
from photoforge.core.history import History
from photoforge.core.image import ImageData
from photoforge.core.infrared import Infrared
from photoforge.core.project import ProjectError, open_project, save_project
from photoforge.ops import geometry
from photoforge.ops.infrared_dust import infrared_dust_mask
from tests.core.test_project import deflated_bomb, npy_header, refused, write_manifest
from tests.infrared_synth import rgbi_scan

H, W = 90, 130


def scan_doc(seed: int = 0, dtype=np.uint16) -> Document:
    """A document whose infrared equals its green channel at 16 bits, so that any move of the
    pixels the infrared does not follow exactly shows as a difference."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 65536, (H, W, 3)).astype(np.uint16)
    doc = Document(ImageData(pixels if dtype == np.uint16 else (pixels >> 8).astype(dtype)))
    doc.infrared = Infrared(pixels[..., 1].astype(np.float32) / 65535, "its 4th TIFF channel")
    return doc


def move(doc: Document, label: str, op) -> None:
    """What the window does for a geometry step (main_window.change_geometry)."""
    moved = op(doc.image, doc.mask.copy(), doc.infrared_levels)
    assert doc.apply_image(moved.image, label, moved.mask, new_infrared=moved.infrared)


GEOMETRY = [
    ("Rotate 90° Clockwise", lambda im, m, ir: geometry.rotate90(im, m, True, infrared=ir)),
    ("Flip Horizontal", lambda im, m, ir: geometry.flip(im, m, True, infrared=ir)),
    ("Crop", lambda im, m, ir: geometry.crop(im, m, (7, 80, 11, 61), infrared=ir)),
    ("Flip Vertical", lambda im, m, ir: geometry.flip(im, m, False, infrared=ir)),
    ("Straighten", lambda im, m, ir: geometry.straighten(im, m, 3.7, infrared=ir)),
    ("Rotate 90° Counter-clockwise", lambda im, m, ir: geometry.rotate90(im, m, False, infrared=ir)),
]


def history_of(doc: Document) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """(pixels, infrared) at every history position, visited by goto, then back."""
    here, out = doc.history.index, []
    for i in range(len(doc.history) + 1):
        doc.goto(i)
        out.append((doc.image.pixels.copy(), None if doc.infrared_levels is None else doc.infrared_levels.copy()))
    doc.goto(here)
    return out


def assert_same_history(a, b) -> None:
    assert len(a) == len(b)
    for (pa, ia), (pb, ib) in zip(a, b):
        assert np.array_equal(pa, pb)
        assert (ia is None) == (ib is None) and (ia is None or (ia.dtype == ib.dtype == np.uint16
                                                               and np.array_equal(ia, ib)))


@pytest.mark.parametrize("label, op", GEOMETRY, ids=[g[0] for g in GEOMETRY])
def test_each_geometry_op_moves_the_infrared_exactly_like_the_pixels(label, op):
    doc = scan_doc()
    move(doc, label, op)
    assert doc.infrared_levels.dtype == np.uint16
    assert np.array_equal(doc.infrared_levels, doc.image.pixels[..., 1])  # as the green channel moved
    assert doc.infrared.source == "its 4th TIFF channel"


def test_an_eight_bit_photo_moves_its_sixteen_bit_infrared_in_step():
    doc = scan_doc(1, np.uint8)
    ir = doc.infrared_levels.copy()
    for label, op in GEOMETRY:
        move(doc, label, op)
        ir = op(ImageData(ir[..., None]), np.zeros(ir.shape, np.uint8), None).image.pixels[..., 0]
        assert doc.infrared_levels.dtype == np.uint16 and np.array_equal(doc.infrared_levels, ir), label


def test_undo_and_redo_put_the_infrared_back_bit_for_bit():
    doc = scan_doc(2)
    seen = [doc.infrared_levels.copy()]
    for label, op in GEOMETRY:
        move(doc, label, op)
        seen.append(doc.infrared_levels.copy())
    for want in reversed(seen[:-1]):
        assert doc.undo()
        assert np.array_equal(doc.infrared_levels, want) and doc.infrared_levels.shape == doc.image.pixels.shape[:2]
    for want in seen[1:]:
        assert doc.redo()
        assert np.array_equal(doc.infrared_levels, want)


def test_a_colour_step_keeps_it_an_upscale_drops_it_and_undo_brings_it_back():
    doc = scan_doc(3)
    ir = doc.infrared_levels
    assert doc.apply_image(doc.image.with_pixels(doc.image.pixels // 2, None), "Darken")
    assert doc.infrared_levels is ir  # nothing moved: the same channel, no copy
    big = np.repeat(np.repeat(doc.image.pixels, 2, axis=0), 2, axis=1)
    assert doc.apply_image(doc.image.with_pixels(big, None), "Upscale ×2")
    assert doc.infrared is None  # it would not line up with the new pixels
    assert doc.undo() and np.array_equal(doc.infrared_levels, ir)
    assert doc.infrared.source == "its 4th TIFF channel"


def test_spilled_steps_bring_the_infrared_back_from_disk(tmp_path):
    doc = scan_doc(4)
    doc.history = History(memory_budget=1, temp_root=tmp_path)
    before = history_of(doc)
    for label, op in GEOMETRY:
        move(doc, label, op)
    assert doc.history.nbytes_on_disk > 0
    after = history_of(doc)
    assert_same_history(after[:1], before)
    for i, (pixels, ir) in enumerate(after):
        assert np.array_equal(ir, pixels[..., 1]), i


def test_a_restore_after_a_crop_finds_dust_in_the_cropped_infrared(photo):
    scan = rgbi_scan(photo, 7)
    doc = Document(ImageData(scan.damaged))
    doc.infrared = Infrared(scan.infrared, "'scan_IR.tif'")
    rect = (40, 200, 60, 300)
    move(doc, "Crop", lambda im, m, ir: geometry.crop(im, m, rect, infrared=ir))
    y0, y1, x0, x1 = rect
    exact = doc.infrared_levels.astype(np.float32) / 65535
    assert np.abs(exact - scan.infrared[y0:y1, x0:x1]).max() <= 0.5 / 65535 + 1e-7  # 16-bit rounding only
    got = infrared_dust_mask(doc.infrared.values, doc.image.pixels)
    assert np.array_equal(got, infrared_dust_mask(exact, scan.damaged[y0:y1, x0:x1]))
    truth = scan.truth[y0:y1, x0:x1]
    assert (got > 0)[truth].mean() > 0.9  # the dust in the crop, where it is in the pixels


def test_a_project_keeps_the_infrared_of_every_state_bit_exact_at_16_bits(tmp_path):
    doc = scan_doc(5, np.uint8)
    for label, op in GEOMETRY[:3]:
        move(doc, label, op)
    doc.apply_image(doc.image.with_pixels(doc.image.pixels // 2, None), "Darken")
    doc.undo()  # a redoable step too
    path = tmp_path / "scan.pforge"
    save_project(doc, path)
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["version"] == 3 and manifest["infrared"] == {"source": "its 4th TIFF channel"}
    again = open_project(path)
    assert again.infrared_levels.dtype == np.uint16 and np.array_equal(again.infrared_levels, doc.infrared_levels)
    assert again.infrared.source == "its 4th TIFF channel"
    assert_same_history(history_of(again), history_of(doc))


def test_a_project_without_infrared_keeps_its_old_format_version(tmp_path):
    doc = scan_doc(6)
    doc.infrared = None
    save_project(doc, tmp_path / "plain.pforge")
    with zipfile.ZipFile(tmp_path / "plain.pforge") as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["version"] == 1 and "infrared" not in manifest and "infrared" not in manifest["current"]
    assert open_project(tmp_path / "plain.pforge").infrared is None


def test_a_project_of_the_earlier_layout_still_opens_with_its_infrared(tmp_path):
    # Format 1/2 projects kept the current image's channel beside the states.
    doc = scan_doc(7)
    ir = doc.infrared_levels.copy()
    doc.infrared = None
    path = tmp_path / "old.pforge"
    save_project(doc, path)
    with zipfile.ZipFile(path, "a") as zf, zf.open("infrared.npy", "w") as out:
        np.lib.format.write_array(out, ir)
    write_manifest(path, lambda m: m.update(infrared={"values": "infrared.npy", "source": "its second TIFF page"}))
    again = open_project(path)
    assert np.array_equal(again.infrared_levels, ir) and again.infrared.source == "its second TIFF page"


def test_a_bomb_sized_infrared_is_refused_before_it_is_read(tmp_path, monkeypatch):
    doc = scan_doc(8)
    path = tmp_path / "bomb.pforge"
    save_project(doc, path)
    deflated_bomb(path, (60000, 60000), "<u2")
    write_manifest(path, lambda m: m["current"].update(infrared="bomb.npy"))
    asked = []
    real_empty = np.empty
    monkeypatch.setattr("photoforge.core.project.np.empty",
                        lambda shape, dtype: asked.append(shape) or real_empty(shape, dtype))
    reason = refused(path)
    assert "bomb.npy is 60000 × 60000 pixels, over the limit of 300 MP" in reason, reason
    assert all(np.prod(s) < 1e6 for s in asked), asked


def test_the_infrared_counts_in_the_size_limit(tmp_path):
    doc = scan_doc(9, np.uint8)
    path = tmp_path / "a.pforge"
    save_project(doc, path)
    # what opening reads: pixels 3 + mask 1 + infrared 2 bytes a pixel
    assert open_project(path, max_bytes=6 * H * W).infrared is not None
    with pytest.raises(ProjectError, match=r"the infrared channel among them, add up to more than the limit"):
        open_project(path, max_bytes=6 * H * W - 1)


def test_an_infrared_of_the_wrong_size_or_depth_is_a_damaged_project(tmp_path):
    doc = scan_doc(10)
    path = tmp_path / "bad.pforge"
    save_project(doc, path)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("small.npy", npy_header((H, W - 1), "<u2") + bytes(H * (W - 1) * 2))
        zf.writestr("byte.npy", npy_header((H, W), "|u1") + bytes(H * W))
    for member in ("small.npy", "byte.npy"):
        write_manifest(path, lambda m: m["current"].update(infrared=member))
        assert "damaged project (an infrared channel of shape" in refused(path)


def test_autosave_recovery_keeps_the_infrared_and_its_history(tmp_path):
    doc = scan_doc(11)
    saver = Autosaver(doc, tmp_path)
    for label, op in GEOMETRY[:4]:
        move(doc, label, op)
        saver.save()
    doc.apply_image(doc.image.with_pixels(doc.image.pixels // 2, None), "Darken")
    doc.undo()
    saver.save()
    saver._release_lock()  # as if the process died
    recovered = recover_session(saver.folder)
    assert recovered.infrared_levels.dtype == np.uint16
    assert np.array_equal(recovered.infrared_levels, doc.infrared_levels)
    assert recovered.infrared.source == "its 4th TIFF channel"
    assert_same_history(history_of(recovered), history_of(doc))


def test_locating_from_headers_names_what_finding_reads(tmp_path):
    import tifffile

    from photoforge.core.infrared import find_infrared, locate_infrared

    rng = np.random.default_rng(12)
    rgb = rng.integers(0, 65536, (20, 30, 3)).astype(np.uint16)
    ir = rng.integers(0, 65536, (20, 30)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "four.tif", np.dstack([rgb, ir]), photometric="rgb", extrasamples=[0])
    tifffile.imwrite(tmp_path / "alpha.tif", np.dstack([rgb, ir]), photometric="rgb", extrasamples=[2])
    with tifffile.TiffWriter(tmp_path / "paged.tif") as tif:
        tif.write(rgb, photometric="rgb")
        tif.write(ir, photometric="minisblack")
    tifffile.imwrite(tmp_path / "side.tif", rgb, photometric="rgb")
    tifffile.imwrite(tmp_path / "side_IR.tif", ir)
    tifffile.imwrite(tmp_path / "plain.tif", rgb, photometric="rgb")
    expected = {"four.tif": "its 4th TIFF channel", "alpha.tif": None, "paged.tif": "its second TIFF page",
                "side.tif": "'side_IR.tif'", "plain.tif": None}
    for name, source in expected.items():
        found = find_infrared(tmp_path / name)
        assert locate_infrared(tmp_path / name) == source == (None if found is None else found.source), name


def test_a_step_that_keeps_the_infrared_counts_and_spills_it_once(tmp_path):
    doc = scan_doc(5)
    ir = doc.infrared_levels
    doc.history = History(memory_budget=1 << 40, temp_root=tmp_path)
    before = doc.image.pixels
    # a new depth, same size: a whole-state step, whose infrared stays as it was
    assert doc.apply_image(doc.image.with_pixels((before >> 8).astype(np.uint8), None), "To 8 bits")
    assert doc.infrared_levels is ir
    assert doc.history.nbytes_in_memory == before.nbytes + doc.image.pixels.nbytes + 2 * doc.mask.nbytes + ir.nbytes
    doc.history.memory_budget = 1  # the next step spills this one to disk
    assert doc.apply_image(doc.image.with_pixels(before, None), "To 16 bits")
    assert doc.history.nbytes_on_disk > 0
    assert doc.undo() and doc.undo()
    assert np.array_equal(doc.infrared_levels, ir)
    assert doc.redo() and np.array_equal(doc.infrared_levels, ir)
