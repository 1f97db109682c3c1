"""The single-node SLURM cluster fixture (started once per module, always stopped in teardown)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from cluster import ClusterUnavailable, SlurmCluster, ensure_installed

ROOT = Path(__file__).resolve().parents[2]
SLURM_PROFILE = ROOT / "profiles" / "slurm"


def profile_partitions(profile: dict) -> tuple[str, ...]:
    """The partitions the profile names, its default partition first."""
    default = profile["default-resources"]["slurm_partition"]
    others = {
        res["slurm_partition"]
        for res in profile.get("set-resources", {}).values()
        if "slurm_partition" in res
    }
    return (default, *sorted(others - {default}))


def _unavailable(reason: str):
    """Skip with the reason; fail instead where SLURM is required (FMAGENRE_REQUIRE_SLURM=1, CI)."""
    if os.environ.get("FMAGENRE_REQUIRE_SLURM") == "1":
        pytest.fail(f"SLURM required but unavailable: {reason}")
    pytest.skip(f"SLURM unavailable: {reason}")


@pytest.fixture(scope="module")
def slurm_profile() -> dict:
    return yaml.safe_load((SLURM_PROFILE / "profile.yaml").read_text())


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory, slurm_profile):
    reason = ensure_installed()
    if reason:
        _unavailable(reason)
    cluster = SlurmCluster(
        tmp_path_factory.mktemp("slurm"), partitions=profile_partitions(slurm_profile)
    )
    try:
        cluster.start()
    except ClusterUnavailable as error:
        _unavailable(str(error))
    try:
        yield cluster
    finally:
        cluster.stop()
