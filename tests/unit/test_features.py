"""Feature extractor: equality with librosa, HDF5 layout, incremental and crash-safe folder job."""

from __future__ import annotations

import os
import shutil

import h5py
import hdf5plugin
import numpy as np
import pytest

from fmagenre.data.audio import decode, encode_mp3
from fmagenre.data.validate import ValidationParams
from fmagenre.features.extract import (
    FEATURES,
    FIXED,
    FeatureParams,
    compute_features,
    piptrack_peaks,
    power_spectrogram,
    stored_units,
)
from fmagenre.features.store import extract_folder
from fmagenre.io import read_tsv
from fmagenre.librosa_cache import librosa

SR = 44100
VALIDATION = ValidationParams(min_seconds=1.0, silence_dbfs=-60.0)
PARAMS = FeatureParams()


def clip(seconds: float, seed: int) -> np.ndarray:
    """Stereo chords (slightly detuned, so tuning estimation has work to do) plus drum-like noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    root = 110 * 2 ** (rng.integers(0, 24) / 12 + rng.uniform(-0.3, 0.3) / 12)
    y = np.zeros_like(t)
    for interval in rng.choice([0, 3, 4, 7, 10, 12], size=3, replace=False):
        y += sum(
            0.15 / h * np.sin(2 * np.pi * h * root * 2 ** (interval / 12) * t) for h in (1, 2, 3)
        )
    y += 0.3 * (np.mod(t, 0.5) < 0.05) * rng.standard_normal(t.size) + 0.01 * rng.standard_normal(
        t.size
    )
    return np.stack([y, np.roll(y, 30)], axis=1) / 1.5


@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    """Folder 000 with three 3 s stereo 44.1 kHz MP3s (tracks 2, 3, 5); track 4 is listed but missing."""
    root = tmp_path_factory.mktemp("audio")
    for seed, track_id in enumerate((2, 3, 5)):
        encode_mp3(root / "000" / f"{track_id:06d}.mp3", clip(3.0, seed), SR)
    return root


def run(audio_dir, out, params=PARAMS, track_ids=(2, 3, 4, 5)) -> dict:
    return extract_folder(
        track_ids=list(track_ids),
        audio_dir=audio_dir,
        features_dir=out / "features",
        folder="000",
        params=params,
        validation_params=VALIDATION,
        validation_out=out / "validation.tsv",
        manifest_out=out / "manifest.tsv",
    )


def h5_state(out) -> dict:
    """Identity of every stored HDF5 (inode + mtime): unchanged means not rewritten."""
    return {
        path.name: (path.stat().st_ino, path.stat().st_mtime_ns)
        for path in sorted((out / "features" / "000").glob("*.h5"))
    }


@pytest.mark.parametrize("track_id", [2, 3])
def test_features_equal_librosa_on_the_same_signal(audio, track_id):
    y, _ = decode(audio / "000" / f"{track_id:06d}.mp3", PARAMS.sr)
    np.testing.assert_array_equal(
        y, librosa.load(audio / "000" / f"{track_id:06d}.mp3", sr=PARAMS.sr)[0]
    )
    ours = compute_features(y, PARAMS)
    kw = dict(y=y, sr=PARAMS.sr, n_fft=PARAMS.n_fft, hop_length=PARAMS.hop_length)
    mel = librosa.feature.melspectrogram(**kw, n_mels=PARAMS.n_mels)
    mfcc = librosa.feature.mfcc(**kw, n_mfcc=PARAMS.n_mfcc, n_mels=PARAMS.n_mels)
    chroma = librosa.feature.chroma_stft(**kw)
    tonnetz = librosa.feature.tonnetz(y=y, sr=PARAMS.sr, chroma=chroma)
    power = np.abs(librosa.stft(y, n_fft=PARAMS.n_fft, hop_length=PARAMS.hop_length)) ** 2
    # chroma_stft estimates tuning on the power spectrogram it computed (not on |STFT|).
    assert ours["tuning"] == librosa.estimate_tuning(S=power, sr=PARAMS.sr, bins_per_octave=12)
    assert all(ours[name].dtype == np.float32 for name in FEATURES)
    np.testing.assert_allclose(ours["mel"], mel, rtol=1e-4, atol=1e-6 * mel.max())
    np.testing.assert_allclose(ours["mfcc"], mfcc, rtol=0, atol=1e-3)  # dB-scaled cepstra
    np.testing.assert_allclose(ours["chroma"], chroma, rtol=0, atol=1e-5)
    np.testing.assert_allclose(ours["tonnetz"], tonnetz, rtol=0, atol=1e-5)
    # features.dtype float16 stores all four in their stored units (mel as dB); they stay equal
    # within float16 rounding (relative 2**-11; mel dB against librosa's power_to_db).
    mel_db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
    for name, reference, atol in (
        ("mfcc", mfcc, 1e-3),
        ("chroma", chroma, 1e-5),
        ("tonnetz", tonnetz, 1e-5),
        ("mel", mel_db, 1e-3),
    ):
        assert FeatureParams(dtype="float16").storage_dtype(name) == np.float16
        half = stored_units(name, ours[name]).astype(np.float16).astype(np.float32)
        np.testing.assert_allclose(half, reference, rtol=2.0**-11, atol=atol)


def test_peak_picking_matches_piptrack_exactly(audio):
    """The cheap tuning estimate sees exactly piptrack's pitches and magnitudes."""
    y, _ = decode(audio / "000" / "000005.mp3", 22050)
    for params in (PARAMS, FeatureParams(sr=16000, n_fft=1024, hop_length=256)):
        power = power_spectrogram(librosa.resample(y, orig_sr=22050, target_sr=params.sr), params)
        pitch, mag = librosa.piptrack(S=power.T, sr=params.sr, n_fft=params.n_fft)
        found = pitch.T > 0  # frame-major, the order of piptrack_peaks
        ours_pitch, ours_mag = piptrack_peaks(power, params)
        np.testing.assert_array_equal(ours_pitch, pitch.T[found])
        np.testing.assert_array_equal(ours_mag, mag.T[found])


