"""The layers never reach up (import-linter contracts in pyproject.toml), the code passes
ruff's small rule set, and importing the CLI or the window starts no runtime or torch."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "photoforge"


def test_import_contracts_hold():
    """pyproject.toml's import-linter contracts: cli > ui > app > ops > engine > core, no Qt
    below ui, no torch in the package, no import circles inside a package."""
    result = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                             "lint_imports_command()"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(" KEPT") == 4


def test_the_contracts_catch_a_layer_reaching_up(tmp_path):
    """The linter is not vacuous: a core module importing ops breaks the layers contract."""
    import shutil

    copy = tmp_path / "repo"
    shutil.copytree(PACKAGE, copy / "photoforge")
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    (copy / "photoforge" / "core" / "reach_up.py").write_text("from photoforge.ops import mask\n")
    result = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                             "lint_imports_command()"], capture_output=True, text=True, cwd=copy,
                            env={**os.environ, "PYTHONPATH": str(copy)})
    assert result.returncode != 0 and "photoforge.core.reach_up -> photoforge.ops.mask" in result.stdout


def test_ruff_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "photoforge", "tests", "bench", "training"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_importing_cli_loads_no_runtime_or_torch():
    code = ("import sys, photoforge.cli, photoforge.ops.upscale\n"
            "heavy = {'torch', 'onnxruntime', 'openvino', 'PySide6'} & set(sys.modules)\n"
            "print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout.strip()
    assert out == "[]"


def test_the_gui_import_path_has_no_torch_or_runtime():
    code = ("import sys, photoforge.ui.main_window\n"
            "print(sorted({'torch', 'onnxruntime', 'openvino'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True, env={**os.environ,
                                                                "QT_QPA_PLATFORM": "offscreen"}).stdout
    assert out.strip() == "[]"
