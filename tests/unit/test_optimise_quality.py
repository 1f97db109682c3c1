"""Realism measures on constructed cases with a known answer, and the verdict rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fmagenre.io import write_tsv
from fmagenre.optimise.gap import headline
from fmagenre.optimise.quality import (
    JudgeTags,
    Thresholds,
    clamp_fraction,
    descriptors,
    frechet_distance,
    knn_percentile,
    roundtrip_share,
    verdicts,
)


def test_clamp_fraction_is_one_on_the_box_corners_and_zero_inside():
    rng = np.random.default_rng(0)
    lo, hi = np.array([-2.0, 0.0, 1.0]), np.array([2.0, 5.0, 3.0])
    corners = np.where(rng.random((4, 3, 30)) < 0.5, lo[None, :, None], hi[None, :, None])
    np.testing.assert_array_equal(clamp_fraction(corners, lo, hi), 1.0)
    inside = lo[None, :, None] + (hi - lo)[None, :, None] * rng.uniform(0.05, 0.95, (4, 3, 30))
    np.testing.assert_array_equal(clamp_fraction(inside, lo, hi), 0.0)
    half = inside.copy()
    half[:, :, :15] = hi[None, :, None]
    np.testing.assert_allclose(clamp_fraction(half, lo, hi), 0.5)


def test_a_real_track_has_a_middle_knn_percentile_and_an_outlier_100():
    rng = np.random.default_rng(0)
    tracks = rng.normal(0.0, 1.0, (60, 4, 50))
    real = descriptors(tracks)
    # a new track from the same distribution sits among the real ones; a flat or extreme map does not
    fresh = descriptors(rng.normal(0.0, 1.0, (20, 4, 50)))
    assert 20 < np.median(knn_percentile(fresh, real)) < 80
    flat = descriptors(np.zeros((1, 4, 50)))  # the training mean: right on average, no texture
    extreme = descriptors(np.full((1, 4, 50), 6.0))
    assert knn_percentile(flat, real)[0] == 100 and knn_percentile(extreme, real)[0] == 100
    # fewer real tracks than neighbours: the N - 1 nearest; a single track gives no statistic
    assert knn_percentile(flat, real[:4])[0] == 100 and knn_percentile(flat, real[:2])[0] == 100
    with pytest.raises(ValueError, match="at least 2"):
        knn_percentile(fresh, real[:1])


def test_frechet_distance_is_zero_for_one_distribution_and_grows_with_the_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 1.0, (4000, 3))
    b = rng.normal(0.0, 1.0, (4000, 3))
    assert frechet_distance(a, b) < 0.02
    # shifted means: the squared distance of the means (covariances equal)
    assert frechet_distance(a, b + 2.0) == pytest.approx(12.0, rel=0.02)
    # a wider Gaussian: (sigma_a - sigma_b)^2 per dimension
    assert frechet_distance(a, 3.0 * b) == pytest.approx(3 * 4.0, rel=0.05)


def quality_rows(**columns) -> pd.DataFrame:
    base = {
        "genre": "Rock",
        "start": ["noise", "mean", "track_1"],
        "margin": [9.0, 5.0, 3.0],
        "clamp_fraction": [0.0, 0.0, 0.0],
        "knn_percentile": [50.0, 50.0, 50.0],
        "roundtrip_share": [0.9, 0.9, 0.9],
        "transfer_rank_a": [1, 1, 1],
        "transfer_rank_b": [1, 1, 1],
    }
    return pd.DataFrame({**base, **columns})


def test_verdict_fails_each_check_alone_and_names_it():
    thresholds = Thresholds(knn_percentile_max=95, clamp_fraction_max=0.01, roundtrip_share_min=0.5)
    table = verdicts(quality_rows(), ["a", "b"], thresholds)
    assert (table["verdict"] == "representative").all() and (table["failed_checks"] == "none").all()
    cases = {
        "clamp_fraction": {"clamp_fraction": [0.2, 0.0, 0.0]},
        "knn_percentile": {"knn_percentile": [99.0, 50.0, 50.0]},
        "roundtrip_share": {"roundtrip_share": [np.nan, 0.9, 0.9]},
        "transfer": {"transfer_rank_a": [2, 1, 1], "transfer_rank_b": [3, 1, 1]},
    }
    for check, change in cases.items():
        table = verdicts(quality_rows(**change), ["a", "b"], thresholds)
        assert list(table["verdict"]) == ["adversarial", "representative", "representative"], check
        assert table["failed_checks"].iloc[0] == check
    # one of two transfer models agreeing is not a majority; without transfer models the check is absent
    split = verdicts(quality_rows(transfer_rank_b=[3, 1, 1]), ["a", "b"], thresholds)
    assert split["verdict"].iloc[0] == "adversarial"
    assert "transfer" not in verdicts(quality_rows(), [], thresholds)["failed_checks"].iloc[0]


def test_headline_is_the_best_representative_start_else_the_best_start():
    table = verdicts(quality_rows(knn_percentile=[99.0, 50.0, 50.0]), ["a", "b"], Thresholds())
    assert headline(table)["start"] == "mean"  # noise scores higher but is adversarial
    none = verdicts(quality_rows(knn_percentile=[99.0, 99.0, 99.0]), ["a", "b"], Thresholds())
    assert headline(none)["start"] == "noise"


def test_roundtrip_share_is_the_gap_left_after_both_round_trips():
    # optimum 10 vs best 4 (gap 6); after audio: optimum 5, best 2 -> gap 3 left, share 0.5
    share = roundtrip_share(np.array([10.0, 3.0, 4.0]), 4.0, np.array([5.0, 9.0, 9.0]), 2.0)
    assert share[0] == pytest.approx(0.5)
    assert np.isnan(share[1]) and np.isnan(share[2])  # no gap to keep
    assert (
        roundtrip_share(np.array([10.0]), 4.0, np.array([1.0]), 2.0)[0] < 0
    )  # fell below the best


def judge_tags(tmp_path, genre_tags) -> JudgeTags:
    """Judge tables as the rules write them: three clips of Rock, six real tracks."""
    clips = pd.DataFrame(
        {
            "wav": [f"starts/Rock/{name}.wav" for name in ("noise", "mean", "track_1")],
            "rock": [0.05, 0.35, 0.9],
            "pop": [0.5, 0.5, 0.5],
        }
    )
    tracks = pd.DataFrame(
        {"track_id": [1, 2, 3, 4, 5, 6], "rock": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], "pop": 0.5}
    )
    write_tsv(tmp_path / "audio.tsv", clips)
    write_tsv(tmp_path / "tracks.tsv", tracks)
    return JudgeTags.read(str(tmp_path / "audio.tsv"), str(tmp_path / "tracks.tsv"), genre_tags)


def test_judge_percentile_places_each_clip_among_the_genres_real_tracks(tmp_path):
    judge = judge_tags(tmp_path, {"Rock": ["rock"]})
    columns = judge.columns("Rock", "Rock", ["noise", "mean", "track_1"], np.arange(1, 7))
    np.testing.assert_allclose(columns["judge_probability"], [0.05, 0.35, 0.9])
    np.testing.assert_allclose(columns["judge_percentile"], [0.0, 50.0, 100.0])
    # only the genre's own real tracks count: against the three quietest, 0.35 beats all of them
    own = judge.columns("Rock", "Rock", ["mean"], np.array([1, 2, 3]))
    assert own["judge_percentile"].iloc[0] == 100.0
    # a genre without a mapped tag gets NA, not a score; a missing clip is an error naming the fix
    unmapped = judge_tags(tmp_path, {}).columns("Rock", "Rock", ["noise"], np.arange(1, 7))
    assert unmapped.isna().all().all()
    with pytest.raises(KeyError, match="judge_audio"):
        judge.columns("Rock", "Rock", ["track_9"], np.arange(1, 7))


def test_judge_takes_part_in_the_verdict_only_when_its_threshold_is_set():
    rows = quality_rows(judge_percentile=[10.0, np.nan, 80.0])
    assert (verdicts(rows.copy(), ["a", "b"], Thresholds())["verdict"] == "representative").all()
    judged = verdicts(rows.copy(), ["a", "b"], Thresholds(judge_percentile_min=50.0))
    assert list(judged["verdict"]) == ["adversarial", "representative", "representative"]
    assert judged["failed_checks"].iloc[0] == "judge"
    with pytest.raises(ValueError, match="judge_percentile_min"):
        verdicts(quality_rows(), ["a", "b"], Thresholds(judge_percentile_min=50.0))
