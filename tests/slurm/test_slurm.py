"""The tiny synthetic workflow through `profiles/slurm` on a real (single-node) SLURM cluster.

Every job must go through sbatch, land in the partition the profile asks for, complete, and the
results must equal a local run's. One test function on purpose: the cluster owns
/etc/slurm/slurm.conf while it runs, so it must not be started twice in parallel (pytest-xdist).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path

import h5py
import hdf5plugin  # noqa: F401  (registers the Blosc filter of the packs with h5py)
import numpy as np
import pandas as pd
from runner import TINY_CONFIG, snakemake

ROOT = Path(__file__).resolve().parents[2]
SLURM_PROFILE = ROOT / "profiles" / "slurm"
SLURM_OVERLAY = Path(__file__).with_name("slurm.yaml")

# A group job (profiles/slurm `groups`) is submitted under a uuid instead of a job number.
SUBMITTED = re.compile(r"Job (\S+) has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.\n")
RULE_RUN = re.compile(r"^(?:rule|checkpoint) (\w+):", re.M)
FINISHED = re.compile(r"Finished jobid: (\d+) \(Rule: (\w+)\)")
# Rules without an action (pure targets) are never submitted anywhere.
TARGET_RULES = {"all", "data_stage"}


def _run(workdir: Path, *args: str, env: dict | None = None, timeout: int = 1500):
    result = snakemake(
        workdir, *args, env=env, timeout=timeout, configfiles=(TINY_CONFIG, SLURM_OVERLAY)
    )
    return result.stdout + result.stderr


def _fit_to_test_node(resources: dict, cluster) -> dict:
    """The profile's requests, shrunk to what the one CPU-only test node has; partitions kept."""
    fitted = {}
    for key, value in resources.items():
        if key == "gpu":
            value = 0
        elif key == "mem_mb":
            cap = min(2000, cluster.memory_mb // cluster.cpus)
            value = min(value, cap) if isinstance(value, int) else cap
        elif key == "cpus_per_task":
            value = min(int(value), cluster.cpus)
        fitted[key] = value
    return fitted


def _test_overrides(profile: dict, cluster) -> list[str]:
    # Command-line maps replace the profile's whole map, so every entry is restated here.
    defaults = _fit_to_test_node(profile["default-resources"], cluster)
    per_rule = {
        rule: _fit_to_test_node(res, cluster) for rule, res in profile["set-resources"].items()
    }
    return [
        "--workflow-profile",
        str(SLURM_PROFILE),
        "--cores",
        str(cluster.cpus),
        "--max-threads",
        str(cluster.cpus),
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--slurm-keep-successful-logs",
        "--default-resources",
        *[f"{key}={value}" for key, value in defaults.items()],
        "--set-resources",
        *[f"{rule}:{key}={value}" for rule, res in per_rule.items() for key, value in res.items()],
    ]


def _assert_same_results(local: Path, slurm: Path) -> None:
    for table in (
        "results/validation/report.tsv",
        "results/splits/tracks.tsv",
        "results/splits/genres.tsv",
        "results/metadata/tracks.tsv",
    ):
        pd.testing.assert_frame_equal(
            pd.read_csv(local / table, sep="\t", keep_default_na=False),
            pd.read_csv(slurm / table, sep="\t", keep_default_na=False),
            obj=table,
        )
    packs = sorted(p.relative_to(local) for p in (local / "results/datasets").rglob("*.h5"))
    assert packs, "the local run packed no datasets"
    assert packs == sorted(p.relative_to(slurm) for p in (slurm / "results/datasets").rglob("*.h5"))
    for pack in packs:
        with h5py.File(local / pack) as want, h5py.File(slurm / pack) as got:
            assert set(want) == set(got), pack
            for key in want:
                np.testing.assert_array_equal(
                    want[key][...], got[key][...], err_msg=f"{pack}:{key}"
                )
    metrics = sorted(
        p.relative_to(local) for p in (local / "results/models").glob("*/metrics.json")
    )
    assert metrics == sorted(
        p.relative_to(slurm) for p in (slurm / "results/models").glob("*/metrics.json")
    )
    for path in metrics:
        assert json.loads((local / path).read_text()) == json.loads((slurm / path).read_text()), (
            path
        )


def test_tiny_workflow_on_slurm_equals_local_run(slurm_cluster, slurm_profile, tmp_path):
    local, slurm = tmp_path / "local", tmp_path / "slurm"
    _run(local, "--cores", "2")

    start = time.monotonic()
    # ~45 SLURM jobs on one 2-CPU node, each with sbatch and status-check overhead: several times
    # the local run's time (1206 s for the tiny config alone on a quiet machine, before the overlay)
    log = _run(
        slurm, *_test_overrides(slurm_profile, slurm_cluster), env=slurm_cluster.env, timeout=3600
    )
    elapsed = time.monotonic() - start

    submissions = {
        int(slurm_id): (job, Path(path)) for job, slurm_id, path in SUBMITTED.findall(log)
    }
    submitted = {
        slurm_id: (int(job), path) for slurm_id, (job, path) in submissions.items() if job.isdigit()
    }
    grouped = {slurm_id: path for slurm_id, (job, path) in submissions.items() if not job.isdigit()}
    finished = {int(job): rule for job, rule in FINISHED.findall(log)}
    executed = {job: rule for job, rule in finished.items() if rule not in TARGET_RULES}
    assert executed, log[-4000:]
    group_rules = set(slurm_profile.get("groups", {}))
    # every executed job went through sbatch, exactly once (no retry, no local execution): alone,
    # or inside one group job whose log shows it ran
    assert sorted(job for job, _ in submitted.values()) == sorted(
        job for job, rule in executed.items() if rule not in group_rules
    ), log[-8000:]
    in_groups = Counter(
        rule for path in grouped.values() for rule in RULE_RUN.findall(path.read_text())
    )
    expected = Counter(rule for rule in executed.values() if rule in group_rules)
    assert set(in_groups) == set(expected) and all(
        in_groups[r] >= n for r, n in expected.items()
    ), (in_groups, expected)
    assert len(grouped) < sum(in_groups.values()), "groups should merge jobs"

    queue = {int(job["job_id"]): job for job in slurm_cluster.squeue()}
    assert set(queue) == set(submissions), (queue, submissions)
    partitions = {
        rule: res.get("slurm_partition") for rule, res in slurm_profile["set-resources"].items()
    }
    default_partition = slurm_profile["default-resources"]["slurm_partition"]
    for slurm_id, (job, slurm_log) in submitted.items():
        rule = executed[job]
        assert queue[slurm_id]["state"] == "COMPLETED", queue[slurm_id]
        assert queue[slurm_id]["comment"].startswith(f"rule_{rule}"), queue[slurm_id]
        assert queue[slurm_id]["partition"] == (partitions.get(rule) or default_partition), (
            rule,
            queue[slurm_id],
        )
        # the job's own log: Snakemake ran the rule inside the SLURM allocation
        assert re.search(rf"^(rule|checkpoint) {rule}:", slurm_log.read_text(), re.M), slurm_log
    for slurm_id in grouped:
        assert queue[slurm_id]["state"] == "COMPLETED", queue[slurm_id]
        assert queue[slurm_id]["partition"] == default_partition, queue[slurm_id]

    _assert_same_results(local, slurm)
    print(
        f"\nSLURM run: {len(submissions)} SLURM jobs ({len(grouped)} group jobs), {elapsed:.0f} s "
        f"({', '.join(f'{r}={n}' for r, n in sorted(pd.Series(executed).value_counts().items()))})"
    )
