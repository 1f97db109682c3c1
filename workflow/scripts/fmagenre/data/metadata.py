"""Loader for FMA's metadata: ``tracks.csv`` (two-level header) and ``genres.csv``.

Reads the real format as published (mdeff/fma ``utils.load``), but checks it first: a file that differs
(wrong header, missing column, non-integer track id, malformed genre list) stops with an error naming
the file, the row and the column. Genre ids that ``genres.csv`` does not know are dropped from a track's
lists with a logged count (the documented skip), since one bad id should not discard a track.

Audio paths are built from integer track ids only (``NNN/NNNNNN.mp3``), so metadata can never make the
pipeline read or write outside the configured folders.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger("fmagenre.metadata")

SUBSETS = ("small", "medium", "large")
GENRES_COLUMNS = ["genre_id", "#tracks", "parent", "title", "top_level"]
# Columns the pipeline reads; the real file has 52 (see fmagenre.data.synth.COLUMNS).
REQUIRED_COLUMNS = [
    ("set", "split"), ("set", "subset"), ("track", "genre_top"), ("track", "genres"),
    ("track", "genres_all"), ("track", "date_created"), ("track", "duration"),
    ("album", "date_released"), ("artist", "id"),
]
LIST_COLUMNS = [("track", "genres"), ("track", "genres_all")]
DATE_COLUMNS = [("track", "date_created"), ("album", "date_released")]
TABLE_COLUMNS = ["track_id", "folder", "path", "subset", "split", "genre_top", "genres", "genres_all",
                 "genres_all_top", "artist_id", "year", "duration"]


class MetadataError(ValueError):
    """The metadata does not have FMA's format; the message names file, row, column and fix."""


def audio_path(track_id: int) -> str:
    """FMA's audio path of a track, relative to the audio folder: ``000/000002.mp3``."""
    track_id = int(track_id)
    if track_id < 0:
        raise MetadataError(f"track id {track_id} is negative")
    name = f"{track_id:06d}"
    return f"{name[:3]}/{name}.mp3"


def _check_header(path: Path) -> None:
    with open(path, newline="") as handle:
        lines = [handle.readline().rstrip("\r\n") for _ in range(3)]
    top, names, index = (line.split(",") for line in lines)
    if not (top[0] == "" and names[0] == "" and index[0] == "track_id" and not any(index[1:])):
        raise MetadataError(
            f"{path}: the header is not FMA's two-level tracks.csv header (line 1 ',album,...', line 2 "
            f"',comments,...', line 3 'track_id,,,'); found line 3 = {lines[2][:60]!r}. Fix: point "
            "dataset.metadata_dir at the unzipped fma_metadata folder (tracks.csv as published)."
        )


def _parse_id_list(value, path: Path, track_id, column: str) -> list[int]:
    """Parse ``"[21, 12]"`` (FMA's list serialisation) without eval."""
    text = "" if pd.isna(value) else str(value).strip()
    if not (text.startswith("[") and text.endswith("]")):
        raise MetadataError(
            f"{path}: track_id {track_id}, column {column}: {text!r} is not a list like '[21, 12]'. "
            "Fix: restore the file from fma_metadata.zip."
        )
    inner = text[1:-1].strip()
    try:
        return [int(part) for part in inner.split(",")] if inner else []
    except ValueError:
        raise MetadataError(
            f"{path}: track_id {track_id}, column {column}: {text!r} holds a non-integer genre id. "
            "Fix: restore the file from fma_metadata.zip."
        ) from None