def test_hdf5_layout_attributes_and_manifest(audio, tmp_path):
    counts = run(audio, tmp_path)
    assert counts["decoded"] == 3 and counts["ok"] == 3 and counts["missing"] == 1
    manifest = read_tsv(tmp_path / "manifest.tsv")
    assert list(manifest.columns) == ["track_id", "h5", "frames", "content"]
    assert manifest["content"].nunique() == 3
    assert list(manifest["track_id"]) == [2, 3, 5]
    assert list(manifest["h5"]) == ["000/000002.h5", "000/000003.h5", "000/000005.h5"]
    source = audio / "000" / "000003.mp3"
    y, _ = decode(source, PARAMS.sr)
    with h5py.File(tmp_path / "features" / "000" / "000003.h5", "r") as handle:
        frames = handle["mel"].shape[1]
        assert frames == 1 + len(y) // PARAMS.hop_length == manifest["frames"][1]
        shapes = {name: handle[name].shape for name in FEATURES}
        assert shapes == {
            "mfcc": (20, frames),
            "chroma": (12, frames),
            "tonnetz": (6, frames),
            "mel": (128, frames),
        }
        assert all(handle[name].dtype == PARAMS.storage_dtype(name) for name in FEATURES)
        assert all(str(hdf5plugin.BLOSC_ID) in handle[name]._filters for name in FEATURES)
        attrs = dict(handle.attrs)
        stored = {name: handle[name][()] for name in FEATURES}
    for key, value in {**PARAMS.attrs(), **FIXED}.items():
        assert attrs[key] == value, key
    assert attrs["source_size"] == source.stat().st_size
    assert attrs["source_mtime_ns"] == source.stat().st_mtime_ns
    assert len(attrs["source_sha256"]) == 64
    assert attrs["sample_rate"] == SR and attrs["channels"] == 2
    assert attrs["duration_s"] == pytest.approx(3.0, abs=0.1)
    computed = compute_features(y, PARAMS)
    for name in FEATURES:
        np.testing.assert_array_equal(
            stored[name], stored_units(name, computed[name]).astype(PARAMS.storage_dtype(name))
        )
    validation = read_tsv(tmp_path / "validation.tsv")
    assert list(validation.columns) == [
        "track_id",
        "status",
        "reason",
        "duration_s",
        "sample_rate",
        "channels",
    ]
    assert list(validation["status"]) == ["ok", "ok", "missing", "ok"]


