"""Decoder and clip validation on a bad-audio corpus generated here (issue 8 item 1)."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from fmagenre.data.audio import AudioDecodeError, decode, encode_mp3
from fmagenre.data.validate import STATUSES, ValidationParams, validate_clip, validation_report
from fmagenre.features.extract import FeatureParams
from fmagenre.features.store import extract_folder
from fmagenre.io import read_tsv, write_tsv
from fmagenre.librosa_cache import librosa

FFMPEG = "/usr/bin/ffmpeg"
SR = 44100
CLIP_S = 3.0
VALIDATION = ValidationParams(min_seconds=2.0, silence_dbfs=-60.0)
FEATURES = FeatureParams(n_mels=32, n_mfcc=8)  # small, to keep the folder job quick


def music(seconds: float, sr: int = SR, channels: int = 2, seed: int = 0) -> np.ndarray:
    """A few harmonic notes plus noise bursts: enough structure for MP3 and features."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = sum(0.2 / h * np.sin(2 * np.pi * h * rng.uniform(150, 600) * t) for h in (1, 2, 3))
    y = y + 0.2 * (np.mod(t, 0.5) < 0.04) * rng.standard_normal(t.size)
    return np.stack([np.roll(y, 50 * c) for c in range(channels)], axis=1) if channels > 1 else y


