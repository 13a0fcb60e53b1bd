"""The one cache of compiled models: bounded, least recently used let go first, close()."""
from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

from photoforge.engine import inference, packs
from photoforge.engine.adapters import Rgb
from photoforge.engine.registry import ModelDescriptor, UserFile


def _scale_model(path, gain):
    """input × gain, any size: a different file (and hash) per gain."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Mul", ["input", "gain"], ["output"])], "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [numpy_helper.from_array(np.array(gain, np.float32), "gain")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    return path


@pytest.fixture
def models(tmp_path):
    found = []
    for n in range(inference.MAX_RUNNERS + 2):
        path = _scale_model(tmp_path / f"gain{n}.onnx", float(n + 1))
        found.append(ModelDescriptor(id=f"gain{n}", task="test", title="", description="", speed="",
                                     licence="test", source=UserFile(str(path), packs.sha256_of(path)),
                                     adapter=Rgb()))
    inference.close()
    yield found
    inference.close()


def _compiled(runner):
    return weakref.ref(runner.selection.backend)


def test_runner_cache_is_bounded_and_lets_go_of_the_least_recently_used(models):
    x = np.ones((1, 3, 8, 8), np.float32)
    alive = []
    for n, model in enumerate(models):
        runner = inference.runner_for(model, device="cpu", precision="fp32", threads=1)
        np.testing.assert_array_equal(runner.run(x), x * (n + 1))
        alive.append(_compiled(runner))
        if n == 3:  # using the first again makes the second the oldest
            inference.runner_for(models[0], device="cpu", precision="fp32", threads=1)
        del runner
        assert len(inference.RUNNERS) == min(n + 1, inference.MAX_RUNNERS)
    gc.collect()
    # Six models through a cache of four: the two least recently used were let go.
    assert [ref() is not None for ref in alive] == [True, False, False, True, True, True]
    assert inference.last_device_label() == "onnxruntime CPU fp32"


def test_close_lets_go_of_every_compiled_model(models):
    refs = []
    for model in models[:3]:
        runner = inference.runner_for(model, device="cpu", precision="fp32", threads=1)
        runner.run(np.zeros((1, 3, 4, 4), np.float32))
        refs.append(_compiled(runner))
    first = inference.runner_for(models[0], device="cpu", precision="fp32", threads=1)
    del runner
    inference.close()
    gc.collect()
    assert len(inference.RUNNERS) == 0 and inference.last_device_label() is None
    assert [ref() for ref in refs] == [None, None, None]
    # A runner someone still holds works on: it selects and compiles again.
    np.testing.assert_array_equal(first.run(np.ones((1, 3, 4, 4), np.float32)), 1.0)
    assert inference.runner_for(models[0], device="cpu", precision="fp32", threads=1) is not first
