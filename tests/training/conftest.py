"""Photos for the training tests: the README samples, which the corpus leaves out of
training entirely (training/corpus.py HELD_OUT), shrunk so the tests stay fast."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "resources" / "samples"


def sample(name: str, side: int | None = None) -> np.ndarray:
    rgb = np.ascontiguousarray(cv2.imread(str(SAMPLES / name), cv2.IMREAD_COLOR)[..., ::-1])
    if side:
        f = side / max(rgb.shape[:2])
        rgb = cv2.resize(rgb, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    return rgb


@pytest.fixture(scope="session")
def small_photos() -> list[np.ndarray]:
    return [sample("astronaut.jpg", 256), sample("coffee.jpg", 256)]


@pytest.fixture(scope="session")
def held_out_photos() -> list[np.ndarray]:
    return [sample("astronaut.jpg"), sample("coffee.jpg")]
