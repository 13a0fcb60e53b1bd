"""Autosave and recovery without Qt: incremental writes, exact recovery, damage reported."""
from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from photoforge.core.autosave import (Autosaver, SessionError, orphaned_sessions,
                                      recover_session)
from photoforge.core.document import Document
from photoforge.core.image import ImageData


def make_doc(h=300, w=400, seed=0) -> Document:
    rng = np.random.default_rng(seed)
    return Document(ImageData(rng.integers(0, 255, (h, w, 3), np.uint8), exif=b"Exif\0\0x",
                              icc_profile=b"icc" * 10))


def stroke(doc, x0, y0, x1, y1, radius=12, erase=False):
    with doc.begin_stroke(erase=erase) as s:
        s.dab(x0, y0, radius)
        s.line_to(x1, y1, radius)


def brighten(doc, label="Brighten", box=(50, 120, 60, 200)):
    pixels = doc.image.pixels.copy()
    y0, y1, x0, x1 = box
    pixels[y0:y1, x0:x1] = 255 - pixels[y0:y1, x0:x1]
    doc.apply_image(doc.image.with_pixels(pixels, None), label)


def upscale(doc):
    pixels = np.repeat(np.repeat(doc.image.pixels, 2, axis=0), 2, axis=1)
    doc.apply_image(doc.image.with_pixels(pixels, None), "Upscale ×2")


def states(doc):
    """(pixels, mask) at every history position, visiting by undo/redo, then back."""
    here = doc.history.index
    out = []
    for i in range(len(doc.history) + 1):
        doc.goto(i)
        out.append((doc.image.pixels.copy(), doc.mask.copy(), doc.image.exif))
    doc.goto(here)
    return out


def assert_same(recovered: Document, doc: Document):
    assert recovered.history.labels == doc.history.labels
    assert recovered.history.index == doc.history.index
    assert recovered.history.clean_index == doc.history.clean_index
    assert np.array_equal(recovered.image.pixels, doc.image.pixels)
    assert np.array_equal(recovered.mask, doc.mask)
    for (p1, m1, e1), (p2, m2, e2) in zip(states(recovered), states(doc), strict=True):
        assert np.array_equal(p1, p2) and np.array_equal(m1, m2) and e1 == e2


def test_nothing_is_written_before_the_first_change(tmp_path):
    saver = Autosaver(make_doc(), tmp_path)
    assert saver.save() is False
    assert list(tmp_path.iterdir()) == []


def test_a_new_step_writes_only_that_step_and_the_manifest(tmp_path):
    doc = make_doc()
    saver = Autosaver(doc, tmp_path)
    stroke(doc, 20, 20, 120, 60)
    assert saver.save()
    assert sorted(saver.last_written) == ["b1.zip", "manifest.json", "s2.zip"]
    before = {p.name: p.stat().st_mtime_ns for p in saver.folder.iterdir()}
    time.sleep(0.01)

    stroke(doc, 200, 100, 300, 250)
    assert saver.save()
    assert saver.last_written == ["s3.zip", "manifest.json"]
    after = {p.name: p.stat().st_mtime_ns for p in saver.folder.iterdir()}
    assert set(after) - set(before) == {"s3.zip"}
    assert {n for n in before if after[n] != before[n]} == {"manifest.json"}
    assert saver.save() is False  # nothing changed, nothing written

    doc.undo()  # only the position moves
    assert saver.save() and saver.last_written == ["manifest.json"]
    stroke(doc, 10, 250, 390, 280)  # drops the undone step: its file goes
    saver.save()
    assert sorted(p.name for p in saver.folder.iterdir()) == \
        ["b1.zip", "lock", "manifest.json", "s2.zip", "s4.zip"]


def test_recovery_equals_the_document_step_by_step(tmp_path):
    doc = make_doc()
    saver = Autosaver(doc, tmp_path)
    stroke(doc, 20, 20, 120, 60)
    brighten(doc)
    doc.apply_mask(255 - doc.mask, "Invert mask")
    stroke(doc, 30, 200, 300, 220, erase=True)
    upscale(doc)  # a size change: whole states
    stroke(doc, 100, 100, 600, 500, radius=20)
    brighten(doc, "Brighten again", (300, 500, 100, 700))
    doc.history.mark_clean()
    doc.undo()
    doc.undo()  # two redo steps left
    saver.save()
    recovered = recover_session(saver.folder)
    assert recovered.image.exif == doc.image.exif and recovered.image.icc_profile == doc.image.icc_profile
    assert_same(recovered, doc)
    # The upscale's "before" is the brightened image, not stored twice beside the base.
    assert len(list(saver.folder.glob("*.zip"))) == 8


