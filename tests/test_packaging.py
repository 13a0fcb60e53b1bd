"""The installable app's inputs: the PyInstaller spec's files, the desktop entry, the
AppStream metainfo, `install-desktop`, bundled models and `--selftest`. The PyInstaller build
itself is too slow for CI; packaging/build.sh runs it and these same checks on the bundle."""
from __future__ import annotations

import ast
import configparser
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "photoforge.spec"
RESOURCES = ROOT / "resources"


def _spec_constants() -> dict:
    """The literal file lists at the top of the spec (it is Python run by PyInstaller)."""
    tree = ast.parse(SPEC.read_text())
    found = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in ("RESOURCE_FILES", "ENTRY", "RUNTIME_HOOKS"):
                found[name] = ast.literal_eval(node.value)
    return found


def test_spec_inputs_exist():
    consts = _spec_constants()
    assert consts["RESOURCE_FILES"], "the spec lists the resource files it bundles"
    for rel in [consts["ENTRY"], *consts["RUNTIME_HOOKS"], *consts["RESOURCE_FILES"]]:
        assert (ROOT / rel).is_file(), rel
    for name in ("build.sh", "photoforge_entry.py", "rthook_photoforge.py"):
        assert (ROOT / "packaging" / name).is_file()
    assert os.access(ROOT / "packaging" / "build.sh", os.X_OK)
    text = SPEC.read_text()
    for excluded in ("torch", "ncnn", "pytest", "tkinter"):
        assert f'"{excluded}"' in text
    compile(text, str(SPEC), "exec")


def test_build_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(ROOT / "packaging" / "build.sh")], check=True)


def test_runtime_hook_points_numba_at_a_writable_cache(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PHOTOFORGE_CACHE_DIR"] = str(tmp_path)
    code = ("import os, runpy; runpy.run_path(%r); print(os.environ['NUMBA_CACHE_DIR'])"
            % str(ROOT / "packaging" / "rthook_photoforge.py"))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == str(tmp_path / "numba") and (tmp_path / "numba").is_dir()


def test_numba_locator_puts_kernels_in_numba_cache_dir(tmp_path):
    """The locator the runtime hook names: compiled kernels land in NUMBA_CACHE_DIR."""
    (tmp_path / "kernel.py").write_text(
        "from numba import njit\n@njit(cache=True)\ndef twice(x):\n    return 2 * x\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"),
               NUMBA_CACHE_LOCATOR_CLASSES="photoforge.app._numba_locator.FrozenAppCacheLocator")
    code = f"import sys; sys.path[:0] = [{str(tmp_path)!r}, {str(ROOT)!r}]; import kernel; print(kernel.twice(21))"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "42"
    assert list((tmp_path / "cache").rglob("kernel.twice-*.nbi")), list(tmp_path.rglob("*"))


