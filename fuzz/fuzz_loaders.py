"""Coverage-guided fuzzing of the image and mask loaders with atheris.

    pip install -e '.[fuzz]'
    python fuzz/fuzz_loaders.py -max_total_time=600          # ten minutes, then a summary
    python fuzz/fuzz_loaders.py CRASH_FILE                     # replay one input

Any libFuzzer flag may be added (-runs=N, -jobs=N, -artifact_prefix=DIR/). Without a corpus
folder the run seeds itself from tests/hostile_corpus.py (files up to 64 KB) in a temporary
folder. The contract fuzzed: load_image either returns an ImageData that satisfies its own
invariants or raises ImageLoadError, and load_mask returns an H×W uint8 array or raises
MaskError; any other exception escaping is a crash and is saved as crash-<sha1>.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

with atheris.instrument_imports():  # Python-level coverage of our code and the pure-Python decoders
    import numpy as np
    import tifffile  # noqa: F401
    from PIL import Image  # noqa: F401

    from photoforge.core.imageio import ImageLoadError, load_image
    from photoforge.ops.mask import MaskError, load_mask

# The --max-pixels check itself is tested; a lower limit here keeps each run to milliseconds
# instead of letting every mutated header allocate hundreds of megapixels.
MAX_PIXELS = 2_000_000
SEED_MAX_BYTES = 64 * 1024
_TMP = Path(tempfile.mkdtemp(prefix="pf-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None))
_INPUT = _TMP / "input.img"  # the loaders read paths and decide by content, not by suffix


def one_input(data: bytes) -> None:
    _INPUT.write_bytes(data)
    try:
        image = load_image(_INPUT, max_pixels=MAX_PIXELS)
    except ImageLoadError as error:
        assert str(error).startswith(f"cannot open '{_INPUT}': "), error
        return
    pixels = image.pixels
    assert pixels.ndim == 3 and pixels.shape[2] in (1, 3) and pixels.dtype in (np.uint8, np.uint16)
    assert image.alpha is None or image.alpha.shape == pixels.shape[:2] and image.alpha.dtype == pixels.dtype
    try:
        mask = load_mask(_INPUT, pixels.shape[:2])
    except MaskError:  # an input whose first decode worked may still fail the second: fine
        return
    assert mask.shape == pixels.shape[:2] and mask.dtype == np.uint8


def _seed_folder() -> str:
    from tests.hostile_corpus import build_corpus

    folder = _TMP / "seeds"
    for path in build_corpus(folder).values():
        if path.stat().st_size > SEED_MAX_BYTES:
            path.unlink()
    return str(folder)


def main() -> None:
    argv = list(sys.argv)
    if not any(not a.startswith("-") for a in argv[1:]):  # no corpus folder or file to replay
        argv.append(_seed_folder())
    if not any(a.startswith("-max_len=") for a in argv):
        argv.append(f"-max_len={SEED_MAX_BYTES}")
    atheris.Setup(argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