def test_a_stroke_being_painted_is_recovered_as_its_step(tmp_path):
    doc = make_doc()
    saver = Autosaver(doc, tmp_path)
    s = doc.begin_stroke()  # the first change of the session, mid-gesture
    s.dab(50, 50, 10)
    s.line_to(200, 80, 10)
    assert saver.save()
    painted = doc.mask.copy()
    recovered = recover_session(saver.folder)
    assert recovered.history.labels == ["Brush"]
    assert np.array_equal(recovered.mask, painted)
    recovered.undo()
    assert not recovered.mask.any()  # the base was saved from before the stroke
    s.line_to(300, 200, 10)
    assert saver.save() and saver.last_written[0].startswith("p")
    s.end()
    assert saver.save()
    assert not list(saver.folder.glob("p*.zip"))
    assert_same(recover_session(saver.folder), doc)


def test_forgotten_steps_rewrite_the_base(tmp_path):
    doc = make_doc()
    doc.history.disk_budget = 0  # every spilled step is forgotten
    doc.history.memory_budget = 1
    saver = Autosaver(doc, tmp_path)
    for k in range(4):
        stroke(doc, 20 + 60 * k, 20, 40 + 60 * k, 200)
        saver.save()
    assert doc.history.pruned_count > 0
    assert_same(recover_session(saver.folder), doc)


def test_live_sessions_are_not_offered_and_dead_ones_are(tmp_path):
    doc = make_doc()
    saver = Autosaver(doc, tmp_path)
    stroke(doc, 20, 20, 120, 60)
    saver.save()
    assert orphaned_sessions(tmp_path) == []  # our own lock is held
    saver._release_lock()  # as the kernel does when the process dies
    (found,) = orphaned_sessions(tmp_path)
    assert found.folder == saver.folder and found.steps == 1 and found.error is None


def test_dead_sessions_with_nothing_unsaved_are_removed(tmp_path):
    doc = make_doc()
    saver = Autosaver(doc, tmp_path)
    stroke(doc, 20, 20, 120, 60)
    doc.history.mark_clean()
    saver.save()
    saver._release_lock()
    assert orphaned_sessions(tmp_path) == [] and not saver.folder.exists()


def test_close_removes_the_session(tmp_path):
    doc = make_doc()
    saver = Autosaver(doc, tmp_path)
    stroke(doc, 20, 20, 120, 60)
    saver.save()
    saver.close()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("damage", ["missing step", "truncated step", "bad manifest",
                                    "newer manifest", "wrong position", "foreign name", "garbage zip"])
