"""Document: brush strokes on the mask, op results, undo/redo, open and save."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from photoforge.core.document import Document, resize_nearest
from photoforge.core.image import ImageData
from photoforge.core.imageio import ImageSaveError, load_image


def blank(h=100, w=120, channels=3, dtype=np.uint8) -> Document:
    return Document(ImageData(np.zeros((h, w, channels), dtype)))


def centre_distance(shape, x, y) -> np.ndarray:
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return np.hypot(xx + 0.5 - x, yy + 0.5 - y)


def test_hard_dab_sets_the_disk_and_nothing_outside():
    doc = blank()
    with doc.begin_stroke(opacity=1.0, hardness=1.0) as stroke:
        rect = stroke.dab(40.5, 30.5, 10)
    d = centre_distance(doc.mask.shape, 40.5, 30.5)
    assert (doc.mask[d <= 9.5] == 255).all()
    assert (doc.mask[d >= 10.5] == 0).all()
    rim = (d > 9.5) & (d < 10.5)
    assert doc.mask[rim].min() < 255 and doc.mask[rim].max() > 0  # antialiased edge
    y0, y1, x0, x1 = rect
    assert (y0, x0) <= (20, 30) and (y1, x1) >= (41, 51)
    assert doc.history.labels == ["Brush"]


@pytest.mark.parametrize("erase", [False, True])
@pytest.mark.parametrize("hardness", [0.0, 0.5, 1.0])
def test_a_dab_only_changes_pixels_within_radius_plus_one(erase, hardness):
    doc = blank(90, 110)
    rng = np.random.default_rng(3)
    # leave room for the dab to show: paint over dark values, erase bright ones
    low = 150 if erase else 0
    doc.mask[:] = rng.integers(low, low + 106, doc.mask.shape, dtype=np.uint8)
    before = doc.mask.copy()
    stroke = doc.begin_stroke(erase=erase, opacity=0.9, hardness=hardness)
    for x, y, r in [(50.3, 40.7, 20.0), (3.0, 2.0, 6.5), (109.9, 89.9, 4.0), (60.5, 10.5, 0.3)]:
        stroke.dab(x, y, r)
        changed = doc.mask != before
        assert changed.any()
        assert not changed[centre_distance(doc.mask.shape, x, y) > max(r, 0.5) + 1].any()
        before = doc.mask.copy()
    stroke.end()


def test_overlapping_dabs_in_one_stroke_do_not_build_up_beyond_opacity():
    doc = blank()
    single = blank()
    with single.begin_stroke(opacity=0.5, hardness=0.6) as stroke:
        stroke.dab(60, 50, 15)
    with doc.begin_stroke(opacity=0.5, hardness=0.6) as stroke:
        for _ in range(10):
            stroke.dab(60, 50, 15)
    np.testing.assert_array_equal(doc.mask, single.mask)
    with doc.begin_stroke(opacity=0.5, hardness=1.0) as stroke:
        stroke.dab(30, 30, 10)
        for x, y in [(90, 70), (30, 70), (90, 30), (30, 30)] * 5:  # scribble over itself
            stroke.line_to(x, y, 10)
    assert doc.mask.max() == 128  # round(0.5 · 255), however often a pixel was covered
    assert (doc.mask[30:70, 30:90] == 128).mean() > 0.3
    # a second eraser stroke does build up: that is what separate strokes are for
    doc.mask[:] = 255
    for _ in range(2):
        with doc.begin_stroke(erase=True, opacity=0.5, hardness=1.0) as stroke:
            stroke.dab(60, 50, 15)
            stroke.dab(60, 50, 15)
    assert doc.mask[50, 60] == 64


def test_stroke_undo_and_redo_are_exact():
    doc = blank()
    doc.mask[:] = np.random.default_rng(4).integers(0, 256, doc.mask.shape, dtype=np.uint8)
    doc.apply_mask(doc.mask.copy(), "no-op")  # nothing changed: no step
    assert len(doc.history) == 0
    original = doc.mask.copy()
    with doc.begin_stroke(opacity=0.7, hardness=0.3) as stroke:
        stroke.dab(10, 10, 8)
        stroke.line_to(110, 90, 12)
    painted = doc.mask.copy()
    with doc.begin_stroke(erase=True, opacity=1.0, hardness=0.8) as stroke:
        stroke.line_to(0, 90, 5)
        stroke.line_to(119, 0, 5)
    erased = doc.mask.copy()
    assert doc.history.labels == ["Brush", "Eraser"]
    doc.undo()
    np.testing.assert_array_equal(doc.mask, painted)
    doc.undo()
    np.testing.assert_array_equal(doc.mask, original)
    doc.redo()
    doc.redo()
    np.testing.assert_array_equal(doc.mask, erased)


def test_no_step_when_a_stroke_changes_nothing_and_cancel_restores():
    doc = blank()
    with doc.begin_stroke() as stroke:
        assert stroke.dab(-50, -50, 10) is None  # off the image
    doc.mask[:] = 255
    with doc.begin_stroke() as stroke:  # painting on a full mask changes nothing
        stroke.line_to(50, 50, 20)
    assert len(doc.history) == 0
    stroke = doc.begin_stroke(erase=True)
    stroke.line_to(30, 30, 10)
    assert (doc.mask < 255).any()
    stroke.cancel()
    assert (doc.mask == 255).all() and len(doc.history) == 0
    with pytest.raises(RuntimeError):
        stroke.dab(1, 1, 1)
    with pytest.raises(ZeroDivisionError):
        with doc.begin_stroke(erase=True) as stroke:
            stroke.dab(40, 40, 10)
            1 / 0
    assert (doc.mask == 255).all() and len(doc.history) == 0


def test_a_drag_leaves_no_gaps():
    doc = blank(60, 300)
    with doc.begin_stroke(opacity=1.0, hardness=1.0) as stroke:
        stroke.dab(10, 30, 4)
        for x in [*range(20, 291, 37), 290]:  # uneven mouse events
            stroke.line_to(x, 30, 4)
    assert (doc.mask[27:33, 10:290] == 255).all()


def test_line_to_survives_a_shrinking_radius_and_zero_length_moves():
    doc = blank()
    with doc.begin_stroke(hardness=1.0) as stroke:
        stroke.dab(50, 50, 40)
        stroke.line_to(59, 50, 40)  # 9 px travelled, spacing 10: no dab yet
        assert stroke.line_to(59, 50, 2) is not None  # spacing 1 now: one dab, no crash
        stroke.line_to(59, 50, 2)
    assert doc.mask[50, 59] == 255


def test_a_long_diagonal_stroke_stores_only_the_tiles_it_touched():
    doc = blank(4000, 6000, channels=1)
    with doc.begin_stroke(hardness=0.5) as stroke:
        stroke.dab(5, 5, 12)
        stroke.line_to(5995, 3995, 12)
    box_bytes = 2 * 4000 * 6000  # before + after of the bounding box
    assert 0 < doc.history.nbytes_in_memory < box_bytes / 50
    doc.undo()
    assert not doc.mask.any()


def test_undo_during_a_stroke_first_makes_the_stroke_its_own_step():
    doc = blank()
    doc.apply_mask(np.full_like(doc.mask, 9), "Fill")
    stroke = doc.begin_stroke()
    stroke.dab(20, 20, 5)
    assert doc.history.undo(doc)  # the GUI may call History directly
    assert (doc.mask == 9).all() and doc.history.labels == ["Fill", "Brush"]
    with pytest.raises(RuntimeError):
        stroke.dab(30, 30, 5)
    stroke = doc.begin_stroke()
    stroke.dab(20, 20, 5)
    with pytest.raises(RuntimeError):  # bypassing settle() must not corrupt the mask
        doc.write_patches([("mask", 0, 0, np.zeros((2, 2), np.uint8))])


def test_image_before_last_step_skips_mask_steps():
    rng = np.random.default_rng(8)
    first = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    doc = Document(ImageData(first.copy()))
    assert doc.image_before_last_step() is None
    second = first.copy()
    second[3:9, 4:7] = 1
    doc.apply_image(doc.image.with_pixels(second.copy()), "Fix")
    doc.apply_mask(np.full_like(doc.mask, 200), "Select all")
    np.testing.assert_array_equal(doc.image_before_last_step().pixels, first)
    doc.apply_image(doc.image.with_pixels(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)), "Upscale")
    np.testing.assert_array_equal(doc.image_before_last_step().pixels, second)
    np.testing.assert_array_equal(doc.mask[::2, ::2], np.full((30, 40), 200))
    doc.undo()
    doc.undo()
    np.testing.assert_array_equal(doc.image_before_last_step().pixels, first)


def test_apply_image_same_size_stores_the_changed_box_and_keeps_old_snapshots():
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 65536, (200, 300, 3), dtype=np.uint16)
    alpha = rng.integers(0, 65536, (200, 300), dtype=np.uint16)
    doc = Document(ImageData(pixels.copy(), alpha.copy()))
    first = doc.image
    new_pixels, new_alpha = pixels.copy(), alpha.copy()
    new_pixels[50:60, 70:90, 1] += 1
    new_alpha[150, 10] ^= 7
    seen = []
    doc.on_change.append(lambda rect, layers: seen.append(rect))
    revision = doc.revision
    assert doc.apply_image(doc.image.with_pixels(new_pixels, new_alpha), "Fix")
    assert seen == [(50, 151, 10, 90)] and doc.revision == revision + 1
    assert doc.history.nbytes_in_memory == 2 * (10 * 20 * 3 * 2 + 1 * 1 * 2)
    assert not doc.image.pixels.flags.writeable  # snapshots are immutable
    doc.undo()
    np.testing.assert_array_equal(doc.image.pixels, pixels)
    np.testing.assert_array_equal(doc.image.alpha, alpha)
    assert doc.image.pixels.dtype == np.uint16
    doc.redo()
    np.testing.assert_array_equal(doc.image.pixels, new_pixels)
    np.testing.assert_array_equal(doc.image.alpha, new_alpha)
    np.testing.assert_array_equal(first.pixels, pixels)  # a worker's old snapshot is intact
    assert not doc.apply_image(doc.image.with_pixels(new_pixels.copy(), new_alpha.copy()), "Same")
    assert len(doc.history) == 1


def test_apply_image_with_a_size_change_keeps_the_mask_and_undoes_exactly():
    rng = np.random.default_rng(6)
    pixels = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    doc = Document(ImageData(pixels.copy(), icc_profile=None))
    with doc.begin_stroke(opacity=0.6, hardness=0.2) as stroke:
        stroke.dab(20, 15, 9)
    mask = doc.mask.copy()
    big = rng.integers(0, 256, (160, 240, 3), dtype=np.uint8)
    big_alpha = rng.integers(0, 256, (160, 240), dtype=np.uint8)
    seen = []
    doc.on_change.append(lambda rect, layers: seen.append(rect))
    assert doc.apply_image(doc.image.with_pixels(big.copy(), big_alpha.copy()), "Upscale ×4")
    assert seen == [None]
    assert doc.mask.shape == (160, 240)
    np.testing.assert_array_equal(doc.mask, np.repeat(np.repeat(mask, 4, axis=0), 4, axis=1))
    resized = doc.mask.copy()
    with doc.begin_stroke() as stroke:  # painting on the new mask must not touch history's copy
        stroke.dab(200, 100, 20)
    painted = doc.mask.copy()
    doc.goto(1)  # jumps straight to the state before the upscale
    assert doc.image.alpha is None
    np.testing.assert_array_equal(doc.image.pixels, pixels)
    np.testing.assert_array_equal(doc.mask, mask)
    doc.redo()
    np.testing.assert_array_equal(doc.image.pixels, big)
    np.testing.assert_array_equal(doc.image.alpha, big_alpha)
    np.testing.assert_array_equal(doc.mask, resized)
    doc.redo()
    np.testing.assert_array_equal(doc.mask, painted)
    doc.undo()
    np.testing.assert_array_equal(doc.mask, resized)


def test_resize_nearest_samples_pixel_centres():
    mask = np.arange(12, dtype=np.uint8).reshape(3, 4)
    np.testing.assert_array_equal(resize_nearest(mask, 6, 8), np.repeat(np.repeat(mask, 2, 0), 2, 1))
    np.testing.assert_array_equal(resize_nearest(mask, 1, 2), [[5, 7]])


def test_apply_mask_stores_only_the_changed_box():
    doc = blank()
    new = doc.mask.copy()
    new[10:20, 30:35] = 255
    new[25, 40] = 1
    assert doc.apply_mask(new, "Grow")
    assert doc.history.nbytes_in_memory == 2 * 16 * 11
    doc.undo()
    assert not doc.mask.any()
    with pytest.raises(ValueError):
        doc.apply_mask(np.zeros((5, 5), np.uint8), "Wrong size")


def test_export_never_replaces_the_original_unless_asked(tmp_path):
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    alpha = rng.integers(0, 256, (30, 40), dtype=np.uint8)
    source = tmp_path / "photo.png"
    Image.fromarray(np.dstack([pixels, alpha])).save(source)
    original_bytes = source.read_bytes()
    doc = Document.open(source)
    assert doc.path == source and doc.display_name == "photo.png" and not doc.is_modified
    edited = pixels.copy()
    edited[5, 5] = 0
    doc.apply_image(doc.image.with_pixels(edited, alpha.copy()), "Edit")
    assert doc.is_modified
    for overwrite in (False, True):  # --overwrite is not enough: the original takes its own yes
        with pytest.raises(ImageSaveError, match="original image"):
            doc.export(source, overwrite=overwrite)
    assert source.read_bytes() == original_bytes and doc.is_modified

    export = tmp_path / "export.jpg"
    notices = doc.export(export)
    assert any("transparen" in n for n in notices)
    assert doc.path == source and not doc.is_modified  # exported: the work is saved
    with pytest.raises(ImageSaveError, match="exists"):
        doc.export(export)
    doc.undo()
    doc.export(tmp_path / "copy.tif")
    assert doc.path == source  # still the file it came from, still protected
    np.testing.assert_array_equal(load_image(tmp_path / "copy.tif").pixels, pixels)

    doc.redo()
    assert doc.export(source, replace_original=True) == []
    np.testing.assert_array_equal(load_image(source).pixels, edited)


@pytest.mark.parametrize("hint, name", [("/some/where/victim.png", "victim.png"),
                                        ("C:\\scans\\gran.tif", "gran.tif"),
                                        ("evil\0.png", None), ("..", None), ("a/\n", None), (7, None)])
def test_a_name_read_from_a_file_is_only_a_name(hint, name):
    doc = Document(blank().image, None, source_name=hint)
    assert doc.source_name == name and doc.path is None
    assert doc.display_name == (name or "Untitled")
