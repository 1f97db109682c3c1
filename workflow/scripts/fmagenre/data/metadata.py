"""Loader for FMA's metadata: ``tracks.csv`` (two-level header) and ``genres.csv``.

Reads the real format as published (mdeff/fma ``utils.load``), but checks it first: a file that differs
(wrong header, missing column, non-integer track or artist id, malformed list, unknown split or subset,
a ``genre_top`` with an empty ``genres_all`` or that is not a root genre of ``genres.csv``) stops with an
error naming the file, the row and the column. Genre ids inside ``genres``/``genres_all`` that
``genres.csv`` does not know are dropped from the track's lists with a logged count (the documented
skip), since one stray id should not discard a track.

Audio paths are built from integer track ids only (``NNN/NNNNNN.mp3``), so metadata can never make the
pipeline read or write outside the configured folders.
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger("fmagenre.metadata")

SUBSETS = ("small", "medium", "large")
GENRES_COLUMNS = ["genre_id", "#tracks", "parent", "title", "top_level"]
# Columns the pipeline reads; the real file has 52 (see fmagenre.data.synth.COLUMNS).
REQUIRED_COLUMNS = [
    ("set", "split"),
    ("set", "subset"),
    ("track", "genre_top"),
    ("track", "genres"),
    ("track", "genres_all"),
    ("track", "date_created"),
    ("track", "duration"),
    ("album", "date_released"),
    ("artist", "id"),
]
# As utils.load: list columns (literal_eval) and dates; those absent from a slimmed file are skipped.
LIST_COLUMNS = [
    ("track", "tags"),
    ("album", "tags"),
    ("artist", "tags"),
    ("track", "genres"),
    ("track", "genres_all"),
]
DATE_COLUMNS = [
    ("track", "date_created"),
    ("track", "date_recorded"),
    ("album", "date_created"),
    ("album", "date_released"),
    ("artist", "date_created"),
    ("artist", "active_year_begin"),
    ("artist", "active_year_end"),
]
SPLITS = ("training", "validation", "test")
TABLE_COLUMNS = [
    "track_id",
    "folder",
    "path",
    "subset",
    "split",
    "genre_top",
    "genres",
    "genres_all",
    "genres_all_top",
    "artist_id",
    "year",
    "year_released",
    "year_created",
    "duration",
]


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


def _parse_lists(tracks: pd.DataFrame, column: tuple, path: Path) -> list[list]:
    """Parse FMA's list serialisation (``"[21, 12]"``, ``"['awol']"``) with ``ast.literal_eval``.

    Each distinct string is parsed once (fma_full repeats them a lot), and each row gets its own list.
    Genre lists must hold integers; tags, strings.
    """
    element = str if column[1] == "tags" else int
    values = tracks[column].to_numpy(dtype=object)  # iterating the pandas column is 10x slower
    parsed = {}
    for track_id, value in zip(tracks.index, values):
        if value in parsed:
            continue
        text = "" if pd.isna(value) else str(value)
        try:
            items = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            items = None
        if not (isinstance(items, list) and all(type(item) is element for item in items)):
            raise MetadataError(
                f"{path}: track_id {track_id}, column {column[0]}.{column[1]}: {text!r} is not a list of "
                f"{element.__name__}s like {'[21, 12]' if element is int else repr(['rock'])}. "
                "Fix: restore tracks.csv from fma_metadata.zip."
            )
        parsed[value] = items
    return [list(parsed[value]) for value in values]


def _first_bad(mask, tracks: pd.DataFrame):
    return tracks.index[np.flatnonzero(np.asarray(mask))[0]]


def load_tracks(path: str | Path) -> pd.DataFrame:
    """Read ``tracks.csv``: two-level columns, list columns parsed, dates parsed, ordered subsets."""
    path = Path(path)
    if not path.is_file():
        raise MetadataError(
            f"{path} does not exist. Fix: set dataset.metadata_dir to the fma_metadata folder."
        )
    _check_header(path)
    tracks = pd.read_csv(path, index_col=0, header=[0, 1], low_memory=False)
    missing = [column for column in REQUIRED_COLUMNS if column not in tracks.columns]
    if missing:
        raise MetadataError(
            f"{path}: column(s) {', '.join(map(str, missing))} missing. Fix: use FMA's tracks.csv "
            "(52 columns; the repository's older code expected 'genres_top', the file has 'genre_top')."
        )
    tracks.index = _track_ids(tracks, path)
    tracks[("artist", "id")] = _artist_ids(tracks, path)
    for column in (c for c in LIST_COLUMNS if c in tracks.columns):
        tracks[column] = _parse_lists(tracks, column, path)
    for column in (c for c in DATE_COLUMNS if c in tracks.columns):
        tracks[column] = _parse_dates(tracks, column, path)
    _check_values(tracks, path)
    tracks[("set", "subset")] = pd.Categorical(
        tracks[("set", "subset")], categories=SUBSETS, ordered=True
    )
    return tracks


def _track_ids(tracks: pd.DataFrame, path: Path) -> pd.Index:
    """The index as integer track ids: ids alone make the audio paths, so nothing else may reach
    the file system."""
    ids = pd.to_numeric(pd.Series(tracks.index), errors="coerce")
    values = ids.to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values % 1 != 0) | (values < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise MetadataError(
            f"{path}: data row {row + 1} (after the 3 header lines), column track_id: "
            f"{tracks.index[row]!r} is not a non-negative integer. Fix: restore tracks.csv from fma_metadata.zip."
        )
    index = pd.Index(ids.astype(np.int64).to_numpy(), name="track_id")
    if index.has_duplicates:
        raise MetadataError(f"{path}: track_id {index[index.duplicated()][0]} appears twice.")
    return index


def _artist_ids(tracks: pd.DataFrame, path: Path) -> pd.Series:
    """artist.id as integers: the artist-grouped split needs every track's artist."""
    artist = pd.to_numeric(tracks[("artist", "id")], errors="coerce")
    if (artist.isna() | (artist % 1 != 0)).any():
        bad = _first_bad(artist.isna() | (artist % 1 != 0), tracks)
        raise MetadataError(
            f"{path}: track_id {bad}, column artist.id: {tracks.loc[bad, ('artist', 'id')]!r} is not an integer "
            "(the artist-grouped split needs every track's artist). Fix: restore tracks.csv from fma_metadata.zip."
        )
    return artist.astype(np.int64)