def test_a_damaged_session_is_reported_not_crashed(tmp_path, damage):
    doc = make_doc()
    saver = Autosaver(doc, tmp_path)
    stroke(doc, 20, 20, 120, 60)
    brighten(doc)
    saver.save()
    folder = saver.folder
    saver._release_lock()
    manifest = json.loads((folder / "manifest.json").read_text())
    step = folder / manifest["history"]["steps"][-1]
    if damage == "missing step":
        step.unlink()
    elif damage == "truncated step":
        step.write_bytes(step.read_bytes()[: step.stat().st_size // 2])
    elif damage == "garbage zip":
        step.write_bytes(os.urandom(3000))
    elif damage == "bad manifest":
        (folder / "manifest.json").write_text("{not json")
    else:
        if damage == "newer manifest":
            manifest["version"] = 99
        elif damage == "wrong position":
            manifest["history"]["index"] = 7
        else:
            manifest["history"]["steps"][0] = "../../etc/passwd"
        (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SessionError) as caught:
        recover_session(folder)
    assert folder.name in str(caught.value)
    (found,) = orphaned_sessions(tmp_path)  # still listed, to be discarded by the user
    assert found.folder == folder


def test_a_session_bomb_is_refused_from_its_headers(tmp_path):
    import zipfile

    from tests.core.test_project import npy_header
    doc = make_doc()
    saver = Autosaver(doc, tmp_path)
    stroke(doc, 20, 20, 120, 60)
    saver.save()
    folder = saver.folder
    saver._release_lock()
    manifest = json.loads((folder / "manifest.json").read_text())
    with zipfile.ZipFile(folder / "s999.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomb.npy", npy_header((60000, 60000)) + bytes(1 << 20))
        zf.writestr("step.json", json.dumps({"entry": {"label": "Brush", "kind": "patches", "patches": [
            {"target": "mask", "y0": 0, "x0": 0, "before": "s999.zip:bomb.npy",
             "after": "s999.zip:bomb.npy"}]}, "blobs": {}}))
    manifest["history"]["steps"].append("s999.zip")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SessionError, match="over the limit of 300 MP"):
        recover_session(folder)


@pytest.mark.parametrize("change", [{"history": []}, {"saved_at": 1e300}, {"saved_at": "soon"},
                                    {"source_name": "a\0b", "source_path": 5}])
def test_odd_values_in_a_session_manifest_still_list_it(tmp_path, change):
    # A session the user cannot even be shown made every start fail until it was deleted.
    doc = make_doc()
    saver = Autosaver(doc, tmp_path)
    stroke(doc, 20, 20, 120, 60)
    saver.save()
    saver._release_lock()
    manifest = json.loads((saver.folder / "manifest.json").read_text())
    manifest.update(change)
    (saver.folder / "manifest.json").write_text(json.dumps(manifest))
    (found,) = orphaned_sessions(tmp_path)
    assert found.folder == saver.folder and 0 < found.saved_at < 1e11
    time.strftime("%Y-%m-%d %H:%M", time.localtime(found.saved_at))  # what the dialog shows
    assert found.name == "Untitled"


def test_a_session_remembers_its_project_and_only_as_a_project(tmp_path):
    from photoforge.core.project import save_project

    doc = make_doc()
    project = tmp_path / "work.pforge"
    stroke(doc, 20, 20, 120, 60)
    save_project(doc, project)
    saver = Autosaver(doc, tmp_path / "sessions")
    stroke(doc, 40, 40, 140, 80)
    saver.save()
    saver._release_lock()
    recovered = recover_session(saver.folder)
    assert recovered.project_path == project and recovered.path is None and recovered.is_modified
    manifest = json.loads((saver.folder / "manifest.json").read_text())
    for hint in (str(tmp_path / "victim.png"), "relative.pforge", str(project) + "\0"):
        manifest["project_path"] = hint
        (saver.folder / "manifest.json").write_text(json.dumps(manifest))
        assert recover_session(saver.folder).project_path is None


def test_autosave_of_a_24_megapixel_document_costs_milliseconds_per_step(tmp_path):
    """The figure in the note: 6000×4000 RGB, long 60 px wide strokes (80+ tiles each)."""
    pixels = np.random.default_rng(1).integers(0, 255, (4000, 6000, 3), np.uint8)
    doc = Document(ImageData(pixels))
    saver = Autosaver(doc, tmp_path)
    stroke(doc, 100, 100, 600, 300)
    t0 = time.perf_counter()
    saver.save()
    first = time.perf_counter() - t0
    times = []
    for k in range(20):
        stroke(doc, 100 + k * 250, 500, 300 + k * 250, 3000, radius=30)
        t0 = time.perf_counter()
        saver.save()
        times.append(time.perf_counter() - t0)
        assert saver.last_written == [f"s{k + 3}.zip", "manifest.json"]
    doc.undo()
    t0 = time.perf_counter()
    saver.save()
    undo = time.perf_counter() - t0
    median = sorted(times)[len(times) // 2]
    print(f"\nautosave 6000x4000: first save (base image) {first * 1e3:.0f} ms, "
          f"per stroke median {median * 1e3:.1f} ms max {max(times) * 1e3:.1f} ms, "
          f"undo {undo * 1e3:.1f} ms")
    assert median < 0.1


def test_the_areas_and_a_stroke_on_one_are_recovered(tmp_path):
    doc = make_doc()
    saver = Autosaver(doc, tmp_path)
    with doc.begin_stroke(layer="exclude") as s:
        s.dab(40, 40, 15)
    upscale(doc)  # a whole-state step carries the area, scaled
    s = doc.begin_stroke(layer="sample")  # mid-gesture when the app dies
    s.dab(300, 200, 20)
    s.line_to(500, 260, 20)
    assert saver.save()
    recovered = recover_session(saver.folder)
    assert recovered.history.labels == ["Paint exclude area", "Upscale ×2", "Paint sampling area"]
    for name in ("sample", "exclude"):
        assert np.array_equal(recovered.areas[name], doc.areas[name])
    recovered.undo()
    assert not recovered.areas["sample"].any() and recovered.areas["exclude"][80, 80] == 255
    recovered.undo()
    assert recovered.areas["exclude"].shape == (300, 400) and recovered.areas["exclude"][40, 40] == 255
    s.end()
    saver.save()
    assert_same(recover_session(saver.folder), doc)
