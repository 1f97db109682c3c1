"""Shared fixtures (a tiny synthetic FMA generated once per session) and the layer markers.

The package is on sys.path through pyproject.toml's ``pythonpath``; each test gets the marker of its
folder (``unit``, ``e2e``, ``slurm``), so ``pytest -m unit`` selects the fast layer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("unit", "e2e", "slurm")


def pytest_collection_modifyitems(items):
    for item in items:
        layer = Path(item.fspath).relative_to(ROOT / "tests").parts[0]
        if layer in LAYERS:
            item.add_marker(getattr(pytest.mark, layer))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def tiny_fma(tmp_path_factory) -> dict:
    """A small synthetic FMA (8 genres x 6 tracks x 4 s, planted faults) shared by the tests.

    Returns the paths dict of :func:`fmagenre.data.synth.generate`. Tests must not modify it;
    copy it first (``shutil.copytree``) when they need to.
    """
    from fmagenre.data.synth import generate

    root = tmp_path_factory.mktemp("tiny_fma")
    return generate(
        metadata_dir=root / "fma_metadata",
        audio_dir=root / "fma_small",
        preset="small",
        tracks_per_genre=6,
        clip_seconds=4.0,
        seed=0,
        faults=True,
    )
