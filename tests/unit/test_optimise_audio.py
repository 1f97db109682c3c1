"""Inversion to WAV (format, length, loudness) and the round trip through real re-extraction."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
import soundfile

from fmagenre.features.extract import FeatureParams, compute_features
from fmagenre.librosa_cache import librosa
from fmagenre.optimise.audio import (
    AudioParams,
    clip_length,
    invert,
    read_wav,
    reextract,
    score_rows,
    spectral_convergence_db,
    write_wav,
)

FEATURE = FeatureParams(n_mels=64)
PARAMS = AudioParams(
    seconds=1.5, smoothing_frames=3, griffin_lim_iters=16, fade_seconds=0.05, target_dbfs=-20.0
)


def mel_db(bright: bool, frames: int = 12) -> np.ndarray:
    """A dB mel map loud in the high (bright) or the low bands, as a packed mel model sees it."""
    level = np.linspace(-80.0, -20.0, FEATURE.n_mels)
    level = level if bright else level[::-1]
    return np.repeat(level[:, None], frames, axis=1).astype(np.float32)


@pytest.mark.parametrize("feature", ["mel", "mfcc"])
def test_wavs_are_finite_non_silent_and_of_the_configured_length(tmp_path, feature):
    x = mel_db(True)
    if feature == "mfcc":
        x = scipy.fft.dct(x, axis=0, type=2, norm="ortho")[: FEATURE.n_mfcc]
    y, convergence = invert(
        x, [[feature, x.shape[0]]], FEATURE, PARAMS, clip_length(PARAMS, FEATURE, 12)
    )
    write_wav(tmp_path / "g.wav", y, FEATURE.sr)
    info = soundfile.info(tmp_path / "g.wav")
    assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")
    assert info.frames == round(PARAMS.seconds * 22050)
    y, _ = soundfile.read(tmp_path / "g.wav")
    assert np.isfinite(y).all()
    rms_dbfs = 20 * np.log10(np.sqrt(np.mean(y**2)))
    assert -26.0 < rms_dbfs < -14.0  # non-silent, near the target loudness (fades take a little)
    assert abs(y[0]) < 1e-3 and abs(y[-1]) < 1e-3  # faded in and out
    assert convergence < -3.0


def test_spectral_convergence_is_scale_free_and_improves_with_iterations():
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(22050)).astype(np.float32)
    magnitude = np.abs(librosa.stft(y, n_fft=FEATURE.n_fft, hop_length=FEATURE.hop_length))
    assert (
        spectral_convergence_db(magnitude, 7.0 * y, FEATURE) < -60.0
    )  # its own spectrum, any gain
    other = (0.1 * rng.standard_normal(22050)).astype(np.float32)
    assert spectral_convergence_db(magnitude, other, FEATURE) > -6.0  # unrelated noise: large error
    x = rng.uniform(-70.0, -20.0, (FEATURE.n_mels, 40)).astype(np.float32)
    bands, length = [["mel", FEATURE.n_mels]], 39 * FEATURE.hop_length
    few = invert(x, bands, FEATURE, PARAMS, length, n_iter=2)[1]
    many = invert(x, bands, FEATURE, PARAMS, length, n_iter=60)[1]
    assert many < few - 1.0


def test_default_length_is_the_packed_clip_and_a_segment_is_looped(tmp_path):
    """seconds = null: as long as the packed clips; a short (segment) optimum is repeated to fill it."""
    params = AudioParams(seconds=None, smoothing_frames=1, griffin_lim_iters=16)
    assert clip_length(params, FEATURE, 130) == 129 * FEATURE.hop_length
    rng = np.random.default_rng(0)
    segment = rng.uniform(-70.0, -20.0, (FEATURE.n_mels, 13)).astype(np.float32)
    y, _ = invert(
        segment, [["mel", FEATURE.n_mels]], FEATURE, params, clip_length(params, FEATURE, 130)
    )
    assert y.shape == (129 * FEATURE.hop_length,) and np.isfinite(y).all()
    x = reextract_array(y)
    # the spectrum of the second repetition matches the first (circular tiling, period 13 frames)
    middle = x[:, 20:100]
    np.testing.assert_allclose(middle[:, :-13].mean(axis=1), middle[:, 13:].mean(axis=1), atol=1.5)


def reextract_array(y: np.ndarray) -> np.ndarray:
    return 10 * np.log10(np.maximum(compute_features(y, FEATURE)["mel"], 1e-10))


def test_reextract_is_the_extractor_plus_the_pack_transform(tmp_path):
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(22050)).astype(np.float32)
    soundfile.write(tmp_path / "a.wav", y, 22050, subtype="PCM_16")
    decoded, _ = soundfile.read(tmp_path / "a.wav", dtype="float32")
    features = compute_features(decoded, FEATURE)
    bands = [["mfcc", FEATURE.n_mfcc], ["mel", FEATURE.n_mels]]
    x = reextract(read_wav(str(tmp_path / "a.wav"), FEATURE), bands, FEATURE, frames=100)
    assert x.shape == (FEATURE.n_mfcc + FEATURE.n_mels, 100)  # 44 frames wrapped to the pack's 100
    np.testing.assert_allclose(x[: FEATURE.n_mfcc, :44], features["mfcc"], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(
        x[FEATURE.n_mfcc :, :44],
        10 * np.log10(np.maximum(features["mel"], 1e-10)),
        rtol=1e-5,
        atol=1e-4,
    )


def test_round_trip_keeps_a_brightness_genre(tmp_path):
    """Invert a bright and a dark map, re-extract, and score with a brightness classifier."""
    genres = ["Bright", "Dark"]
    bands = [["mel", FEATURE.n_mels]]
    scored = []
    for bright in (True, False):
        path = tmp_path / f"{bright}.wav"
        y, _ = invert(mel_db(bright), bands, FEATURE, PARAMS, clip_length(PARAMS, FEATURE, 12))
        write_wav(path, y, FEATURE.sr)
        x = reextract(read_wav(str(path), FEATURE), bands, FEATURE, frames=60)
        tilt = (
            x[FEATURE.n_mels // 2 :].mean() - x[: FEATURE.n_mels // 2].mean()
        )  # dB, high minus low
        scored.append([tilt, -tilt])
    rows = score_rows("Bright", 0, genres, np.array(scored))
    assert list(rows["target_rank"]) == [1, 2] and list(rows["top_genre"]) == ["Bright", "Dark"]
    assert rows["target_probability"].iloc[0] > 0.5 > rows["target_probability"].iloc[1]
    assert rows["target_margin"].iloc[0] > 0 > rows["target_margin"].iloc[1]


def test_invert_refuses_maps_without_spectral_bands():
    with pytest.raises(ValueError, match="neither mel nor mfcc"):
        invert(np.zeros((12, 5), np.float32), [["chroma", 12]], FEATURE, PARAMS, 22050)
