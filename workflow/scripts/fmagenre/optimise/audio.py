"""Optimised (and best real) feature maps to audio, and the round trip back through the classifier.

Inversion uses the forward transform's own parameters (sr, n_fft, hop_length, n_mels) and the steps of
``librosa.feature.inverse.mfcc_to_audio`` / ``mel_to_audio``: MFCCs -> power mel by inverse DCT (mel
models: dB -> power), then ``mel_to_stft`` (NNLS) and Griffin-Lim. The two last steps are called
directly only so that Griffin-Lim's random phase gets a seed (``mel_to_audio`` cannot pass one) and a
rerun writes the same WAV. Before inversion the map is smoothed along time (circularly: the
jittered optimum is shift-invariant and may be looped), then fitted to the clip length as the packs
fit tracks (centre crop, or circular repetition); afterwards the clip is loudness-normalised and
faded in and out, so that it is listenable rather than clicking at its ends.

The round trip re-extracts features from each written WAV with the pipeline's own extractor and pack
transform and scores them with the model: it measures how much of the genre survives inversion.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from dataclasses import dataclass

import h5py
import librosa
import numpy as np
import pandas as pd
import scipy.ndimage
import scipy.sparse
import soundfile

from fmagenre.data.pack import fit_frames, pack_units
from fmagenre.features.extract import FeatureParams, compute_features
from fmagenre.io import atomic_path, write_tsv
from fmagenre.optimise.spectra import band_slices, mel_power

log = logging.getLogger(__name__)

ROUNDTRIP_COLUMNS = ["genre", "source", "target_rank", "target_probability", "top_genre"]
NNLS_ITERATIONS = 20
PEAK_LIMIT = 0.99  # full scale minus a margin, so 16-bit PCM never clips


@dataclass(frozen=True)
class AudioParams:
    seconds: float | None = None  # None: the packed clips' length
    smoothing_frames: int = 3
    n_iter: int = 32
    fade_seconds: float = 0.05
    target_dbfs: float = -20.0

    @classmethod
    def from_config(cls, section: dict) -> "AudioParams":
        return cls(**{name: section[name] for name in cls.__dataclass_fields__})


def clip_length(params: AudioParams, feature: FeatureParams, pack_frames: int) -> int:
    """Samples per WAV: ``seconds``, or (``seconds`` null) the packed clips' length, so that the round
    trip re-extracts as many frames as the model scores for a track."""
    if params.seconds is None:
        return (pack_frames - 1) * feature.hop_length
    return int(round(params.seconds * feature.sr))


def invert(x: np.ndarray, bands, feature: FeatureParams, params: AudioParams, length: int, seed: int = 0) -> np.ndarray:
    """Packed features [C, T] -> mono float32 audio of ``length`` samples at ``feature.sr``.

    Only the spectral bands (mfcc or mel) are inverted; chroma and tonnetz have no inverse. The map
    is fitted to the clip's frames as the packs fit tracks (centre crop, or circular repetition: a segment
    model's optimum is looped, and its loop period equals the segments the model scores).
    """
    slices = band_slices(bands)
    name = "mel" if "mel" in slices else "mfcc"
    if name not in slices:
        raise ValueError(f"bands {bands} hold neither mel nor mfcc: nothing to invert to audio")
    frames = 1 + length // feature.hop_length  # what a centred STFT of `length` samples has
    spectral = x[slices[name]].astype(np.float64)
    if params.smoothing_frames > 1:
        spectral = scipy.ndimage.uniform_filter1d(spectral, params.smoothing_frames, axis=1, mode="wrap")
    power = mel_power(fit_frames(spectral, frames), [[name, spectral.shape[0]]], feature.n_mels)
    magnitude = mel_to_magnitude(power, feature.sr, feature.n_fft)
    y = librosa.griffinlim(magnitude, n_iter=params.n_iter, hop_length=feature.hop_length,
                           n_fft=feature.n_fft, length=length, random_state=seed)
    return finish(y, feature.sr, params)


@functools.lru_cache(maxsize=None)
def _mel_inverse(sr: int, n_fft: int, n_mels: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The mel basis (sparse: a bin feeds at most two filters), its pseudo-inverse and the Lipschitz
    constant of the NNLS gradient."""
    basis = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels).astype(np.float64)
    return scipy.sparse.csr_array(basis), np.linalg.pinv(basis), float(np.linalg.norm(basis, 2) ** 2)


def mel_to_magnitude(power: np.ndarray, sr: int, n_fft: int, iterations: int = NNLS_ITERATIONS) -> np.ndarray:
    """STFT magnitude [1 + n_fft/2, T] whose mel projection matches ``power`` [n_mels, T] (NNLS).

    The problem and starting point (the clipped pseudo-inverse solution) of
    ``librosa.feature.inverse.mel_to_stft``, solved by accelerated projected gradient (FISTA):
    librosa's L-BFGS-B takes ~1 s CPU per 200 frames (measured, librosa 0.11), this ~0.3 s per
    30 s clip with the sparse basis, with a lower mel residual.
    """
    basis, inverse, lipschitz = _mel_inverse(sr, n_fft, power.shape[0])
    x = np.clip(inverse @ power, 0.0, None)
    z, t = x.copy(), 1.0
    for _ in range(iterations):
        x_next = np.clip(z - basis.T @ (basis @ z - power) / lipschitz, 0.0, None)
        t_next = (1.0 + math.sqrt(1.0 + 4.0 * t * t)) / 2.0
        z = x_next + (t - 1.0) / t_next * (x_next - x)
        x, t = x_next, t_next
    return np.sqrt(x)


