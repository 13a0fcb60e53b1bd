"""numba cache locator for the frozen app, named by packaging/rthook_photoforge.py.

PyInstaller gives bundled code relative file names, so numba's NUMBA_CACHE_DIR locator (which
needs the source file) never applies there and numba falls back to ~/.cache/numba. This one
keeps numba's frozen-app behaviour (kernels keyed on the executable) but puts the cache in
NUMBA_CACHE_DIR, beside PhotoForge's other caches. Imported by numba only, never by the app.
"""
from __future__ import annotations

import os

from numba.core import config
from numba.core.caching import UserWideCacheLocator


class FrozenAppCacheLocator(UserWideCacheLocator):
    def __init__(self, py_func, py_file):
        super().__init__(py_func, py_file)
        if config.CACHE_DIR:
            self._cache_path = os.path.join(config.CACHE_DIR, self.get_suitable_cache_subpath(py_file))
