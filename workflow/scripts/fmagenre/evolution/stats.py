"""Statistics of genre evolution whose every number carries its uncertainty.

Tracks of one artist are not independent (the artist's sound shifts them together), so the unit of
resampling and of permutation is the artist, never the track:

- :func:`cluster_bootstrap`: percentile CI of a cell statistic, resampling whole artists. Written
  here because ``scipy.stats.bootstrap`` resamples the elements of equal-length samples
  independently: it has no notion of a cluster of unequal size whose tracks must move together. (A
  cell mean could be squeezed into it as a ratio of per-artist sums, but the size-corrected best
  needs every resampled track, so one resampler serves both, and the trend's CI too.)
- :func:`expected_max`: the exact expected maximum over random subsets of size m of a cell (order
  statistics), so that a best score does not grow with the cell's size.
- :func:`trend_test`: OLS slope per decade of the artists' mean values on their mean years, a
  permutation p-value that shuffles years between artists (``scipy.stats.permutation_test``, the
  pairings design is exactly that shuffle) and a cluster-bootstrap CI.
- :func:`verdicts`: Benjamini-Hochberg q (``scipy.stats.false_discovery_control``) and the verdict.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln
from scipy.stats import false_discovery_control, permutation_test

ALPHA = 0.05
VERDICTS = ("rising", "falling", "no evidence")


def cluster_counts(n_clusters: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """[n_boot, n_clusters] times each cluster is drawn when n_clusters are drawn with replacement."""
    return rng.multinomial(n_clusters, np.full(n_clusters, 1.0 / n_clusters), size=n_boot)


def _codes(clusters) -> tuple[np.ndarray, int]:
    _, codes = np.unique(np.asarray(clusters), return_inverse=True)
    return codes, int(codes.max()) + 1 if len(codes) else 0


def cluster_bootstrap(
    values,
    clusters,
    statistic=None,
    *,
    n_boot: int = 1000,
    rng: np.random.Generator | None = None,
    alpha: float = ALPHA,
):
    """(estimate, ci_low, ci_high): percentile CI of ``statistic`` with whole clusters resampled.

    ``statistic`` maps a 1-D array of track values to a number; ``None`` is the mean, computed for
    all resamples at once. A resampled cluster contributes all its tracks as many times as it is drawn.
    """
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return np.nan, np.nan, np.nan
    rng = rng or np.random.default_rng(0)
    codes, k = _codes(clusters)
    weights = cluster_counts(k, n_boot, rng)[:, codes]  # [n_boot, n_tracks]
    if statistic is None:
        estimate = values.mean()
        boot = (weights * values).sum(axis=1) / weights.sum(axis=1)
    else:
        estimate = statistic(values)
        boot = np.array([statistic(np.repeat(values, w)) for w in weights])
    low, high = np.nanquantile(boot, [alpha / 2, 1 - alpha / 2])
    return float(estimate), float(low), float(high)


def expected_max(values, m: int) -> float:
    """Expected maximum of a random m-subset (without replacement) of ``values``; needs m <= n.

    With the values sorted ascending, the i-th smallest (1-based) is the subset's maximum with
    probability C(i-1, m-1) / C(n, m). This is the unbiased estimate of the maximum of m draws from
    the cell's distribution, so under no time effect it has the same expectation in every cell,
    whatever the cell's size, unlike the plain maximum.
    """
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = len(x)
    if not 1 <= m <= n:
        raise ValueError(f"expected_max needs 1 <= m <= n, got m={m}, n={n}")
    i = np.arange(m, n + 1)  # ranks that can be a subset's maximum
    log_w = (gammaln(i) - gammaln(m) - gammaln(i - m + 1)) - (
        gammaln(n + 1) - gammaln(m + 1) - gammaln(n - m + 1)
    )
    return float(np.dot(np.exp(log_w), x[m - 1 :]))


def best_corrected(
    values,
    clusters,
    m: int,
    *,
    n_boot: int = 1000,
    rng: np.random.Generator | None = None,
    alpha: float = ALPHA,
):
    """(expected max over m-subsets, ci_low, ci_high) with an artist-cluster bootstrap CI.

    Resamples that hold fewer than m tracks (artists differ in size) cannot be scored and are left
    out of the CI's quantiles.
    """
    return cluster_bootstrap(
        values,
        clusters,
        lambda x: expected_max(x, m) if len(x) >= m else np.nan,
        n_boot=n_boot,
        rng=rng,
        alpha=alpha,
    )


def artist_means(values, years, artists) -> tuple[np.ndarray, np.ndarray]:
    """(mean year, mean value) per artist, in sorted artist order: the trend's units of replication."""
    codes, k = _codes(artists)
    counts = np.bincount(codes, minlength=k)
    year = np.bincount(codes, np.asarray(years, dtype=np.float64), k) / counts
    value = np.bincount(codes, np.asarray(values, dtype=np.float64), k) / counts
    return year, value


