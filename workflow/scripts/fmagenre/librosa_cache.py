"""librosa, imported so that one process at a time builds its numba cache.

librosa compiles its typed gufuncs when their module is first imported and caches them on disk
(``cache=True``). Its submodules load lazily, so processes compile them in different orders. When two
processes compile into a cold cache at once, they can write a gufunc's kernel and its wrapper with
different ABI tags (numba issue #10128, open in numba 0.68). Every later process that loads that pair
crashes with a segmentation fault on the first call. Parallel Snakemake jobs on a fresh install hit
exactly this. :func:`import_librosa` builds that cache once under an exclusive lock beside it,
loading the gufunc modules in one fixed order, and then leaves a marker keyed by the numba version
and the modules' source stamps. Later processes see the marker and import librosa lazily as usual
(loading all four modules costs ~4 s even from a warm cache).

Use ``from fmagenre.librosa_cache import librosa`` wherever the package or its tests need librosa.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import tempfile
from pathlib import Path
from types import ModuleType

# The librosa modules that define typed (eagerly compiled) numba gufuncs or ufuncs with cache=True;
# tests/unit/test_librosa_cache.py checks the list against librosa's source.
EAGER_NUMBA_MODULES = (
    "librosa.core.audio",
    "librosa.core.pitch",
    "librosa.util.utils",
    "librosa.beat",
)
LOCK_NAME = "fmagenre-numba-cache.lock"


def cache_lock_path() -> Path:
    """The lock file, beside the cache numba writes librosa's functions to.

    numba uses ``$NUMBA_CACHE_DIR`` when set, else the ``__pycache__`` beside librosa's source when
    writable, else a per-user directory; the temp directory stands in for that last one.
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return Path(os.environ["NUMBA_CACHE_DIR"]) / LOCK_NAME
    spec = importlib.util.find_spec("librosa")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("librosa is not installed: pip install -r requirements.txt")
    in_tree = Path(next(iter(spec.submodule_search_locations))) / "__pycache__"
    if os.access(in_tree, os.W_OK) or (not in_tree.exists() and os.access(in_tree.parent, os.W_OK)):
        return in_tree / LOCK_NAME
    return Path(tempfile.gettempdir()) / LOCK_NAME


def _ready_marker(lock: Path) -> Path:
    """The marker of a complete cache for this numba and these librosa sources (stale on reinstall:
    numba recompiles when a source's stamp changes, and so must the lock)."""
    stamps = [importlib.metadata.version("numba")]
    for name in EAGER_NUMBA_MODULES:
        spec = importlib.util.find_spec(name)
        stat = os.stat(spec.origin)
        stamps.append(f"{spec.origin}:{stat.st_mtime_ns}:{stat.st_size}")
    key = hashlib.sha256("\n".join(stamps).encode()).hexdigest()[:16]
    return lock.with_name(f"fmagenre-numba-cache-{key}.ready")


def import_librosa() -> ModuleType:
    """librosa, its numba cache for the eagerly compiled modules built under the lock if needed."""
    lock = cache_lock_path()
    ready = _ready_marker(lock)
    if not ready.exists():
        lock.parent.mkdir(parents=True, exist_ok=True)
        with open(lock, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
            if not ready.exists():  # else another process built it while this one waited
                for name in EAGER_NUMBA_MODULES:
                    importlib.import_module(name)
                ready.touch()
    return importlib.import_module("librosa")


librosa = import_librosa()
