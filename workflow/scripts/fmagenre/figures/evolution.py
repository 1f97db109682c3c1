"""Figures of the evolution stage: one per measure, a panel per genre with the cell means, their 95 %
artist-cluster CIs as a band and the trend verdict in the panel title."""

from __future__ import annotations

import math

import numpy as np

from fmagenre.figures.common import plt, save_figure
from fmagenre.io import read_tsv

UNITS = {
    "margin": "own-genre margin (log-odds)",
    "displacement": "embedding distance to earliest period",
    "projection": "position on early-to-late axis (SD)",
    "spectral_centroid_hz": "spectral centroid (Hz)",
    "tempo_bpm": "tempo (BPM)",
    "onset_rate_hz": "onset rate (1/s)",
    "loudness_db": "loudness (dB, mel power)",
    "judge_era": "judge's decade estimate (year)",
}


def measure_figure(periods, trends, measure: str, output: str, model: str) -> None:
    """Cell means with CI bands over period midpoints per genre; ineligible cells as open markers."""
    rows = periods[periods["measure"] == measure]
    genres = sorted(rows["genre"].unique())
    cols = min(4, max(1, len(genres)))
    fig, axes = plt.subplots(
        math.ceil(len(genres) / cols),
        cols,
        figsize=(4 * cols, 2.8 * math.ceil(len(genres) / cols)),
        squeeze=False,
    )
    for ax in axes.flat[len(genres) :]:
        ax.set_visible(False)
    verdict = trends[trends["measure"] == measure].set_index("genre")
    for ax, genre in zip(axes.flat, genres):
        mine = rows[rows["genre"] == genre].sort_values("period_start")
        mid = (mine["period_start"] + mine["period_end"]) / 2
        good = mine["eligible"].to_numpy(bool)
        ax.fill_between(
            mid[good], mine["ci_low"][good], mine["ci_high"][good], alpha=0.3, label="95 % CI"
        )
        ax.plot(mid[good], mine["mean"][good], "o-", label="mean (eligible cell)")
        ax.plot(
            mid[~good], mine["mean"][~good], "o", mfc="none", color="grey", label="ineligible cell"
        )
        q = verdict.loc[genre, "q_value"] if genre in verdict.index else np.nan
        ax.set_title(
            f"{genre}: {verdict.loc[genre, 'verdict'] if genre in verdict.index else 'untested'}"
            f" (q={q:.2g})",
            fontsize=9,
        )
        ax.set_xlabel("release period midpoint (year)")
        ax.set_ylabel(UNITS.get(measure, measure), fontsize=8)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(
        f"{model}: {UNITS.get(measure, measure)} per genre and period (verdict at BH q < 0.05)"
    )
    fig.tight_layout()
    save_figure(fig, output)


def evolution_figures(
    periods_tsv: str, trends_tsv: str, outputs: dict[str, str], model: str
) -> None:
    periods, trends = read_tsv(periods_tsv), read_tsv(trends_tsv)
    for measure, output in outputs.items():
        measure_figure(periods, trends, measure, output, model)
