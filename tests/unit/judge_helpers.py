"""Paths of the musicnn weights (made by `make setup`) and of the shared reference outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "resources" / "musicnn"
REFERENCE = ROOT.parent / "shared" / "reference" / "musicnn"
MODELS = ("MSD_musicnn", "MTT_musicnn")


def require_weights() -> Path:
    """The converted weights; a clear failure (not a skip) when setup has not run."""
    if not (WEIGHTS / "manifest.json").is_file():
        pytest.fail(f"{WEIGHTS} is incomplete: run `make setup` first (make test does it)")
    return WEIGHTS


def reference_files() -> list[Path]:
    files = sorted(REFERENCE.glob("*.npz"))
    if not files:
        pytest.fail(
            f"no musicnn reference outputs under {REFERENCE} "
            "(the shared/ folder beside the checkout)"
        )
    return files
