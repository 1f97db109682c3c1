"""Packed feature maps back to power mel spectrograms, for inversion to audio and spectral centroids.

Packs hold mel bands in dB and MFCCs as extracted (DCT-II, ortho, of the dB mel). Both routes end
in the power mel that ``librosa.feature.inverse.mel_to_audio`` and the centroid need; from 13-20
MFCCs only the smooth spectral envelope survives, which is enough for a centroid.
"""

from __future__ import annotations

import functools

import librosa
import numpy as np


def band_slices(bands) -> dict[str, slice]:
    """Rows of each feature in a packed map, from the ``bands`` list [[feature, n_bands], ...]."""
    slices, start = {}, 0
    for name, count in bands:
        slices[name] = slice(start, start + int(count))
        start += int(count)
    return slices


def mel_power(x: np.ndarray, bands, n_mels: int) -> np.ndarray:
    """Power mel [..., n_mels, T] from packed features [..., C, T] (the mel bands, else the MFCCs)."""
    slices = band_slices(bands)
    if "mel" in slices:
        return librosa.db_to_power(x[..., slices["mel"], :])
    if "mfcc" in slices:
        mfcc = x[..., slices["mfcc"], :]
        return librosa.feature.inverse.mfcc_to_mel(mfcc, n_mels=n_mels, dct_type=2, norm="ortho", ref=1.0)
    raise ValueError(f"bands {bands} hold neither mel nor mfcc: nothing to build a spectrum from")


@functools.lru_cache(maxsize=None)
def mel_centres(n_mels: int, sr: int) -> np.ndarray:
    """Centre frequencies (Hz) of librosa's slaney mel filters (fmin 0, fmax sr/2)."""
    return librosa.mel_frequencies(n_mels + 2, fmin=0.0, fmax=sr / 2.0)[1:-1]


def spectral_centroid(x: np.ndarray, bands, n_mels: int, sr: int, chunk: int = 128) -> np.ndarray:
    """Mean over frames of the mel-domain spectral centroid (Hz) of each track of ``x`` [N, C, T].

    Processed in chunks of tracks because the MFCC route expands 20 bands to ``n_mels``.
    """
    centres = mel_centres(n_mels, sr)
    out = np.empty(len(x), dtype=np.float64)
    for start in range(0, len(x), chunk):
        power = mel_power(x[start : start + chunk].astype(np.float64), bands, n_mels)
        per_frame = np.einsum("m,nmt->nt", centres, power) / np.maximum(power.sum(axis=1), 1e-20)
        out[start : start + chunk] = per_frame.mean(axis=1)
    return out