def test_rerun_decodes_nothing_and_rewrites_nothing(audio, tmp_path):
    run(audio, tmp_path)
    before = h5_state(tmp_path)
    first = read_tsv(tmp_path / "validation.tsv")
    counts = run(audio, tmp_path)
    assert counts.get("decoded", 0) == 0 and counts["cached"] == 3
    assert h5_state(tmp_path) == before
    assert read_tsv(tmp_path / "validation.tsv").equals(first)  # rows rebuilt from the attributes


def test_touch_is_settled_by_checksum_and_new_content_reextracts_one_track(audio, tmp_path):
    audio = shutil.copytree(audio, tmp_path / "audio")
    run(audio, tmp_path)
    before = h5_state(tmp_path)
    os.utime(audio / "000" / "000002.mp3", ns=(1, 1))  # new mtime, same bytes
    counts = run(audio, tmp_path)
    assert counts.get("decoded", 0) == 0 and h5_state(tmp_path) == before
    encode_mp3(audio / "000" / "000003.mp3", clip(3.0, seed=42), SR)  # new content
    manifest_before = read_tsv(tmp_path / "manifest.tsv").set_index("track_id")["content"]
    counts = run(audio, tmp_path)
    after = h5_state(tmp_path)
    assert counts["decoded"] == 1 and counts["cached"] == 2
    # the manifest (what Snakemake sees) changes for that track only, so packs rerun
    changed = (
        read_tsv(tmp_path / "manifest.tsv").set_index("track_id")["content"] != manifest_before
    )
    assert list(changed[changed].index) == [3]
    assert [name for name in after if after[name] != before[name]] == ["000003.h5"]
    with h5py.File(tmp_path / "features" / "000" / "000003.h5", "r") as handle:
        assert handle.attrs["source_size"] == (audio / "000" / "000003.mp3").stat().st_size


def test_changing_a_parameter_recomputes_every_track(audio, tmp_path):
    run(audio, tmp_path)
    before = read_tsv(tmp_path / "manifest.tsv")["content"]
    counts = run(audio, tmp_path, params=FeatureParams(n_mfcc=13))
    assert counts["decoded"] == 3
    assert (read_tsv(tmp_path / "manifest.tsv")["content"] != before).all()
    with h5py.File(tmp_path / "features" / "000" / "000005.h5", "r") as handle:
        assert handle["mfcc"].shape[0] == 13 and handle.attrs["n_mfcc"] == 13


def test_leftovers_and_truncated_files_are_never_trusted(audio, tmp_path):
    run(audio, tmp_path)
    folder = tmp_path / "features" / "000"
    leftover = folder / ".000002.h5.abc123.tmp"  # what a job killed inside atomic_path leaves
    leftover.write_bytes(b"half an HDF5")
    truncated = folder / "000003.h5"
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    counts = run(audio, tmp_path)
    assert not leftover.exists()
    assert counts["decoded"] == 1 and counts["cached"] == 2
    with h5py.File(truncated, "r") as handle:
        assert handle["mel"].shape[0] == 128


def test_a_clip_that_goes_bad_loses_its_features(audio, tmp_path):
    audio = shutil.copytree(audio, tmp_path / "audio")
    run(audio, tmp_path)
    (audio / "000" / "000005.mp3").write_bytes(b"\x00" * 100)
    counts = run(audio, tmp_path)
    assert counts["undecodable"] == 1
    assert not (tmp_path / "features" / "000" / "000005.h5").exists()
    assert list(read_tsv(tmp_path / "manifest.tsv")["track_id"]) == [2, 3]


def test_wrong_folder_is_refused(audio, tmp_path):
    with pytest.raises(ValueError, match="track 1234 belongs in folder 001"):
        run(audio, tmp_path, track_ids=(2, 1234))


def test_clip_policy_keeps_the_middle_30_s_or_everything():
    sr = 1000
    y = np.arange(45 * sr, dtype=np.float32)
    centre = FeatureParams(sr=sr).crop(y)
    assert len(centre) == 30 * sr and centre[0] == (45 - 30) * sr // 2  # FMA's cut: middle 30 s
    assert FeatureParams(sr=sr, clip="all").crop(y) is y
    short = y[: 29 * sr]
    assert FeatureParams(sr=sr).crop(short) is short
    with pytest.raises(ValueError, match="features.clip"):
        FeatureParams(clip="first_30s")
