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
    assert tracks.loc[2, ("artist", "tags")] == ["awol"] and tracks.loc[2, ("track", "tags")] == []
    assert tracks.loc[2, ("artist", "active_year_begin")] == pd.Timestamp("2006-01-01")
    assert tracks[("artist", "id")].dtype == "int64"


def test_subsets_are_nested(excerpt):
    tracks = load_tracks(excerpt / "tracks.csv")
    assert list(select_subset(tracks, "small").index) == [2, 1235]
    assert list(select_subset(tracks, "medium").index) == [2, 3, 1235]
    assert len(select_subset(tracks, "large")) == len(select_subset(tracks, "full")) == 4


def test_track_table_columns_and_year_fallback(excerpt):
    table, genres = build_track_table(excerpt / "tracks.csv", excerpt / "genres.csv", "full")
    assert list(table.columns) == [
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
    row = table.set_index("track_id").loc[20]
    assert row["path"] == "000/000020.mp3" and row["folder"] == "000"
    assert row["genres_all_top"] == "Folk|Pop"
    assert row["year"] == 2008  # no release date: falls back to the track's creation year
    assert pd.isna(row["year_released"]) and row["year_created"] == 2008  # evolution.year_source
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


# Each bad tracks.csv: (text replaced, replacement, what the error must say: file, row, column).
BAD_TRACKS = {
    "wrong header": ("track_id,,,", "id,,,", r"tracks\.csv: the header is not FMA's two-level"),
    "missing column": (
        ",genre_top,",
        ",genres_top,",
        r"tracks\.csv: column\(s\) \('track', 'genre_top'\) missing",
    ),
    "non-integer track id": (
        "\n20,0,",
        "\nx20,0,",
        r"tracks\.csv: data row 3 .*column track_id: 'x20'",
    ),
    "path in track id": (
        "\n20,0,",
        "\n../20,0,",
        r"tracks\.csv: data row 3 .*column track_id: '\.\./20'",
    ),
    "negative track id": ("\n20,0,", "\n-20,0,", r"tracks\.csv: data row 3 .*column track_id"),
    "malformed genre list": (
        "Hip-Hop,[21],[21]",
        "Hip-Hop,[21],[2x1]",
        r"tracks\.csv: track_id 2, column track\.genres_all",
    ),
    "empty genres_all under a genre_top": (
        "Hip-Hop,[21],[21]",
        "Hip-Hop,[21],[]",
        r"tracks\.csv: track_id 2, column track\.genres_all: empty",
    ),
    "non-integer artist id": (
        ",9,1,40.058324,",
        ",9,x1,40.058324,",
        r"tracks\.csv: track_id 2, column artist\.id",
    ),
    "unknown split": (
        ",training,small,",
        ",train,small,",
        r"tracks\.csv: track_id 2, column set\.split: 'train'",
    ),
    "unknown subset": (
        ",test,small,",
        ",test,tiny,",
        r"tracks\.csv: track_id 1235, column set\.subset: 'tiny'",
    ),
    "malformed tags": (
        "\"['awol']\"",
        "\"['awol'\"",
        r"tracks\.csv: track_id 2, column artist\.tags",
    ),
}


@pytest.mark.parametrize("case", BAD_TRACKS)
def test_bad_tracks_csv_names_file_row_and_column(excerpt, case):
    old, new, message = BAD_TRACKS[case]
    _edit(excerpt / "tracks.csv", old, new)
    with pytest.raises(MetadataError, match=message) as error:
        load_tracks(excerpt / "tracks.csv")
    assert "Fix:" in str(error.value)


def test_genre_top_absent_from_genres_csv_is_named(excerpt):
    _edit(excerpt / "tracks.csv", "Hip-Hop,[21],[21]", "HipHop,[21],[21]")
    with pytest.raises(
        MetadataError, match=r"tracks\.csv: track_id 2, column track\.genre_top: 'HipHop'.*Fix:"
    ):
        build_track_table(excerpt / "tracks.csv", excerpt / "genres.csv", "full")


@pytest.mark.parametrize(
    "old, new, message",
    [
        ("genre_id,#tracks", "id,#tracks", r"genres\.csv: columns"),
        ("25,9261,12,Punk,12", "25,9261,x,Punk,12", r"genres\.csv: line 6, column parent: 'x'"),
        (
            "25,9261,12,Punk,12",
            "25,9261,13,Punk,12",
            r"genres\.csv: line 6, column parent: genre 13",
        ),
    ],
)
def test_bad_genres_csv_is_named(excerpt, old, new, message):
    _edit(excerpt / "genres.csv", old, new)
    with pytest.raises(MetadataError, match=message):
        load_genres(excerpt / "genres.csv")


def test_unknown_genre_id_is_skipped_with_a_count(excerpt, caplog):
    _edit(excerpt / "tracks.csv", '"[12, 25]","[12, 25]"', '"[12, 999]","[12, 999]"')
    table, _ = build_track_table(excerpt / "tracks.csv", excerpt / "genres.csv", "full")
    assert table.set_index("track_id").loc[1235, "genres_all"] == "[12]"
    assert "skipped 2 genre id(s) absent" in caplog.text and "999 (track_id 1235)" in caplog.text


def test_empty_genre_list_is_kept_for_the_splits_to_skip(excerpt, caplog):
    caplog.set_level("INFO")
    _edit(excerpt / "tracks.csv", "Hip-Hop,[21],[21],,4656", ",[],[],,4656")
    table, _ = build_track_table(excerpt / "tracks.csv", excerpt / "genres.csv", "full")
    assert table.set_index("track_id").loc[2, "genres_all"] == "[]"
    assert "1 track(s) have no genre" in caplog.text


def test_reads_the_synthetic_output(tiny_fma):
    tracks = load_tracks(tiny_fma["tracks"])
    table, _ = build_track_table(tiny_fma["tracks"], tiny_fma["genres"], "small")
    assert len(table) == len(tracks) == 48
    assert table["folder"].nunique() >= 2
    labelled = table[table["genre_top"] != ""]
    assert all(
        top in tops.split("|")
        for top, tops in zip(labelled["genre_top"], labelled["genres_all_top"])
    )
    assert (table.loc[table["genre_top"] == "", "genres_all_top"].str.count(r"\|") >= 1).all()


def test_track_counts_per_subset_and_status():
    from fmagenre.data.metadata import track_counts

    table = pd.DataFrame(
        {
            "subset": ["small", "small", "medium", "large"],
            "genre_top": ["Rock", "", "Pop", ""],
            "genres_all": ["[12]", "[12, 21]", "[10]", "[]"],
            "split": ["training", "test", "", "training"],
        }
    )
    counts = track_counts(table)
    assert counts.loc["small", "genre_top"] == 1
    assert counts.loc["small", "no genre_top (several roots)"] == 1
    assert counts.loc["large", "no genre"] == 1
    assert counts.loc["medium", "no split"] == 1 and counts.loc["small", "split training"] == 1
    assert counts.loc["total", "genre_top"] == 2 and counts.loc["total", "tracks"] == 4