def id3_tag(payload: bytes = b"") -> bytes:
    """A minimal ID3v2.3 header (synchsafe size) followed by ``payload`` padding bytes."""
    size = len(payload)
    synchsafe = bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    return b"ID3\x03\x00\x00" + synchsafe + payload


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Audio dir with folder 000 holding one file per case; returns (audio_dir, expected)."""
    root = tmp_path_factory.mktemp("bad_audio")
    folder = root / "audio" / "000"
    folder.mkdir(parents=True)
    good = root / "good.mp3"
    encode_mp3(good, music(CLIP_S), SR)
    good_bytes = good.read_bytes()
    expected = {}  # track_id -> (status, substring of the reason)

    def put(track_id, status, reason, data=None, writer=None):
        path = folder / f"{track_id:06d}.mp3"
        if data is not None:
            path.write_bytes(data)
        elif writer is not None:
            writer(path)
        expected[track_id] = (status, reason)

    put(1, "ok", "44100 Hz stereo MP3", data=good_bytes)
    put(2, "undecodable", "empty (0 bytes)", data=b"")
    put(3, "undecodable", "no audio stream", data=good_bytes[:10])
    put(4, "undecodable", "no audio stream", data=good_bytes[:300])
    put(5, "short", "min_seconds", data=good_bytes[: len(good_bytes) // 2])
    put(6, "ok", "MP3", data=good_bytes[: int(len(good_bytes) * 0.9)])
    noise = np.random.default_rng(1).integers(0, 256, 40_000, dtype=np.uint8).tobytes()
    put(7, "undecodable", "no audio stream", data=noise)
    put(8, "undecodable", "ID3 tag with no decodable MPEG audio", data=id3_tag(bytes(64)))
    put(9, "ok", "44100 Hz stereo MP3", data=id3_tag(bytes(32)) + good_bytes)  # tag + audio
    for track_id, fmt in ((10, "WAV"), (11, "OGG"), (12, "FLAC")):
        put(
            track_id,
            "ok",
            f"{fmt} content in a file named .mp3 (decodable",
            writer=lambda p, fmt=fmt: sf.write(p, music(CLIP_S, channels=1), SR, format=fmt),
        )
    put(13, "ok", "mono", writer=lambda p: encode_mp3(p, music(CLIP_S, channels=1), SR))
    for track_id, rate in ((14, 8000), (15, 48000)):
        put(
            track_id,
            "ok",
            f"native rate {rate} Hz",
            writer=lambda p, rate=rate: encode_mp3(
                p, music(CLIP_S, rate, 1), rate, 128 if rate > 8000 else 32
            ),
        )
    put(
        16,
        "ok",
        "much longer than a 30 s clip",
        writer=lambda p: encode_mp3(p, music(600.0, 16000, 1), 16000, 32, 9),
    )
    put(
        17,
        "silent",
        "digital silence",
        writer=lambda p: encode_mp3(p, np.zeros(int(CLIP_S * SR)), SR),
    )
    put(18, "short", "only 1.0", writer=lambda p: encode_mp3(p, music(1.0), SR))
    expected[19] = ("missing", "not found")  # listed, never written
    (folder / "000020.mp3").mkdir()  # unreadable: a directory named like a clip
    expected[20] = ("undecodable", "is a directory")
    put(21, "ok", "MP3", data=good_bytes)
    os.chmod(folder / "000021.mp3", 0)  # unreadable for a normal user; root still reads it
    if os.geteuid() != 0:
        expected[21] = ("undecodable", "permission denied")
    if os.path.exists(FFMPEG):
        put(
            22,
            "undecodable",
            "no audio stream",
            writer=lambda p: subprocess.run(
                [
                    FFMPEG,
                    "-loglevel",
                    "error",
                    "-f",
                    "lavfi",
                    "-i",
                    "sine=f=440:d=3",
                    "-c:a",
                    "aac",
                    "-f",
                    "mp4",
                    str(p),
                ],
                check=True,
            ),
        )
    shutil.copy(good, folder / "000999.mp3")  # on disk, not in the metadata
    return root / "audio", expected


@pytest.fixture(scope="module")
def folder_run(corpus, tmp_path_factory):
    """One folder job over the whole corpus: it must complete whatever the files hold."""
    audio_dir, expected = corpus
    out = tmp_path_factory.mktemp("out")
    extract_folder(
        track_ids=sorted(expected),
        audio_dir=audio_dir,
        features_dir=out / "features",
        folder="000",
        params=FEATURES,
        validation_params=VALIDATION,
        validation_out=out / "validation.tsv",
        manifest_out=out / "manifest.tsv",
    )
    return out, read_tsv(out / "validation.tsv").set_index("track_id")


def test_every_case_gets_its_status_and_a_clear_reason(corpus, folder_run):
    _, expected = corpus
    _, table = folder_run
    assert sorted(table.index) == sorted(expected)
    wrong = {
        track_id: (table.at[track_id, "status"], table.at[track_id, "reason"])
        for track_id, (status, reason) in expected.items()
        if table.at[track_id, "status"] != status or reason not in table.at[track_id, "reason"]
    }
    assert not wrong, wrong


def test_decoded_facts_are_reported(folder_run):
    _, table = folder_run
    assert table.at[1, "sample_rate"] == SR and table.at[1, "channels"] == 2
    assert table.at[1, "duration_s"] == pytest.approx(CLIP_S, abs=0.1)
    assert table.at[13, "channels"] == 1
    assert table.at[14, "sample_rate"] == 8000 and table.at[15, "sample_rate"] == 48000
    assert table.at[16, "duration_s"] == pytest.approx(600.0, abs=0.2)
    assert np.isnan(table.at[19, "duration_s"])


def test_only_ok_tracks_reach_the_manifest(corpus, folder_run):
    _, expected = corpus
    out, table = folder_run
    manifest = read_tsv(out / "manifest.tsv")
    ok = sorted(t for t in table.index if table.at[t, "status"] == "ok")
    assert list(manifest["track_id"]) == ok
    assert sorted(p.name for p in (out / "features" / "000").glob("*.h5")) == [
        f"{t:06d}.h5" for t in ok
    ]


def test_report_merges_folders_counts_statuses_and_names_unlisted_files(
    corpus, folder_run, tmp_path, caplog
):
    audio_dir, expected = corpus
    out, table = folder_run
    tracks = tmp_path / "tracks.tsv"
    write_tsv(tracks, table.reset_index()[["track_id"]].sample(frac=1, random_state=0))
    with caplog.at_level(logging.INFO, logger="fmagenre"):
        report = validation_report(
            tracks, [out / "validation.tsv"], tmp_path / "report.tsv", audio_dir
        )
    written = read_tsv(tmp_path / "report.tsv")
    assert list(written.columns) == [
        "track_id",
        "status",
        "reason",
        "duration_s",
        "sample_rate",
        "channels",
    ]
    assert list(written["track_id"]) == sorted(expected)
    assert list(report["status"]) == list(written["status"])
    n_ok = sum(status == "ok" for status, _ in expected.values())
    assert f"ok {n_ok}," in caplog.text and "missing 1" in caplog.text
    assert "1 audio files" in caplog.text and "000/000999.mp3" in caplog.text


def test_report_refuses_stale_folder_tables(folder_run, tmp_path):
    out, table = folder_run
    tracks = tmp_path / "tracks.tsv"
    ids = [*table.index, 5000]
    write_tsv(tracks, pd.DataFrame({"track_id": ids}))
    with pytest.raises(ValueError, match="5000.*delete results/validation/folders"):
        validation_report(tracks, [out / "validation.tsv"], tmp_path / "report.tsv")


def test_decode_equals_librosa_load(corpus):
    audio_dir, _ = corpus
    for track_id in (1, 13, 15, 10):  # stereo MP3, mono MP3, 48 kHz, WAV content
        path = audio_dir / "000" / f"{track_id:06d}.mp3"
        ours, _ = decode(path, 22050)
        reference, _ = librosa.load(path, sr=22050)
        np.testing.assert_array_equal(ours, reference)


def test_decode_raises_a_typed_error_naming_the_file(corpus):
    audio_dir, _ = corpus
    path = audio_dir / "000" / "000007.mp3"
    with pytest.raises(AudioDecodeError, match="000007.mp3"):
        decode(path, 22050)


def test_never_crashes_on_garbage(corpus, tmp_path):
    """Random cuts, flipped bytes and fake MPEG sync words all end as a status, never an exception."""
    audio_dir, _ = corpus
    good = (audio_dir / "000" / "000001.mp3").read_bytes()
    rng = np.random.default_rng(7)
    for i in range(25):
        data = bytearray(good[: rng.integers(1, len(good))])
        for position in rng.integers(0, len(data), size=rng.integers(0, 50)):
            data[position] = rng.integers(0, 256)
        if i % 5 == 0:
            data = b"\xff\xfb\x90\x64" * int(rng.integers(1, 2000))
        path = tmp_path / f"{i}.mp3"
        path.write_bytes(bytes(data))
        result, decoded = validate_clip(path, 22050, True, VALIDATION)
        assert result.status in STATUSES and result.reason
        assert (decoded is not None) == (result.status in ("ok", "short", "silent"))
