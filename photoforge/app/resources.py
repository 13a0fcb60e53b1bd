"""Where the app's resource files are: the .desktop/AppStream sources, icons and samples.

In a source checkout (or an editable install) they are the repository's resources/ folder;
in the frozen app (packaging/photoforge.spec) the bundle's resources/ folder.
"""
from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path | None:
    bundle = getattr(sys, "_MEIPASS", None)
    candidates = [Path(bundle) / "resources"] if bundle else []
    candidates.append(Path(__file__).resolve().parents[2] / "resources")
    for path in candidates:
        if (path / "photoforge.desktop").is_file():
            return path
    return None
