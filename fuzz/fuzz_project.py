"""Coverage-guided fuzzing of the project (.pforge) and autosave-session reader with atheris.

    pip install -e '.[fuzz]'
    python fuzz/fuzz_project.py -max_total_time=300          # five minutes, then a summary
    python fuzz/fuzz_project.py CRASH_FILE                     # replay one input

Seeds: small real projects (a few steps: stroke, image op, size change, mask op) written by
save_project. The contract fuzzed: open_project either returns a Document whose history can
be undone to the start and redone to the end, or raises ProjectError; anything else escaping
is a crash and is saved as crash-<sha1>.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

with atheris.instrument_imports():
    import numpy as np

    from photoforge.core.document import Document
    from photoforge.core.image import ImageData
    from photoforge.core.project import ProjectError, open_project, save_project

_TMP = Path(tempfile.mkdtemp(prefix="pf-fuzz-project-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
_INPUT = _TMP / "input.pforge"


def one_input(data: bytes) -> None:
    _INPUT.write_bytes(data)
    try:
        document = open_project(_INPUT)
    except ProjectError:
        return
    while document.history.can_undo:
        document.undo()
    while document.history.can_redo:
        document.redo()


def _seed_folder() -> str:
    folder = _TMP / "seeds"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for n, (h, w, c, dtype) in enumerate([(12, 16, 3, np.uint8), (9, 7, 1, np.uint16)]):
        pixels = (rng.random((h, w, c)) * (255 if dtype == np.uint8 else 65535)).astype(dtype)
        document = Document(ImageData(pixels))
        stroke = document.begin_stroke(opacity=1.0, hardness=1.0)
        stroke.dab(4, 4, 3)
        stroke.end()
        document.apply_image(ImageData(pixels[::-1].copy()), "Flip")
        document.apply_image(ImageData(np.repeat(np.repeat(pixels, 2, 0), 2, 1)), "Enlarge")
        document.apply_mask(255 - document.mask, "Invert mask")
        document.undo()
        save_project(document, folder / f"seed{n}.pforge")
    return str(folder)


def main() -> None:
    argv = list(sys.argv)
    if not any(not a.startswith("-") for a in argv[1:]):
        argv.append(_seed_folder())
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
