"""Genre x period cells: release-year bins and which cells hold enough tracks and artists to test.

A cell with fewer than ``min_tracks`` tracks or ``min_artists`` artists is marked ineligible and left
out of every test; it is never merged into a neighbour (that would move its period silently).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

YEAR_SOURCES = ("released", "created", "released_or_created")


def period_bins(years: pd.Series, period_years: int) -> pd.DataFrame:
    """``period_start`` and ``period_end`` (inclusive) of each track's period; NaN without a year.

    Periods are ``period_years`` wide and start at the earliest known year.
    """
    if period_years < 1:
        raise ValueError(f"evolution.period_years = {period_years}; fix: a whole number >= 1")
    out = pd.DataFrame({"period_start": np.nan, "period_end": np.nan}, index=years.index)
    known = years.notna()
    if known.any():
        first = int(years[known].min())
        start = first + ((years[known] - first) // period_years).astype(int) * period_years
        out.loc[known, "period_start"] = start
        out.loc[known, "period_end"] = start + period_years - 1
    return out


def period_label(start: int, end: int) -> str:
    return f"{start}" if start == end else f"{start}-{end}"


def cell_table(tracks: pd.DataFrame, min_tracks: int, min_artists: int) -> pd.DataFrame:
    """One row per genre x period of ``tracks`` (genre, period_start, period_end, artist_id):
    genre, period, period_start, period_end, n_tracks, n_artists, eligible."""
    known = tracks.dropna(subset=["period_start"])
    cells = (
        known.groupby(["genre", "period_start", "period_end"])
        .agg(n_tracks=("artist_id", "size"), n_artists=("artist_id", "nunique"))
        .reset_index()
    )
    cells["period_start"] = cells["period_start"].astype(int)
    cells["period_end"] = cells["period_end"].astype(int)
    cells.insert(
        1,
        "period",
        [period_label(a, b) for a, b in zip(cells["period_start"], cells["period_end"])],
    )
    cells["eligible"] = (cells["n_tracks"] >= min_tracks) & (cells["n_artists"] >= min_artists)
    return cells


def eligible_tracks(tracks: pd.DataFrame, cells: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the rows of ``tracks`` that lie in an eligible cell of ``cells``."""
    keys = cells.loc[cells["eligible"], ["genre", "period_start"]]
    good = set(zip(keys["genre"], keys["period_start"].astype(float)))
    return np.array([(g, s) in good for g, s in zip(tracks["genre"], tracks["period_start"])])
