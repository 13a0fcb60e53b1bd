"""Where the desktop app writes what a user never needs to read but a bug report does:
tracebacks of unexpected errors, behind the short message the dialog shows."""
from __future__ import annotations

import logging
import logging.handlers

from photoforge.core import paths

log = logging.getLogger("photoforge")
LOG_NAME = "photoforge.log"


def start() -> None:
    """A small rotating log in the data folder (once per process)."""
    if any(getattr(h, "photoforge", False) for h in log.handlers):
        return
    try:
        handler = logging.handlers.RotatingFileHandler(paths.data_dir() / LOG_NAME, maxBytes=1 << 20,
                                                       backupCount=2, encoding="utf-8")
    except OSError:
        return  # no log is better than no app
    handler.photoforge = True
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
