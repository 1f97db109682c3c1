"""Splits: only validated, labelled tracks; official split when present, else artist-grouped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fmagenre.data.splits import grouped_split, make_splits


def _table(n_per_genre=20, genres=("Folk", "Pop", "Rock"), official=True):
    rows = []
    track = 1
    for g in genres:
        for i in range(n_per_genre):
            rows.append(
                {
                    "track_id": track,
                    "folder": "000",
                    "path": f"000/{track:06d}.mp3",
                    "subset": "small",
                    "split": ("training", "training", "training", "validation", "test")[i % 5]
                    if official
                    else "",
                    "genre_top": g,
                    "genres": "[1]",
                    "genres_all": "[1]",
                    "genres_all_top": g,
                    "artist_id": track // 2,
                    "year": 2010,
                    "duration": 30,
                }
            )
            track += 1
    table = pd.DataFrame(rows)
    report = pd.DataFrame({"track_id": table["track_id"], "status": "ok"})
    return table, report


def test_only_validated_labelled_tracks_and_labels_sorted():
    table, report = _table()
    report.loc[0, "status"] = "short"
    table.loc[1, ["genre_top", "genres_all_top"]] = ["", "Folk|Rock"]  # two roots: multi-label only
    table.loc[2, ["genre_top", "genres_all_top"]] = ["", "Jazz"]  # no label genre: left out
    table.loc[3, "year"] = np.nan  # as read_tsv gives an empty year
    tracks, genres = make_splits(table, report)
    assert tracks["year"].dtype == "Int64" and tracks["year"].isna().sum() == 1
    assert 1 not in set(tracks["track_id"]) and 3 not in set(tracks["track_id"])
    multi = tracks.set_index("track_id").loc[2]
    assert multi["label"] == -1 and multi["genre_top"] == "" and multi["genres_all"] == "Folk|Rock"
    counted = genres[["n_training", "n_validation", "n_test"]].to_numpy().sum()
    assert counted == (tracks["label"] >= 0).sum() == len(tracks) - 1  # genre counts: labelled only
    tracks = tracks[tracks["label"] >= 0]
    assert list(genres["genre"]) == ["Folk", "Pop", "Rock"] and list(genres["label"]) == [0, 1, 2]
    assert (tracks["label"] == tracks["genre_top"].map({"Folk": 0, "Pop": 1, "Rock": 2})).all()
    assert list(tracks.columns) == [
        "track_id",
        "split",
        "genre_top",
        "label",
        "year",
        "genres_all",
        "artist_id",
        "folder",
    ]


def test_official_split_is_kept():
    table, report = _table()
    tracks, _ = make_splits(table, report)
    merged = tracks.merge(table[["track_id", "split"]], on="track_id", suffixes=("", "_official"))
    assert len(merged) == len(table)  # every track kept, so the comparison below covers them all
    assert (merged["split"] == merged["split_official"]).all()


def test_grouped_split_when_no_official_one(caplog):
    caplog.set_level("INFO")
    table, report = _table(n_per_genre=40, official=False)
    tracks, genres = make_splits(table, report, seed=3)
    assert len(tracks) == len(table)
    assert (tracks.groupby("artist_id")["split"].nunique() == 1).all()
    # 40 tracks per genre, artists of 1-2 tracks: 80/10/10 per genre to within one artist.
    counts = genres.set_index("genre")[["n_training", "n_validation", "n_test"]]
    assert ((counts - [32, 4, 4]).abs() <= 2).all().all()
    assert (
        "1 track(s) have no official split" not in caplog.text
        and "stratified, artist-grouped" in caplog.text
    )


def test_official_split_needs_every_track():
    table, report = _table()
    table.loc[5, "split"] = ""
    tracks, _ = make_splits(table, report, seed=1)
    assert len(tracks) == len(table)
    merged = tracks.merge(table[["track_id", "split"]], on="track_id", suffixes=("", "_official"))
    assert (merged["split"] != merged["split_official"]).any()  # redrawn, not a mix of the two
    assert (tracks.groupby("artist_id")["split"].nunique() == 1).all()


def test_keep_drop_and_min_tracks():
    table, report = _table(genres=("Folk", "Pop", "Rock", "Jazz"))
    table = table[~((table["genre_top"] == "Jazz") & (table["track_id"] % 20 > 3))]
    report = report[report["track_id"].isin(table["track_id"])]
    _, genres = make_splits(table, report, min_tracks_per_genre=5)
    assert "Jazz" not in set(genres["genre"])
    _, genres = make_splits(table, report, drop_genres=["Pop"])
    assert "Pop" not in set(genres["genre"])
    _, genres = make_splits(table, report, keep_genres=["Rock", "Folk"])
    assert list(genres["genre"]) == ["Folk", "Rock"]


def test_nothing_left_is_an_error():
    table, report = _table()
    report["status"] = "undecodable"
    with pytest.raises(ValueError, match="no validated"):
        make_splits(table, report)


def test_grouped_split_never_splits_an_artist_and_stratifies_each_genre():
    rng = np.random.default_rng(0)
    genre = pd.Series(rng.choice(["a", "b", "c"], 600, p=[0.6, 0.3, 0.1]))
    artist = pd.Series(rng.integers(0, 200, 600))
    split = grouped_split(genre, artist, seed=1)
    frame = pd.DataFrame({"artist": artist, "genre": genre, "split": split})
    assert (frame.groupby("artist")["split"].nunique() == 1).all()
    shares = pd.crosstab(frame["genre"], frame["split"], normalize="index")
    assert (shares["training"].between(0.7, 0.9)).all()
    assert (shares[["validation", "test"]].stack().between(0.04, 0.16)).all()


def test_grouped_split_is_seeded():
    genre = pd.Series(["a"] * 50 + ["b"] * 50)
    artist = pd.Series(np.arange(100) // 2)
    assert grouped_split(genre, artist, 4).equals(grouped_split(genre, artist, 4))
    assert not grouped_split(genre, artist, 4).equals(grouped_split(genre, artist, 5))


def test_multi_root_tracks_get_a_drawn_split_with_their_artist():
    table, report = _table(n_per_genre=40, official=False)
    # Tracks 1-8 lose their genre_top (two roots); artists keep one split with their other tracks.
    table.loc[:7, ["genre_top", "genres_all_top"]] = ["", "Folk|Pop"]
    tracks, genres = make_splits(table, report, seed=3)
    multi = tracks[tracks["label"] == -1]
    assert len(multi) == 8 and multi["split"].isin(["training", "validation", "test"]).all()
    assert (tracks.groupby("artist_id")["split"].nunique() == 1).all()
    assert (
        genres.set_index("genre").loc["Folk", ["n_training", "n_validation", "n_test"]].sum() == 32
    )