def _parse_dates(tracks: pd.DataFrame, column: tuple, path: Path) -> pd.Series:
    """ISO dates; a value that is not one is read as missing, with a warning naming a track."""
    text = tracks[column]
    dates = pd.to_datetime(text, errors="coerce", format="ISO8601")
    unparsed = dates.isna() & text.notna()
    if unparsed.any():
        log.warning(
            "%s: %d value(s) of %s.%s are not dates (e.g. track_id %s: %r); read as missing",
            path,
            int(unparsed.sum()),
            *column,
            _first_bad(unparsed, tracks),
            text[unparsed].iloc[0],
        )
    return dates


def _check_values(tracks: pd.DataFrame, path: Path) -> None:
    """Subsets and splits from FMA's vocabulary; a genre_top always among genres_all's roots."""
    for column, allowed in ((("set", "subset"), SUBSETS), (("set", "split"), SPLITS)):
        values = tracks[column]
        unknown = values.notna() & ~values.isin(allowed)
        if unknown.any():
            bad = _first_bad(unknown, tracks)
            raise MetadataError(
                f"{path}: track_id {bad}, column {column[0]}.{column[1]}: {values[bad]!r} is not one of "
                f"{', '.join(allowed)}. Fix: restore tracks.csv from fma_metadata.zip."
            )
    no_genres = tracks[("track", "genre_top")].notna() & (
        tracks[("track", "genres_all")].map(len) == 0
    )
    if no_genres.any():
        raise MetadataError(
            f"{path}: track_id {_first_bad(no_genres, tracks)}, column track.genres_all: empty, but "
            "track.genre_top is set (genre_top is the single root of genres_all). Fix: restore tracks.csv "
            "from fma_metadata.zip, or empty that track's genre_top."
        )