def finish(y: np.ndarray, sr: int, params: AudioParams) -> np.ndarray:
    """Loudness to ``target_dbfs`` RMS (peak-limited), then linear fades in and out."""
    y = np.asarray(y, dtype=np.float64)
    if not np.isfinite(y).all():
        raise ValueError("inverted audio is not finite: the features hold values outside the data range "
                         "(fix: keep optimise.clamp on)")
    rms = float(np.sqrt(np.mean(y**2)))
    if rms == 0.0:
        raise ValueError("inverted audio is silent: the features invert to an all-zero signal")
    y *= 10.0 ** (params.target_dbfs / 20.0) / rms
    peak = float(np.abs(y).max())
    if peak > PEAK_LIMIT:
        y *= PEAK_LIMIT / peak
    fade = min(int(params.fade_seconds * sr), len(y) // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        y[:fade] *= ramp
        y[-fade:] *= ramp[::-1]
    return y.astype(np.float32)


def write_wav(path, y: np.ndarray, sr: int) -> None:
    with atomic_path(path) as tmp:
        soundfile.write(tmp, y, sr, subtype="PCM_16", format="WAV")


def feature_params(attrs) -> FeatureParams:
    """The forward transform's parameters recorded in an optimum file (copied from the pack)."""
    return FeatureParams(sr=int(attrs["sr"]), n_fft=int(attrs["n_fft"]), hop_length=int(attrs["hop_length"]),
                         n_mfcc=int(attrs["n_mfcc"]), n_mels=int(attrs["n_mels"]))


def invert_genre(optimum_h5: str, output: str, output_best: str, params: AudioParams) -> None:
    """``{genre}.wav`` from the optimum and ``{genre}_best.wav`` from the best real track, same settings."""
    with h5py.File(optimum_h5, "r") as handle:
        attrs = dict(handle.attrs)
        optimum, best = handle["x"][()], handle["best_track_x"][()]
    bands, feature = json.loads(attrs["bands"]), feature_params(attrs)
    length = clip_length(params, feature, int(attrs["frames"]))
    for x, path in ((optimum, output), (best, output_best)):
        write_wav(path, invert(x, bands, feature, params, length), feature.sr)
        log.info("wrote %s (%.2f s at %d Hz)", path, length / feature.sr, feature.sr)


def stack_pack_units(features: dict[str, np.ndarray], bands) -> np.ndarray:
    """Extracted features stacked in the pack's band order and units (mel in dB), [C, T]."""
    parts = []
    for name, count in bands:
        values = features[name]
        if values.shape[0] != int(count):
            raise ValueError(f"feature {name} has {values.shape[0]} bands, the model expects {count}")
        parts.append(pack_units(name, values))
    return np.concatenate(parts, axis=0).astype(np.float32)


def reextract(wav: str, bands, feature: FeatureParams, frames: int) -> np.ndarray:
    """Features of a WAV as a pack row [C, frames]: the extractor, the pack units and the pack's fit."""
    y, sr = soundfile.read(wav, dtype="float32")
    if sr != feature.sr:
        raise ValueError(f"{wav}: sample rate {sr} Hz, the model's features use {feature.sr} Hz")
    return fit_frames(stack_pack_units(compute_features(y, feature), bands), frames)


def rank_rows(genre: str, target: int, genres: list[str], logits: np.ndarray) -> list:
    """For each source's logits: rank of the target genre (1 = top), its probability, the top genre."""
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    rows = []
    for source, row, prob in zip(("optimum", "best_track"), logits, probabilities):
        rank = 1 + int(np.sum(row > row[target]))
        rows.append([genre, source, rank, float(prob[target]), genres[int(np.argmax(row))]])
    return rows


def audio_roundtrip(checkpoint: str, optimum_h5s: list[str], wavs: list[tuple[str, str]], output: str) -> None:
    """``roundtrip.tsv``: per genre and source (optimum | best_track), the re-extracted clip's target rank."""
    from fmagenre.models import load_model
    from fmagenre.optimise.scores import model_logits

    model, info = load_model(checkpoint, device="cpu")
    genres = list(info["genres"])
    rows = []
    for h5_path, (optimum_wav, best_wav) in zip(optimum_h5s, wavs):
        with h5py.File(h5_path, "r") as handle:
            attrs = dict(handle.attrs)
        bands, feature = json.loads(attrs["bands"]), feature_params(attrs)
        x = np.stack([reextract(w, bands, feature, int(attrs["frames"])) for w in (optimum_wav, best_wav)])
        genre_rows = rank_rows(str(attrs["genre"]), int(attrs["genre_index"]), genres, model_logits(model, info, x))
        for row in genre_rows:
            log.info("%s %s: target rank %d, p=%.3f, top %s", *row)
        rows += genre_rows
    write_tsv(output, pd.DataFrame(rows, columns=ROUNDTRIP_COLUMNS))
