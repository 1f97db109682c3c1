"""Train/validation/test split of the validated tracks, with integer labels.

Tracks with a ``genre_top`` get its label; validated tracks without one (several root genres, as in
half of the real FMA) are kept with label -1 when a root genre of their ``genres_all`` is one of the
label genres: only multi-label models use them (targets: the root genres of ``genres_all``).

FMA's official split (``('set','split')``, artist-filtered, 80/10/10 per genre) is used when every kept
track has one; otherwise a stratified, artist-grouped split is drawn from the seed, so that no artist
(and so no segment of any track) appears in two splits.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from fmagenre.data.metadata import SPLITS
from fmagenre.io import genre_slug

log = logging.getLogger("fmagenre.splits")

TRACK_COLUMNS = [
    "track_id",
    "split",
    "genre_top",
    "label",
    "year",
    "genres_all",
    "artist_id",
    "folder",
]


def grouped_split(
    genre: pd.Series, artist: pd.Series, seed: int, held_out_share: float = 0.1
) -> pd.Series:
    """80/10/10 per genre with whole artists (FMA's artist filter: an artist is in one split only).

    Each artist belongs to its most frequent genre. Targets per genre: ``held_out_share`` (FMA: 10 %)
    of its tracks for validation and for test (at least one track each once a genre has 5 tracks), the
    rest for training. Artists,
    in a seeded random order, each go where they most reduce the squared error relative to the
    targets, so a small held-out split is not swamped by one big artist, and every split ends within
    one artist's tracks of its target.
    """
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"genre": genre.to_numpy(), "artist": artist.to_numpy()})
    pairs = frame.groupby(["artist", "genre"]).size().sort_values(kind="stable")
    home = pairs.groupby(level="artist").tail(1).reset_index(level="genre")["genre"]
    sizes = frame["artist"].value_counts()
    assigned = {}
    for name in sorted(frame["genre"].unique()):
        artists = np.sort(home.index[home == name].to_numpy())
        n = int(sizes.loc[artists].sum())
        held_out = max(1, round(held_out_share * n)) if n >= 5 else 0
        target = np.array([n - 2 * held_out, held_out, held_out], dtype=float)
        deficit = target.copy()
        for a in rng.permutation(artists):
            size = sizes[a]
            cost = np.full(len(SPLITS), np.inf)
            open_ = target > 0
            cost[open_] = (size**2 - 2 * size * deficit[open_]) / target[open_] ** 2
            chosen = int(np.argmin(cost + rng.uniform(0, 1e-9, len(SPLITS))))  # random among ties
            assigned[a] = SPLITS[chosen]
            deficit[chosen] -= size
    return pd.Series(frame["artist"].map(assigned).to_numpy(), index=genre.index, dtype=object)


def _multi_genre_tracks(tracks: pd.DataFrame, genres: set[str]) -> pd.DataFrame:
    """The tracks with at least one label genre among the root genres of ``genres_all``, labelled -1
    and stratified (when a split is drawn) by the first such genre."""
    roots = tracks["genres_all_top"].fillna("").astype(str).str.split("|")
    first = roots.map(lambda titles: next((t for t in sorted(titles) if t in genres), ""))
    kept = tracks[first != ""].copy()
    kept["genre_top"] = first[first != ""]
    kept["label"] = -1
    return kept


def make_splits(
    table: pd.DataFrame,
    report: pd.DataFrame,
    *,
    use_official: bool = True,
    keep_genres=(),
    drop_genres=(),
    min_tracks_per_genre: int = 1,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (tracks, genres) as written to ``results/splits/{tracks,genres}.tsv``."""
    status = report.set_index("track_id")["status"]
    ok = table[table["track_id"].map(status).eq("ok")]
    log.info("%d of %d tracks passed validation", len(ok), len(table))
    has_top = ok["genre_top"].fillna("") != ""
    labelled = _label_genres(ok[has_top], keep_genres, drop_genres, min_tracks_per_genre)
    genres = sorted(labelled["genre_top"].unique())
    labelled = labelled.assign(
        label=labelled["genre_top"].map({g: i for i, g in enumerate(genres)})
    )
    multi = _multi_genre_tracks(ok[~has_top], set(genres))
    log.info(
        "kept %d validated track(s) without a genre_top for multi-label models (label -1); "
        "left out %d without a label genre in genres_all",
        len(multi),
        int((~has_top).sum()) - len(multi),
    )
    labelled, source = _assign_splits(pd.concat([labelled, multi]), use_official, seed)
    labelled["genre_top"] = labelled["genre_top"].where(labelled["label"] >= 0, "")
    labelled["label"] = labelled["label"].astype(int)
    labelled["year"] = labelled["year"].astype("Int64")  # a missing year reads back as NaN, a float
    labelled["genres_all"] = labelled["genres_all_top"]
    tracks = labelled[TRACK_COLUMNS].sort_values("track_id").reset_index(drop=True)
    genre_table = _genre_table(tracks, genres)
    _log_splits(tracks, genre_table, source)
    return tracks, genre_table


def _label_genres(labelled, keep_genres, drop_genres, min_tracks_per_genre) -> pd.DataFrame:
    """The tracks with a genre_top that the splits config keeps (keep/drop lists, minimum size)."""
    if keep_genres:
        labelled = labelled[labelled["genre_top"].isin(keep_genres)]
    if drop_genres:
        labelled = labelled[~labelled["genre_top"].isin(drop_genres)]
    counts = labelled["genre_top"].value_counts()
    small = sorted(counts.index[counts < min_tracks_per_genre])
    if small:
        log.info(
            "dropped genre(s) with fewer than %d tracks: %s", min_tracks_per_genre, ", ".join(small)
        )
        labelled = labelled[~labelled["genre_top"].isin(small)]
    if labelled.empty:
        raise ValueError(
            "no validated, labelled track is left for the splits; check the validation report "
            "and splits.keep_genres / drop_genres / min_tracks_per_genre"
        )
    return labelled


def _assign_splits(labelled: pd.DataFrame, use_official: bool, seed: int):
    """FMA's official split when every track has one (and it is wanted), else an artist-grouped
    one; returns the tracks with ``split`` and a sentence naming the source."""
    official = labelled["split"].fillna("").isin(SPLITS)
    if use_official and official.all():
        return labelled, "FMA's official split"
    labelled = labelled.assign(
        split=grouped_split(labelled["genre_top"], labelled["artist_id"], seed)
    )
    why = (
        "splits.use_official is false"
        if not use_official
        else f"{int((~official).sum())} track(s) have no official split"
    )
    return labelled, f"a stratified, artist-grouped split (seed {seed}; {why})"


def _genre_table(tracks: pd.DataFrame, genres: list[str]) -> pd.DataFrame:
    """Label, genre, slug and the labelled track count per split of each kept genre."""
    per_split = (
        tracks[tracks["label"] >= 0].groupby(["genre_top", "split"]).size().unstack(fill_value=0)
    )
    return pd.DataFrame(
        {
            "label": range(len(genres)),
            "genre": genres,
            "slug": [genre_slug(g) for g in genres],
            **{
                f"n_{s}": [int(per_split.get(s, pd.Series(dtype=int)).get(g, 0)) for g in genres]
                for s in SPLITS
            },
        }
    )


def _log_splits(tracks: pd.DataFrame, genre_table: pd.DataFrame, source: str) -> None:
    log.info(
        "splits from %s: %s",
        source,
        ", ".join(f"{s} {int((tracks['split'] == s).sum())}" for s in SPLITS),
    )
    for row in genre_table.itertuples():
        log.info(
            "  %s (label %d): training %d, validation %d, test %d",
            row.genre,
            row.label,
            row.n_training,
            row.n_validation,
            row.n_test,
        )