def load_genres(path: str | Path) -> pd.DataFrame:
    """Read ``genres.csv`` (``genre_id,#tracks,parent,title,top_level``); one row per genre."""
    path = Path(path)
    if not path.is_file():
        raise MetadataError(
            f"{path} does not exist. Fix: set dataset.metadata_dir to the fma_metadata folder."
        )
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
            raise MetadataError(
                f"{path}: line {row + 2}, column {column}: {genres[column].iloc[row]!r} is not an integer."
            )
        genres[column] = values.astype(np.int64)
    ids = set(genres["genre_id"])
    for column in ("parent", "top_level"):
        dangling = ~genres[column].isin(ids | ({0} if column == "parent" else set()))
        if dangling.any():
            row = int(np.flatnonzero(dangling.to_numpy())[0])
            raise MetadataError(
                f"{path}: line {row + 2}, column {column}: genre {genres[column].iloc[row]} is not a genre_id "
                "of the file. Fix: use FMA's genres.csv unmodified."
            )
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
    _check_genre_top(tracks, genres, tracks_csv, genres_csv)
    genres_list, genres_all = _known_genre_ids(tracks, genres, tracks_csv, genres_csv)
    title = dict(zip(genres["genre_id"], genres["title"]))
    top_level = dict(zip(genres["genre_id"], genres["top_level"]))
    tops = ["|".join(sorted({title[top_level[g]] for g in ids})) for ids in genres_all]
    released = tracks[("album", "date_released")].dt.year
    created = tracks[("track", "date_created")].dt.year
    ids = tracks.index.to_numpy()
    paths = [audio_path(t) for t in ids]
    table = pd.DataFrame(
        {
            "track_id": ids,
            "folder": [p[:3] for p in paths],
            "path": paths,
            "subset": tracks[("set", "subset")].astype(str).to_numpy(),
            "split": tracks[("set", "split")].fillna("").astype(str).to_numpy(),
            "genre_top": tracks[("track", "genre_top")].fillna("").astype(str).to_numpy(),
            "genres": ["[" + ", ".join(map(str, g)) + "]" for g in genres_list],
            "genres_all": ["[" + ", ".join(map(str, g)) + "]" for g in genres_all],
            "genres_all_top": tops,
            "artist_id": tracks[("artist", "id")].to_numpy(),
            "year": released.fillna(created).astype("Int64").to_numpy(),
            # album.date_released and track.date_created (evolution.year_source picks)
            "year_released": released.astype("Int64").to_numpy(),
            "year_created": created.astype("Int64").to_numpy(),
            "duration": tracks[("track", "duration")].to_numpy(),
        },
        columns=TABLE_COLUMNS,
    )
    no_genre = int((table["genres_all"] == "[]").sum())
    if no_genre:
        log.info(
            "%d track(s) have no genre at all; they are kept here and skipped by the splits",
            no_genre,
        )
    genre_table = genres.rename(columns={"#tracks": "n_tracks"})[
        ["genre_id", "parent", "title", "top_level", "n_tracks"]
    ]
    log.info(
        "%s: %d tracks in subset '%s', %d folders",
        tracks_csv,
        len(table),
        subset,
        table["folder"].nunique(),
    )
    log.info("tracks per subset and status:\n%s", track_counts(table).to_string())
    return table.sort_values("track_id").reset_index(drop=True), genre_table


def _check_genre_top(tracks: pd.DataFrame, genres: pd.DataFrame, tracks_csv, genres_csv) -> None:
    """Every genre_top is a root genre (parent 0) of genres.csv."""
    roots = set(genres.loc[genres["parent"] == 0, "title"])
    top = tracks[("track", "genre_top")]
    unknown_top = top.notna() & ~top.isin(roots)
    if unknown_top.any():
        bad = _first_bad(unknown_top, tracks)
        raise MetadataError(
            f"{tracks_csv}: track_id {bad}, column track.genre_top: {tracks.loc[bad, ('track', 'genre_top')]!r} "
            f"is not a root genre (parent 0) of {genres_csv}. Fix: use the genres.csv of the same fma_metadata."
        )


def _known_genre_ids(tracks: pd.DataFrame, genres: pd.DataFrame, tracks_csv, genres_csv):
    """track.genres and track.genres_all without the ids genres.csv lacks (skipped with a warning
    that names some of them and a track holding each)."""
    known = set(genres["genre_id"])
    skipped: dict[int, int] = {}  # unknown genre id -> first track_id holding it
    dropped = 0

    def keep_known(track_id, ids):
        nonlocal dropped
        kept = [g for g in ids if g in known]
        dropped += len(ids) - len(kept)
        for g in set(ids) - known:
            skipped.setdefault(g, track_id)
        return kept

    lists = [
        [keep_known(t, ids) for t, ids in zip(tracks.index, tracks[("track", column)])]
        for column in ("genres", "genres_all")
    ]
    if dropped:
        examples = ", ".join(f"{g} (track_id {t})" for g, t in sorted(skipped.items())[:5])
        log.warning(
            "%s: skipped %d genre id(s) absent from %s in track.genres/track.genres_all, e.g. %s",
            tracks_csv,
            dropped,
            genres_csv,
            examples,
        )
    return lists


def track_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Tracks per subset (rows) and per status (columns): the genre they can be labelled with and
    the official split they have, plus totals; what the splits stage will be able to use."""
    genre = np.select(
        [table["genre_top"] != "", table["genres_all"] == "[]"],
        ["genre_top", "no genre"],
        "no genre_top (several roots)",
    )
    split = np.where(table["split"] != "", "split " + table["split"], "no split")
    counts = pd.concat(
        [pd.crosstab(table["subset"], genre), pd.crosstab(table["subset"], split)], axis=1
    )
    counts["tracks"] = table.groupby("subset").size()
    counts.loc["total"] = counts.sum()
    return counts.rename_axis(index="subset", columns="status")
