"""End-to-end: the optimisation stage's quality table, headline gap and known answer on the tiny run."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import yaml
from runner import DEFAULT_E2E, DEFAULT_E2E_REASON, ROOT, TINY_CONFIG, default_run

from fmagenre.io import genre_slug, read_tsv
from fmagenre.optimise.optimum import read_optimum

CHECKS = [
    "margin",
    "clamp_fraction",
    "knn_percentile",
    "frechet_distance",
    "roundtrip_share",
    "spectral_convergence_db",
    "judge_probability",
    "judge_percentile",
    "verdict",
    "failed_checks",
]


def _config() -> dict:
    return yaml.safe_load(TINY_CONFIG.read_text())


def test_quality_has_every_genre_and_start_and_the_gap_reports_the_headline(workflow_run):
    config = _config()
    genres = list(read_tsv(workflow_run / "results/splits/genres.tsv")["genre"])
    for model in config["optimise"]["models"]:
        root = workflow_run / "results/optimise" / model
        quality = read_tsv(root / "quality.tsv")
        others = [
            name
            for name, spec in config["models"].items()
            if name != model and spec["features"] == config["models"][model]["features"]
        ]
        assert set(CHECKS + [f"transfer_rank_{o}" for o in others]) <= set(quality.columns)
        for genre in genres:
            optimum = read_optimum(root / f"{genre_slug(genre)}.h5")
            rows = quality[quality["genre"] == genre]
            assert list(rows["start"]) == optimum.start_names
            # a genre with few training tracks gets fewer real starts (logged), never more
            assert 3 <= len(rows) <= config["optimise"]["starts"]
            assert optimum.best_track_id not in optimum.start_track_ids
        assert set(quality["verdict"]) <= {"representative", "adversarial"}
        assert quality[["margin", "clamp_fraction", "knn_percentile"]].notna().all().all()
        gap = read_tsv(root / "gap.tsv")
        assert list(gap["genre"]) == genres
        for row in gap.itertuples():
            mine = quality[quality["genre"] == row.genre]
            good = mine[mine["verdict"] == "representative"]
            pool = good if len(good) else mine
            assert row.headline_start == pool.loc[pool["margin"].idxmax(), "start"]
            assert row.verdict == ("representative" if len(good) else "adversarial")
        roundtrip = read_tsv(workflow_run / "results/audio" / model / "roundtrip.tsv")
        assert list(roundtrip.loc[roundtrip["source"] == "optimum", "start"]) == list(
            gap["headline_start"]
        )
        assert (roundtrip["spectral_convergence_db"] < 0).all()


def test_known_answer_names_the_nearest_planted_signature(workflow_run):
    config = _config()
    genres = list(read_tsv(workflow_run / "results/splits/genres.tsv")["genre"])
    counts = {}
    for model in config["optimise"]["models"]:
        known = read_tsv(workflow_run / "results/optimise" / model / "known_answer.tsv")
        assert list(known["genre"]) == genres
        assert (known["correct"] == (known["nearest_genre"] == known["genre"])).all()
        # correct exactly where the own signature is nearer than every other genre's
        assert (
            known["correct"] == (known["own_distance"] <= known["nearest_other_distance"])
        ).all()
        counts[model] = int(known["correct"].sum())
    print("known answer (headline optima nearest their own genre):", pd.Series(counts).to_dict())


def judge_columns_are_complete(quality: pd.DataFrame, genre_tags: dict) -> None:
    """A genre with a mapped judge tag has a probability and a percentile for every start; one
    without has NA (never a made-up score)."""
    mapped = quality["genre"].isin([g for g, tags in genre_tags.items() if tags])
    columns = quality[["judge_probability", "judge_percentile"]]
    assert columns[mapped].notna().all().all() and columns[~mapped].isna().all().all()
    assert quality.loc[mapped, "judge_percentile"].between(0, 100).all()


def test_judge_columns_of_the_tiny_run(workflow_run):
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    genre_tags = schema["properties"]["judge"]["properties"]["genre_tags"]["default"]
    for model in _config()["optimise"]["models"]:
        judge_columns_are_complete(
            read_tsv(workflow_run / "results/optimise" / model / "quality.tsv"), genre_tags
        )


@pytest.mark.skipif(not os.environ.get(DEFAULT_E2E), reason=DEFAULT_E2E_REASON)
def test_default_run_known_answer_holds_for_the_strong_model(tmp_path):
    """Issue 16: the strong model's headline optima nearest their own planted signature for >= 7 of
    8 genres; every optimised model's quality table complete, judge columns included."""
    run = default_run(tmp_path)
    known = read_tsv(run / "results/optimise/vgg_mel/known_answer.tsv")
    print(known.to_string(index=False))
    quality = read_tsv(run / "results/optimise/vgg_mel/quality.tsv")
    assert quality[["margin", "clamp_fraction", "knn_percentile"]].notna().all().all()
    assert np.isfinite(quality["frechet_distance"]).all()
    assert int(known["correct"].sum()) >= 7, known.to_string(index=False)
