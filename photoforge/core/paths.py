"""Where PhotoForge keeps built models and caches (overridable for tests and portable use)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs


def data_dir() -> Path:
    path = Path(os.environ.get("PHOTOFORGE_DATA_DIR") or platformdirs.user_data_dir("photoforge"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    path = Path(os.environ.get("PHOTOFORGE_CACHE_DIR") or platformdirs.user_cache_dir("photoforge"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def bundled_models_dir() -> Path | None:
    """Read-only models shipped with the app (packaging/build.sh --with-models): the `models`
    folder beside the frozen app's executable, or PHOTOFORGE_BUNDLED_MODELS."""
    if os.environ.get("PHOTOFORGE_BUNDLED_MODELS"):
        return Path(os.environ["PHOTOFORGE_BUNDLED_MODELS"])
    if getattr(sys, "frozen", False):
        return Path(sys.executable).resolve().parent / "models"
    return None


def wheels_dir() -> Path:
    path = cache_dir() / "wheels"
    path.mkdir(parents=True, exist_ok=True)
    return path
