"""FMA metadata loader: the real layout (hand-written excerpt), the synthetic output, and bad files."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from fmagenre.data.metadata import (
    MetadataError,
    audio_path,
    build_track_table,
    load_genres,
    load_tracks,
    select_subset,
)


@pytest.fixture()
def excerpt(repo_root, tmp_path):
    target = tmp_path / "fma_metadata"
    shutil.copytree(repo_root / "tests" / "data" / "fma_excerpt", target)
    return target


def test_reads_the_real_layout(excerpt):
    tracks = load_tracks(excerpt / "tracks.csv")
    assert list(tracks.index) == [2, 3, 20, 1235]
    assert tracks.shape[1] == 52
    assert tracks.loc[20, ("track", "genres_all")] == [17, 10, 76, 103]
    assert tracks.loc[2, ("track", "genres")] == [21]
    assert tracks.loc[2, ("album", "date_released")] == pd.Timestamp("2009-01-05")
    assert pd.isna(tracks.loc[20, ("track", "genre_top")])
    assert tracks[("set", "subset")].cat.ordered


def test_subsets_are_nested(excerpt):
    tracks = load_tracks(excerpt / "tracks.csv")
    assert list(select_subset(tracks, "small").index) == [2, 1235]
    assert list(select_subset(tracks, "medium").index) == [2, 3, 1235]
    assert len(select_subset(tracks, "large")) == len(select_subset(tracks, "full")) == 4


def test_track_table_columns_and_year_fallback(excerpt):
    table, genres = build_track_table(excerpt / "tracks.csv", excerpt / "genres.csv", "full")
    assert list(table.columns) == ["track_id", "folder", "path", "subset", "split", "genre_top", "genres",
                                   "genres_all", "genres_all_top", "artist_id", "year", "duration"]
    row = table.set_index("track_id").loc[20]
    assert row["path"] == "000/000020.mp3" and row["folder"] == "000"
    assert row["genres_all_top"] == "Folk|Pop"
    assert row["year"] == 2008  # no release date: falls back to the track's creation year
    assert table.set_index("track_id").loc[1235, "folder"] == "001"
    assert set(genres.columns) == {"genre_id", "parent", "title", "top_level", "n_tracks"}


def test_audio_path_only_from_integer_ids():
    assert audio_path(2) == "000/000002.mp3"
    assert audio_path(155320) == "155/155320.mp3"
    with pytest.raises(MetadataError):
        audio_path(-1)


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_wrong_header_is_named(excerpt):
    _edit(excerpt / "tracks.csv", "track_id,,,", "id,,,")
    with pytest.raises(MetadataError, match=r"tracks\.csv.*header"):
        load_tracks(excerpt / "tracks.csv")


def test_missing_column_is_named(excerpt):
    _edit(excerpt / "tracks.csv", ",genre_top,", ",genres_top,")
    with pytest.raises(MetadataError, match=r"tracks\.csv.*\('track', 'genre_top'\)"):
        load_tracks(excerpt / "tracks.csv")


def test_non_integer_track_id_names_the_line(excerpt):
    _edit(excerpt / "tracks.csv", "\n20,0,", "\nx20,0,")
    with pytest.raises(MetadataError, match=r"line 6: track_id 'x20'"):
        load_tracks(excerpt / "tracks.csv")


def test_malformed_genre_list_names_row_and_column(excerpt):
    _edit(excerpt / "tracks.csv", "Hip-Hop,[21],[21]", "Hip-Hop,[21],[2x1]")
    with pytest.raises(MetadataError, match=r"track_id 2, column track\.genres_all"):
        load_tracks(excerpt / "tracks.csv")


def test_unknown_genre_id_is_skipped_with_a_count(excerpt, caplog):
    _edit(excerpt / "tracks.csv", '"[12, 25]","[12, 25]"', '"[12, 999]","[12, 999]"')
    table, _ = build_track_table(excerpt / "tracks.csv", excerpt / "genres.csv", "full")
    assert table.set_index("track_id").loc[1235, "genres_all"] == "[12]"
    assert "2 genre id(s) absent" in caplog.text


def test_empty_genre_list_is_kept_for_the_splits_to_skip(excerpt, caplog):
    caplog.set_level("INFO")
    _edit(excerpt / "tracks.csv", "Hip-Hop,[21],[21],,4656", ",[],[],,4656")
    table, _ = build_track_table(excerpt / "tracks.csv", excerpt / "genres.csv", "full")
    assert table.set_index("track_id").loc[2, "genres_all"] == "[]"
    assert "1 track(s) have no genre" in caplog.text


def test_bad_genres_csv_is_named(excerpt):
    _edit(excerpt / "genres.csv", "genre_id,#tracks", "id,#tracks")
    with pytest.raises(MetadataError, match=r"genres\.csv: columns"):
        load_genres(excerpt / "genres.csv")


def test_reads_the_synthetic_output(tiny_fma):
    tracks = load_tracks(tiny_fma["tracks"])
    table, _ = build_track_table(tiny_fma["tracks"], tiny_fma["genres"], "small")
    assert len(table) == len(tracks) == 48
    assert table["folder"].nunique() >= 2
