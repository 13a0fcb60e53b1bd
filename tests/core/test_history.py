"""History on a real Document: exact undo/redo, byte budgets, spilling, clean tracking."""
from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from photoforge.core import history as history_module
from photoforge.core.document import Document
from photoforge.core.history import History, Patch, PatchStep
from photoforge.core.image import ImageData

KiB = 1024


def snapshot(doc: Document):
    alpha = None if doc.image.alpha is None else doc.image.alpha.copy()
    return doc.image.pixels.copy(), alpha, doc.mask.copy()


def assert_state(doc: Document, state) -> None:
    pixels, alpha, mask = state
    assert doc.image.pixels.dtype == pixels.dtype and doc.mask.dtype == np.uint8
    np.testing.assert_array_equal(doc.image.pixels, pixels)
    np.testing.assert_array_equal(doc.mask, mask)
    if alpha is None:
        assert doc.image.alpha is None
    else:
        assert doc.image.alpha.dtype == alpha.dtype
        np.testing.assert_array_equal(doc.image.alpha, alpha)


def random_image(rng, h, w, dtype=np.uint8, alpha=True) -> ImageData:
    top = np.iinfo(dtype).max
    pixels = rng.integers(0, top + 1, (h, w, 3), dtype=dtype)
    return ImageData(pixels, rng.integers(0, top + 1, (h, w), dtype=dtype) if alpha else None)


def mask_with_square(doc: Document, y: int, x: int, size: int, value: int) -> np.ndarray:
    mask = doc.mask.copy()
    mask[y:y + size, x:x + size] = value
    return mask


def build_replace_history(history: History, steps: int, dtype=np.uint8):
    """A document through a mask edit and `steps` size-changing edits; returns it and
    states[i] = the state after i steps."""
    rng = np.random.default_rng(1)
    doc = Document(random_image(rng, 120, 160, dtype), history=history)
    states = [snapshot(doc)]
    doc.apply_mask(mask_with_square(doc, 10, 20, 30, 200), "Mask")
    states.append(snapshot(doc))
    for i in range(steps):
        h, w = (120, 160) if i % 2 else (160, 200)
        doc.apply_image(random_image(rng, h, w, dtype), f"Resize {i}")
        states.append(snapshot(doc))
    return doc, states


def test_labels_index_and_listeners():
    doc = Document(ImageData(np.zeros((50, 60, 3), np.uint8)))
    calls = []
    doc.history.listeners.append(lambda: calls.append(doc.history.index))
    for i, label in enumerate(["One", "Two", "Three"]):
        doc.apply_mask(mask_with_square(doc, i * 10, 0, 5, 255), label)
    assert doc.history.labels == ["One", "Two", "Three"]
    assert (doc.history.index, doc.history.can_undo, doc.history.can_redo) == (3, True, False)
    assert doc.undo() and doc.undo()
    assert (doc.history.index, doc.history.can_redo) == (1, True)
    assert doc.redo()
    doc.goto(0)
    assert not doc.undo()  # nothing left: no change, no notification
    doc.history.mark_clean()
    assert calls == [1, 2, 3, 2, 1, 2, 0, 0]


def test_clean_point_across_undo_redo_and_a_new_branch():
    doc = Document(ImageData(np.zeros((40, 40, 3), np.uint8)))
    history = doc.history
    assert history.is_clean
    doc.apply_mask(mask_with_square(doc, 0, 0, 4, 255), "A")
    doc.apply_mask(mask_with_square(doc, 10, 0, 4, 255), "B")
    assert not history.is_clean
    history.mark_clean()
    doc.undo()
    assert not history.is_clean
    doc.redo()
    assert history.is_clean
    doc.undo()
    doc.apply_mask(mask_with_square(doc, 20, 0, 4, 255), "C")  # same index, other branch
    assert history.index == 2 and history.labels == ["A", "C"]
    assert not history.is_clean
    doc.undo()
    assert not history.is_clean  # the saved state is gone for good
    history.mark_clean()
    assert history.is_clean


