"""End-to-end fixtures: real Snakemake runs of the tiny synthetic config in temporary work dirs."""

from __future__ import annotations

from pathlib import Path

import pytest
from runner import snakemake


@pytest.fixture(scope="session")
def workflow_run(tmp_path_factory) -> Path:
    """A completed run of the whole tiny workflow (every stage); tests must not modify it."""
    workdir = tmp_path_factory.mktemp("workflow_run")
    snakemake(workdir, "--cores", "2")
    return workdir


@pytest.fixture()
def data_run(tmp_path_factory) -> Path:
    """A fresh run of the data stage only (up to the packed sets), for tests that modify inputs."""
    workdir = tmp_path_factory.mktemp("data_run")
    snakemake(workdir, "--cores", "2", "data_stage")
    return workdir
