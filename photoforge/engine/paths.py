"""Where PhotoForge keeps built models and caches (overridable for tests and portable use)."""
from __future__ import annotations

import os
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


def wheels_dir() -> Path:
    path = cache_dir() / "wheels"
    path.mkdir(parents=True, exist_ok=True)
    return path
