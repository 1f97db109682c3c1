"""End-to-end: the whole workflow on the tiny synthetic config, caching, incrementality, bad config."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import h5py
import hdf5plugin  # noqa: F401  (registers the Blosc filter of the packs with h5py)
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from runner import ROOT, SNAKEMAKE, TINY_CONFIG, snakemake

METADATA = "resources/synthetic/fma_metadata"


def _report(run):
    return pd.read_csv(run / "results/validation/report.tsv", sep="\t", keep_default_na=False)


def test_every_output_of_every_job_exists(workflow_run):
    """Every file of the DAG behind rule all (``snakemake --summary``) exists and is up to date."""
    result = snakemake(workflow_run, "--summary", "--cores", "1")
    lines = [line.split("\t") for line in result.stdout.splitlines() if "\t" in line]
    header, rows = lines[0], lines[1:]
    file_col, status_col = header.index("output_file"), header.index("status")
    assert len(rows) > 50
    for row in rows:
        if row[status_col] == "removed temp file":  # temp() outputs are gone once consumed
            continue
        assert (workflow_run / row[file_col]).exists(), row  # a file, or a directory() output
        assert row[status_col] == "ok", row
    summary = pd.read_csv(workflow_run / "results/models/summary.tsv", sep="\t")
    config_models = __import__("yaml").safe_load(TINY_CONFIG.read_text())["models"]
    assert set(summary["model"]) == set(config_models)


def test_the_judge_tags_every_ok_track_and_every_written_wav(workflow_run):
    report = _report(workflow_run)
    tracks = pd.read_csv(workflow_run / "results/judge/tracks.tsv", sep="\t")
    assert list(tracks["track_id"]) == sorted(report.loc[report["status"] == "ok", "track_id"])
    assert tracks.shape[1] == 51 and "Hip-Hop" in tracks.columns
    assert tracks.drop(columns="track_id").stack().between(0, 1).all()
    genres = pd.read_csv(workflow_run / "results/splits/genres.tsv", sep="\t")
    optimised = __import__("yaml").safe_load(TINY_CONFIG.read_text())["optimise"]["models"]
    for model in optimised:
        # the start clips (read by quality.tsv), every genre's best track among them ...
        clips = pd.read_csv(workflow_run / f"results/judge/audio/{model}.tsv", sep="\t")
        written = sorted(
            path.relative_to(workflow_run / f"results/audio/{model}").as_posix()
            for path in (workflow_run / f"results/audio/{model}/starts").glob("*/*.wav")
        )
        assert sorted(clips["wav"]) == written, model
        assert {f"starts/{slug}/best_track.wav" for slug in genres["slug"]} <= set(written)
        # ... and the listening WAVs, judged after the gap
        listening = pd.read_csv(
            workflow_run / f"results/judge/audio/{model}/listening.tsv", sep="\t"
        )
        expected = [f"{slug}{suffix}.wav" for slug in genres["slug"] for suffix in ("", "_best")]
        assert list(listening["wav"]) == expected, model
    with h5py.File(workflow_run / "results/datasets/musicnn/training.h5") as packed:
        assert packed["x"].shape[1:] == (400, 1)


def test_every_planted_fault_gets_its_status(workflow_run):
    truth = json.loads((workflow_run / METADATA / "ground_truth.json").read_text())
    report = _report(workflow_run).set_index("track_id")
    faults = truth["faults"]
    assert faults
    for fault in faults:
        row = report.loc[int(fault["track_id"])]
        assert row["status"] == fault["expected_status"], (fault, row.to_dict())
        assert row["reason"], fault
    clean = report.drop(index=[int(f["track_id"]) for f in faults])
    assert (clean["status"] == "ok").all()


def test_bad_clips_are_excluded_downstream(workflow_run):
    report = _report(workflow_run)
    bad = set(report.loc[report["status"] != "ok", "track_id"])
    splits = pd.read_csv(workflow_run / "results/splits/tracks.tsv", sep="\t")
    assert bad and not bad & set(splits["track_id"])
    with h5py.File(workflow_run / "results/datasets/mfcc/training.h5") as packed:
        assert not bad & set(packed["track_id"][:].tolist())


def test_second_dry_run_has_nothing_to_do(workflow_run):
    result = snakemake(workflow_run, "-n", "--cores", "1")
    assert "Nothing to be done" in result.stdout + result.stderr


def _h5_mtimes(run):
    return {p.name: p.stat().st_mtime_ns for p in (run / "results/features").rglob("*.h5")}


def _dry_run_jobs(run, *args):
    result = snakemake(run, "-n", "--cores", "1", "data_stage", *args)
    text = result.stdout + result.stderr
    table = text.split("Job stats:")[1] if "Job stats:" in text else ""
    counts = {}
    for line in table.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] != "total":
            counts[parts[0]] = int(parts[1])
    return counts, text


def test_changing_one_mp3_reextracts_only_that_track(data_run):
    report = _report(data_run)
    ok = report.loc[report["status"] == "ok", "track_id"].tolist()
    target, donor = ok[0], ok[-1]
    audio = data_run / "resources/synthetic/fma_small"
    target_path = audio / f"{target:06d}"[:3] / f"{target:06d}.mp3"
    before = _h5_mtimes(data_run)
    shutil.copyfile(audio / f"{donor:06d}"[:3] / f"{donor:06d}.mp3", target_path)
    counts, text = _dry_run_jobs(data_run)
    assert counts.get("extract_folder") == 1, text
    snakemake(data_run, "--cores", "2", "data_stage")
    after = _h5_mtimes(data_run)
    changed = {name for name in before if after.get(name) != before[name]}
    assert changed == {f"{target:06d}.h5"}


def test_changing_n_mfcc_reruns_features_and_downstream(data_run, tmp_path):
    override = tmp_path / "n_mfcc.yaml"
    override.write_text("features:\n  n_mfcc: 13\n")
    folders = {p.name for p in (data_run / "results/features").iterdir() if p.is_dir()}
    counts, text = _dry_run_jobs(data_run, "--configfile", str(TINY_CONFIG), str(override))
    assert counts.get("extract_folder") == len(folders), text
    assert counts.get("pack_dataset", 0) >= 1, text
    snakemake(
        data_run, "--cores", "2", "data_stage", "--configfile", str(TINY_CONFIG), str(override)
    )
    with h5py.File(data_run / "results/datasets/mfcc/training.h5") as packed:
        assert packed["x"].shape[1] == 13


def test_killed_feature_job_leaves_nothing_trusted(data_run, tmp_path):
    """kill -9 the whole run while folder jobs write HDF5; the rerun equals an uninterrupted run."""
    shutil.copytree(data_run / "resources", tmp_path / "resources")
    command = [
        str(SNAKEMAKE),
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--configfile",
        str(TINY_CONFIG),
        "--cores",
        "1",
        "data_stage",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 300
    while time.time() < deadline and not list((tmp_path / "results/features").rglob("*.h5")):
        time.sleep(0.05)
    time.sleep(0.3)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    # the kill landed mid-run: some per-track files exist, the data stage's packs do not
    written = list((tmp_path / "results/features").rglob("*.h5"))
    assert 0 < len(written) < len(list((data_run / "results/features").rglob("*.h5")))
    assert not (tmp_path / "results/datasets").exists()
    snakemake(tmp_path, "--unlock")  # what Snakemake asks of a user after a killed run
    snakemake(tmp_path, "--cores", "2", "data_stage")
    assert not list((tmp_path / "results").rglob("*.tmp"))
    for split in ("training", "validation", "test"):
        name = f"results/datasets/mfcc+chroma+tonnetz/{split}.h5"  # the tiny config's widest set
        with h5py.File(data_run / name) as want, h5py.File(tmp_path / name) as got:
            for key in ("x", "y", "track_id", "mean", "std"):
                np.testing.assert_array_equal(
                    want[key][...], got[key][...], err_msg=f"{name}:{key}"
                )
    pd.testing.assert_frame_equal(_report(data_run), _report(tmp_path))


@pytest.mark.parametrize(
    "override, key",
    [
        ("features:\n  n_mfc: 13\n", "features.n_mfc"),
        ("features:\n  hop_length: big\n", "features.hop_length"),
        ("splits:\n  keep_genres: [Jaz]\n", "splits.keep_genres"),
    ],
)
def test_bad_config_stops_before_any_job(tmp_path, override, key):
    bad = tmp_path / "bad.yaml"
    bad.write_text(override)
    # a real run, not a dry run: the config check must stop it before any job starts
    result = snakemake(
        tmp_path, "--cores", "1", "--configfile", str(TINY_CONFIG), str(bad), check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert key in output and "Fix:" in output
    assert "rule synthesize" not in output and "localrule" not in output
    for folder in ("results", "resources", "logs", "benchmarks"):
        assert not (tmp_path / folder).exists(), folder


def test_evolution_tables_keep_their_contract(workflow_run):
    """Every evolution output of the tiny run exists with the documented columns (verdicts against the
    planted truth are asserted in tests/e2e/test_evolution.py)."""
    from fmagenre.evolution.tables import MEASURES, PERIOD_COLUMNS, TREND_COLUMNS
    from fmagenre.evolution.temporal import COLUMNS

    periods = pd.read_csv(workflow_run / "results/evolution/vgg_mel/periods.tsv", sep="\t")
    trends = pd.read_csv(workflow_run / "results/evolution/vgg_mel/trends.tsv", sep="\t")
    temporal = pd.read_csv(
        workflow_run / "results/evolution/li2010/temporal_generalisation.tsv", sep="\t"
    )
    assert list(periods.columns) == PERIOD_COLUMNS and list(trends.columns) == TREND_COLUMNS
    assert list(temporal.columns) == COLUMNS and "all" in set(temporal["genre"])
    assert set(trends["measure"]) == set(MEASURES)
    assert set(trends["verdict"]) <= {"rising", "falling", "no evidence"}
    for measure in MEASURES:
        assert (workflow_run / f"results/figures/evolution/vgg_mel/{measure}.png").is_file()
    assert not (workflow_run / "results/optimise/vgg_mel/evolution.tsv").exists()


def _job_counts(text: str) -> dict:
    """The first job-stats table (Snakemake 9 prints one before the job blocks and one after)."""
    table = text.split("Job stats:")[1] if "Job stats:" in text else ""
    counts = {}
    for line in table.splitlines():
        parts = line.split()
        if parts[:1] == ["total"]:
            break
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


def test_editing_an_imported_module_schedules_exactly_the_rules_that_reach_it(
    workflow_run, tmp_path
):
    """A comment added to figures/eda.py reruns the rules whose scripts import it, directly or not."""
    import re

    from fmagenre.fingerprint import import_closure

    copy = tmp_path / "repo"
    copy.mkdir()
    for part in ("Snakefile", "rules", "workflow", "config", "envs"):
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, copy / part)
    (copy / "resources").mkdir()  # the judge's weights belong to the checkout (make setup)
    (copy / "resources" / "musicnn").symlink_to(ROOT / "resources" / "musicnn")
    module = "fmagenre/figures/eda.py"
    scripts = ROOT / "workflow" / "scripts"
    rules_text = "\n".join(p.read_text() for p in sorted((ROOT / "rules").glob("*.smk")))
    rule_scripts = {}
    for block in re.split(r"(?m)^(?=(?:rule|checkpoint) )", rules_text):
        name = re.match(r"(?:rule|checkpoint) (\w+):", block)
        script = re.search(r'script:\s+"\.\./workflow/scripts/(\w+)\.py"', block)
        if name and script:
            rule_scripts[name.group(1)] = script.group(1)
    reaching = {
        rule
        for rule, script in rule_scripts.items()
        if scripts / module in import_closure(scripts / f"{script}.py")
    }
    assert reaching  # figures/eda.py is used by the EDA rules
    edited = copy / "workflow" / "scripts" / module
    edited.write_text(edited.read_text() + "\n# an edit that changes no behaviour\n")
    result = subprocess.run(
        [
            str(SNAKEMAKE),
            "--snakefile",
            str(copy / "Snakefile"),
            "--directory",
            str(workflow_run),
            "--configfile",
            str(TINY_CONFIG),
            "-n",
            "--cores",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    counts = _job_counts(result.stdout + result.stderr)
    assert set(counts) - {"all"} == reaching, (counts, reaching)


def test_seed_replicates_layout_and_summary(workflow_run):
    """Replicate 0 in results/models/{name}/, replicate k >= 1 (seed + k) in .../replicates/{k}/."""
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    tiny = yaml.safe_load(TINY_CONFIG.read_text())
    counts = {
        name: spec.get("replicates", config["models"].get(name, {}).get("replicates", 1))
        for name, spec in tiny["models"].items()
    }
    assert counts["li2010"] == 2 and counts["paper_final"] == 2
    models = workflow_run / "results/models"
    summary = pd.read_csv(models / "summary.tsv", sep="\t")
    for name, count in counts.items():
        for k in range(count):
            folder = models / name if k == 0 else models / name / "replicates" / str(k)
            for file in (
                "checkpoint.pt",
                "history.csv",
                "metrics.json",
                "curves.png",
                "confusion.png",
            ):
                assert (folder / file).is_file(), folder / file
            assert (
                json.loads((folder / "metrics.json").read_text())["seed"]
                == tiny["training"]["seed"] + k
            )
        # an optimised model's replicate 1 is trained on demand as the optimum's transfer model
        # (optimise.replicate_seed), beyond the replicates the summary counts
        first_absent = max(count, 2) if name in tiny["optimise"]["models"] else max(count, 1)
        assert not (models / name / "replicates" / str(first_absent)).exists()
        rows = summary[summary["model"] == name]
        assert list(rows["replicate"]) == list(range(count)) and (rows["replicates"] == count).all()
        assert rows["test_accuracy_mean"].iloc[0] == pytest.approx(rows["test_accuracy"].mean())
        if count > 1:
            assert rows["test_accuracy_sd"].iloc[0] == pytest.approx(rows["test_accuracy"].std())
        assert (rows["test_accuracy_ci_low"] <= rows["test_accuracy"]).all()
        assert (rows["test_accuracy"] <= rows["test_accuracy_ci_high"]).all()
    # Replicates differ only by their seed: weights differ, shapes do not.
    first = torch.load(models / "li2010/checkpoint.pt", weights_only=True)
    second = torch.load(models / "li2010/replicates/1/checkpoint.pt", weights_only=True)
    assert second["spec"] == {**first["spec"], "seed": first["spec"]["seed"] + 1}
    assert any(not torch.equal(v, second["state_dict"][k]) for k, v in first["state_dict"].items())
    multi = json.loads((models / "vgg_mel_multilabel/metrics.json").read_text())
    assert multi["n_multilabel_test"] >= multi["n_test"] and "per_genre_average_precision" in multi
