"""Known-answer descriptors: a genre's own tracks sit nearest its signature; an unrelated map does not."""

from __future__ import annotations

import numpy as np
import pytest

from fmagenre.optimise.known_answer import PROFILE_BANDS, descriptors, nearest, signatures

N_MELS, FRAMES = 32, 400
FEATURE = {"n_mels": N_MELS, "sr": 22050, "hop_length": 512}
BANDS = [["mel", N_MELS]]


def planted(tilt: float, period: int, rng, n: int) -> np.ndarray:
    """dB mel maps with a spectral tilt (brightness) and onsets every ``period`` frames (tempo)."""
    level = -60.0 + tilt * np.linspace(-1.0, 1.0, N_MELS)
    onsets = np.zeros(FRAMES)
    onsets[::period] = 20.0
    onsets = np.convolve(onsets, np.exp(-np.arange(8) / 2.0))[:FRAMES]
    x = level[None, :, None] + onsets[None, None, :] + rng.normal(0.0, 2.0, (n, N_MELS, FRAMES))
    return x.astype(np.float32)


def test_tracks_are_nearest_their_own_genre_and_a_foreign_map_is_not():
    rng = np.random.default_rng(0)
    genres = {"Bright": (20.0, 20), "Dark": (-20.0, 20), "Fast": (0.0, 11)}
    real = {g: planted(tilt, period, rng, 12) for g, (tilt, period) in genres.items()}
    labels = np.repeat(list(genres), 12)
    signature, scale = signatures(
        np.concatenate([descriptors(x, BANDS, FEATURE) for x in real.values()]), labels
    )
    for genre, (tilt, period) in genres.items():
        fresh = descriptors(planted(tilt, period, rng, 3), BANDS, FEATURE)
        for row in fresh:
            distances = nearest(row, signature, scale)
            assert min(distances, key=distances.get) == genre
    # a dark map with the fast genre's tempo is nearest neither Bright nor, by tempo, Dark alone
    mixed = descriptors(planted(-20.0, 11, rng, 1), BANDS, FEATURE)[0]
    distances = nearest(mixed, signature, scale)
    assert min(distances, key=distances.get) != "Bright"
    assert (
        distances["Dark"]
        > nearest(descriptors(planted(-20.0, 20, rng, 1), BANDS, FEATURE)[0], signature, scale)[
            "Dark"
        ]
    )


def test_an_octave_error_does_not_move_a_track_to_another_genre():
    """Tempo estimates off by x2 are folded: a 90 BPM genre's track read at 180 BPM stays its own,
    while a 130 BPM genre is nearer on a plain scale."""
    rng = np.random.default_rng(1)
    width = 2 + PROFILE_BANDS
    slow = rng.normal(0.0, 1.0, (40, width)) + np.r_[500.0, 90.0, np.zeros(PROFILE_BANDS)]
    fast = rng.normal(0.0, 1.0, (40, width)) + np.r_[500.0, 130.0, np.zeros(PROFILE_BANDS)]
    slow[:, 1], fast[:, 1] = (
        90.0 * 2.0 ** rng.normal(0, 0.05, 40),
        130.0 * 2.0 ** rng.normal(0, 0.05, 40),
    )
    labels = np.repeat(["Slow", "Fast"], 40)
    signature, precision = signatures(np.concatenate([slow, fast]), labels)
    doubled = slow[0].copy()
    doubled[1] *= 2.0
    distances = nearest(doubled, signature, precision)
    assert distances["Slow"] < distances["Fast"]
    assert abs(180.0 - signature["Fast"][1]) < abs(180.0 - signature["Slow"][1])  # plain scale
    # one genre's tracks with a share of octave errors still average to the genre's tempo
    mixed = slow.copy()
    mixed[::4, 1] *= 2.0
    assert signatures(np.concatenate([mixed, fast]), labels)[0]["Slow"][1] == pytest.approx(
        90, rel=0.05
    )
