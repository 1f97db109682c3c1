"""Shared fixtures: the package on sys.path, and a tiny synthetic FMA generated once per session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))


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
