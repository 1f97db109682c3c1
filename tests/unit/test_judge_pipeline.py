"""The judge's pipeline pieces on real MP3s: folder jobs, caching, tables, packing, era, genres."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from judge_helpers import REFERENCE, require_weights

from fmagenre.data.audio import AudioDecodeError, decode
from fmagenre.data.pack import pack_dataset
from fmagenre.io import read_tsv, write_tsv
from fmagenre.judge import musicnn
from fmagenre.judge.era import decade_estimate
from fmagenre.judge.genre_tags import genre_tag_scores
from fmagenre.judge.tracks import judge_folder, judge_tracks, judge_wavs, track_feature
from fmagenre.models.zoo import build_model


@pytest.fixture
def folder(tiny_fma, tmp_path):
    """Folder 000 of the tiny FMA: three decodable tracks marked ok, one marked short."""
    audio = tmp_path / "audio"
    shutil.copytree(tiny_fma["audio_dir"] / "000", audio / "000")
    usable = []
    for path in sorted((audio / "000").glob("*.mp3")):
        try:
            signal, _ = decode(path, sr=musicnn.SR)
        except AudioDecodeError:
            continue
        if len(signal) >= 3.5 * musicnn.SR:
            usable.append(int(path.stem))
    ids = usable[:4]
    validation = pd.DataFrame({"track_id": ids, "status": ["ok", "ok", "ok", "short"]})
    write_tsv(tmp_path / "validation.tsv", validation)
    return {"audio": audio, "ids": ids, "validation": tmp_path / "validation.tsv", "root": tmp_path}


def _kwargs(folder):
    return {
        "validation_tsv": folder["validation"],
        "audio_dir": folder["audio"],
        "judge_dir": folder["root"] / "judge",
        "folder": "000",
        "model": "MSD_musicnn",
        "weights_dir": require_weights(),
        "manifest_out": folder["root"] / "judge" / "000" / "manifest.tsv",
        "batch_patches": 2,
    }


def _run(folder):
    return judge_folder(**_kwargs(folder))


def test_folder_job_judges_ok_tracks_in_batches_and_caches(folder):
    counts = _run(folder)
    assert counts == {"cached": 0, "computed": 3}
    manifest = read_tsv(folder["root"] / "judge" / "000" / "manifest.tsv")
    assert list(manifest.columns) == ["track_id", "h5", "frames", "content"]
    assert list(manifest["track_id"]) == folder["ids"][:3]
    first = folder["root"] / "judge" / manifest["h5"].iloc[0]
    with h5py.File(first, "r") as handle:
        penultimate, feature = handle["penultimate"][()], handle["musicnn"][()]
        assert handle["taggram"].shape == (1, 50) and handle.attrs["sr"] == 16000
    # batched across tracks, the same as the track alone
    alone = musicnn.embed(folder["audio"] / "000" / f"{folder['ids'][0]:06d}.mp3")
    np.testing.assert_allclose(penultimate, alone, atol=1e-5)
    assert feature.shape == (400, 1)
    np.testing.assert_allclose(feature[:200, 0], penultimate.mean(axis=0))
    np.testing.assert_allclose(feature[200:, 0], penultimate.max(axis=0))

    assert _run(folder) == {"cached": 3, "computed": 0}
    changed = folder["audio"] / "000" / f"{folder['ids'][1]:06d}.mp3"
    shutil.copy(folder["audio"] / "000" / f"{folder['ids'][2]:06d}.mp3", changed)
    assert _run(folder) == {"cached": 2, "computed": 1}
    after = read_tsv(folder["root"] / "judge" / "000" / "manifest.tsv")
    assert (after["content"] != manifest["content"]).tolist() == [False, True, False]
    assert judge_folder(**{**_kwargs(folder), "max_patches": 1})["computed"] == 3


def test_tracks_table_is_the_mean_tag_probability_per_track(folder):
    _run(folder)
    manifest = folder["root"] / "judge" / "000" / "manifest.tsv"
    out = folder["root"] / "tracks.tsv"
    judge_tracks([manifest], "MSD_musicnn", require_weights(), out)
    table = read_tsv(out)
    assert list(table.columns[:4]) == ["track_id", "rock", "pop", "alternative"]
    assert len(table.columns) == 51 and list(table["track_id"]) == folder["ids"][:3]
    with h5py.File(folder["root"] / "judge" / "000" / f"{folder['ids'][0]:06d}.h5") as handle:
        expected = handle["taggram"][()].mean(axis=0)
    np.testing.assert_allclose(table.iloc[0, 1:].to_numpy(float), expected, atol=1e-6)


def test_wav_table_has_one_row_per_wav(tmp_path):
    require_weights()
    signal, sr = sf.read(REFERENCE / "clips" / "rock_like.wav", dtype="float32")
    wavs = []
    for name in ("Rock.wav", "Rock_best.wav"):
        sf.write(tmp_path / name, signal, sr)
        wavs.append(tmp_path / name)
    table = judge_wavs(wavs, "MSD_musicnn", require_weights(), tmp_path / "audio.tsv")
    assert list(table["wav"]) == ["Rock.wav", "Rock_best.wav"]
    ref = np.load(REFERENCE / "rock_like.MSD_musicnn.npz")["taggram"].mean(axis=0)
    np.testing.assert_allclose(table.iloc[0, 1:].to_numpy(float), ref, atol=1e-4)
    assert read_tsv(tmp_path / "audio.tsv").shape == (2, 51)
    # a folder stands for its WAVs (the round-trip clips of one genre), named relative to the root
    starts = tmp_path / "starts" / "Rock"
    starts.mkdir(parents=True)
    for name in ("noise.wav", "best_track.wav"):
        sf.write(starts / name, signal, sr)
    clips = judge_wavs([starts], "MSD_musicnn", require_weights(), tmp_path / "c.tsv", tmp_path)
    assert list(clips["wav"]) == ["starts/Rock/best_track.wav", "starts/Rock/noise.wav"]
    np.testing.assert_allclose(clips.iloc[1, 1:].to_numpy(float), ref, atol=1e-4)


def test_musicnn_feature_set_packs_like_the_others(folder):
    _run(folder)
    ids = folder["ids"][:3]
    splits = pd.DataFrame(
        {
            "track_id": ids,
            "split": ["training", "training", "test"],
            "genre_top": ["Rock", "Pop", "Rock"],
            "label": [0, 1, 0],
            "year": [2001, "", 2003],
            "genres_all": ["Rock", "Pop", "Rock"],
            "artist_id": [1, 2, 3],
            "folder": ["000"] * 3,
        }
    )
    write_tsv(folder["root"] / "splits.tsv", splits)
    genres = pd.DataFrame({"label": [0, 1], "genre": ["Rock", "Pop"], "slug": ["Rock", "Pop"]})
    write_tsv(folder["root"] / "genres.tsv", genres)
    outs = {s: folder["root"] / "packs" / f"{s}.h5" for s in ("training", "validation", "test")}
    frames = pack_dataset(
        folder["root"] / "splits.tsv",
        folder["root"] / "genres.tsv",
        [folder["root"] / "judge" / "000" / "manifest.tsv"],
        folder["root"] / "judge",
        "musicnn",
        1,
        outs,
    )
    assert frames == 1
    with h5py.File(outs["training"], "r") as handle:
        assert handle["x"].shape == (2, 400, 1)
        with h5py.File(folder["root"] / "judge" / "000" / f"{ids[0]:06d}.h5") as track:
            np.testing.assert_array_equal(handle["x"][0], track["musicnn"][()])


def test_probe_is_linear_or_a_small_mlp():
    linear = build_model({"arch": "probe", "fc": []}, 400, 1, 8)
    assert [type(m).__name__ for m in linear] == ["Flatten", "Linear"]
    mlp = build_model({"arch": "probe", "fc": [32], "dropout": 0.2}, 400, 1, 8)
    assert mlp(torch.zeros(5, 400, 1)).shape == (5, 8)
    assert sum(isinstance(m, torch.nn.Linear) for m in mlp) == 2


def test_track_feature_is_mean_then_max():
    penultimate = np.array([[0.0, 2.0], [4.0, -2.0]], dtype=np.float32)
    np.testing.assert_array_equal(track_feature(penultimate)[:, 0], [2.0, 0.0, 4.0, 2.0])


def test_decade_estimate_weights_the_decade_midpoints():
    tags = pd.DataFrame(
        {
            "rock": [0.9, 0.1, 0.5],
            "60s": [0, 0.5, 0.1],
            "70s": [0, 0, 0.1],
            "80s": [0.8, 0, 0.1],
            "90s": [0, 0, 0.1],
            "00s": [0, 0.5, 0.1],
        },
        index=[10, 11, 12],
    )
    years = decade_estimate(tags)
    assert list(years.index) == [10, 11, 12]
    np.testing.assert_allclose(years.to_numpy(), [1985.0, 1985.0, 1985.0])
    tags.loc[12, "00s"] = 0.6
    assert decade_estimate(tags.loc[12]) == pytest.approx(
        (1965 + 1975 + 1985 + 1995) / 10 + 2005 * 0.6
    )
    with pytest.raises(ValueError, match="decade tags"):
        decade_estimate(tags.drop(columns=["60s"]))


def test_genre_scores_take_the_best_tag_and_leave_unmapped_genres_na():
    tags = pd.DataFrame({"soul": [0.2, 0.7], "rnb": [0.5, 0.1], "rock": [0.3, 0.3]})
    mapping = {"Soul-RnB": ["soul", "rnb"], "Rock": ["rock"]}
    scores = genre_tag_scores(tags, mapping, ["Rock", "Soul-RnB", "International"])
    np.testing.assert_allclose(scores["Soul-RnB"], [0.5, 0.7])
    np.testing.assert_allclose(scores["Rock"], [0.3, 0.3])
    assert scores["International"].isna().all()
    with pytest.raises(ValueError, match=r"judge\.genre_tags\.Rock"):
        genre_tag_scores(tags, {"Rock": ["rok"]}, ["Rock"])
