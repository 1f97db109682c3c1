"""Fast checks of profiles/*: every key is a real Snakemake option, and the settings that matter."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from snakemake.cli import get_argument_parser

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ROOT / "profiles"
GPU_RULES = {"train_model", "overfit_check", "score_tracks", "optimise_genre", "invert_genre",
             "audio_roundtrip"}


def _parse(name: str):
    """Parse the profile as Snakemake's CLI does; unknown keys (typos) exit with an error."""
    return get_argument_parser(profiles=[str(PROFILES / name)]).parse_args([])


@pytest.mark.parametrize("name", ["default", "local-gpu", "slurm"])
def test_profile_parses(name):
    _parse(name)


def test_kubernetes_profile_is_valid_yaml_naming_its_requirements():
    # Not parsed as CLI options: the kubernetes executor plugin is not installed here.
    text = (PROFILES / "kubernetes" / "profile.yaml").read_text()
    profile = yaml.safe_load(text)
    assert profile["executor"] == "kubernetes"
    assert profile["default-storage-provider"] and profile["container-image"]


def test_slurm_profile_works_without_accounting():
    args = _parse("slurm")
    assert args.executor == "slurm"
    assert args.slurm_status_command == "squeue"
    assert args.latency_wait >= 30
    assert "slurm_partition" in args.default_resources.keys()


def test_gpu_rules_request_a_gpu():
    for name in ("local-gpu", "slurm"):
        per_rule = _parse(name).set_resources
        assert {rule for rule, res in per_rule.items() if "gpu" in res} == GPU_RULES, name
    assert _parse("local-gpu").resources["gpu"].value >= 1
