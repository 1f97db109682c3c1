"""One-STFT feature extractor, per-track HDF5 files and the incremental per-folder job.

:func:`compute_features` reproduces librosa 0.11's ``melspectrogram``, ``mfcc``, ``chroma_stft`` and
``tonnetz(chroma=chroma_stft(...))`` on the same signal, but computes the power STFT once and
shares it: the mel and chroma filter banks are cached, the tuning that ``chroma_stft`` estimates
with ``piptrack`` is computed from the shared spectrogram restricted to piptrack's 150-4000 Hz band
(same arithmetic, a third of the bins), MFCCs come from the log-mel and tonnetz from the chroma
already computed. Results equal librosa's up to float32 rounding (tested).

Per-track files ``{features_dir}/{folder}/{track_id:06d}.h5`` hold ``mfcc``, ``chroma``, ``tonnetz``
and ``mel`` as float32 [bands, frames]; their attributes record every parameter, the code
fingerprint, the source's size, mtime and sha256, and the decoded facts validation needs. A rerun
skips a track whose file matches all of them (sha256 settles a changed mtime), so it neither
decodes nor re-judges it from audio. Files are written through ``atomic_path``: a killed job
leaves at most a ``.tmp`` file, which the next run deletes, never a final file it would trust.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import h5py
import librosa
import numpy as np
import pandas as pd
import scipy.fft
from tqdm import tqdm

from fmagenre.data.audio import RESAMPLER, AudioInfo
from fmagenre.data.validate import (
    COLUMNS,
    STATUSES,
    Decoded,
    ValidationParams,
    judge,
    validate_clip,
)
from fmagenre.fingerprint import code_fingerprint
from fmagenre.io import TMP_SUFFIX, atomic_path, write_tsv

log = logging.getLogger(__name__)

FEATURES = ("mfcc", "chroma", "tonnetz", "mel")
# `content` identifies what a track's HDF5 holds (source checksum + parameters + extractor code): a
# re-extraction with new parameters or from a changed MP3 changes the manifest, so Snakemake reruns
# the packs even though the HDF5 files themselves are not declared outputs.
MANIFEST_COLUMNS = ["track_id", "h5", "frames", "content"]
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
    "dtype": "float32",
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

    def __post_init__(self):
        if not self.mono:
            raise ValueError(
                "features.mono = false is not supported: per-track features are [bands, frames] "
                "of one channel. Fix: set features.mono: true"
            )

    @classmethod
    def from_config(cls, section: dict) -> "FeatureParams":
        """From the ``features`` config section (schema defaults already filled in)."""
        return cls(**{name: section[name] for name in cls.__dataclass_fields__})

    def bands(self) -> dict[str, int]:
        return {"mfcc": self.n_mfcc, "chroma": N_CHROMA, "tonnetz": 6, "mel": self.n_mels}

    def attrs(self) -> dict:
        """Every parameter the stored features depend on, as HDF5 attributes."""
        return {**asdict(self), **FIXED}


# ---- features ------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _window(n_fft: int) -> np.ndarray:
    return librosa.filters.get_window("hann", n_fft, fftbins=True).astype(np.float32)


@functools.lru_cache(maxsize=None)
def _mel_basis(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)


@functools.lru_cache(maxsize=None)
def _chroma_basis(sr: int, n_fft: int, tuning: float) -> np.ndarray:
    # tuning is quantised to 0.01 by the estimate, so at most ~100 banks are ever built.
    return librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=tuning, n_chroma=N_CHROMA)


@functools.lru_cache(maxsize=None)
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


@functools.lru_cache(maxsize=None)
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


# ---- per-track HDF5 ------------------------------------------------------------------------------


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_track(path: str | os.PathLike, features: dict[str, np.ndarray], attrs: dict) -> None:
    """Write one track's features and attributes atomically (temp file + rename)."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as handle:
            for name in FEATURES:
                handle.create_dataset(name, data=features[name].astype(np.float32, copy=False))
            handle.attrs.update(attrs)


def _cached(h5_path: Path, source: Path, expected: dict, bands: dict[str, int]):
    """(AudioInfo, level_dbfs, frames, source_sha256) of a stored track still valid for ``source``."""
    if not h5_path.is_file():
        return None
    try:
        with h5py.File(h5_path, "r") as handle:
            attrs = dict(handle.attrs)
            frames = int(attrs["frames"])
            shapes_ok = all(handle[name].shape == (n, frames) for name, n in bands.items())
    except (OSError, KeyError, ValueError) as error:
        log.warning("%s is unreadable (%s); recomputing it", h5_path, error)
        return None
    if not shapes_ok or any(attrs.get(key) != value for key, value in expected.items()):
        return None
    stat = source.stat()
    if int(attrs["source_size"]) != stat.st_size:
        return None
    if int(attrs["source_mtime_ns"]) != stat.st_mtime_ns:
        try:
            if str(attrs["source_sha256"]) != sha256_file(source):
                return None
        except OSError:  # unreadable now: decoding will report it
            return None
    info = AudioInfo(
        duration_s=float(attrs["duration_s"]),
        sample_rate=int(attrs["sample_rate"]),
        channels=int(attrs["channels"]),
        container=str(attrs["container"]),
    )
    return info, float(attrs["level_dbfs"]), frames, str(attrs["source_sha256"])


