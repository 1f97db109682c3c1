"""Packed feature maps back to mel spectrograms, for inversion to audio and per-track drift summaries.

Packs hold mel bands in dB and MFCCs as extracted (DCT-II, ortho, of the dB mel). Both routes end
in the dB mel (an inverse DCT for MFCCs, as ``librosa.feature.inverse.mfcc_to_mel`` does before its
``db_to_power``); from 13-20 MFCCs only the smooth spectral envelope and its changes over time
survive, which is enough for the two summaries the synthetic data's planted drifts move: the
spectral centroid (brightness) and the tempo (periodicity of the onset envelope).
"""

from __future__ import annotations

import functools
import sys

import numpy as np
import scipy.fft
from tqdm import tqdm

from fmagenre.librosa_cache import librosa

TEMPO_AC_FRAMES = 384  # librosa.feature.tempogram's default window: lags up to ~8.9 s at hop 512


def band_slices(bands) -> dict[str, slice]:
    """Rows of each feature in a packed map, from the ``bands`` list [[feature, n_bands], ...]."""
    slices, start = {}, 0
    for name, count in bands:
        slices[name] = slice(start, start + int(count))
        start += int(count)
    return slices


def mel_db(x: np.ndarray, bands, n_mels: int) -> np.ndarray:
    """dB mel [..., n_mels, T] from packed features [..., C, T] (the mel bands, else the MFCCs)."""
    slices = band_slices(bands)
    if "mel" in slices:
        return x[..., slices["mel"], :]
    if "mfcc" in slices:
        return scipy.fft.idct(x[..., slices["mfcc"], :], axis=-2, type=2, norm="ortho", n=n_mels)
    raise ValueError(f"bands {bands} hold neither mel nor mfcc: nothing to build a spectrum from")


def mel_power(x: np.ndarray, bands, n_mels: int) -> np.ndarray:
    """Power mel [..., n_mels, T] from packed features [..., C, T]: ``mfcc_to_mel`` / ``db_to_power``."""
    return librosa.db_to_power(mel_db(x, bands, n_mels))


@functools.cache
def mel_centres(n_mels: int, sr: int) -> np.ndarray:
    """Centre frequencies (Hz) of librosa's slaney mel filters (fmin 0, fmax sr/2)."""
    return librosa.mel_frequencies(n_mels + 2, fmin=0.0, fmax=sr / 2.0)[1:-1]


def track_summaries(
    x: np.ndarray, bands, n_mels: int, sr: int, hop_length: int, chunk: int = 64
) -> dict[str, np.ndarray]:
    """Per track of ``x`` [N, C, T]: mean mel-domain spectral centroid (Hz) and tempo (BPM).

    The tempo is librosa's estimator (log-normal prior around 120 BPM) applied to one
    autocorrelation of the whole onset envelope (mean positive dB change per frame) instead of a
    per-frame tempogram: same answer for a steady clip, a fraction of the cost. Processed in chunks
    of tracks because the MFCC route expands 20 bands to ``n_mels``.
    """
    centres = mel_centres(n_mels, sr)
    centroid, tempo = np.empty(len(x)), np.empty(len(x))
    for start in tqdm(
        range(0, len(x), chunk), desc="summaries", unit="chunk", file=sys.stderr, mininterval=10
    ):
        part = slice(start, start + chunk)
        db = mel_db(x[part].astype(np.float64), bands, n_mels)
        power = librosa.db_to_power(db)
        per_frame = np.einsum("m,nmt->nt", centres, power) / np.maximum(power.sum(axis=1), 1e-20)
        centroid[part] = per_frame.mean(axis=1)
        onset = np.maximum(0.0, np.diff(db, axis=-1)).mean(axis=1)
        ac = librosa.autocorrelate(onset, max_size=min(TEMPO_AC_FRAMES, onset.shape[-1]), axis=-1)
        ac /= np.maximum(ac[:, :1], 1e-20)
        tempo[part] = librosa.feature.tempo(tg=ac[..., None], sr=sr, hop_length=hop_length)[:, 0]
    return {"spectral_centroid_hz": centroid, "tempo_bpm": tempo}


def nearest_octave(tempo: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Each tempo times 1/2, 1 or 2, whichever is closest on a log scale to ``reference`` (broadcast):
    the tempo estimator's octave errors folded out."""
    candidates = np.log2(np.asarray(tempo, dtype=np.float64))[..., None] + np.array(
        [-1.0, 0.0, 1.0]
    )
    target = np.log2(np.asarray(reference, dtype=np.float64))[..., None]
    best = np.take_along_axis(
        candidates, np.abs(candidates - target).argmin(axis=-1)[..., None], -1
    )
    return 2.0 ** best[..., 0]


def resolve_octaves(tempo: np.ndarray, genre: np.ndarray) -> np.ndarray:
    """Each tempo times 1/2, 1 or 2, whichever is closest (log scale) to its genre's median tempo."""
    tempo = np.asarray(tempo, dtype=np.float64)
    out = tempo.copy()
    for name in np.unique(genre):
        mine = genre == name
        out[mine] = nearest_octave(tempo[mine], 2.0 ** np.median(np.log2(tempo[mine])))
    return out
