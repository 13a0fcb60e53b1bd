"""Undo/redo for a Document, bounded in bytes rather than in steps.

A step keeps only what it changed: small before/after patches when the size stays, whole
states when it changes (an upscale). A count limit would be wrong both ways: 50 brush
strokes cost kilobytes, 50 upscales of a scan cost gigabytes. So once the steps held in
memory pass `memory_budget`, the oldest are written to a private temp folder and read back
when undone, and once that folder passes `disk_budget` the oldest steps are forgotten.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Union

import numpy as np

MiB = 1 << 20
GiB = 1 << 30
# The fill's sampling and exclude areas: masks of their own, painted like the damage mask.
AREAS = ("sample", "exclude")
TARGETS = ("image", "alpha", "mask", *AREAS)


@dataclass(frozen=True)
class Patch:
    """A rectangle of one target whose top-left corner is (y0, x0)."""

    target: str  # one of TARGETS
    y0: int
    x0: int
    before: np.ndarray
    after: np.ndarray

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"patch target must be one of {TARGETS}, not {self.target!r}")
        if self.before.shape != self.after.shape or self.before.dtype != self.after.dtype:
            raise ValueError("a patch's before and after must have the same shape and dtype")


@dataclass(frozen=True)
class State:
    """Everything a size-changing step replaces; `meta` holds ImageData metadata fields,
    `areas` the non-empty ones of AREAS (an area left out is empty, so most states pay
    nothing for them), `infrared` the scan's infrared channel (H×W uint16) where it has one
    that lines up with these pixels."""

    pixels: np.ndarray
    alpha: np.ndarray | None
    mask: np.ndarray
    meta: dict = field(default_factory=dict)
    areas: dict = field(default_factory=dict)
    infrared: np.ndarray | None = None


@dataclass(frozen=True)
class PatchStep:
    label: str
    patches: list[Patch]


@dataclass(frozen=True)
class ReplaceStep:
    label: str
    before: State
    after: State


Step = Union[PatchStep, ReplaceStep]


class Target(Protocol):
    """What History changes; Document implements it."""

    def settle(self) -> None:
        """Called before undo/redo/goto: finish anything open (a brush stroke) so that it
        becomes a step of its own first."""

    def write_patches(self, patches: list[tuple[str, int, int, np.ndarray]]) -> None: ...

    def restore_state(self, state: State) -> None: ...


def _write_arrays(path: Path, arrays: list[np.ndarray]) -> list[int]:
    """Append the arrays' raw bytes to one file per step (dtype and shape stay in memory:
    the file is private and short-lived) and return each one's offset."""
    offsets = []
    with open(path, "wb") as fh:
        for array in arrays:
            offsets.append(fh.tell())
            array.tofile(fh)
    return offsets


class _Slot:
    """One array of a step, either in memory or in its step's spill file."""

    __slots__ = ("array", "path", "offset", "dtype", "shape", "nbytes")

    def __init__(self, array: np.ndarray) -> None:
        if array.flags.writeable:  # nobody may change what undo will restore
            array = array.copy()
            array.flags.writeable = False
        self.array: np.ndarray | None = array
        self.path: Path | None = None
        self.offset, self.dtype, self.shape, self.nbytes = 0, array.dtype, array.shape, array.nbytes

    def load(self) -> np.ndarray:
        if self.array is not None:
            return self.array
        count = int(np.prod(self.shape))
        return np.fromfile(self.path, self.dtype, count, offset=self.offset).reshape(self.shape)


_serials = itertools.count(1)


class _Entry:
    def __init__(self, step: Step) -> None:
        self.serial = next(_serials)  # never reused, so autosave can tell which steps it wrote
        self.label = step.label
        self.replace = isinstance(step, ReplaceStep)
        self.path: Path | None = None
        if self.replace:
            self.meta = (dict(step.before.meta), dict(step.after.meta))
            before, after = step.before, step.after
            infrared = None if before.infrared is None else _Slot(before.infrared)
            # Most steps keep the scan's infrared as it was: one slot, counted and spilled once.
            infrared_after = infrared if after.infrared is before.infrared else \
                None if after.infrared is None else _Slot(after.infrared)
            self.states = tuple((_Slot(s.pixels), None if s.alpha is None else _Slot(s.alpha), _Slot(s.mask), ir)
                                for s, ir in ((before, infrared), (after, infrared_after)))
            self.areas = tuple({name: _Slot(a) for name, a in s.areas.items()}
                               for s in (step.before, step.after))
        else:
            self.patches = [(p.target, p.y0, p.x0, _Slot(p.before), _Slot(p.after))
                            for p in step.patches]

    def slots(self) -> Iterator[_Slot]:
        """Each slot once (a state's infrared may be shared by both states)."""
        if self.replace:
            shared = self.states[0][3]
            yield from (s for n, state in enumerate(self.states) for s in state
                        if s is not None and not (n and s is shared))
            yield from (s for areas in self.areas for s in areas.values())
        else:
            for *_, before, after in self.patches:
                yield before
                yield after

    @property
    def nbytes(self) -> int:
        return sum(s.nbytes for s in self.slots())

    @property
    def targets(self) -> frozenset[str]:
        return frozenset(TARGETS) if self.replace else frozenset(p[0] for p in self.patches)

    def data(self, forward: bool) -> State | list[tuple[str, int, int, np.ndarray]]:
        """What applying the step writes, in the order to write it."""
        if self.replace:
            return self.state(forward)
        order = self.patches if forward else reversed(self.patches)
        return [(t, y, x, (after if forward else before).load()) for t, y, x, before, after in order]

    def state(self, after: bool) -> State:
        pixels, alpha, mask, infrared = (None if s is None else s.load() for s in self.states[after])
        return State(pixels, alpha, mask, dict(self.meta[after]),
                     {name: s.load() for name, s in self.areas[after].items()}, infrared)

    def apply(self, target: Target, forward: bool) -> None:
        data = self.data(forward)  # read it all first: a failed read changes nothing
        target.restore_state(data) if self.replace else target.write_patches(data)


