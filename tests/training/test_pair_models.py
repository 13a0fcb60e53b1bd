"""training/pair_models.py: two networks merged into one ONNX graph keep the contract, and the
graph computes what it says: the lower (or mean) of A's logit on the photo and B's on the
mirrored photo, mirrored back."""
from __future__ import annotations

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from training.pair_models import merge


def _net(kernel: list[float], bias: float) -> onnx.ModelProto:
    """image (N3HW) → prob (N1HW): an asymmetric 1×3 convolution, then a sigmoid, so that a
    mirror left out or put on the wrong side changes the output."""
    w = numpy_helper.from_array(np.tile(np.array(kernel, np.float32), (1, 3, 1, 1)).reshape(1, 3, 1, 3), "w")
    b = numpy_helper.from_array(np.array([bias], np.float32), "b")
    nodes = [helper.make_node("Conv", ["image", "w", "b"], ["logit"], pads=[0, 1, 0, 1]),
             helper.make_node("Sigmoid", ["logit"], ["prob"])]
    graph = helper.make_graph(nodes, "net", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, "H", "W"])],
                              [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["N", 1, "H", "W"])], [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _logit(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    p = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
    return np.log(p.astype(np.float64) / (1 - p))


@pytest.mark.parametrize("how", ["min", "mean", "agree:1", "wide:3"])
def test_the_pair_is_a_on_the_photo_and_b_on_its_mirror(how):
    a, b = _net([1.0, 0.0, -2.0], 0.1), _net([0.5, -1.0, 0.0], -0.2)
    x = np.random.default_rng(1).random((2, 3, 5, 7), dtype=np.float32)
    la = _logit(a, x)
    lb = _logit(b, np.ascontiguousarray(x[..., ::-1]))[..., ::-1]
    # wide: where either network's map stays high under a 3 × 3 opening, the higher one
    opened = np.stack([cv2.morphologyEx(h, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
                       for h in np.maximum(la, lb)[:, 0].astype(np.float32)])[:, None]
    want = {"min": np.minimum(la, lb), "mean": (la + lb) / 2,
            "agree:1": np.maximum(np.minimum(la, lb), np.minimum((la + lb) / 2, 1.0)),
            "wide:3": np.maximum(np.minimum(la, lb), opened)}[how]
    pair = merge(a, b, how)
    assert [i.name for i in pair.graph.input] == ["image"] and [o.name for o in pair.graph.output] == ["prob"]
    got = _logit(pair, x)
    np.testing.assert_allclose(got, want, atol=1e-4)
    # without the mirror B's asymmetric kernel reads the other way: a different map
    assert np.abs(_logit(merge(a, b, how, flip=False), x) - got).max() > 0.1


def test_a_network_without_a_sigmoid_output_and_an_unknown_combination_are_refused():
    a = _net([1.0, 0.0, -2.0], 0.1)
    a.graph.node.pop()
    a.graph.output[0].name = "logit"
    with pytest.raises(ValueError, match="Sigmoid"):
        merge(a, _net([0.5, -1.0, 0.0], -0.2))
    with pytest.raises(ValueError, match="min, mean, agree:K or wide:K"):
        merge(_net([1.0, 0.0, -2.0], 0.1), _net([0.5, -1.0, 0.0], -0.2), "median")