def _desktop(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_entry_has_the_required_keys():
    entry = _desktop(RESOURCES / "photoforge.desktop")
    for key in ("Type", "Name", "Exec", "Icon", "Categories", "Comment", "MimeType"):
        assert entry.get(key), key
    assert entry["Type"] == "Application" and entry["Terminal"] == "false"
    assert entry["Exec"].split()[0] == "photoforge" and "%f" in entry["Exec"]
    assert entry["Icon"] == "photoforge"
    assert entry["Categories"].endswith(";") and "Graphics" in entry["Categories"].split(";")


def test_metainfo_is_wellformed_with_id_name_summary_launchable():
    root = ET.parse(RESOURCES / "io.photoforge.PhotoForge.metainfo.xml").getroot()
    assert root.tag == "component" and root.get("type") == "desktop-application"
    assert root.findtext("id") == "io.photoforge.PhotoForge"
    assert root.findtext("name") == "PhotoForge"
    assert root.findtext("summary")
    assert root.findtext("metadata_license") and root.findtext("project_license") == "MIT"
    launchable = root.find("launchable")
    assert launchable is not None and launchable.get("type") == "desktop-id"
    assert launchable.text == "photoforge.desktop"  # the file install-desktop writes


def test_icons_exist():
    from PIL import Image

    svg = ET.parse(RESOURCES / "icons" / "photoforge.svg").getroot()
    assert svg.tag.endswith("svg") and svg.get("viewBox") == "0 0 256 256"
    with Image.open(RESOURCES / "icons" / "photoforge-256.png") as png:
        assert png.size == (256, 256) and png.mode == "RGBA"


def test_install_desktop_into_a_prefix(tmp_path):
    from photoforge.cli import main

    assert main(["install-desktop", "--prefix", str(tmp_path)]) == 0
    share = tmp_path / "share"
    desktop = share / "applications" / "photoforge.desktop"
    entry = _desktop(desktop)
    exe = entry["Exec"].split(" gui ")[0].strip('"')
    assert Path(exe.split(" ")[0].strip('"')).is_file(), entry["Exec"]
    assert entry["Exec"].endswith(" gui %f") and entry["TryExec"] == exe.split(" ")[0].strip('"')
    assert (share / "metainfo" / "io.photoforge.PhotoForge.metainfo.xml").read_bytes() == \
        (RESOURCES / "io.photoforge.PhotoForge.metainfo.xml").read_bytes()
    assert (share / "icons/hicolor/scalable/apps/photoforge.svg").is_file()
    assert (share / "icons/hicolor/256x256/apps/photoforge.png").is_file()
    assert main(["install-desktop", "--prefix", str(tmp_path), "--remove"]) == 0
    assert not desktop.exists()


def test_desktop_exec_quotes_paths_with_spaces():
    from photoforge.app.desktop import desktop_entry

    text = desktop_entry("[Desktop Entry]\nExec=photoforge gui %f\nTryExec=photoforge\n",
                         ["/opt/Photo Forge/photoforge"])
    assert 'Exec="/opt/Photo Forge/photoforge" gui %f' in text
    assert "TryExec=/opt/Photo Forge/photoforge" in text
    assert "Exec=/apps/100%%/photoforge gui %f" in desktop_entry("Exec=x\n", ["/apps/100%/photoforge"])


def test_bundled_models_are_used_read_only(tmp_path, monkeypatch):
    """A model shipped beside the app counts as built; a damaged one is rebuilt into the
    user's data dir, never into the bundle."""
    from photoforge.engine import packs
    from photoforge.engine.catalog import get_model

    monkeypatch.setenv("PHOTOFORGE_DATA_DIR", str(tmp_path / "data"))
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    monkeypatch.setenv("PHOTOFORGE_BUNDLED_MODELS", str(bundle))
    model = get_model("span-x2")
    assert not packs.is_built(model)
    payload = b"not really onnx, but hashed like one"
    (bundle / "span-x2.onnx").write_bytes(payload)
    (bundle / "span-x2.json").write_text(json.dumps({"onnx_sha256": packs.sha256_of(bundle / "span-x2.onnx")}))
    assert packs.onnx_path(model) == bundle / "span-x2.onnx"
    assert packs.is_built(model)
    monkeypatch.setattr(packs.subprocess, "run", lambda *a, **k: pytest.fail("must not download"))
    assert packs.build(model) == bundle / "span-x2.onnx"
    (bundle / "span-x2.onnx").write_bytes(payload[::-1])
    assert not packs.is_built(model)


def test_selftest_passes():
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    result = subprocess.run([sys.executable, "-m", "photoforge", "--selftest"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == "OK"
    assert "PySide6" not in result.stdout


def test_selftest_reports_a_failure(monkeypatch, capsys):
    from photoforge.app import selftest

    def broken():
        raise RuntimeError("no runtime")

    monkeypatch.setattr(selftest, "CHECKS", (("imports", selftest._imports), ("runtime", broken)))
    assert selftest.run() == 1
    out = capsys.readouterr().out
    assert "runtime: FAILED: RuntimeError: no runtime" in out and out.strip().endswith("FAILED")