class History:
    """Undo stack of steps already applied to a Target; see the module docstring."""

    def __init__(self, memory_budget: int = 512 * MiB, disk_budget: int = 8 * GiB,
                 temp_root: str | os.PathLike[str] | None = None) -> None:
        self._entries: list[_Entry] = []
        self._index = 0
        self._clean: int | None = 0
        self._memory_budget, self._disk_budget = int(memory_budget), int(disk_budget)
        self._mem = self._disk = 0
        self._temp_root = temp_root
        self._dir: Path | None = None
        self._finalizer: weakref.finalize | None = None
        self._names = itertools.count()
        self.pruned_count = 0  # steps forgotten to stay within disk_budget
        self.listeners: list[Callable[[], None]] = []

    # ------------------------------------------------------------ state
    index = property(lambda self: self._index, doc="Number of applied steps.")
    can_undo = property(lambda self: self._index > 0)
    can_redo = property(lambda self: self._index < len(self._entries))
    is_clean = property(lambda self: self._clean == self._index)
    clean_index = property(lambda self: self._clean, doc="Position of the clean point, or None "
                           "if it was on a branch since dropped.")
    nbytes_in_memory = property(lambda self: self._mem)
    nbytes_on_disk = property(lambda self: self._disk)
    spill_dir = property(lambda self: self._dir)

    @property
    def labels(self) -> list[str]:
        return [e.label for e in self._entries]

    def __len__(self) -> int:
        return len(self._entries)

    def step_targets(self, index: int) -> frozenset[str]:
        """Which of TARGETS step `index` (0 = oldest) changes."""
        return self._entries[index].targets

    def step_id(self, index: int) -> int:
        """An id for step `index` that no other step in this process ever gets, however
        the history shifts (pruning, a dropped redo branch); for incremental autosave."""
        return self._entries[index].serial

    def peek(self, index: int, forward: bool = False) -> State | list[tuple[str, int, int, np.ndarray]]:
        """What undoing (or, with `forward`, redoing) step `index` would write, without
        writing it: a State, or (target, y0, x0, array) patches in the order to apply."""
        return self._entries[index].data(forward)

    def step(self, index: int) -> Step:
        """Step `index` as pushed, its spilled arrays read back from disk; for saving a
        project one step at a time."""
        entry = self._entries[index]
        if entry.replace:
            return ReplaceStep(entry.label, entry.state(False), entry.state(True))
        return PatchStep(entry.label, [Patch(t, y, x, b.load(), a.load())
                                       for t, y, x, b, a in entry.patches])

    def restore(self, steps: Iterable[Step], index: int, clean: int | None,
                pruned_count: int = 0) -> None:
        """Refill this empty History with steps read back from a project, the target being
        already in the state after the first `index` of them. They arrive one at a time,
        so the budgets spill (or forget) the oldest as usual while they load."""
        if self._entries:
            raise RuntimeError("restore() needs an empty history")
        total = 0
        for step in steps:
            self.push(step)
            total += 1
        if not 0 <= index <= total or (clean is not None and not 0 <= clean <= total):
            raise ValueError(f"history position {index} or clean point {clean} is outside 0…{total}")
        dropped = total - len(self._entries)  # only ever the oldest: see _enforce
        if index < dropped:  # what is left lies beyond steps that are gone: unreachable
            self._release(self._entries)
            self._entries.clear()
        self._index = max(index - dropped, 0)
        self._clean = clean - dropped if clean is not None and clean >= dropped else None
        self.pruned_count = pruned_count + dropped
        self._notify()

    def _budget(name: str) -> property:  # noqa: N805 - a property factory used below
        def set_budget(self, value: int) -> None:
            setattr(self, name, int(value))
            self._enforce()
            self._notify()
        return property(lambda self: getattr(self, name), set_budget)

    memory_budget = _budget("_memory_budget")  # bytes of steps kept in RAM (settable)
    disk_budget = _budget("_disk_budget")  # bytes of steps kept in the spill folder
    del _budget

    # ------------------------------------------------------------ actions
    def push(self, step: Step) -> None:
        """Record a change the caller has already applied; any redo steps are dropped."""
        entry = _Entry(step)
        self._release(self._entries[self._index:])
        del self._entries[self._index:]
        if self._clean is not None and self._clean > self._index:
            self._clean = None  # the saved state was on the branch just dropped
        self._entries.append(entry)
        self._mem += entry.nbytes
        self._index += 1
        self._enforce()
        self._notify()

    def undo(self, target: Target) -> bool:
        target.settle()
        if not self.can_undo:
            return False
        self._entries[self._index - 1].apply(target, forward=False)
        self._index -= 1
        self._notify()
        return True

    def redo(self, target: Target) -> bool:
        target.settle()
        if not self.can_redo:
            return False
        self._entries[self._index].apply(target, forward=True)
        self._index += 1
        self._notify()
        return True

    def goto(self, target: Target, index: int) -> None:
        """Undo or redo until `index` steps are applied."""
        target.settle()
        if not 0 <= index <= len(self._entries):
            raise IndexError(f"history index {index} is outside 0…{len(self._entries)}")
        # A replace step's state is complete, so the steps beyond it need not be replayed.
        if index < self._index:
            skip = [i for i in range(index, self._index) if self._entries[i].replace]
            if skip:
                self._entries[skip[0]].apply(target, forward=False)
                self._index = skip[0]
            while self._index > index:
                self._entries[self._index - 1].apply(target, forward=False)
                self._index -= 1
        elif index > self._index:
            skip = [i for i in range(self._index, index) if self._entries[i].replace]
            if skip:
                self._entries[skip[-1]].apply(target, forward=True)
                self._index = skip[-1] + 1
            while self._index < index:
                self._entries[self._index].apply(target, forward=True)
                self._index += 1
        self._notify()

    def mark_clean(self) -> None:
        self._clean = self._index
        self._notify()

    def close(self) -> None:
        """Forget every step and delete the spill folder."""
        self._release(self._entries)
        self._entries.clear()
        self._clean = 0 if self.is_clean else None
        self._index = 0
        if self._finalizer is not None:
            self._finalizer()
        self._dir = self._finalizer = None
        self._notify()

    # ------------------------------------------------------------ budget
    def _enforce(self) -> None:
        # The newest step is never spilled: it is the likeliest undo, and its "after" is
        # usually the document's current image, so writing it out would free nothing.
        while self._mem > self._memory_budget:
            pos = next((i for i, e in enumerate(self._entries[:-1]) if e.path is None), None)
            if pos is None:
                break
            try:
                self._spill(self._entries[pos])
            except OSError:
                self._discard(pos)  # no room on disk either: the step cannot be kept
        while self._disk > self._disk_budget and self._entries:
            if self._index > 0:
                self._discard(0)
            else:  # only redo steps left: forget the newest spilled one instead
                self._discard(max(i for i, e in enumerate(self._entries) if e.path))

    def _spill(self, entry: _Entry) -> None:
        if self._dir is None:
            self._dir = Path(tempfile.mkdtemp(prefix="photoforge-undo-", dir=self._temp_root))
            self._finalizer = weakref.finalize(self, shutil.rmtree, self._dir, ignore_errors=True)
        slots = [s for s in entry.slots() if s.array is not None]
        path = self._dir / f"{next(self._names)}.bin"
        try:
            offsets = _write_arrays(path, [s.array for s in slots])
        except BaseException:
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        entry.path = path
        for slot, offset in zip(slots, offsets):
            slot.array, slot.path, slot.offset = None, path, offset
            self._mem -= slot.nbytes
            self._disk += slot.nbytes

    def _discard(self, pos: int) -> None:
        """Forget the step at `pos` and every step beyond it in the direction away from the
        current state, since those could no longer be reached."""
        if pos < self._index:
            gone, self._entries = self._entries[:pos + 1], self._entries[pos + 1:]
            self._index -= len(gone)
            if self._clean is not None:
                self._clean = self._clean - len(gone) if self._clean >= len(gone) else None
        else:
            gone, self._entries = self._entries[pos:], self._entries[:pos]
            if self._clean is not None and self._clean > len(self._entries):
                self._clean = None
        self.pruned_count += len(gone)
        self._release(gone)

    def _release(self, entries: list[_Entry]) -> None:
        for entry in entries:
            for slot in entry.slots():
                if slot.array is not None:
                    self._mem -= slot.nbytes
                else:
                    self._disk -= slot.nbytes
                slot.array = None
            if entry.path is not None:
                with contextlib.suppress(OSError):
                    entry.path.unlink()

    def _notify(self) -> None:
        for listener in list(self.listeners):
            listener()
