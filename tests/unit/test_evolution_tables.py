"""Evolution bookkeeping: artist-grouped folds, eligible cells, leave-artist-out displacement, verdicts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fmagenre.evolution.cells import cell_table, eligible_tracks, period_bins
from fmagenre.evolution.folds import (
    assign_folds,
    fold_split_table,
    temporal_split_table,
)
from fmagenre.evolution.measures import resolve_octaves
from fmagenre.evolution.tables import displacement, trends_table
from fmagenre.evolution.temporal import accuracy_drops


def genre_tracks(rng, genres=("A", "B"), artists_per_genre=30, slope=None):
    """Tracks of 1-2 per artist, one year per artist, values with an artist effect."""
    rows = []
    artist = 0
    for genre in genres:
        for _ in range(artists_per_genre):
            year = int(rng.integers(2006, 2018))
            effect = rng.normal(0, 0.6)
            for _ in range(int(rng.integers(1, 3))):
                rows.append(
                    {
                        "track_id": len(rows) + 1,
                        "genre": genre,
                        "artist_id": artist,
                        "year": year,
                        "value": effect
                        + rng.normal(0, 0.8)
                        + (slope or {}).get(genre, 0.0) * (year - 2006),
                    }
                )
            artist += 1
    frame = pd.DataFrame(rows)
    return frame.join(period_bins(frame["year"].astype(float), 3))


def test_folds_keep_artists_together_and_balance_genres():
    tracks = genre_tracks(np.random.default_rng(0), artists_per_genre=40)
    folds = assign_folds(tracks["genre"], tracks["artist_id"], 5, seed=0)
    tracks["fold"] = folds
    assert (tracks.groupby("artist_id")["fold"].nunique() == 1).all()
    counts = pd.crosstab(tracks["genre"], tracks["fold"])
    assert counts.shape[1] == 5 and (counts.max(axis=1) - counts.min(axis=1) <= 2).all()


def test_fold_tables_score_every_track_once_by_a_model_that_never_saw_its_artist():
    tracks = genre_tracks(np.random.default_rng(1))
    tracks["fold"] = assign_folds(tracks["genre"], tracks["artist_id"], 4, seed=0)
    splits = tracks.rename(columns={"genre": "genre_top"}).assign(split="training")
    tested = []
    for fold in range(4):
        table = fold_split_table(splits, tracks, fold, 4)
        test, train = table[table["split"] == "test"], table[table["split"] == "training"]
        assert not set(test["artist_id"]) & set(train["artist_id"])
        assert set(table.loc[table["split"] == "validation", "track_id"]) == set(
            tracks.loc[tracks["fold"] == (fold + 1) % 4, "track_id"]
        )
        tested += list(test["track_id"])
    assert sorted(tested) == sorted(tracks["track_id"])


def test_temporal_split_trains_on_early_artists_only():
    tracks = genre_tracks(np.random.default_rng(2), artists_per_genre=40)
    splits = tracks.rename(columns={"genre": "genre_top"}).assign(split="training", genres_all="")
    table = temporal_split_table(splits, tracks, seed=0)
    train = table[table["split"] == "training"]
    assert (train["half"] == "early").all() and train["year"].max() <= 2011
    assert (table.loc[table["half"] == "late", "split"] == "test").all()
    early_test = table[(table["half"] == "early") & (table["split"] == "test")]
    assert len(early_test) and not set(early_test["artist_id"]) & set(train["artist_id"])


def test_small_cells_are_ineligible_not_merged():
    tracks = genre_tracks(np.random.default_rng(3), genres=("A",), artists_per_genre=12)
    cells = cell_table(tracks, min_tracks=6, min_artists=3)
    assert cells["n_tracks"].sum() == len(tracks)
    expected = (cells["n_tracks"] >= 6) & (cells["n_artists"] >= 3)
    assert (cells["eligible"] == expected).all() and not expected.all()
    keep = eligible_tracks(tracks, cells)
    assert keep.sum() == cells.loc[cells["eligible"], "n_tracks"].sum()


def test_displacement_leaves_the_track_and_its_artist_out_of_its_own_reference():
    tracks = pd.DataFrame(
        {"genre": "A", "artist_id": [1, 1, 2, 3, 4], "period_start": [2006.0] * 4 + [2009.0]}
    )
    embedding = np.array([[0.0, 0.0], [0.0, 0.0], [2.0, 0.0], [4.0, 0.0], [10.0, 0.0]])
    cells = pd.DataFrame({"genre": "A", "period_start": [2006, 2009], "eligible": [True, True]})
    out = displacement(embedding[None], np.zeros(5, dtype=int), tracks, cells)
    # artist 1 against artists 2 and 3 (centroid 3); artist 2 against 1, 1, 3 (centroid 4/3)
    assert out[0] == pytest.approx(3.0) and out[2] == pytest.approx(2 - 4 / 3)
    assert out[4] == pytest.approx(
        10 - 6 / 4
    )  # later periods: the whole earliest period's centroid


def test_displacement_measures_each_track_in_the_embedding_of_the_model_that_scored_it():
    tracks = pd.DataFrame(
        {"genre": "A", "artist_id": [1, 2, 3, 4], "period_start": [2006.0, 2006.0, 2009.0, 2009.0]}
    )
    cells = pd.DataFrame({"genre": "A", "period_start": [2006, 2009], "eligible": [True, True]})
    first = np.array([[0.0], [2.0], [5.0], [7.0]])
    second = 100 * first + 50  # another network: another offset and scale
    group = np.array([0, 1, 0, 1])
    out = displacement(np.stack([first, second]), group, tracks, cells)
    # track 3 (model 0) against model 0's early centroid 1; track 4 (model 1) against model 1's 150
    assert out[2] == pytest.approx(4.0) and out[3] == pytest.approx(750 - 150)
    # an early track against the other early artist, in its own model's embedding
    assert out[0] == pytest.approx(2.0) and out[1] == pytest.approx(200.0)


def test_trends_find_the_planted_genre_and_spare_the_control():
    tracks = genre_tracks(np.random.default_rng(4), artists_per_genre=40, slope={"A": 0.2})
    measures = [
        "margin",
        "displacement",
        "spectral_centroid_hz",
        "tempo_bpm",
        "onset_rate_hz",
        "loudness_db",
        "judge_era",
    ]
    for measure in measures:
        tracks[measure] = (
            tracks["value"]
            if measure == "spectral_centroid_hz"
            else np.random.default_rng(5).normal(size=len(tracks))
        )
    cells = cell_table(tracks, 8, 3)
    trends = trends_table(
        tracks, cells, n_perm=999, n_boot=300, rng=np.random.default_rng(6), measures=measures
    ).set_index(["genre", "measure"])
    assert set(trends.index.get_level_values("measure")) == set(measures)
    assert trends.loc[("A", "spectral_centroid_hz"), "verdict"] == "rising"
    assert (trends.drop(index=("A", "spectral_centroid_hz"))["verdict"] == "no evidence").all()
    assert trends["q_value"].ge(trends["p_value"]).all()


def test_octave_errors_are_folded_to_the_genre_median():
    tempo = np.array([120.0, 62.0, 118.0, 244.0, 90.0, 95.0, 100.0, 190.0, 130.0])
    genre = np.array(["A"] * 4 + ["B"] * 5)
    resolved = resolve_octaves(tempo, genre)
    assert resolved[:4] == pytest.approx([120.0, 124.0, 118.0, 122.0])
    # B's median is 100: 190 is a doubled 95; 130 is less than half an octave away and stays
    assert resolved[4:] == pytest.approx([90.0, 95.0, 100.0, 95.0, 130.0])


def test_accuracy_drop_and_its_ci():
    rng = np.random.default_rng(7)
    n = 200
    frame = pd.DataFrame(
        {
            "genre": "A",
            "artist_id": np.arange(n) // 2,
            "half": np.where(np.arange(n) < n / 2, "early", "late"),
        }
    )
    frame["correct"] = np.where(frame["half"] == "early", rng.random(n) < 0.8, rng.random(n) < 0.4)
    table = accuracy_drops(frame, 500, seed=0, min_artists=3).set_index("genre")
    row = table.loc["A"]
    assert row["accuracy_drop"] == pytest.approx(row["accuracy_early"] - row["accuracy_late"])
    assert 0 < row["ci_low"] < row["accuracy_drop"] < row["ci_high"]
    assert table.loc["all", "n_early"] == n / 2
    # two early artists: no CI (a bootstrap of two artists is degenerate), the drop is still shown
    few = frame[(frame["half"] == "late") | (frame["artist_id"] < 2)]
    row = accuracy_drops(few, 500, seed=0, min_artists=3).set_index("genre").loc["A"]
    assert (
        np.isnan(row["ci_low"]) and np.isnan(row["ci_high"]) and np.isfinite(row["accuracy_drop"])
    )


def test_judge_era_is_the_decade_estimate_of_each_tracks_tags(tmp_path):
    from fmagenre.evolution.tables import judge_era
    from fmagenre.io import write_tsv

    tags = pd.DataFrame(
        {
            "track_id": [3, 1],
            "rock": [0.9, 0.1],
            "60s": [0.0, 0.2],
            "70s": [0.0, 0.2],
            "80s": [0.5, 0.2],
            "90s": [0.5, 0.2],
            "00s": [0.0, 0.2],
        }
    )
    write_tsv(tmp_path / "tracks.tsv", tags)
    era = judge_era(str(tmp_path / "tracks.tsv"), pd.Series([1, 2, 3]))
    assert era[0] == pytest.approx(1985.0) and np.isnan(era[1]) and era[2] == pytest.approx(1990.0)
    write_tsv(tmp_path / "mtt.tsv", tags.drop(columns=["60s"]))
    with pytest.raises(ValueError, match="decade tags"):
        judge_era(str(tmp_path / "mtt.tsv"), pd.Series([1]))
