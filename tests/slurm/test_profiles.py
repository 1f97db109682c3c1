"""Fast checks of profiles/*: every key is a real Snakemake option, and the settings that matter."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from snakemake.cli import get_argument_parser

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ROOT / "profiles"
RULE = re.compile(
    r"^\s*(?:rule|checkpoint) (\w+):(.*?)(?=^\s*(?:rule|checkpoint) \w+:|\Z)", re.M | re.S
)


def _rules_using_the_device_resolver() -> set[str]:
    """Rules whose script reaches fmagenre.device (computed imports, as the code fingerprints are),
    and the rules derived from them with ``use rule``: the only ones that compute on a GPU."""
    from fmagenre.fingerprint import import_closure

    scripts = ROOT / "workflow" / "scripts"
    device = (scripts / "fmagenre" / "device.py").resolve()
    text = "\n".join(path.read_text() for path in sorted((ROOT / "rules").glob("*.smk")))
    rules = set()
    for name, body in RULE.findall(text):
        script = re.search(r'script:\s+"\.\./workflow/scripts/(\w+)\.py"', body)
        if script and device in import_closure(scripts / f"{script.group(1)}.py"):
            rules.add(name)
    for base, derived in re.findall(r"^use rule (\w+) as (\w+)", text, re.M):
        if base in rules:
            rules.add(derived)
    return rules


GPU_RULES = {"train_model", "train_replicate", "overfit_check", "evolution_train"}


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


def test_exactly_the_rules_that_compute_on_a_gpu_request_one():
    """The optimisation stage loads models on the CPU: asking it for a GPU would hold one idle."""
    assert _rules_using_the_device_resolver() == GPU_RULES
    for name in ("local-gpu", "slurm"):
        per_rule = _parse(name).set_resources
        assert {rule for rule, res in per_rule.items() if "gpu" in res} == GPU_RULES, name
    slurm = yaml.safe_load((PROFILES / "slurm" / "profile.yaml").read_text())["set-resources"]
    for rule, res in slurm.items():
        assert (res.get("slurm_partition") == "gpu") == (rule in GPU_RULES), rule
    kubernetes = yaml.safe_load((PROFILES / "kubernetes" / "profile.yaml").read_text())
    assert {rule for rule, res in kubernetes["set-resources"].items() if "gpu" in res} == GPU_RULES


def test_local_gpu_runs_cpu_jobs_beside_gpu_jobs():
    """Only GPU rules consume the gpu token, so CPU jobs never wait for the one GPU."""
    args = _parse("local-gpu")
    assert args.resources["gpu"].value >= 1
    assert "gpu" not in args.default_resources.keys()


# Rules the SLURM profile deliberately runs one job each: training (a GPU each) and the jobs whose
# work grows with the number of tracks to hours at fma_full. Every other rule must be in a group:
# a new small rule without one would cost a whole sbatch job (~10-20 s) per instance.
UNGROUPED = GPU_RULES | {
    "synthesize",
    "track_table",
    "extract_folder",
    "judge_folder",
    "judge_tracks",
    "validation_report",
    "splits",
    "pack_dataset",
    "score_tracks",
    "validation_status",  # before the splits checkpoint (profiles/slurm: why)
}
TARGET_RULES = {"all", "data_stage"}  # no action: never submitted


def _defined_rules() -> set[str]:
    """Every rule and checkpoint of rules/*.smk, those made with ``use rule ... as`` included."""
    text = "\n".join(path.read_text() for path in (ROOT / "rules").glob("*.smk"))
    return set(re.findall(r"^\s*(?:rule|checkpoint) (\w+):", text, re.M)) | set(
        re.findall(r"^\s*use rule \w+ as (\w+)", text, re.M)
    )


def test_slurm_groups_small_cpu_jobs_into_bounded_jobs():
    args = _parse("slurm")
    groups, components = args.groups, args.group_components
    assert set(groups.values()) == set(components)
    defined = _defined_rules()
    assert set(groups) <= defined, sorted(set(groups) - defined)  # no stale rule names
    assert UNGROUPED <= defined, sorted(UNGROUPED - defined)
    missing = defined - set(groups) - UNGROUPED - TARGET_RULES
    assert not missing, f"rules without a SLURM group: {sorted(missing)} (profiles/slurm groups)"
    assert all(2 <= n <= 8 for n in components.values())  # bigger jobs, still node-sized
    assert not set(groups) & UNGROUPED
    # cpus_per_task is summed over a group's parallel jobs without the --cores cap threads get:
    # a group asking for more CPUs than a node has would pend forever
    per_rule = yaml.safe_load((PROFILES / "slurm" / "profile.yaml").read_text())["set-resources"]
    assert not [rule for rule in groups if "cpus_per_task" in per_rule.get(rule, {})]