def _content_id(expected_key: str, source_sha256: str) -> str:
    return hashlib.sha256(f"{expected_key}:{source_sha256}".encode()).hexdigest()[:16]


def extract_folder(
    track_ids: list[int],
    audio_dir: str | os.PathLike,
    features_dir: str | os.PathLike,
    folder: str,
    params: FeatureParams | dict,
    validation_params: ValidationParams | dict,
    validation_out: str | os.PathLike,
    manifest_out: str | os.PathLike,
) -> dict:
    """Validate and extract every track of one audio folder, decoding each at most once.

    Writes the folder's validation table (every track) and manifest (``ok`` tracks). Tracks whose
    HDF5 is still valid are re-judged from its attributes without decoding; all others (new,
    changed, previously bad) are decoded, judged and, when ``ok``, extracted. Returns counts:
    ``decoded``, ``cached`` and one per status.
    """
    params = params if isinstance(params, FeatureParams) else FeatureParams.from_config(params)
    if not isinstance(validation_params, ValidationParams):
        validation_params = ValidationParams.from_config(validation_params)
    audio_dir, out_dir = Path(audio_dir), Path(features_dir) / folder
    out_dir.mkdir(parents=True, exist_ok=True)
    for leftover in out_dir.glob(f"*{TMP_SUFFIX}"):
        log.info("removing %s, left over by an interrupted run", leftover)
        leftover.unlink()
    # The code fingerprint makes an edit to the decoder or the extractor re-extract every track.
    expected = {**params.attrs(), "code": code_fingerprint(__name__, exclude=("fmagenre.io",))}
    expected_key = json.dumps(expected, sort_keys=True, default=str)
    bands = params.bands()
    counts, rows, manifest = Counter(), [], []
    start = time.perf_counter()
    for track_id in tqdm(sorted(track_ids), desc=f"folder {folder}", unit="track", file=sys.stderr):
        name = f"{int(track_id):06d}"
        if name[:3] != folder:
            raise ValueError(
                f"track {track_id} belongs in folder {name[:3]}, not {folder}; "
                "fix the track ids passed to extract_folder (rules/data.smk folder_track_ids)"
            )
        source, h5_path = audio_dir / folder / f"{name}.mp3", out_dir / f"{name}.h5"
        cached = _cached(h5_path, source, expected, bands) if source.is_file() else None
        if cached is not None:
            info, level, frames, source_sha256 = cached
            result = judge(info, level, validation_params)
            counts["cached"] += 1
        else:
            result, decoded = validate_clip(source, params.sr, params.mono, validation_params)
            counts["decoded"] += result.status != "missing"
            if result.status == "ok":
                frames, source_sha256 = _extract(decoded, source, h5_path, params, expected)
        if result.status == "ok":
            manifest.append(
                {
                    "track_id": int(track_id),
                    "h5": f"{folder}/{name}.h5",
                    "frames": frames,
                    "content": _content_id(expected_key, source_sha256),
                }
            )
        else:
            h5_path.unlink(missing_ok=True)  # features of a now-bad clip must not be packed
            log.info("%s: %s (%s)", name, result.status, result.reason)
        counts[result.status] += 1
        rows.append(result.row(track_id))
    write_tsv(validation_out, pd.DataFrame(rows, columns=COLUMNS))
    write_tsv(manifest_out, pd.DataFrame(manifest, columns=MANIFEST_COLUMNS))
    seconds = time.perf_counter() - start
    log.info(
        "folder %s: %d tracks in %.1f s (%.1f tracks/s): %d decoded, %d from cache; %s",
        folder,
        len(rows),
        seconds,
        len(rows) / seconds if seconds else float("nan"),
        counts["decoded"],
        counts["cached"],
        ", ".join(f"{status} {counts[status]}" for status in STATUSES),
    )
    return dict(counts)


def _extract(
    decoded: Decoded, source: Path, h5_path: Path, params: FeatureParams, expected: dict
) -> int:
    """Compute and store one ok track's features; return its frame count and source checksum."""
    stat = source.stat()
    source_sha256 = sha256_file(source)
    features = compute_features(decoded.signal, params)
    frames = features["mel"].shape[1]
    write_track(
        h5_path,
        features,
        {
            **expected,
            "tuning_estimate": features["tuning"],
            "frames": frames,
            "source_size": stat.st_size,
            "source_mtime_ns": stat.st_mtime_ns,
            "source_sha256": source_sha256,
            **asdict(decoded.info),
            "level_dbfs": decoded.level_dbfs,
        },
    )
    return frames, source_sha256
