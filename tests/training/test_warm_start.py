"""A run started from an exported model (train_damage --init) starts from that model's
behaviour: in eval mode the rebuilt network equals the ONNX file."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from training import onnx_infer  # noqa: E402
from training.model import DamageNet, export_onnx  # noqa: E402
from training.warm_start import from_onnx  # noqa: E402

WIDTHS = (8, 12, 16, 16)


def trained_a_little(seed: int) -> DamageNet:
    """BatchNorm statistics away from their defaults, so the fused export is not trivial."""
    torch.manual_seed(seed)
    m = DamageNet(WIDTHS)
    m.train()
    with torch.no_grad():
        for _ in range(3):
            m(torch.rand(4, 3, 64, 64) * 0.8 + 0.1)
    return m


def test_the_rebuilt_network_equals_the_onnx_file(tmp_path, small_photos):
    path = tmp_path / "m.onnx"
    export_onnx(trained_a_little(0), path)
    x = small_photos[0][:96, :128].astype(np.float32).transpose(2, 0, 1)[None] / 255
    want = onnx_infer.session(path).run(["prob"], {"image": x})[0]
    torch.manual_seed(1)
    calib = torch.from_numpy(small_photos[1][:64, :64].astype(np.float32).transpose(2, 0, 1)[None] / 255)
    model = from_onnx(DamageNet(WIDTHS), path, calib).eval()
    with torch.no_grad():
        got = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)
    fresh = DamageNet(WIDTHS).eval()
    with torch.no_grad():
        assert np.abs(fresh(torch.from_numpy(x)).numpy() - want).max() > 1e-2  # the test can fail


def test_other_widths_are_refused_with_a_message(tmp_path, small_photos):
    path = tmp_path / "m.onnx"
    export_onnx(trained_a_little(0), path)
    calib = torch.rand(1, 3, 32, 32)
    with pytest.raises(ValueError, match="widths"):
        from_onnx(DamageNet((8, 12, 16, 24)), path, calib)
