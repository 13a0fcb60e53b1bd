"""Small remembered facts about this machine (JSON in the cache folder): which reduced
precisions passed their fidelity check, how fast each model runs here. Losing the file
only costs a re-measurement, so damage reads as empty and writes replace it atomically."""
from __future__ import annotations

import json
import os

from photoforge.core import paths


class KeyedStore:
    def __init__(self, filename: str) -> None:
        self.path = paths.cache_dir() / filename

    def _all(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str):
        return self._all().get(key)

    def put(self, key: str, value) -> None:
        data = self._all()
        data[key] = value
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self.path)
