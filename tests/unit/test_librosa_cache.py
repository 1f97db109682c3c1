"""librosa's numba cache, built by concurrent processes on a cold cache, loads without crashing.

Without the lock in fmagenre.librosa_cache, three processes importing librosa's modules in different
orders into a cold cache left a cache that crashed the next process (segmentation fault, 3 of 3
trials: numba issue #10128). The make test run on a fresh clone crashed the same way.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fmagenre.librosa_cache import EAGER_NUMBA_MODULES, LOCK_NAME, cache_lock_path, librosa

SCRIPTS = Path(__file__).resolve().parents[2] / "workflow" / "scripts"

# Each worker then loads librosa's numba modules in a different order (a no-op after the package's
# import, which has loaded them all; without its lock, the order that crashed).
WORKERS = (
    "import librosa.util.utils, librosa.core.audio, librosa.core.pitch, librosa.beat",
    "import librosa.beat, librosa.core.pitch, librosa.core.audio, librosa.util.utils",
    "import librosa.core.pitch, librosa.beat, librosa.util.utils, librosa.core.audio",
)
PRELUDE = (
    "import numpy as np\n"
    "from fmagenre.librosa_cache import librosa\n"
    "y = np.random.default_rng(0).standard_normal(22050).astype(np.float32)\n"
)
# A later process: every gufunc family loaded from the cache the workers left, then called.
USE_ALL = PRELUDE + (
    "librosa.feature.chroma_stft(y=y, sr=22050)\n"
    "librosa.zero_crossings(y)\n"
    "librosa.util.localmax(y)\n"
    "librosa.beat.beat_track(y=y, sr=22050)\n"
    "print('loaded and called')\n"
)


def _numba_decorated_modules() -> set[str]:
    """The librosa modules whose source applies numba's guvectorize, or vectorize with signatures."""
    root = Path(librosa.__file__).parent
    found = set()
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            # numpy's vectorize (also used by librosa) never takes a signature list first
            typed = isinstance(node.args[0], ast.List)
            if name == "guvectorize" or (name == "vectorize" and typed):
                parts = path.relative_to(root.parent).with_suffix("").parts
                found.add(".".join(parts))
    return found


def test_the_lock_covers_every_eagerly_compiled_librosa_module():
    assert _numba_decorated_modules() <= set(EAGER_NUMBA_MODULES), (
        "librosa gained eagerly compiled numba modules: add them to "
        "fmagenre.librosa_cache.EAGER_NUMBA_MODULES"
    )


def test_the_lock_sits_in_numba_cache_dir_when_set(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert cache_lock_path() == tmp_path / LOCK_NAME


def test_concurrent_cold_cache_imports_leave_a_loadable_cache(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"), PYTHONPATH=str(SCRIPTS))
    workers = [
        subprocess.Popen([sys.executable, "-c", PRELUDE + calls], env=env, stderr=subprocess.PIPE)
        for calls in WORKERS
    ]
    for worker in workers:
        _, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err.decode()[-2000:]
    later = subprocess.run(
        [sys.executable, "-c", USE_ALL], env=env, capture_output=True, text=True, timeout=600
    )
    if later.returncode < 0:
        pytest.fail(f"a process loading the cache crashed (signal {-later.returncode})")
    assert later.returncode == 0, later.stderr[-2000:]
    assert "loaded and called" in later.stdout
    # Once the cache is built, importing stays lazy: no process pays for modules it never uses.
    lazy = subprocess.run(
        [sys.executable, "-c", PRELUDE + "import sys; print('librosa.beat' in sys.modules)"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert lazy.stdout.strip() == "False", lazy.stderr[-2000:]
