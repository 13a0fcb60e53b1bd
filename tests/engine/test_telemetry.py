"""Running models leaves nothing outside PhotoForge's own folders: no telemetry ids from
ONNX Runtime (~/.cache/Microsoft/DeveloperTools/.onnxruntime) or OpenVINO (~/intel/…)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PHOTOFORGE_", "XDG_", "ORT_")) and k not in ("CI", "TF_BUILD", "JENKINS_URL")}
    env.update(HOME=str(home), PYTHONPATH=str(ROOT), PHOTOFORGE_THREADS="1")
    return env


def _photoforge(env, *args):
    return subprocess.run([sys.executable, "-m", "photoforge", *map(str, args)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_running_models_on_both_runtimes_leaves_no_telemetry_files(tmp_path):
    from photoforge.engine import packs
    from photoforge.engine.catalog import get_model

    model = get_model("span-x2")
    built = packs.build(model)
    home = tmp_path / "home"
    home.mkdir()
    env = _env(home)
    where = subprocess.run([sys.executable, "-c", "from photoforge.core import paths; "
                            "print(paths.data_dir()); print(paths.cache_dir())"],
                           env=env, capture_output=True, text=True, check=True).stdout.split("\n")
    own = [Path(where[0]), Path(where[1])]
    assert all(home in p.parents for p in own)  # our own folders are under the fake home
    (own[0] / "models").mkdir()
    shutil.copy(built, own[0] / "models" / built.name)
    shutil.copy(built.with_suffix(".json"), own[0] / "models" / built.with_suffix(".json").name)

    work = tmp_path / "work"
    work.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (24, 32, 3), np.uint8)).save(work / "in.png")
    for device in ("cpu", "openvino"):
        result = _photoforge(env, "upscale", work / "in.png", "-o", work / f"{device}.png",
                             "--model", "span-x2", "--device", device, "--tile", "0")
        assert result.returncode == 0, result.stderr
        assert Image.open(work / f"{device}.png").size == (64, 48)

    outside = sorted(str(p.relative_to(home)) for p in home.rglob("*")
                     if not any(p == o or o in p.parents or p in o.parents for o in own))
    assert outside == []
    assert not (home / "intel").exists()
    assert not (home / ".cache" / "Microsoft").exists()
