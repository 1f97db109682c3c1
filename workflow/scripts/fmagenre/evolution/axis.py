"""The first-order model-based measure ``projection``: where a track sits on its genre's early-to-late
axis in the embedding of the model that scored it, the axis fitted on the other folds only.

``displacement`` (a distance to the earliest period's centroid) grows with the square of a drift, so
a drift of the planted size barely moves it. A drift in one direction moves the genre's tracks along
one direction of the embedding; the covariance of the embedding with the release year (the first
partial-least-squares direction) estimates that direction. To keep the estimate out of sample, the
axis of fold k is fitted in fold model k's embedding on the tracks of the *other* folds (and their
years), and only fold k's tracks are placed on it, in SDs of the fitting tracks' positions. With one
model for every track (``evolution.scores: heldout``) the same model's embedding serves every fold.

A track's position then depends on the years of the other folds' tracks, so a plain permutation of
years (values held fixed) is not exact: in- and out-of-sample embeddings differ, and that shift
reaches the positions through the fitted axes (measured: controls came out "falling" at p ~ 0.002
on two datasets). :func:`axis_positions` therefore takes a batch of year vectors, so that the trend
test refits every axis under every permutation, which is exact when years are exchangeable between
artists; the fold's offset is removed before the slope (fold fixed effects).
"""

from __future__ import annotations

import numpy as np


def group_embedding(embeddings: np.ndarray, group: int) -> np.ndarray:
    """[n, D]: the embedding by the model of ``group`` (one model for every group when K = 1)."""
    return embeddings[int(group) if len(embeddings) > 1 else 0]


def axis_positions(
    embeddings: np.ndarray,
    fold: np.ndarray,
    years: np.ndarray,
    fit: np.ndarray,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Positions [B, n] of n tracks of one genre for each of B year vectors ``years`` [B, n].

    ``embeddings`` [K, n, D]: track i embedded by the model of fold k (K = 1: one model for all);
    ``fold`` [n]: each track's fold; ``fit`` [n] bool: the tracks that may fit an axis (the eligible
    ones); ``weights`` [B, n]: how often each track counts in the fit (a bootstrap resample's
    multiplicities; default once). A fold whose fitting tracks have no year spread gets NaN.
    """
    years = np.atleast_2d(np.asarray(years, dtype=np.float64))
    weights = np.ones_like(years) if weights is None else np.atleast_2d(weights).astype(np.float64)
    weights = np.broadcast_to(weights, np.broadcast_shapes(years.shape, weights.shape))
    years = np.broadcast_to(years, weights.shape)
    out = np.full(weights.shape, np.nan)
    for k in np.unique(fold):
        e = group_embedding(embeddings, k)
        ref, held = fit & (fold != k), fold == k
        w = weights[:, ref]
        total = w.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            centre = (w @ e[ref]) / total  # [B, D]
            y = years[:, ref] - (w * years[:, ref]).sum(axis=1, keepdims=True) / total
            axes = (w * y) @ e[ref]  # [B, D]: the year covariance direction (unnormalised)
            fitted = e[ref] @ axes.T - (centre * axes).sum(axis=1)  # [n_ref, B]
            spread = np.sqrt((w.T * fitted**2).sum(axis=0) / total[:, 0])
            position = e[held] @ axes.T - (centre * axes).sum(axis=1)  # [n_held, B]
            out[:, held] = (position / spread).T
    return out
