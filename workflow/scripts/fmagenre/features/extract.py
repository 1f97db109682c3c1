"""One-STFT feature extractor: the signal processing (the per-track store is ``features.store``).

:func:`compute_features` reproduces librosa 0.11's ``melspectrogram``, ``mfcc``, ``chroma_stft`` and
``tonnetz(chroma=chroma_stft(...))`` on the same signal, but computes the power STFT once and
shares it: the mel and chroma filter banks are cached, the tuning that ``chroma_stft`` estimates
with ``piptrack`` is computed from the shared spectrogram restricted to piptrack's 150-4000 Hz band
(same arithmetic, a third of the bins), MFCCs come from the log-mel and tonnetz from the chroma
already computed. Results equal librosa's up to float32 rounding (tested).
"""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass

import numpy as np
import scipy.fft

from fmagenre.data.audio import RESAMPLER
from fmagenre.librosa_cache import librosa

FEATURES = ("mfcc", "chroma", "tonnetz", "mel")
# Storage dtypes (``features.dtype``). Every feature is stored in the units the packs and models
# use (``STORED_UNITS``: the mel power spectrogram as dB, ``power_to_db`` without a floor): float16
# keeps mfcc, chroma, tonnetz and the dB mel within float16 rounding of librosa (relative 2**-11,
# tested), which is the precision the packs always had. Power itself could not be float16: its
# smallest normal value (6.1e-5) would flush bands below about -42 dB to subnormals or zero.
DTYPES = ("float32", "float16")
STORED_UNITS = {"mfcc": "dB cepstra", "chroma": "1", "tonnetz": "1", "mel": "dB"}
# Crop policy (``features.clip``) before extraction: ``centre_30s`` keeps the middle 30 s of a longer
# signal (how FMA cut its clips: from duration // 2 - 15), so whole tracks (fma_full) give clip-sized
# features; ``all`` keeps the whole signal. Clips of 30 s or less are never cropped.
CLIPS = {"centre_30s": 30.0, "all": None}
N_CHROMA = 12
# librosa defaults this extractor reproduces; recorded in every file so that it says how it was made.
FIXED = {
    "window": "hann",
    "center": True,
    "pad_mode": "constant",
    "power": 2.0,
    "fmin": 0.0,
    "htk": False,
    "mel_norm": "slaney",
    "top_db": 80.0,
    "dct_type": 2,
    "mfcc_norm": "ortho",
    "lifter": 0,
    "n_chroma": N_CHROMA,
    "chroma_norm": "inf",
    "tuning": "estimated (piptrack 150-4000 Hz, resolution 0.01)",
    "tonnetz_from": "chroma_stft",
    "resampler": RESAMPLER,
    "units": json.dumps(STORED_UNITS),
}
PIPTRACK_FMIN, PIPTRACK_FMAX, PIPTRACK_THRESHOLD = 150.0, 4000.0, 0.1
STFT_BLOCK_FRAMES = 256  # frames per FFT call: bounds the temporaries for long files


@dataclass(frozen=True)
class FeatureParams:
    sr: int = 22050
    mono: bool = True
    n_fft: int = 2048
    hop_length: int = 512
    n_mfcc: int = 20
    n_mels: int = 128
    dtype: str = "float16"
    clip: str = "centre_30s"

    def __post_init__(self):
        if not self.mono:
            raise ValueError(
                "features.mono = false is not supported: per-track features are [bands, frames] "
                "of one channel. Fix: set features.mono: true"
            )
        if self.dtype not in DTYPES:
            raise ValueError(
                f"features.dtype = {self.dtype!r} is not supported. Fix: use one of {DTYPES}"
            )
        if self.clip not in CLIPS:
            raise ValueError(
                f"features.clip = {self.clip!r} is not supported. Fix: use one of {tuple(CLIPS)}"
            )

    @classmethod
    def from_config(cls, section: dict) -> FeatureParams:
        """From the ``features`` config section (schema defaults already filled in)."""
        return cls(**{name: section[name] for name in cls.__dataclass_fields__})

    def bands(self) -> dict[str, int]:
        return {"mfcc": self.n_mfcc, "chroma": N_CHROMA, "tonnetz": 6, "mel": self.n_mels}

    def attrs(self) -> dict:
        """Every parameter the stored features depend on, as HDF5 attributes."""
        return {**asdict(self), **FIXED}

    def crop(self, y: np.ndarray) -> np.ndarray:
        """The part of the decoded signal features are computed from (``features.clip``)."""
        seconds = CLIPS[self.clip]
        if seconds is None or len(y) <= seconds * self.sr:
            return y
        length = int(seconds * self.sr)
        start = (len(y) - length) // 2
        return y[start : start + length]

    def storage_dtype(self, name: str) -> np.dtype:
        """The dtype feature ``name`` is stored in (every feature in ``features.dtype``)."""
        return np.dtype(self.dtype)


