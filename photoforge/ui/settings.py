"""User preferences, persisted with QSettings."""
from __future__ import annotations

from dataclasses import dataclass, fields

from PySide6.QtCore import QSettings

ORG, APP = "PhotoForge", "PhotoForge"


@dataclass
class Preferences:
    device: str = "auto"
    threads: int = 0  # 0 = all cores
    tile: int = -1  # −1 = automatic, 0 = no tiling
    history_mb: int = 1024
    mask_color: str = "#ff2828"
    mask_opacity: float = 0.5
    # While painting: a stroke in progress is written every this often (only its touched
    # tiles, a few ms), so a crash loses at most this much of it. Steps are saved at once.
    autosave_seconds: int = 1
    last_panel: str = "Restore"  # the Actions panel shown at start: the one used last
    # The Restore panel's "Use the infrared channel", as the user last left it on a scan
    # that has one; a batch of files follows it too.
    use_infrared: bool = True

    @classmethod
    def load(cls) -> "Preferences":
        store = QSettings(ORG, APP)
        prefs = cls()
        for f in fields(cls):
            raw = store.value(f"prefs/{f.name}")
            if raw is not None:
                try:
                    setattr(prefs, f.name, _parse(type(getattr(prefs, f.name)), raw))
                except (TypeError, ValueError):
                    pass  # a damaged setting falls back to its default
        return prefs

    def save(self) -> None:
        store = QSettings(ORG, APP)
        for f in fields(self):
            store.setValue(f"prefs/{f.name}", getattr(self, f.name))

    @property
    def tile_option(self) -> int | None:
        return None if self.tile < 0 else self.tile

    @property
    def threads_option(self) -> int | None:
        return self.threads or None


def _parse(kind: type, raw):
    # QSettings hands booleans back as the strings "true"/"false" from its INI and plist
    # stores, and bool("false") is True.
    if kind is bool and isinstance(raw, str):
        if raw.lower() not in ("true", "false", "1", "0"):
            raise ValueError(raw)
        return raw.lower() in ("true", "1")
    return kind(raw)


def recent_files() -> list[str]:
    value = QSettings(ORG, APP).value("recent", [])
    return [value] if isinstance(value, str) else list(value or [])


def add_recent(path: str) -> list[str]:
    files = [path] + [p for p in recent_files() if p != path]
    QSettings(ORG, APP).setValue("recent", files[:10])
    return files[:10]