def load_tracks(path: str | Path) -> pd.DataFrame:
    """Read ``tracks.csv``: two-level columns, list columns parsed, dates parsed, ordered subsets."""
    path = Path(path)
    if not path.is_file():
        raise MetadataError(f"{path} does not exist. Fix: set dataset.metadata_dir to the fma_metadata folder.")
    _check_header(path)
    tracks = pd.read_csv(path, index_col=0, header=[0, 1], low_memory=False)
    missing = [column for column in REQUIRED_COLUMNS if column not in tracks.columns]
    if missing:
        raise MetadataError(
            f"{path}: column(s) {', '.join(map(str, missing))} missing. Fix: use FMA's tracks.csv "
            "(52 columns; the repository's older code expected 'genres_top', the file has 'genre_top')."
        )
    ids = pd.to_numeric(pd.Series(tracks.index), errors="coerce")
    bad = ~np.isfinite(ids.to_numpy(dtype=float)) | (ids.to_numpy(dtype=float) % 1 != 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise MetadataError(
            f"{path}: line {row + 4}: track_id {tracks.index[row]!r} is not an integer. "
            "Fix: restore the file from fma_metadata.zip."
        )
    tracks.index = pd.Index(ids.astype(np.int64).to_numpy(), name="track_id")
    if tracks.index.has_duplicates:
        raise MetadataError(f"{path}: track_id {tracks.index[tracks.index.duplicated()][0]} appears twice.")
    for column in LIST_COLUMNS:
        name = f"{column[0]}.{column[1]}"
        tracks[column] = [_parse_id_list(v, path, t, name) for t, v in zip(tracks.index, tracks[column])]
    for column in DATE_COLUMNS:
        tracks[column] = pd.to_datetime(tracks[column], errors="coerce")
    unknown_subsets = set(tracks[("set", "subset")].dropna()) - set(SUBSETS)
    if unknown_subsets:
        raise MetadataError(f"{path}: column set.subset holds {sorted(unknown_subsets)}; expected {SUBSETS}.")
    tracks[("set", "subset")] = pd.Categorical(tracks[("set", "subset")], categories=SUBSETS, ordered=True)
    return tracks


def load_genres(path: str | Path) -> pd.DataFrame:
    """Read ``genres.csv`` (``genre_id,#tracks,parent,title,top_level``); one row per genre."""
    path = Path(path)
    if not path.is_file():
        raise MetadataError(f"{path} does not exist. Fix: set dataset.metadata_dir to the fma_metadata folder.")
    genres = pd.read_csv(path)
    if list(genres.columns) != GENRES_COLUMNS:
        raise MetadataError(
            f"{path}: columns are {list(genres.columns)}; expected {GENRES_COLUMNS}. "
            "Fix: use FMA's genres.csv."
        )
    for column in ("genre_id", "parent", "top_level"):
        values = pd.to_numeric(genres[column], errors="coerce")
        if values.isna().any():
            row = int(values.isna().to_numpy().argmax())
            raise MetadataError(f"{path}: line {row + 2}, column {column}: {genres[column].iloc[row]!r} is not an integer.")
        genres[column] = values.astype(np.int64)
    return genres


def select_subset(tracks: pd.DataFrame, subset: str) -> pd.DataFrame:
    """Tracks of ``subset`` (nested: small within medium within large); ``full`` keeps every track."""
    if subset == "full":
        return tracks
    if subset not in SUBSETS:
        raise MetadataError(f"unknown subset {subset!r}; use one of {SUBSETS + ('full',)}")
    return tracks[tracks[("set", "subset")] <= subset]


def build_track_table(tracks_csv, genres_csv, subset: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The pipeline's track table (``results/metadata/tracks.tsv``) and genre table."""
    genres = load_genres(genres_csv)
    tracks = select_subset(load_tracks(tracks_csv), subset)
    known = set(genres["genre_id"])
    title = dict(zip(genres["genre_id"], genres["title"]))
    top_level = dict(zip(genres["genre_id"], genres["top_level"]))
    dropped = 0

    def keep_known(ids):
        nonlocal dropped
        kept = [g for g in ids if g in known]
        dropped += len(ids) - len(kept)
        return kept

    genres_list = [keep_known(ids) for ids in tracks[("track", "genres")]]
    genres_all = [keep_known(ids) for ids in tracks[("track", "genres_all")]]
    if dropped:
        log.warning("%s: %d genre id(s) absent from %s were skipped", tracks_csv, dropped, genres_csv)
    tops = ["|".join(sorted({title[top_level[g]] for g in ids})) for ids in genres_all]
    released = tracks[("album", "date_released")].dt.year
    created = tracks[("track", "date_created")].dt.year
    year = released.fillna(created)
    ids = tracks.index.to_numpy()
    paths = [audio_path(t) for t in ids]
    table = pd.DataFrame({
        "track_id": ids,
        "folder": [p[:3] for p in paths],
        "path": paths,
        "subset": tracks[("set", "subset")].astype(str).to_numpy(),
        "split": tracks[("set", "split")].fillna("").astype(str).to_numpy(),
        "genre_top": tracks[("track", "genre_top")].fillna("").astype(str).to_numpy(),
        "genres": ["[" + ", ".join(map(str, g)) + "]" for g in genres_list],
        "genres_all": ["[" + ", ".join(map(str, g)) + "]" for g in genres_all],
        "genres_all_top": tops,
        "artist_id": tracks[("artist", "id")].fillna(-1).astype(np.int64).to_numpy(),
        "year": year.astype("Int64").to_numpy(),
        "duration": tracks[("track", "duration")].to_numpy(),
    }, columns=TABLE_COLUMNS)
    no_genre = int((table["genres_all"] == "[]").sum())
    if no_genre:
        log.info("%d track(s) have no genre at all; they are kept here and skipped by the splits", no_genre)
    genre_table = genres.rename(columns={"#tracks": "n_tracks"})[["genre_id", "parent", "title", "top_level", "n_tracks"]]
    log.info("%s: %d tracks in subset '%s', %d folders", tracks_csv, len(table), subset, table["folder"].nunique())
    return table.sort_values("track_id").reset_index(drop=True), genre_table
