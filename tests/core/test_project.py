"""Project files: a reopened project undoes and redoes exactly like the document saved;
newer, damaged and foreign files are refused with ProjectError; saving is atomic."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageCms

from photoforge.core import project as project_module
from photoforge.core.document import Document
from photoforge.core.history import History
from photoforge.core.image import ImageData
from photoforge.core.imageio import save_image
from photoforge.core.project import ProjectError, load_original, open_project, save_project

ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif_bytes() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhotoForge test"  # Make
    return exif.tobytes()


def random_image(rng, h, w, dtype, alpha=True, **meta) -> ImageData:
    top = np.iinfo(dtype).max
    return ImageData(rng.integers(0, top + 1, (h, w, 3), dtype=dtype),
                     rng.integers(0, top + 1, (h, w), dtype=dtype) if alpha else None, **meta)


def drive(doc: Document) -> None:
    """Open → brush stroke → edit → 2× resize → mask op → undo of that mask op."""
    with doc.begin_stroke(hardness=0.5) as stroke:
        stroke.dab(20, 15, 6)
        stroke.line_to(50, 30, 8)
    pixels = np.array(doc.image.pixels)
    pixels[5:25, 10:40] //= 3
    doc.apply_image(doc.image.with_pixels(pixels, doc.image.alpha), "Darken")
    big = doc.image.with_pixels(np.repeat(np.repeat(doc.image.pixels, 2, 0), 2, 1),
                                np.repeat(np.repeat(doc.image.alpha, 2, 0), 2, 1))
    doc.apply_image(big, "Upscale ×2")
    inverted = 255 - doc.mask
    doc.apply_mask(inverted, "Invert mask")
    doc.undo()


def states(doc: Document) -> list:
    """(pixels, alpha, mask, meta) at every history position, leaving the document where it was."""
    here, out = doc.history.index, []
    for i in range(len(doc.history) + 1):
        doc.goto(i)
        img = doc.image
        out.append((img.pixels.copy(), None if img.alpha is None else img.alpha.copy(), doc.mask.copy(),
                    (img.icc_profile, img.exif, img.xmp, img.source_format)))
    doc.goto(here)
    return out


def assert_same_states(a: list, b: list) -> None:
    assert len(a) == len(b)
    for (pa, aa, ma, meta_a), (pb, ab, mb, meta_b) in zip(a, b):
        assert pa.dtype == pb.dtype and aa.dtype == ab.dtype
        np.testing.assert_array_equal(pa, pb)
        np.testing.assert_array_equal(aa, ab)
        np.testing.assert_array_equal(ma, mb)
        assert meta_a == meta_b


@pytest.fixture
def document(tmp_path) -> Document:
    rng = np.random.default_rng(7)
    image = random_image(rng, 60, 80, np.uint16, icc_profile=ICC, exif=exif_bytes(), xmp=b"<x/>",
                         source_format="TIFF")
    path = tmp_path / "scan.tif"
    save_image(image, path)
    doc = Document.open(path)
    drive(doc)
    return doc


def test_round_trip_restores_image_mask_labels_position_and_every_step(document, tmp_path):
    path = tmp_path / "work.pforge"
    save_project(document, path)
    again = open_project(path)
    assert again.history.labels == document.history.labels == ["Brush", "Darken", "Upscale ×2", "Invert mask"]
    assert again.history.index == document.history.index == 3
    assert again.history.can_redo and again.path is None and again.source_name == document.path.name
    assert again.project_path == path and document.project_path == path and not again.is_modified
    assert again.image.pixels.dtype == np.uint16 and again.image.alpha is not None
    assert (again.image.icc_profile, again.image.exif) == (ICC, document.image.exif)
    np.testing.assert_array_equal(again.image.pixels, document.image.pixels)
    np.testing.assert_array_equal(again.mask, document.mask)
    assert again.mask.flags.writeable
    assert_same_states(states(again), states(document))


def test_each_undo_and_redo_step_matches_the_original_document(document, tmp_path):
    path = tmp_path / "work.pforge"
    save_project(document, path)
    again = open_project(path)
    for action in ("undo", "undo", "undo", "redo", "redo", "redo", "redo"):
        assert getattr(document, action)() and getattr(again, action)()
        np.testing.assert_array_equal(again.image.pixels, document.image.pixels)
        np.testing.assert_array_equal(again.image.alpha, document.image.alpha)
        np.testing.assert_array_equal(again.mask, document.mask)
    # and it keeps working as a document: a new stroke is one more undoable step
    with again.begin_stroke() as stroke:
        stroke.dab(30, 30, 5)
    assert again.history.labels[-1] == "Brush" and again.undo()
    np.testing.assert_array_equal(again.mask, document.mask)


def test_an_image_shared_by_the_document_and_its_history_is_stored_and_read_once(document, tmp_path):
    path = tmp_path / "work.pforge"
    save_project(document, path)
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    upscale = manifest["history"]["steps"][2]
    assert upscale["after"]["pixels"] == manifest["current"]["pixels"]
    again = open_project(path)
    after = again.history.step(2).after
    assert after.pixels is again.image.pixels and after.alpha is again.image.alpha


def test_original_is_the_image_as_opened(document, tmp_path):
    path = tmp_path / "work.pforge"
    save_project(document, path)
    opened = Document.open(document.path).image
    original = load_original(path)
    np.testing.assert_array_equal(original.pixels, opened.pixels)
    np.testing.assert_array_equal(original.alpha, opened.alpha)
    assert original.icc_profile == ICC


def test_the_saved_point_is_the_state_the_project_holds(document, tmp_path):
    document.history.mark_clean()  # as if exported at this position
    document.undo()
    assert document.is_modified
    path = tmp_path / "work.pforge"
    save_project(document, path)
    assert not document.is_modified
    again = open_project(path)
    assert not again.is_modified
    assert again.redo() and again.is_modified
    assert again.undo() and not again.is_modified


def test_spilled_steps_are_saved_and_reopened_within_the_memory_budget(tmp_path):
    rng = np.random.default_rng(3)
    doc = Document(random_image(rng, 64, 64, np.uint8), history=History(memory_budget=1 << 10,
                                                                        temp_root=tmp_path))
    for i in range(4):
        size = 64 * (2 if i % 2 == 0 else 1)
        doc.apply_image(random_image(rng, size, size, np.uint8), f"Step {i}")
    assert doc.history.nbytes_on_disk > 0
    path = tmp_path / "spilled.pforge"
    save_project(doc, path)
    again = open_project(path, History(memory_budget=1 << 10, temp_root=tmp_path))
    assert again.history.nbytes_on_disk > 0  # older steps went to disk as they were read
    assert_same_states(states(again), states(doc))


def test_budgets_smaller_than_the_project_forget_its_oldest_steps_on_open(tmp_path):
    rng = np.random.default_rng(4)
    doc = Document(random_image(rng, 64, 64, np.uint8))
    for i in range(4):
        doc.apply_image(random_image(rng, 64 * (1 + i % 2), 64, np.uint8), f"Step {i}")
    doc.undo()
    save_project(doc, tmp_path / "p.pforge")
    tight = History(memory_budget=0, disk_budget=100_000, temp_root=tmp_path)
    again = open_project(tmp_path / "p.pforge", tight)
    kept = len(again.history)
    assert 0 < kept < 4 and again.history.pruned_count == 4 - kept
    assert again.history.index == 3 - (4 - kept)
    np.testing.assert_array_equal(again.image.pixels, doc.image.pixels)
    expected = states(doc)[4 - kept:]
    assert_same_states(states(again), expected)


def test_a_grey_eight_bit_image_without_alpha_or_metadata(tmp_path):
    doc = Document(ImageData(np.arange(30 * 40, dtype=np.uint8).reshape(30, 40)))
    doc.apply_mask(np.full((30, 40), 9, np.uint8), "Fill")
    save_project(doc, tmp_path / "grey.pforge")
    again = open_project(tmp_path / "grey.pforge")
    assert again.image.alpha is None and again.image.pixels.shape == (30, 40, 1) and again.path is None
    assert again.undo() and not again.mask.any()


# ------------------------------------------------------------------------------ refusals
def write_manifest(path, change) -> None:
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    manifest = json.loads(members["manifest.json"])
    change(manifest)
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def refused(path) -> str:
    with pytest.raises(ProjectError) as info:
        open_project(path)
    assert path.name in str(info.value)
    return info.value.reason


def test_a_newer_format_version_is_refused(document, tmp_path):
    path = tmp_path / "future.pforge"
    save_project(document, path)
    write_manifest(path, lambda m: m.update(version=999))
    assert "newer" in refused(path)


@pytest.mark.parametrize("version,reason", [
    (10 ** 4000, "damaged project (format version 100000000000… (4001 characters))"),
    (-(10 ** 40), "damaged project (format version -10000000000… (42 characters))"),
    (True, "damaged project (format version True)"),
], ids=["4001 digits", "negative", "a boolean"])
def test_an_absurd_format_version_is_named_briefly(document, tmp_path, version, reason):
    path = tmp_path / "absurd.pforge"
    save_project(document, path)
    write_manifest(path, lambda m: m.update(version=version))
    assert refused(path) == reason


def test_a_version_too_long_for_python_to_parse_is_a_damaged_project(document, tmp_path):
    path = tmp_path / "huge.pforge"
    save_project(document, path)
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    members["manifest.json"] = members["manifest.json"].replace(b'"version": 1', b'"version": 1' + b"0" * 5000)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    assert refused(path).startswith("damaged project (unreadable manifest: Exceeds the limit (4300 digits)")


def test_a_truncated_project_is_refused(document, tmp_path):
    path = tmp_path / "cut.pforge"
    save_project(document, path)
    data = path.read_bytes()
    for size in (0, 10, len(data) // 2, len(data) - 30):
        path.write_bytes(data[:size])
        refused(path)


def test_random_bytes_and_other_files_are_refused(tmp_path):
    path = tmp_path / "noise.pforge"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    refused(path)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hello.txt", "not a project")
    assert "manifest" in refused(path)
    assert "no such file" in refused(tmp_path / "missing.pforge")


def test_a_flipped_byte_in_an_array_is_caught_by_its_checksum(document, tmp_path):
    path = tmp_path / "flip.pforge"
    save_project(document, path)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("current/pixels.npy")
    data = bytearray(path.read_bytes())
    data[info.header_offset + 30 + len(info.filename) + len(info.extra) + 500] ^= 0xFF
    path.write_bytes(bytes(data))
    refused(path)


@pytest.mark.parametrize("change", [
    lambda m: m["history"].update(index=17),
    lambda m: m["history"]["steps"][0]["patches"][0].update(y0=10 ** 6),
    lambda m: m["history"]["steps"][0]["patches"][0].update(target="alpha", x0=-1),
    lambda m: m["history"]["steps"][0].update(kind="teleport"),
    lambda m: m["current"].update(pixels="original/mask.npy"),
    lambda m: m["current"].update(pixels="nothing/here.npy"),
    lambda m: m["current"]["meta"].update(icc_profile={"blob": "unknown"}),
    lambda m: m["history"].update(steps="none"),
    lambda m: m.update(format="something-else"),
], ids=["position", "patch-off-image", "negative-x0", "kind", "wrong-array", "missing-member",
        "blob", "steps-type", "format"])
def test_an_inconsistent_manifest_is_refused_at_open_not_at_some_later_undo(document, tmp_path, change):
    path = tmp_path / "bad.pforge"
    save_project(document, path)
    write_manifest(path, change)
    refused(path)


def with_pixels_header(document, path, header: bytes):
    save_project(document, path)
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    members["current/pixels.npy"] = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_an_array_header_claiming_more_than_the_member_holds_is_refused(document, tmp_path):
    path = tmp_path / "huge.pforge"
    with_pixels_header(document, path, b"{'descr': '<u2', 'fortran_order': False, 'shape': (10000, 10000, 3), }")
    assert "size" in refused(path)


# ------------------------------------------------------------------------------ project bombs
def npy_header(shape, descr="|u1") -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}".encode()
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header


def deflated_bomb(path, shape, descr="|u1", megabytes=16) -> None:
    """A member whose header declares `shape` and whose body is `megabytes` of deflated
    zeros: a few kilobytes on disk, the start of a real array when inflated."""
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf, zf.open("bomb.npy", "w") as out:
        out.write(npy_header(shape, descr))
        zeros = bytes(1 << 20)
        for _ in range(megabytes):
            out.write(zeros)


def test_a_deflated_project_bomb_is_refused_before_anything_is_allocated(document, tmp_path, monkeypatch):
    # The report: a 17 MB project declaring a 60000×60000×3 image made open_project allocate
    # 10 GB and die with MemoryError. Nothing that large may even be asked for.
    path = tmp_path / "bomb.pforge"
    save_project(document, path)
    deflated_bomb(path, (60000, 60000, 3))
    for where in ("pixels", "mask"):
        write_manifest(path, lambda m: m["current"].update({where: "bomb.npy"}))
        asked = []
        real_empty = np.empty
        monkeypatch.setattr("photoforge.core.project.np.empty",
                            lambda shape, dtype: asked.append(shape) or real_empty(shape, dtype))
        reason = refused(path)
        assert "60000 × 60000" in reason and "limit of 300 MP" in reason, reason
        assert all(np.prod(s) < 1e6 for s in asked), asked
        save_project(document, path)
        deflated_bomb(path, (60000, 60000, 3))


def test_a_history_of_arrays_adding_up_past_the_budget_is_refused_from_headers(document, tmp_path):
    path = tmp_path / "wide.pforge"
    save_project(document, path)
    # 20 steps, each naming its own 299 MP 16-bit member (1.8 GB each, 36 GB in all): each is
    # under the pixel limit, together they are far over the bytes budget.
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as zf:
        for i in range(40):
            zf.writestr(f"big{i}.npy", npy_header((17000, 17000, 3), "<u2"))

    def wide(m):
        step = m["history"]["steps"][0]
        m["history"]["steps"] = [{"label": f"S{i}", "kind": "patches", "patches": [
            {"target": "image", "y0": 0, "x0": 0, "before": f"big{2 * i}.npy",
             "after": f"big{2 * i + 1}.npy"}]} for i in range(20)]
        assert step["label"] == "Brush"
        m["history"].update(index=0, clean=0)
    write_manifest(path, wide)
    assert "GiB" in refused(path)
    with pytest.raises(ProjectError, match="more than 1 MiB to open"):
        open_project(path, max_bytes=1 << 20)


def test_one_member_named_by_many_steps_is_refused(document, tmp_path):
    # 30 steps pointing at one compressed member used to expand (and spill to the undo
    # folder) 30 times over.
    path = tmp_path / "echo.pforge"
    save_project(document, path)

    def echo(m):
        patch = next(s for s in m["history"]["steps"] if s["kind"] == "patches")["patches"][0]
        m["history"]["steps"] = [{"label": f"S{i}", "kind": "patches", "patches": [patch]}
                                 for i in range(30)]
        m["history"].update(index=0, clean=0)
    write_manifest(path, echo)
    assert "named by" in refused(path)


def test_an_over_long_history_is_refused_cleanly(document, tmp_path):
    path = tmp_path / "long.pforge"
    save_project(document, path)
    write_manifest(path, lambda m: m["history"].update(
        steps=[{"label": "x", "kind": "patches", "patches": []}] * 20000, index=0, clean=0))
    assert "20000 history steps" in refused(path)


@pytest.mark.parametrize("shape", [(0, 10 ** 12, 3), (0, 0), (10, 10, 9)])
def test_impossible_geometry_is_refused(document, tmp_path, shape):
    path = tmp_path / "flat.pforge"
    with_pixels_header(document, path, npy_header(shape)[10:])
    assert "shape" in refused(path)


def test_running_out_of_memory_while_opening_is_a_project_error(document, tmp_path, monkeypatch):
    path = tmp_path / "work.pforge"
    save_project(document, path)

    def no_memory(*args, **kwargs):
        raise MemoryError
    monkeypatch.setattr("photoforge.core.project.np.empty", no_memory)
    assert refused(path) == "not enough memory to open it"


def test_a_crafted_source_path_never_becomes_a_place_to_write(document, tmp_path):
    # The report: `source_path` in the manifest became Document.path, and Save wrote there.
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"precious")
    path = tmp_path / "crafted.pforge"
    save_project(document, path)
    for hint in (str(victim), str(victim) + "\0.png"):
        write_manifest(path, lambda m: m.update(source_path=hint, source_name=hint))
        doc = open_project(path)
        assert doc.path is None and doc.project_path == path
        assert doc.source_name in ("victim.png", None)
    assert victim.read_bytes() == b"precious"


def test_an_array_header_python_cannot_tokenize_is_refused(document, tmp_path):
    # Found by fuzz/fuzz_project.py: numpy reads the header with Python's tokenizer, which
    # raised IndentationError straight through.
    path = tmp_path / "indent.pforge"
    with_pixels_header(document, path, b"{'descr': '<u2', 'fortran_order': False, 'shape': (2, 2), }\n    a\n  b\n")
    assert "unreadable array header" in refused(path)


# ------------------------------------------------------------------------------ atomic save
def test_a_failed_save_leaves_the_previous_project_intact(document, tmp_path, monkeypatch):
    path = tmp_path / "work.pforge"
    save_project(document, path)
    before = path.read_bytes()
    document.undo()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(project_module.np.lib.format, "write_array", disk_full)
    with pytest.raises(ProjectError, match="No space left"):
        save_project(document, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".work")] == []
    monkeypatch.undo()
    assert open_project(path).history.index == 3


def test_flipped_bytes_anywhere_give_project_error_or_a_usable_document(document, tmp_path):
    path = tmp_path / "work.pforge"
    save_project(document, path)
    data = path.read_bytes()
    rng = np.random.default_rng(11)
    for i in range(400):
        mutated = bytearray(data)
        # half the flips land in the manifest and central directory at the end
        low = len(data) - 4000 if i % 2 else 0
        for pos in rng.integers(low, len(data), rng.integers(1, 4)):
            mutated[pos] = rng.integers(0, 256)
        path.write_bytes(bytes(mutated))
        try:
            doc = open_project(path)
        except ProjectError:
            continue
        doc.goto(0)  # what opens must also undo and redo all the way
        doc.goto(len(doc.history))


# ---------------------------------------------------------------- the fill's areas
def area_states(doc: Document) -> list:
    """The sampling and exclude areas (None = never painted) at every history position."""
    here, out = doc.history.index, []
    for i in range(len(doc.history) + 1):
        doc.goto(i)
        out.append({n: None if a is None or not a.any() else a.copy() for n, a in doc.areas.items()})
    doc.goto(here)
    return out


def with_areas(doc: Document) -> Document:
    """The driven document, then areas painted, erased and turned with a resize."""
    with doc.begin_stroke(hardness=0.4, layer="sample") as stroke:
        stroke.dab(30, 30, 12)
        stroke.line_to(120, 90, 12)
    with doc.begin_stroke(erase=True, layer="sample") as stroke:
        stroke.dab(60, 50, 6)
    with doc.begin_stroke(layer="exclude") as stroke:
        stroke.dab(10, 100, 9)
    small = doc.image.with_pixels(doc.image.pixels[::2, ::2].copy(), doc.image.alpha[::2, ::2].copy())
    doc.apply_image(small, "Half size")  # a whole-state step: the areas are scaled along
    return doc


def test_the_areas_and_their_steps_round_trip(document, tmp_path):
    doc = with_areas(document)
    assert doc.history.labels[-4:] == ["Paint sampling area", "Erase sampling area", "Paint exclude area",
                                       "Half size"]
    assert doc.areas["sample"].shape == doc.mask.shape == (60, 80)
    path = tmp_path / "areas.pforge"
    save_project(doc, path)
    with zipfile.ZipFile(path) as zf:
        assert json.loads(zf.read("manifest.json"))["version"] == 2
    again = open_project(path)
    assert again.history.labels == doc.history.labels
    for name in ("sample", "exclude"):
        np.testing.assert_array_equal(again.areas[name], doc.areas[name])
        assert again.areas[name].flags.writeable  # the brush paints into it in place
    for a, b in zip(area_states(again), area_states(doc), strict=True):
        assert a.keys() == b.keys()
        for name in a:
            assert (a[name] is None) == (b[name] is None)
            if a[name] is not None:
                np.testing.assert_array_equal(a[name], b[name])
    assert_same_states(states(again), states(doc))


def test_a_project_without_areas_stays_format_1(document, tmp_path):
    path = tmp_path / "plain.pforge"
    save_project(document, path)
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["version"] == 1 and manifest["current"]["areas"] == {}
    # as written by a PhotoForge before the areas: no "areas" key at all
    write_manifest(path, lambda m: [s.pop("areas") for s in (m["current"], m["original"])])
    assert all(a is None for a in open_project(path).areas.values())


def test_the_areas_count_in_the_size_limit(tmp_path):
    rng = np.random.default_rng(3)
    doc = Document(random_image(rng, 100, 100, np.uint8, alpha=False))
    for name in ("sample", "exclude"):
        doc.layer(name)[10:50, 10:50] = 255  # no step: current and original both hold them
    path = tmp_path / "a.pforge"
    save_project(doc, path)
    # what opening reads: pixels 3 + mask 1 + areas 2 bytes a pixel
    assert open_project(path, max_bytes=6 * 100 * 100).areas["sample"].any()
    with pytest.raises(ProjectError, match="more than the limit"):
        open_project(path, max_bytes=6 * 100 * 100 - 1)


@pytest.mark.parametrize("change, reason", [
    (lambda m: m["current"].update(areas={"smudge": m["current"]["mask"]}), "damaged project (areas"),
    (lambda m: m["current"].update(areas=["sample"]), "damaged project (areas"),
    (lambda m: m["current"].update(areas={"sample": m["current"]["pixels"]}), "do not match"),
    (lambda m: [s.update(areas={"sample": m["current"]["mask"], "exclude": m["current"]["mask"]})
                for s in (m["current"], next(s for s in m["history"]["steps"] if s["kind"] == "replace")["before"])],
     "named by"),
], ids=["unknown-area", "not-a-dict", "pixels-as-area", "one-member-many-times"])
def test_hostile_areas_are_refused(document, tmp_path, change, reason):
    path = tmp_path / "hostile.pforge"
    save_project(document, path)
    write_manifest(path, change)
    assert reason in refused(path)
