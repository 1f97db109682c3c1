"""How far a planted drift's synthesis parameter moves the descriptor the evolution stage measures.

The synthetic generator plants each drift as a change of one synthesis parameter (the mastering
shelf's gain ``tilt_db``) and states it in within-genre SDs of the *descriptor* (the spectral
centroid). The two are tied by the descriptor's response to the parameter, which
differs per genre: a shelf above 1 kHz barely moves the centroid of a genre whose power sits in its
kick and bass. :func:`descriptor_response` measures it the way the pipeline sees it: a sample of the
genre's tracks (genre centre, artist effects, track scatter) rendered twice, at the shelf's
-change/2 and +change/2 dB with everything else equal, through the pipeline's own mel spectrogram
and descriptor code. :data:`fmagenre.data.synth.DESCRIPTOR_RESPONSE` holds the measured values; a unit test measures
them again.
"""

from __future__ import annotations

import numpy as np

from fmagenre.data import synth
from fmagenre.data.audio import resample
from fmagenre.features.extract import (
    FeatureParams,
    mel_spectrogram,
    power_spectrogram,
    stored_units,
)
from fmagenre.optimise.spectra import track_summaries


def centroid(audio: np.ndarray, params: FeatureParams) -> float:
    """The mel-domain spectral centroid (Hz) of one rendered clip (stereo at synth.SAMPLE_RATE), as
    the evolution stage computes it from the stored mel spectrogram."""
    y = resample(audio.mean(axis=1).astype(np.float32), synth.SAMPLE_RATE, params.sr)
    mel = stored_units("mel", mel_spectrogram(power_spectrogram(y, params), params))
    summary = track_summaries(
        mel[None], [["mel", params.n_mels]], params.n_mels, params.sr, params.hop_length
    )
    return float(summary["spectral_centroid_hz"][0])


def descriptor_response(
    genre: str, change_db: float, n_tracks: int = 48, seconds: float = 30.0, seed: int = 1
) -> tuple[float, float]:
    """(mean, standard error) over ``n_tracks`` paired renders of the centroid's change in Hz per dB
    of shelf gain across ``change_db``."""
    rng = np.random.default_rng(seed)
    artists = synth._artist_effects(n_tracks, seed)
    still = synth._drifts([genre], drift_scale=0.0)[genre]  # the shelf set by hand below
    params = FeatureParams()
    responses = []
    for i in range(n_tracks):
        track = synth.track_parameters(genre, 0, None, still, rng, artists[i])
        low, high = (
            centroid(
                synth.render(dict(track, tilt_db=sign * change_db / 2), seconds, seed + i), params
            )
            for sign in (-1, 1)
        )
        responses.append((high - low) / change_db)
    responses = np.asarray(responses)
    return float(responses.mean()), float(responses.std(ddof=1) / np.sqrt(len(responses)))
