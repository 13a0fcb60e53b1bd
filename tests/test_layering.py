"""The layers never reach up: no Qt below ui/, torch nowhere in the package, and importing
the CLI starts no runtime."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "photoforge"
QT = {"PySide6", "PyQt5", "PyQt6", "qtpy", "shiboken6"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", ["core", "engine", "ops"])
def test_lower_layers_never_import_qt(layer):
    offenders = [str(p.relative_to(PACKAGE)) for p in (PACKAGE / layer).rglob("*.py")
                 if imported_modules(p) & QT]
    assert offenders == []


def test_core_imports_nothing_above_it():
    above = {"photoforge.engine", "photoforge.ops", "photoforge.ui", "photoforge.cli", "photoforge.app.batch"}
    offenders = []
    for path in (PACKAGE / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if any(node.module == m or node.module.startswith(m + ".") for m in above):
                    offenders.append(f"{path.name}: {node.module}")
    assert offenders == []


def test_torch_is_not_imported_by_the_package():
    # Conversions are torch-free (the FFDNet .pth is read with a restricted unpickler);
    # torch appears only in tests and bench/ as an independent reference.
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if "torch" in imported_modules(p)]
    assert offenders == []


def test_the_check_sees_a_qt_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from PySide6.QtCore import QObject\n")
    assert "PySide6" in imported_modules(bad)


def test_importing_cli_loads_no_runtime_or_torch():
    code = ("import sys, photoforge.cli, photoforge.ops.upscale\n"
            "heavy = {'torch', 'onnxruntime', 'openvino', 'PySide6'} & set(sys.modules)\n"
            "print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=PACKAGE.parent, check=True).stdout.strip()
    assert out == "[]"


def test_the_gui_import_path_has_no_torch_or_runtime():
    code = ("import sys, photoforge.ui.main_window\n"
            "print(sorted({'torch', 'onnxruntime', 'openvino'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=PACKAGE.parent, check=True, env={**__import__("os").environ,
                                                                "QT_QPA_PLATFORM": "offscreen"}).stdout
    assert out.strip() == "[]"
