"""PyInstaller runtime hook: runs in the frozen app before any of its own code.

numba keeps compiled kernels (PatchMatch, content-aware fill) in a cache that must be
writable; the bundle folder may not be, so point it at the user cache dir. Frozen code has
relative file names, which numba's own NUMBA_CACHE_DIR locator rejects: a small locator
(photoforge/app/_numba_locator.py) honours it for the frozen app."""
import os


def _numba_cache() -> None:
    os.environ.setdefault("NUMBA_CACHE_LOCATOR_CLASSES", "photoforge.app._numba_locator.FrozenAppCacheLocator")
    if os.environ.get("NUMBA_CACHE_DIR"):
        return
    base = os.environ.get("PHOTOFORGE_CACHE_DIR")
    if not base:
        import platformdirs

        base = platformdirs.user_cache_dir("photoforge")
    path = os.path.join(base, "numba")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:  # read-only home: numba then runs uncached, which is only slower
        return
    os.environ["NUMBA_CACHE_DIR"] = path


_numba_cache()
