"""End to end, the evolution stage: out-of-sample scoring, and verdicts against the planted truth.

- ``null.yaml`` (on top of the tiny config, ``drift_scale: 0``): every verdict is "no evidence". Under
  the global null the Benjamini-Hochberg procedure at q 0.05 makes any discovery at all with
  probability <= 0.05 (Benjamini & Hochberg 1995, for independent or positively dependent tests), so
  this assertion is the alpha bound itself; the temporal generalisation may exclude 0 in at most 2 of
  8 genres (the 99 % quantile of Binomial(8, 0.05)).
- ``drift.yaml`` (on top of the tiny config; opt-in, ``FMAGENRE_DRIFT_E2E=1``, 5 min at load 4, ~22 at load 10):
  the verdict table against ``ground_truth.json``: every planted-drift genre gets the right verdict
  on its planted descriptor and on a model-based measure (displacement or projection rising, or a
  temporal generalisation drop whose CI excludes 0); every control genre gets "no evidence" on every
  measure. The default's drifts on 192 tracks per genre (10 s clips), where the benchmark finds every
  verdict right in 92 % of simulated datasets. Measured: every planted centroid drift found with the
  right sign (q 0.002) and every control spared (that test passes); the projection finds Hip-Hop,
  Pop and Rock but not Electronic (p 0.028, q 0.10; see README), so the model-based test is a strict
  xfail, and reports the day every drift is found. Not part of CI (time).
- The default run (``config/config.yaml``, ~10 min on 2 cores, so opt-in: ``FMAGENRE_DEFAULT_E2E=1``,
  or the path of a finished default run to check it): the same check on the default data.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from runner import DEFAULT_E2E, DEFAULT_E2E_REASON, ROOT, default_run, snakemake

NULL_CONFIG = ROOT / "tests" / "e2e" / "null.yaml"
DRIFT_CONFIG = ROOT / "tests" / "e2e" / "drift.yaml"
METADATA = "resources/synthetic/fma_metadata"


def read(run: Path, relative: str) -> pd.DataFrame:
    return pd.read_csv(run / relative, sep="\t")


TRENDS = "results/evolution/li2010/trends.tsv"
TEMPORAL = "results/evolution/li2010/temporal_generalisation.tsv"


def evolution_run(tmp_path_factory, name: str, overlay: Path, *targets: str, timeout=1500) -> Path:
    """The tiny config plus ``overlay`` run up to ``targets`` in a fresh directory."""
    workdir = tmp_path_factory.mktemp(name)
    # targets before --configfile: it takes every following word as a config file
    snakemake(
        workdir,
        "--cores",
        "2",
        *targets,
        "--configfile",
        str(ROOT / "tests/e2e/tiny.yaml"),
        str(overlay),
        timeout=timeout,
    )
    return workdir


@pytest.fixture(scope="module")
def null_run(tmp_path_factory) -> Path:
    margin_figure = "results/figures/evolution/li2010/margin.png"
    return evolution_run(tmp_path_factory, "null_run", NULL_CONFIG, TRENDS, TEMPORAL, margin_figure)


@pytest.fixture(scope="module")
def drift_run(tmp_path_factory) -> Path:
    return evolution_run(
        tmp_path_factory, "drift_run", DRIFT_CONFIG, TRENDS, TEMPORAL, timeout=2400
    )


def test_no_track_is_scored_by_a_model_that_saw_it_or_its_artist(null_run):
    scores = read(null_run, "results/evolution/li2010/track_scores.tsv")
    followed = read(null_run, "results/evolution/tracks.tsv")
    assert sorted(scores["track_id"]) == sorted(followed["track_id"])
    assert (scores["year_source"] == "released").all()
    for fold, mine in scores.groupby("fold"):
        assert (mine["scored_by"] == f"results/evolution/li2010/folds/{fold}/checkpoint.pt").all()
        table = read(null_run, f"results/evolution/folds/{fold}/tracks.tsv")
        fitted = table[table["split"] != "test"]
        assert not set(mine["track_id"]) & set(fitted["track_id"])
        assert not set(mine["artist_id"]) & set(fitted["artist_id"])


def test_null_dataset_gets_no_verdict(null_run):
    truth = json.loads((null_run / METADATA / "ground_truth.json").read_text())
    assert all(d["sd_units"] == 0 for d in truth["drifts"].values())
    trends = read(null_run, "results/evolution/li2010/trends.tsv")
    assert trends["p_value"].notna().sum() >= 0.8 * len(trends)  # the tests did run
    assert (trends["verdict"] == "no evidence").all(), trends[trends["verdict"] != "no evidence"]
    temporal = read(null_run, "results/evolution/li2010/temporal_generalisation.tsv")
    genres = temporal[temporal["genre"] != "all"]
    assert ((genres["ci_low"] > 0) | (genres["ci_high"] < 0)).sum() <= 2
    periods = read(null_run, "results/evolution/li2010/periods.tsv")
    assert set(periods["measure"]) == set(trends["measure"])
    assert (periods.loc[~periods["eligible"], "n_tracks"] < 4).any() or periods["eligible"].all()


def check_default_verdicts(
    run: Path, model: str = "vgg_mel", temporal_model: str = "li2010", model_based: bool = True
) -> pd.DataFrame:
    """The verdict table against ground_truth.json; raises AssertionError on a wrong verdict
    (``model_based``: also on a planted genre that no model-based measure finds)."""
    truth = json.loads((run / METADATA / "ground_truth.json").read_text())["drifts"]
    trends = read(run, f"results/evolution/{model}/trends.tsv").set_index(["genre", "measure"])
    temporal = read(
        run, f"results/evolution/{temporal_model}/temporal_generalisation.tsv"
    ).set_index("genre")
    problems = []
    for genre, drift in truth.items():
        mine = trends.loc[genre]
        if drift["parameter"] is None:
            if (mine["verdict"] != "no evidence").any():
                problems.append(f"control {genre}: {mine['verdict'].to_dict()}")
            continue
        expected = "rising" if drift["sign"] > 0 else "falling"
        descriptor = drift["descriptor"]
        if mine.loc[descriptor, "verdict"] != expected:
            problems.append(
                f"{genre}: {descriptor} {mine.loc[descriptor, 'verdict']}, planted {expected}"
            )
        moved = (mine.loc[["displacement", "projection"], "verdict"] == "rising").any() or (
            temporal.loc[genre, "ci_low"] > 0
        )
        if model_based and not moved:
            problems.append(f"{genre}: no model-based measure shows the planted drift")
    assert not problems, "\n".join(problems)
    return trends


DRIFT_E2E = pytest.mark.skipif(
    not os.environ.get("FMAGENRE_DRIFT_E2E"),
    reason="~6-22 min: set FMAGENRE_DRIFT_E2E=1",
)


@DRIFT_E2E
def test_planted_drifts_are_found_on_their_descriptors_and_the_controls_spared(drift_run):
    truth = json.loads((drift_run / METADATA / "ground_truth.json").read_text())
    assert truth["arguments"]["drift_scale"] == 1.0
    assert sum(d["parameter"] is not None for d in truth["drifts"].values()) >= 4
    check_default_verdicts(drift_run, model="li2010", model_based=False)


@DRIFT_E2E
@pytest.mark.xfail(
    strict=True,
    reason="the projection finds 3 of the 4 planted drifts (Electronic: q 0.10), displacement "
    "and the temporal generalisation none (README, Evolution on the default synthetic data)",
)
def test_a_model_based_measure_finds_each_planted_drift(drift_run):
    check_default_verdicts(drift_run, model="li2010")


@pytest.mark.skipif(not os.environ.get(DEFAULT_E2E), reason=DEFAULT_E2E_REASON)
def test_default_run_recovers_the_planted_drifts_and_spares_the_controls(tmp_path):
    check_default_verdicts(default_run(tmp_path))