def test_goto_over_mixed_steps_matches_stepwise_states():
    rng = np.random.default_rng(2)
    doc = Document(random_image(rng, 40, 50))
    states = [snapshot(doc)]
    edits = [
        lambda: doc.apply_mask(mask_with_square(doc, 5, 5, 10, 255), "Mask"),
        lambda: doc.apply_image(random_image(rng, 80, 100), "Upscale"),
        lambda: doc.apply_mask(mask_with_square(doc, 50, 60, 9, 77), "Mask 2"),
        lambda: doc.apply_image(doc.image.with_pixels(doc.image.pixels // 2, doc.image.alpha), "Darken"),
        lambda: doc.apply_image(random_image(rng, 30, 30, alpha=False), "Crop"),
        lambda: doc.apply_mask(mask_with_square(doc, 0, 0, 30, 255), "All"),
    ]
    for edit in edits:
        assert edit()
        states.append(snapshot(doc))
    for index in [0, 6, 3, 1, 5, 2, 4, 0, 2, 6]:
        doc.goto(index)
        assert doc.history.index == index
        assert_state(doc, states[index])
    with pytest.raises(IndexError):
        doc.goto(7)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_memory_budget_spills_oldest_and_undo_stays_exact(dtype):
    history = History(memory_budget=600 * KiB)
    step_sizes = []
    history.listeners.append(lambda: step_sizes.append(history.nbytes_in_memory))
    doc, states = build_replace_history(history, 12, dtype)
    biggest_step = 2 * (160 * 200 * 4 * np.dtype(dtype).itemsize + 160 * 200)
    assert max(step_sizes) <= history.memory_budget + biggest_step
    assert history.nbytes_on_disk > 0 and any(history.spill_dir.iterdir())
    for index in range(len(states) - 1, -1, -1):
        assert_state(doc, states[index])
        doc.undo()
    assert not history.can_undo
    for index in range(1, len(states)):
        doc.redo()
        assert_state(doc, states[index])
    history.close()


def test_lowering_the_memory_budget_at_runtime_spills_at_once():
    history = History()
    doc, states = build_replace_history(history, 6)
    assert history.nbytes_on_disk == 0
    notified = []
    history.listeners.append(lambda: notified.append(True))
    history.memory_budget = 0
    assert notified
    newest = history._entries[-1].nbytes
    assert history.nbytes_in_memory == newest  # only the newest step stays
    doc.goto(0)
    assert_state(doc, states[0])
    history.close()


def test_disk_budget_prunes_the_oldest_steps():
    history = History(memory_budget=0, disk_budget=1_200 * KiB)
    doc, states = build_replace_history(history, 10)
    assert history.pruned_count > 0
    assert history.nbytes_on_disk <= history.disk_budget
    assert len(history) == len(states) - 1 - history.pruned_count
    assert not history.is_clean  # the clean point was the first state, now unreachable
    while doc.undo():
        pass
    assert_state(doc, states[history.pruned_count])
    assert history.labels[0] == f"Resize {history.pruned_count - 1}"
    history.close()


def test_a_step_that_cannot_be_spilled_is_forgotten(monkeypatch):
    def disk_full(path, arrays):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(history_module, "_write_arrays", disk_full)
    history = History(memory_budget=0)
    doc, states = build_replace_history(history, 4)
    assert len(history) == 1 and history.pruned_count == 4
    assert history.nbytes_on_disk == 0
    doc.undo()
    assert_state(doc, states[4])


def test_close_and_garbage_collection_remove_the_spill_folder():
    history = History(memory_budget=0)
    build_replace_history(history, 3)
    folder = history.spill_dir
    assert folder.is_dir()
    history.close()
    assert not folder.exists() and len(history) == 0 and history.nbytes_on_disk == 0

    history = History(memory_budget=0)
    doc, _ = build_replace_history(history, 3)
    folder = history.spill_dir
    del doc, history
    gc.collect()
    assert not folder.exists()


def test_writable_arrays_are_copied_so_later_writes_cannot_corrupt_undo():
    doc = Document(ImageData(np.zeros((20, 20, 3), np.uint8)))
    before, after = np.zeros((4, 4), np.uint8), np.full((4, 4), 9, np.uint8)
    doc.mask[2:6, 3:7] = after
    doc.history.push(PatchStep("Manual", [Patch("mask", 2, 3, before, after)]))
    before[:] = 50  # the caller reuses its buffers
    doc.undo()
    assert not doc.mask.any()
    doc.redo()
    assert (doc.mask[2:6, 3:7] == 9).all() and doc.mask.sum() == 9 * 16


def test_patch_rejects_mismatched_arrays():
    with pytest.raises(ValueError):
        Patch("mask", 0, 0, np.zeros((2, 2), np.uint8), np.zeros((2, 3), np.uint8))
    with pytest.raises(ValueError):
        Patch("layer", 0, 0, np.zeros((2, 2), np.uint8), np.zeros((2, 2), np.uint8))


def test_model_layer_imports_no_qt():
    code = ("import sys, photoforge.core.document, photoforge.core.history, photoforge.ops.mask\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'PySide6', 'PyQt5', 'PyQt6', 'shiboken6', 'torch'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(history_module.__file__).parents[2]).stdout
    assert out.strip() == "[]"
