"""Train/validation/test split of the validated tracks, with integer labels.

FMA's official split (``('set','split')``, artist-filtered, 80/10/10 per genre) is used when every kept
track has one; otherwise a stratified, artist-grouped split is drawn from the seed, so that no artist
(and so no segment of any track) appears in two splits.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from fmagenre.io import genre_slug

log = logging.getLogger("fmagenre.splits")

SPLITS = ("training", "validation", "test")
TRACK_COLUMNS = ["track_id", "split", "genre_top", "label", "year", "genres_all", "artist_id", "folder"]


def grouped_split(genre: pd.Series, artist: pd.Series, seed: int) -> pd.Series:
    """80/10/10 per genre with whole artists (FMA's artist filter: an artist is in one split only).

    Each artist belongs to its most frequent genre; per genre, shuffled artists fill test, then
    validation, taking an artist only while it does not overshoot the split's share by more than
    half (so small genres keep most of their tracks for training).
    """
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"genre": genre.to_numpy(), "artist": artist.to_numpy()})
    pairs = frame.groupby(["artist", "genre"]).size().sort_values(kind="stable")
    home = pairs.groupby(level="artist").tail(1).reset_index(level="genre")["genre"]
    sizes = frame["artist"].value_counts()
    assigned = {}
    for name in sorted(frame["genre"].unique()):
        artists = np.sort(home.index[home == name].to_numpy())
        n = int(sizes.loc[artists].sum()) if len(artists) else 0
        target = max(1, round(0.1 * n)) if n >= 3 else 0
        want = {"test": target, "validation": target}
        for a in rng.permutation(artists):
            size = int(sizes[a])
            chosen = next((s for s in ("test", "validation") if 0 < want[s] and size <= want[s] + target / 2), None)
            if chosen is not None:
                assigned[a] = chosen
                want[chosen] -= size
    return pd.Series(frame["artist"].map(assigned).fillna("training").to_numpy(), index=genre.index, dtype=object)


def make_splits(table: pd.DataFrame, report: pd.DataFrame, *, use_official: bool = True,
                keep_genres=(), drop_genres=(), min_tracks_per_genre: int = 1,
                seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (tracks, genres) as written to ``results/splits/{tracks,genres}.tsv``."""
    status = report.set_index("track_id")["status"]
    ok = table[table["track_id"].map(status).eq("ok")]
    log.info("%d of %d tracks passed validation", len(ok), len(table))
    labelled = ok[ok["genre_top"].fillna("") != ""]
    if len(labelled) < len(ok):
        log.info("skipped %d validated track(s) without a single top-level genre (genre_top empty)",
                 len(ok) - len(labelled))
    if keep_genres:
        labelled = labelled[labelled["genre_top"].isin(keep_genres)]
    if drop_genres:
        labelled = labelled[~labelled["genre_top"].isin(drop_genres)]
    counts = labelled["genre_top"].value_counts()
    small = sorted(counts.index[counts < min_tracks_per_genre])
    if small:
        log.info("dropped genre(s) with fewer than %d tracks: %s", min_tracks_per_genre, ", ".join(small))
        labelled = labelled[~labelled["genre_top"].isin(small)]
    if labelled.empty:
        raise ValueError("no validated, labelled track is left for the splits; check the validation report "
                         "and splits.keep_genres / drop_genres / min_tracks_per_genre")
    labelled = labelled.copy()
    official = labelled["split"].fillna("").isin(SPLITS)
    if use_official and official.all():
        source = "FMA's official split"
    else:
        labelled["split"] = grouped_split(labelled["genre_top"], labelled["artist_id"], seed)
        source = "a stratified, artist-grouped split (seed %d)" % seed
    genres = sorted(labelled["genre_top"].unique())
    labelled["label"] = labelled["genre_top"].map({g: i for i, g in enumerate(genres)})
    labelled["genres_all"] = labelled["genres_all_top"]
    tracks = labelled[TRACK_COLUMNS].sort_values("track_id").reset_index(drop=True)
    per_split = tracks.groupby(["genre_top", "split"]).size().unstack(fill_value=0)
    genre_table = pd.DataFrame({
        "label": range(len(genres)),
        "genre": genres,
        "slug": [genre_slug(g) for g in genres],
        **{f"n_{s}": [int(per_split.get(s, pd.Series(dtype=int)).get(g, 0)) for g in genres] for s in SPLITS},
    })
    log.info("splits from %s: %s", source,
             ", ".join(f"{s} {int((tracks['split'] == s).sum())}" for s in SPLITS))
    return tracks, genre_table
