"""Evolution tables: planted brightness and tempo drifts show with the right sign."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.signal

from fmagenre.optimise.scores import logit_column
from fmagenre.features.extract import FeatureParams, compute_features
from fmagenre.optimise.scores import (
    EVOLUTION_COLUMNS,
    drift_report,
    drift_trend,
    genre_evolution,
    track_periods,
)
from fmagenre.optimise.spectra import track_summaries

FEATURE = FeatureParams(n_mels=64)
FRAMES = 30
YEARS = range(2006, 2018)
# Planted drifts in the layout of the synthetic generator's ground_truth.json "drifts".
DRIFTS = {"Up": {"parameter": "bright", "sign": 1}, "Down": {"parameter": "bright", "sign": -1},
          "Faster": {"parameter": "tempo", "sign": 1}, "Slower": {"parameter": "tempo", "sign": -1}}


def render(bright: float, tempo: float, rng, seconds: float = 8.0) -> np.ndarray:
    """Decaying noise bursts on the beat; ``bright`` in [0, 1] mixes white into low-passed noise."""
    n = int(seconds * FEATURE.sr)
    burst = np.exp(-np.arange(int(0.06 * FEATURE.sr)) / (0.015 * FEATURE.sr))
    envelope = np.zeros(n)
    for onset in np.arange(0.1, seconds - 0.1, 60.0 / tempo):
        start = int(onset * FEATURE.sr)
        envelope[start : start + len(burst)] = burst[: n - start]
    white = rng.standard_normal(n)
    low = scipy.signal.lfilter([0.05], [1.0, -0.95], rng.standard_normal(n))
    low /= low.std()
    return (0.3 * envelope * (bright * white + (1.0 - bright) * low)).astype(np.float32)


@pytest.fixture(scope="module")
def planted():
    """Packed features (real extraction) of 4 genres x 12 years with the DRIFTS planted."""
    rng = np.random.default_rng(0)
    rows, maps = [], {"mfcc": [], "mel": []}
    for genre, drift in DRIFTS.items():
        for year in YEARS:
            shift = drift["sign"] * (year - 2011.5)
            bright, tempo = 0.5, 110.0 * np.exp(rng.normal(0, 0.03))
            if drift["parameter"] == "bright":
                bright = float(np.clip(0.5 + 0.07 * shift + rng.normal(0, 0.05), 0.02, 0.98))
            else:
                tempo += 3.0 * shift
            features = compute_features(render(bright, tempo, rng), FEATURE)
            maps["mfcc"].append(features["mfcc"])
            maps["mel"].append(10 * np.log10(np.maximum(features["mel"], 1e-10)))
            rows.append({"track_id": len(rows), "split": "training", "genre_top": genre, "year": year,
                         **{logit_column(g): rng.normal() for g in DRIFTS}})
    return pd.DataFrame(rows), {name: np.stack(values) for name, values in maps.items()}


def optima(profile_size: int, genres=tuple(DRIFTS)):
    return [{"genre": g, "slug": g, "logit": 10.0, "probability": 0.99, "profile": np.zeros(profile_size),
             "top_genre": g} for g in genres]


@pytest.mark.parametrize("feature", ["mfcc", "mel"])
def test_planted_drifts_have_the_ground_truth_sign(planted, feature):
    """Brightness drifts show in the spectral centroid, tempo drifts in the tempo, with their signs."""
    scores, maps = planted
    x = maps[feature]
    bands = [[feature, x.shape[1]]]
    summaries = track_summaries(x, bands, FEATURE.n_mels, FEATURE.sr, FEATURE.hop_length, chunk=16)
    evolution = genre_evolution(scores, np.zeros((len(scores), x.shape[1])), summaries,
                                optima(x.shape[1]), period_years=3)
    assert list(evolution.groupby("genre", sort=False)["n_tracks"].sum()) == [12] * 4
    report = drift_report(evolution, DRIFTS)
    assert list(report["column"]) == ["spectral_centroid_hz"] * 2 + ["tempo_bpm"] * 2
    assert (report["observed"] == report["expected"]).all(), report.to_string()
    # and by about the planted amount: 3 BPM/year over the 9 years between the outer period centres
    faster = evolution[evolution["genre"] == "Faster"]["tempo_bpm"]
    assert 15 < faster.iloc[-1] - faster.iloc[0] < 40


def summaries_of(n: int) -> dict:
    return {"spectral_centroid_hz": np.zeros(n), "tempo_bpm": np.full(n, 120.0)}


def scores_frame(rng) -> pd.DataFrame:
    years = np.tile(np.arange(2006, 2018), 8)
    return pd.DataFrame({"track_id": np.arange(96), "split": "training",
                         "genre_top": np.repeat(["Up", "Down"], 48), "year": years.astype(float),
                         logit_column("Up"): rng.normal(size=96), logit_column("Down"): rng.normal(size=96)})


def test_evolution_columns_and_periods():
    rng = np.random.default_rng(1)
    scores = scores_frame(rng)
    scores.loc[0, "year"] = np.nan  # unknown years are left out, not binned
    evolution = genre_evolution(scores, np.ones((96, 4)), summaries_of(96), optima(4, ("Up", "Down")),
                                period_years=4)
    assert list(evolution.columns) == EVOLUTION_COLUMNS
    up = evolution[evolution["genre"] == "Up"]
    assert list(up["period"]) == ["2006-2009", "2010-2013", "2014-2017"]
    assert up["n_tracks"].sum() == 47
    members = scores[(scores["genre_top"] == "Up") & scores["year"].between(2006, 2009)]
    assert up.iloc[0]["best_logit"] == pytest.approx(members[logit_column("Up")].max())
    assert up.iloc[0]["gap_to_optimum"] == pytest.approx(10.0 - members[logit_column("Up")].max())
    assert np.allclose(evolution["feature_distance"], 1.0)  # RMS of (ones - zeros)


def test_explicit_periods_leave_out_tracks_outside_them():
    rng = np.random.default_rng(2)
    scores = scores_frame(rng)
    evolution = genre_evolution(scores, np.ones((96, 4)), summaries_of(96), optima(4, ("Up", "Down")),
                                period_years=1, periods=[[2014, 2017], [2006, 2008]])
    up = evolution[evolution["genre"] == "Up"]
    assert list(up["period"]) == ["2006-2008", "2014-2017"]
    assert list(up["n_tracks"]) == [12, 16]
    with pytest.raises(ValueError, match="overlap"):
        track_periods(scores["year"], 1, [[2006, 2010], [2010, 2012]])


def test_period_bins_start_at_the_first_year():
    years = pd.Series([2007, 2008, 2009, 2010, 2013, np.nan])
    periods = track_periods(years, 3)
    assert list(periods["period_start"][:5]) == [2007, 2007, 2007, 2010, 2013]
    assert list(periods["period_end"][:5]) == [2009, 2009, 2009, 2012, 2015]
    assert periods.iloc[5].isna().all()
    with pytest.raises(ValueError, match="period_years"):
        track_periods(years, 0)


def test_drift_trend_needs_two_periods():
    table = pd.DataFrame({"genre": ["A"], "period_start": [2006], "period_end": [2008], "n_tracks": [3],
                          "spectral_centroid_hz": [1000.0]})
    with pytest.raises(ValueError, match="2"):
        drift_trend(table, "A", "spectral_centroid_hz")
