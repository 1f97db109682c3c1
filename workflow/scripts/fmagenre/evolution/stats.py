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
from scipy.stats import false_discovery_control, norm, permutation_test

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


def _weighted_slopes(x, y, weights, strata):
    """OLS slope of y on x with stratum fixed effects, for each row of ``weights`` [B, n] (x, y: [n]
    or [B, n]; ``strata`` [n] codes 0..S-1); NaN where x has no spread within the strata."""
    onehot = np.eye(int(strata.max()) + 1)[strata]  # [n, S]
    with np.errstate(invalid="ignore", divide="ignore"):
        total = weights @ onehot  # [B, S]
        mx = ((weights * x) @ onehot / total)[:, strata]
        my = ((weights * y) @ onehot / total)[:, strata]
        return (weights * (x - mx) * (y - my)).sum(axis=1) / (weights * (x - mx) ** 2).sum(axis=1)


def _bca_levels(boot: np.ndarray, jackknife: np.ndarray, estimate: float, levels: np.ndarray):
    """Quantile levels of the BCa interval (Efron 1987) from bootstrap and leave-one-artist-out
    (jackknife) replicates: for a statistic whose resamples are biased relative to the estimate
    and whose spread changes with its value."""
    finite = boot[np.isfinite(boot)]
    below = np.clip(
        np.mean(finite < estimate), 1 / (len(finite) + 1), len(finite) / (len(finite) + 1)
    )
    z0 = norm.ppf(below)
    spread = jackknife[np.isfinite(jackknife)].mean() - jackknife[np.isfinite(jackknife)]
    with np.errstate(invalid="ignore", divide="ignore"):
        accel = np.nan_to_num((spread**3).sum() / (6 * ((spread**2).sum()) ** 1.5))
    z = norm.ppf(levels)
    return norm.cdf(z0 + (z0 + z) / (1 - accel * (z0 + z)))


def trend_test(
    values,
    years,
    artists,
    *,
    strata=None,
    refit=None,
    alternative: str = "two-sided",
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

    ``strata`` (per track, constant within an artist, e.g. the fold model that scored it): the slope
    is fitted within strata, so that a stratum's offset cannot pose as a trend. ``refit``: for a
    measure fitted on the years themselves (:mod:`fmagenre.evolution.axis`), a function from a
    batch of per-track year vectors [B, n] and track weights [B, n] (None: once each) to the values
    [B, n]; it is rerun under every permutation, so that the test stays exact, and on every
    bootstrap resample (weights: the resample's multiplicities), so that the CI holds the fit's
    spread; that CI is the BCa interval (:func:`_bca_levels`).
    ``alternative``: as ``scipy.stats.permutation_test`` ("greater": only a rising slope counts).
    """
    rng = rng or np.random.default_rng(0)
    codes, k = _codes(artists)
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
    stratum = np.zeros(k, dtype=np.int64)
    if strata is not None:
        stratum[codes] = _codes(strata)[0]
    counts = np.bincount(codes, minlength=k)

    def refitted_means(track_years, track_weights=None):
        """Artist means [B, k] of the values refitted on per-track years (and weights)."""
        fitted = refit(track_years, track_weights)
        return np.stack([np.bincount(codes, row, k) for row in fitted]) / counts

    def slope(x_batch, axis=-1):
        batch = np.atleast_2d(x_batch)
        y_batch = y if refit is None else refitted_means(batch[:, codes])
        return _weighted_slopes(batch, y_batch, np.ones_like(batch), stratum).reshape(
            np.shape(x_batch)[:-1]
        )

    result = permutation_test(
        (x,),
        slope,
        permutation_type="pairings",
        vectorized=True,
        n_resamples=n_perm,
        alternative=alternative,
        batch=None if refit is None else max(1, int(2e7 // max(len(codes), 1))),
        rng=rng,
    )
    draws = cluster_counts(len(x), n_boot, rng).astype(np.float64)
    # a refitted measure is refitted on each resample too, so that its CI holds the fit's spread
    y_boot = y if refit is None else refitted_means(x[codes][None], draws[:, codes])
    boot = _weighted_slopes(x, y_boot, draws, stratum)
    levels = np.array([alpha / 2, 1 - alpha / 2])
    if refit is not None:  # resampled artists make noisier axes, so the resampled slopes shrink
        leave_out = 1.0 - np.eye(len(x))
        y_jack = refitted_means(x[codes][None], leave_out[:, codes])
        jackknife = _weighted_slopes(x, y_jack, leave_out, stratum)
        levels = _bca_levels(boot, jackknife, float(result.statistic), levels)
    low, high = np.nanquantile(boot, levels)
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
