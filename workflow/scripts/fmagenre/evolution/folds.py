"""Which tracks evolution follows, and the split tables of the models that score them out of sample.

Cross-fitting: every kept track with a year goes into one of K artist-grouped folds; the fold-k model
trains on the other folds except k+1 (its validation split, for early stopping) and scores fold k
only, so no track is scored by a model that saw it or its artist. The fold split tables have the
layout of ``results/splits/tracks.tsv`` with the ``split`` column reassigned, so that the existing
packing (``fmagenre.data.pack.pack_dataset``) and training (``fmagenre.models.train.train_model``)
build the fold models unchanged.

Temporal generalisation uses the same mechanism: a model trained on the early half of the years is
tested on held-out early artists and on every late track.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from fmagenre.data.splits import grouped_split
from fmagenre.evolution.cells import YEAR_SOURCES
from fmagenre.io import read_tsv, write_tsv

log = logging.getLogger(__name__)

EVOLUTION_COLUMNS = ["track_id", "genre", "artist_id", "split", "year", "year_source", "fold"]
YEAR_COLUMNS = {
    "released": "year_released",
    "created": "year_created",
    "released_or_created": "year",
}


def track_years(table: pd.DataFrame, year_source: str) -> pd.Series:
    """Year of each row of the metadata track table by ``evolution.year_source`` (NaN if none)."""
    if year_source not in YEAR_SOURCES:
        raise ValueError(
            f"evolution.year_source = {year_source!r}; fix: one of {', '.join(YEAR_SOURCES)}"
        )
    column = YEAR_COLUMNS[year_source]
    if column not in table:
        raise KeyError(
            f"results/metadata/tracks.tsv lacks column {column!r}; fix: rerun rule track_table"
        )
    return pd.to_numeric(table[column], errors="coerce")


def assign_folds(genre: pd.Series, artist: pd.Series, k: int, seed: int) -> np.ndarray:
    """Artist-grouped folds 0..k-1, balanced per genre: each artist (in a seeded order, in its most
    frequent genre) goes to the fold that holds the fewest tracks of that genre so far."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"genre": genre.to_numpy(), "artist": artist.to_numpy()})
    home = frame.groupby("artist")["genre"].agg(lambda g: g.value_counts().index[0])
    sizes = frame["artist"].value_counts()
    fold_of = {}
    for name in sorted(home.unique()):
        filled = np.zeros(k)
        for a in rng.permutation(np.sort(home.index[home == name].to_numpy())):
            chosen = int(np.argmin(filled + rng.uniform(0, 1e-6, k)))
            fold_of[a] = chosen
            filled[chosen] += sizes[a]
    return frame["artist"].map(fold_of).to_numpy()


def evolution_tracks(
    splits_tsv: str, metadata_tsv: str, year_source: str, folds: int, seed: int, output: str
) -> pd.DataFrame:
    """``results/evolution/tracks.tsv``: the followed tracks (kept, single genre, with a year of the
    chosen source) with their original split and cross-fitting fold."""
    splits = read_tsv(splits_tsv)
    # tracks without a genre_top (several root genres, label -1) belong to no genre's trend
    splits = splits[splits["label"] >= 0].reset_index(drop=True)
    table = read_tsv(metadata_tsv, dtype={"folder": str}).set_index("track_id")
    years = track_years(table, year_source).reindex(splits["track_id"]).to_numpy()
    frame = pd.DataFrame(
        {
            "track_id": splits["track_id"],
            "genre": splits["genre_top"],
            "artist_id": splits["artist_id"],
            "split": splits["split"],
            "year": years,
            "year_source": year_source,
        }
    )
    dropped = int(frame["year"].isna().sum())
    frame = frame.dropna(subset=["year"]).reset_index(drop=True)
    frame["year"] = frame["year"].astype(int)
    if frame.empty:
        raise ValueError(
            f"{metadata_tsv}: no kept track has a {year_source} year; fix: "
            "evolution.year_source: released_or_created"
        )
    frame["fold"] = assign_folds(frame["genre"], frame["artist_id"], folds, seed)
    log.info(
        "%d tracks followed (%d left out without a %s year), %d folds",
        len(frame),
        dropped,
        year_source,
        folds,
    )
    write_tsv(output, frame[EVOLUTION_COLUMNS])
    return frame


def fold_split_table(
    splits: pd.DataFrame, followed: pd.DataFrame, fold: int, k: int
) -> pd.DataFrame:
    """``results/splits/tracks.tsv`` rows of the followed tracks, ``split`` set for fold model ``fold``."""
    fold_of = followed.set_index("track_id")["fold"]
    rows = splits[splits["track_id"].isin(fold_of.index)].copy()
    of = rows["track_id"].map(fold_of).to_numpy()
    rows["split"] = np.where(
        of == fold, "test", np.where(of == (fold + 1) % k, "validation", "training")
    )
    return rows


def temporal_split_table(splits: pd.DataFrame, followed: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Split rows for temporal generalisation, with a ``half`` column (early | late).

    Early = the first half of the followed years' range. Early artists are split 70/15/15 by artist
    (training / validation / test-early); every late track is a test track.
    """
    first, last = int(followed["year"].min()), int(followed["year"].max())
    cut = first + (last - first + 1) / 2
    year = splits["track_id"].map(followed.set_index("track_id")["year"])
    rows = splits[year.notna()].copy()
    rows["half"] = np.where(year[year.notna()] < cut, "early", "late")
    early = rows["half"] == "early"
    rows.loc[early, "split"] = grouped_split(
        rows.loc[early, "genre_top"], rows.loc[early, "artist_id"], seed, held_out_share=0.15
    ).to_numpy()
    rows.loc[~early, "split"] = "test"
    return rows


def write_fold_splits(
    splits_tsv: str, followed_tsv: str, fold: int | None, k: int, seed: int, output: str
) -> None:
    """Fold ``fold``'s split table, or with ``fold=None`` the temporal one."""
    splits, followed = read_tsv(splits_tsv), read_tsv(followed_tsv)
    table = (
        temporal_split_table(splits, followed, seed)
        if fold is None
        else fold_split_table(splits, followed, fold, k)
    )
    write_tsv(output, table)
