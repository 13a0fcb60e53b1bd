"""Running the exported damage model with ONNX Runtime on a whole image (no torch).

The app will go through photoforge.engine's tiler; this is the reference the bench and
tests use: reflect-pad to the size multiple, one run, crop back.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "photoforge" / "models" / "damage_seg.onnx"
CARD = MODEL.with_suffix(".json")


def session(path: Path = MODEL, threads: int = 2) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def card(path: Path = CARD) -> dict:
    return json.loads(path.read_text())


def predict(sess: ort.InferenceSession, rgb: np.ndarray, multiple: int = 16) -> np.ndarray:
    """H×W×3 uint8 RGB → H×W float32 damage probability."""
    h, w = rgb.shape[:2]
    ph, pw = -h % multiple, -w % multiple
    x = rgb.astype(np.float32).transpose(2, 0, 1)[None] / 255
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="reflect")
    return sess.run(["prob"], {"image": np.ascontiguousarray(x)})[0][0, 0, :h, :w]


def predict_tta(sess: ort.InferenceSession, rgb: np.ndarray, tta: str = "off", mean: str = "logit") -> np.ndarray:
    """predict, averaged over the flipped views of `tta` as the app does
    (photoforge.ops.learned_damage.tta_probability)."""
    from photoforge.ops.learned_damage import tta_probability

    return tta_probability(lambda view, _: predict(sess, view), rgb, tta, mean)
