"""Interval code on known cases: Wilson against a hand computation, artist-bootstrap coverage."""

from __future__ import annotations

import numpy as np
import pytest

from fmagenre.models.metrics import (
    balanced_accuracy,
    classification_metrics,
    cluster_bootstrap_interval,
    wilson_interval,
)


def test_wilson_interval_matches_the_hand_computed_value():
    # 8 of 10, z = 1.959964: centre (0.8 + z^2/20) / (1 + z^2/10) = 0.716743,
    # half-width z * sqrt(0.8 * 0.2 / 10 + z^2 / 400) / (1 + z^2/10) = 0.226577.
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.490166, abs=1e-5)
    assert high == pytest.approx(0.943320, abs=1e-5)
    # All correct: the upper end is 1 and the lower end n / (n + z^2) (here 36 test tracks).
    assert wilson_interval(36, 36) == pytest.approx((36 / (36 + 1.959964**2), 1.0), abs=1e-6)


def _clustered_test_set(rng, n_artists=40, n_genres=4):
    """Artists with 1-3 tracks each and an artist-level chance of being classified right."""
    sizes = rng.integers(1, 4, n_artists)
    artist = np.repeat(np.arange(n_artists), sizes)
    y = np.repeat(rng.integers(0, n_genres, n_artists), sizes)
    skill = rng.beta(3, 2, n_artists)  # mean 0.6: the population balanced accuracy
    correct = rng.random(len(y)) < skill[artist]
    pred = np.where(correct, y, (y + rng.integers(1, n_genres, len(y))) % n_genres)
    return y, pred, artist


def test_artist_bootstrap_interval_covers_the_true_balanced_accuracy_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    trials, hits = 150, 0
    for _ in range(trials):
        y, pred, artist = _clustered_test_set(rng)
        low, high = cluster_bootstrap_interval(
            lambda t, p: balanced_accuracy(t, p, 4),
            (y, pred),
            artist,
            n_resamples=999,
            seed=int(rng.integers(1 << 30)),
        )
        hits += low <= 0.6 <= high
    assert 0.89 <= hits / trials <= 0.99


def test_classification_metrics_carry_intervals_around_their_values():
    y, pred, artist = _clustered_test_set(np.random.default_rng(0))
    metrics = classification_metrics(y, np.eye(4)[pred], list("abcd"), y, artist)
    for name in ("test_accuracy", "balanced_accuracy", "macro_f1"):
        low, high = metrics[f"{name}_ci"]
        assert 0 <= low < metrics[name] < high <= 1, name
    assert metrics["test_accuracy_ci"] == list(wilson_interval((y == pred).sum(), len(y)))
    assert metrics["n_test_artists"] == 40 and metrics["n_test"] == len(y)
    # Grouping by artist widens the interval relative to treating tracks as independent.
    alone = classification_metrics(y, np.eye(4)[pred], list("abcd"), y)
    width = np.diff(metrics["balanced_accuracy_ci"])[0]
    assert width > np.diff(alone["balanced_accuracy_ci"])[0]