# ---- features ------------------------------------------------------------------------------------


@functools.cache
def _window(n_fft: int) -> np.ndarray:
    return librosa.filters.get_window("hann", n_fft, fftbins=True).astype(np.float32)


@functools.cache
def _mel_basis(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)


@functools.cache
def _chroma_basis(sr: int, n_fft: int, tuning: float) -> np.ndarray:
    # tuning is quantised to 0.01 by the estimate, so at most ~100 banks are ever built.
    return librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=tuning, n_chroma=N_CHROMA)


@functools.cache
def _tonnetz_basis(n_chroma: int) -> np.ndarray:
    """librosa.feature.tonnetz's projection of chroma onto the 6 tonal-centroid axes (float64)."""
    dim_map = np.linspace(0, 12, num=n_chroma, endpoint=False)
    scale = np.asarray([7.0 / 6, 7.0 / 6, 3.0 / 2, 3.0 / 2, 2.0 / 3, 2.0 / 3])
    angles = np.multiply.outer(scale, dim_map)
    angles[::2] -= 0.5
    radius = np.array([1, 1, 1, 1, 0.5, 0.5])
    return radius[:, np.newaxis] * np.cos(np.pi * angles)


def power_spectrogram(y: np.ndarray, params: FeatureParams) -> np.ndarray:
    """``|librosa.stft(y, n_fft, hop_length)|**2`` (centred, zero-padded, Hann), laid out [frames, bins].

    Frames-major keeps each FFT contiguous; the FFT runs in blocks of frames and the squared
    magnitude is written in place, which bounds temporaries for long files and saves a third of
    the time of a one-shot transform.
    """
    n_fft, hop = params.n_fft, params.hop_length
    padded = np.pad(y.astype(np.float32, copy=False), n_fft // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    window = _window(n_fft)
    power = np.empty((frames.shape[0], n_fft // 2 + 1), dtype=np.float32)
    for start in range(0, frames.shape[0], STFT_BLOCK_FRAMES):
        block = power[start : start + STFT_BLOCK_FRAMES]
        spectrum = scipy.fft.rfft(frames[start : start + STFT_BLOCK_FRAMES] * window, axis=-1)
        np.abs(spectrum, out=block)
        np.square(block, out=block)
    return power


@functools.cache
def _banded_mel(sr: int, n_fft: int, n_mels: int, groups: int = 16) -> tuple:
    """The mel bank split into groups of adjacent filters, each kept only over its non-zero bins.

    Each triangular filter spans a few bins, so the product with the spectrogram does ~7x less
    work than the dense 128 x 1025 one while summing the same non-zero terms.
    """
    basis = _mel_basis(sr, n_fft, n_mels)
    pieces = []
    for rows in np.array_split(np.arange(n_mels), groups):
        columns = np.flatnonzero(basis[rows].any(axis=0))
        if columns.size:
            lo, hi = columns[0], columns[-1] + 1
            pieces.append((rows[0], rows[-1] + 1, lo, hi, np.ascontiguousarray(basis[rows, lo:hi])))
    return tuple(pieces)


def mel_spectrogram(power: np.ndarray, params: FeatureParams) -> np.ndarray:
    """``librosa.feature.melspectrogram(S=power.T, sr, n_mels)`` [n_mels, frames], banded product."""
    mel = np.zeros((params.n_mels, power.shape[0]), dtype=np.float32)
    for row_lo, row_hi, lo, hi, piece in _banded_mel(params.sr, params.n_fft, params.n_mels):
        np.matmul(piece, power[:, lo:hi].T, out=mel[row_lo:row_hi])
    return mel


def power_to_db(mel: np.ndarray, top_db: float) -> np.ndarray:
    """``librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=top_db)`` with in-place float32 ops."""
    db = np.maximum(mel, np.float32(1e-10))
    np.log10(db, out=db)
    db *= np.float32(10.0)
    np.maximum(db, db.max() - top_db, out=db)
    return db


def stored_units(name: str, values: np.ndarray) -> np.ndarray:
    """A computed feature in the units the store, the packs and the models use (``STORED_UNITS``):
    mel power -> dB (no top_db floor); the others as computed."""
    if name == "mel":
        return power_to_db(values, top_db=np.inf)
    return values


def piptrack_peaks(power: np.ndarray, params: FeatureParams) -> tuple[np.ndarray, np.ndarray]:
    """The non-zero (pitch, magnitude) pairs of ``librosa.piptrack(S=power.T, sr, n_fft)``, float32.

    piptrack interpolates every bin of the spectrogram and then keeps the local maxima in
    150-4000 Hz; this computes the same maxima, shifts and magnitudes (in librosa's float
    precision) for that band only, and only at the peaks.
    """
    freqs = librosa.fft_frequencies(sr=params.sr, n_fft=params.n_fft)
    fmax = min(PIPTRACK_FMAX, params.sr / 2)
    band = np.flatnonzero((freqs >= PIPTRACK_FMIN) & (freqs < fmax))
    if band.size == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    # Bin 0 (0 Hz) and the Nyquist bin are never in the band, so both neighbours always exist.
    lo, hi = band[0] - 1, band[-1] + 2
    spec = power[:, lo:hi]
    ref = PIPTRACK_THRESHOLD * power.max(axis=1, keepdims=True)
    # piptrack's local maxima of spec * (spec > ref); for a bin above ref that is the same as
    # being above both raw neighbours (>= on the right), so no gated copy is needed.
    centre = spec[:, 1:-1]
    frame, k = np.nonzero((centre > ref) & (centre > spec[:, :-2]) & (centre >= spec[:, 2:]))
    left, mid, right = spec[frame, k], spec[frame, k + 1], spec[frame, k + 2]
    # librosa's numba stencil: float32 sums promoted to float64 by the integer constants.
    curve = (right + left).astype(np.float64) - 2 * mid.astype(np.float64)
    slope = (right - left).astype(np.float64) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(slope) >= np.abs(curve), 0.0, -slope / curve).astype(np.float32)
    mags = mid + 0.5 * ((right - left) / 2.0) * shift
    pitches = (((lo + 1 + k) + shift) * float(params.sr) / params.n_fft).astype(np.float32)
    return pitches, mags


def estimate_tuning(power: np.ndarray, params: FeatureParams) -> float:
    """``librosa.estimate_tuning(S=power.T, sr=sr, n_fft=n_fft, bins_per_octave=12)``, cheaply."""
    pitches, mags = piptrack_peaks(power, params)
    if pitches.size == 0:
        return 0.0
    selected = pitches[mags >= np.median(mags)]
    return float(librosa.pitch_tuning(selected, resolution=0.01, bins_per_octave=N_CHROMA))


def compute_features(y: np.ndarray, params: FeatureParams) -> dict[str, np.ndarray]:
    """mfcc [n_mfcc, T], chroma [12, T], tonnetz [6, T], mel [n_mels, T] (float32) from one STFT.

    Equal (up to float32 rounding) to librosa's ``mfcc(y=y)``, ``chroma_stft(y=y)``,
    ``tonnetz(y=y, chroma=chroma_stft(y=y))`` and ``melspectrogram(y=y)`` with the same sr, n_fft,
    hop_length, n_mfcc and n_mels. Also returns ``tuning`` (the estimate chroma used).
    """
    power = power_spectrogram(y, params)
    mel = mel_spectrogram(power, params)
    log_mel = power_to_db(mel, FIXED["top_db"])
    mfcc = scipy.fft.dct(log_mel, axis=-2, type=2, norm="ortho")[: params.n_mfcc]
    tuning = estimate_tuning(power, params)
    raw_chroma = _chroma_basis(params.sr, params.n_fft, tuning) @ power.T
    chroma = librosa.util.normalize(raw_chroma, norm=np.inf, axis=-2)
    tonnetz = _tonnetz_basis(N_CHROMA) @ librosa.util.normalize(chroma, norm=1, axis=-2)
    features = {"mfcc": mfcc, "chroma": chroma, "tonnetz": tonnetz, "mel": mel}
    features = {
        name: np.ascontiguousarray(value, dtype=np.float32) for name, value in features.items()
    }
    return {**features, "tuning": tuning}