def _slope(x, y, axis=-1):
    xc = x - x.mean(axis=axis, keepdims=True)
    yc = y - y.mean(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xc * yc).sum(axis=axis) / (xc * xc).sum(axis=axis)


def _weighted_slopes(x, y, weights):
    """OLS slope of y on x for each row of ``weights`` [B, n] (NaN where x has no spread)."""
    total = weights.sum(axis=1, keepdims=True)
    mx = (weights * x).sum(axis=1, keepdims=True) / total
    my = (weights * y).sum(axis=1, keepdims=True) / total
    with np.errstate(invalid="ignore", divide="ignore"):
        return (weights * (x - mx) * (y - my)).sum(axis=1) / (weights * (x - mx) ** 2).sum(axis=1)


def trend_test(
    values,
    years,
    artists,
    *,
    n_perm: int = 999,
    n_boot: int = 1000,
    rng: np.random.Generator | None = None,
    alpha: float = ALPHA,
) -> dict:
    """Slope per decade of a measure over release years, with CI and permutation p-value.

    Each artist is one point (its mean year, its mean value): tracks of one artist share the artist's
    effect, so counting them as independent would overstate the evidence. The permutation shuffles
    the years between artists (no time effect <=> the artist's year is exchangeable); the CI
    resamples artists. Returns slope_per_decade, ci_low, ci_high, p_value, n_artists; NaN where the
    artists span fewer than two distinct years.
    """
    rng = rng or np.random.default_rng(0)
    x, y = artist_means(values, years, artists)
    out = {
        "slope_per_decade": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "p_value": np.nan,
        "n_artists": len(x),
    }
    if len(np.unique(x)) < 2:
        return out
    result = permutation_test(
        (x, y),
        _slope,
        permutation_type="pairings",
        vectorized=True,
        n_resamples=n_perm,
        alternative="two-sided",
        rng=rng,
    )
    boot = _weighted_slopes(x, y, cluster_counts(len(x), n_boot, rng).astype(np.float64))
    low, high = np.nanquantile(boot, [alpha / 2, 1 - alpha / 2])
    out.update(
        slope_per_decade=10 * float(result.statistic),
        ci_low=10 * float(low),
        ci_high=10 * float(high),
        p_value=float(result.pvalue),
    )
    return out


def verdicts(slopes, p_values, alpha: float = ALPHA) -> tuple[np.ndarray, np.ndarray]:
    """(BH q-values, verdicts) over every test of a family; untestable (NaN p) rows get NaN q and
    "no evidence". A verdict is rising/falling only where q < alpha, by the sign of the slope."""
    slopes, p = np.asarray(slopes, dtype=np.float64), np.asarray(p_values, dtype=np.float64)
    q = np.full(len(p), np.nan)
    finite = np.isfinite(p)
    if finite.any():
        q[finite] = false_discovery_control(p[finite], method="bh")
    significant = finite & (np.nan_to_num(q, nan=1.0) < alpha)
    verdict = np.where(
        significant & (slopes > 0),
        "rising",
        np.where(significant & (slopes < 0), "falling", "no evidence"),
    )
    return q, verdict.astype(object)
