"""The synthetic FMA has the real download's shape, is deterministic and records its planted effects."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import soundfile as sf

from fmagenre.data.synth import generate, genre_counts, preset_genres

# The real tracks.csv header (fma-facts.md §1), written out here independently of the generator.
REAL_TOP = ["album"] * 13 + ["artist"] * 17 + ["set"] * 2 + ["track"] * 20
REAL_NAMES = (
    "comments,date_created,date_released,engineer,favorites,id,information,listens,producer,tags,title,"
    "tracks,type,active_year_begin,active_year_end,associated_labels,bio,comments,date_created,favorites,"
    "id,latitude,location,longitude,members,name,related_projects,tags,website,wikipedia_page,split,subset,"
    "bit_rate,comments,composer,date_created,date_recorded,duration,favorites,genre_top,genres,genres_all,"
    "information,interest,language_code,license,listens,lyricist,number,publisher,tags,title"
).split(",")


def test_header_equals_the_real_one(tiny_fma):
    with open(tiny_fma["tracks"], newline="") as handle:
        top, names, index = (next(csv.reader([handle.readline()])) for _ in range(3))
    assert top == [""] + REAL_TOP
    assert names == [""] + REAL_NAMES
    assert index == ["track_id"] + [""] * 52


def test_genres_csv_shape(tiny_fma):
    genres = pd.read_csv(tiny_fma["genres"])
    assert list(genres.columns) == ["genre_id", "#tracks", "parent", "title", "top_level"]
    roots = genres[genres["parent"] == 0]
    assert sorted(roots["title"]) == preset_genres("small")
    subs = genres[genres["parent"] != 0]
    assert len(subs) and subs["parent"].isin(roots["genre_id"]).all()


def test_audio_is_44k_stereo_mp3_in_fma_folders(tiny_fma):
    files = sorted(tiny_fma["audio_dir"].rglob("*.mp3"))
    assert {f.parent.name for f in files} and all(f.parent.name == f.stem[:3] for f in files)
    truth = json.loads(tiny_fma["ground_truth"].read_text())
    broken = {f["track_id"] for f in truth["faults"]}
    good = next(f for f in files if int(f.stem) not in broken)
    info = sf.info(str(good))
    assert (info.samplerate, info.channels, info.format) == (44100, 2, "MP3")
    assert abs(info.duration - 4.0) < 0.1


def test_ground_truth_lists_every_fault_with_its_effect(tiny_fma):
    truth = json.loads(tiny_fma["ground_truth"].read_text())
    kinds = {f["kind"] for f in truth["faults"]}
    assert kinds == {"short", "empty", "header_only", "garbage", "silent", "missing"}
    audio = tiny_fma["audio_dir"]
    for fault in truth["faults"]:
        path = audio / f"{fault['track_id']:06d}"[:3] / f"{fault['track_id']:06d}.mp3"
        assert path.exists() == (fault["kind"] != "missing")
        if fault["kind"] == "empty":
            assert path.stat().st_size == 0
    assert set(truth["drifts"]) == set(preset_genres("small"))
    assert {d["sign"] for d in truth["drifts"].values()} == {-1, 1}


def test_multilabel_years_and_artist_filtered_split(tiny_fma):
    tracks = pd.read_csv(tiny_fma["tracks"], index_col=0, header=[0, 1])
    n_genres = tracks[("track", "genres_all")].str.count(",") + 1
    assert (n_genres >= 2).mean() > 0.2
    assert tracks[("track", "genre_top")].isna().any()
    years = pd.to_datetime(tracks[("album", "date_released")]).dt.year
    assert years.max() - years.min() >= 8
    frame = pd.DataFrame({"artist": tracks[("artist", "id")], "split": tracks[("set", "split")]})
    per_artist = frame.groupby("artist")["split"].nunique()
    assert (per_artist == 1).all()


def test_split_is_80_10_10_at_the_default_size(tmp_path):
    paths = generate(tmp_path / "m", tmp_path / "a", tracks_per_genre=40, audio=False)
    tracks = pd.read_csv(paths["tracks"], index_col=0, header=[0, 1])
    shares = tracks[("set", "split")].value_counts(normalize=True)
    assert abs(shares["training"] - 0.8) < 0.06 and abs(shares["test"] - 0.1) < 0.04


def test_deterministic(tmp_path):
    a = generate(tmp_path / "a" / "m", tmp_path / "a" / "x", tracks_per_genre=3, clip_seconds=1.0, workers=1)
    b = generate(tmp_path / "b" / "m", tmp_path / "b" / "x", tracks_per_genre=3, clip_seconds=1.0, workers=2)
    for key in ("tracks", "genres", "ground_truth"):
        assert a[key].read_bytes() == b[key].read_bytes()
    for file in sorted(a["audio_dir"].rglob("*.mp3")):
        assert file.read_bytes() == (b["audio_dir"] / file.relative_to(a["audio_dir"])).read_bytes()


def test_medium_preset_has_the_real_imbalance():
    counts = genre_counts("medium", 40)
    assert len(counts) == 16 and min(counts.values()) >= 3
    assert counts["Rock"] > 10 * counts["Blues"]
    assert sum(counts.values()) == 16 * 40


def test_fma_full_sized_metadata_without_audio(tmp_path):
    paths = generate(tmp_path / "m", tmp_path / "a", preset="medium", n_tracks=106_574, audio=False,
                     faults=False)
    with open(paths["tracks"]) as handle:
        ids = [int(line.split(",", 1)[0]) for line in handle.readlines()[3:]]
    assert len(ids) == 106_574
    assert len({f"{i:06d}"[:3] for i in ids}) == 156
    assert not list(tmp_path.joinpath("a").rglob("*.mp3"))


def test_planted_brightness_drift_moves_the_spectral_centroid(tmp_path):
    """The drift recorded in the ground truth is audible: spectral centroid tracks the year."""
    import librosa

    from fmagenre.data.synth import _drifts, render, track_parameters

    genre = "Electronic"  # index 0: a positive 'bright' drift
    drift = _drifts(preset_genres("small"))[genre]
    assert drift["parameter"] == "bright" and drift["sign"] == 1
    centroids = {}
    for year in (2006, 2017):
        values = []
        for seed in range(4):
            params = track_parameters(genre, year, None, drift, np.random.default_rng(seed))
            audio = render(params, 3.0, seed).mean(axis=1)
            values.append(librosa.feature.spectral_centroid(y=audio.astype(np.float32), sr=44100).mean())
        centroids[year] = np.mean(values)
    assert centroids[2017] > centroids[2006]
