"""The evolution statistics are calibrated: CI coverage, size-free best, uniform p under the null."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import kstest

from fmagenre.evolution.stats import (
    best_corrected,
    cluster_bootstrap,
    expected_max,
    trend_test,
    verdicts,
)


def clustered_sample(rng, n_artists, tracks_per_artist=3, artist_sd=1.0, track_sd=0.5):
    """Tracks whose artists share a random effect (true mean 0)."""
    artists = np.repeat(np.arange(n_artists), tracks_per_artist)
    values = rng.normal(0, artist_sd, n_artists)[artists] + rng.normal(0, track_sd, len(artists))
    return values, artists


def test_cluster_bootstrap_covers_the_true_mean_despite_artist_effects():
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(300):
        values, artists = clustered_sample(rng, n_artists=20)
        _, low, high = cluster_bootstrap(values, artists, n_boot=400, rng=rng)
        hits += low <= 0.0 <= high
    # percentile CI of a 20-cluster mean; treating the 60 tracks as independent covers ~0.75 here
    assert 0.89 <= hits / 300 <= 0.99


def test_cluster_bootstrap_of_a_custom_statistic_matches_the_mean_path():
    rng = np.random.default_rng(1)
    values, artists = clustered_sample(rng, n_artists=12)
    fast = cluster_bootstrap(values, artists, n_boot=2000, rng=np.random.default_rng(5))
    slow = cluster_bootstrap(values, artists, np.mean, n_boot=2000, rng=np.random.default_rng(5))
    assert fast == pytest.approx(slow)


def test_expected_max_equals_the_average_over_all_subsets():
    values = np.random.default_rng(2).normal(size=9)
    for m in (1, 3, 5, 9):
        brute = np.mean([max(c) for c in itertools.combinations(values, m)])
        assert expected_max(values, m) == pytest.approx(brute)
    with pytest.raises(ValueError, match="m <= n"):
        expected_max(values, 10)


def test_size_corrected_best_does_not_depend_on_cell_size_under_the_null():
    rng = np.random.default_rng(3)
    m, reps = 8, 3000
    corrected, plain = {}, {}
    for n in (8, 16, 40):
        draws = rng.normal(size=(reps, n))
        corrected[n] = np.mean([expected_max(row, m) for row in draws])
        plain[n] = draws.max(axis=1).mean()
    # E[max of 8 standard normals] = 1.4236; the simulation SE is ~0.01
    for value in corrected.values():
        assert value == pytest.approx(1.4236, abs=0.04)
    assert plain[40] - plain[8] > 0.7  # the plain maximum grows with the cell: what this replaces


def test_best_corrected_ci_brackets_its_estimate():
    rng = np.random.default_rng(4)
    values, artists = clustered_sample(rng, n_artists=6)
    estimate, low, high = best_corrected(values, artists, 8, n_boot=300, rng=rng)
    assert low <= estimate <= high
    assert estimate == pytest.approx(expected_max(values, 8))


def null_genre(rng, n_artists=24):
    values, artists = clustered_sample(rng, n_artists, tracks_per_artist=2)
    years = rng.integers(2006, 2018, n_artists)[artists]
    return values, years, artists


def test_permutation_p_is_uniform_under_the_null():
    rng = np.random.default_rng(6)
    p = np.array(
        [
            trend_test(*null_genre(rng), n_perm=999, n_boot=10, rng=rng)["p_value"]
            for _ in range(400)
        ]
    )
    assert kstest(p, "uniform").pvalue > 0.01
    assert 0.02 <= np.mean(p < 0.05) <= 0.09


def test_trend_detects_a_planted_slope_and_its_ci_covers_it():
    rng = np.random.default_rng(7)
    values, years, artists = null_genre(rng, n_artists=40)
    values = values + 0.2 * (years - 2011)  # 2 units per decade, ~1.8 within-genre SD over 12 years
    result = trend_test(values, years, artists, rng=rng)
    assert result["p_value"] < 0.01
    assert result["ci_low"] <= 2.0 <= result["ci_high"]
    assert result["slope_per_decade"] > 0


def test_trend_without_year_spread_is_untestable():
    result = trend_test([1.0, 2.0, 3.0], [2010, 2010, 2010], [1, 2, 3])
    assert np.isnan(result["p_value"]) and np.isnan(result["slope_per_decade"])


def test_verdicts_use_bh_q_and_the_slope_sign():
    q, verdict = verdicts([1.0, -2.0, 0.5, 3.0], [0.001, 0.002, 0.5, np.nan])
    assert list(verdict) == ["rising", "falling", "no evidence", "no evidence"]
    assert q[0] == pytest.approx(0.003) and np.isnan(q[3])
