"""Figures of the input-optimisation stage: the representativeness gap, genre evolution, optimised inputs."""

from __future__ import annotations

import math

import numpy as np

from fmagenre.figures.common import plt, save_figure
from fmagenre.io import read_tsv
from fmagenre.optimise.optimum import read_optimum

# track_scores.tsv holds fmagenre.models.track_logits: raw logits (segment models: mean over segments)
SCORE_LABEL = "track score (logit)"
MARGIN_LABEL = "track margin (log-odds, logit minus logsumexp of the others)"


def _grid(n: int, width: float = 4.0, height: float = 2.8):
    cols = min(4, max(1, n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def gap_figure(gap_tsv: str, output: str, model: str) -> None:
    """Grouped bars: the headline optimum's and the best real track's margin per genre, with each verdict."""
    gap = read_tsv(gap_tsv)
    positions = np.arange(len(gap))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(gap) + 2), 4.5))
    ax.bar(positions - 0.2, gap["optimum_margin"], 0.4, label="headline optimum")
    ax.bar(positions + 0.2, gap["best_track_margin"], 0.4, label="best real track")
    for position, row in zip(positions, gap.itertuples()):
        label = row.verdict + (", failed" if str(row.failed).lower() == "true" else "")
        ax.annotate(label, (position, max(row.optimum_margin, row.best_track_margin)), ha="center",
                    va="bottom", fontsize=8, color="black" if row.verdict == "representative" else "red")
    ax.set_xticks(positions, gap["genre"], rotation=30, ha="right")
    ax.set_xlabel("genre")
    ax.set_ylabel(f"{MARGIN_LABEL}")
    ax.set_title(f"Representativeness gap, model {model}: headline optimum (verdict) vs best real track")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.legend()
    save_figure(fig, output)


def evolution_figure(evolution_tsv: str, output: str, model: str) -> None:
    """One panel per genre: best and mean logit per period, with the spectral centroid on a right axis."""
    evolution = read_tsv(evolution_tsv)
    genres = list(dict.fromkeys(evolution["genre"]))
    fig, axes = _grid(len(genres))
    legend_axes = []
    for ax, genre in zip(axes, genres):
        rows = evolution[evolution["genre"] == genre].sort_values("period_start")
        mid = (rows["period_start"] + rows["period_end"]) / 2.0
        ax.plot(mid, rows["best_logit"], marker="o", label="best logit")
        ax.plot(mid, rows["mean_logit"], marker="s", label="mean logit")
        ax.plot(mid, rows["best_logit"] + rows["gap_to_optimum"], linestyle="--", color="grey", label="optimum")
        ax.set_title(genre)
        ax.set_xlabel("release year (period centre)")
        ax.set_ylabel(SCORE_LABEL)
        right = ax.twinx()
        right.plot(mid, rows["spectral_centroid_hz"], color="tab:red", marker="^", label="centroid")
        right.set_ylabel("spectral centroid (Hz)", color="tab:red")
        right.set_xlabel("release year (period centre)")
        legend_axes = legend_axes or [ax, right]
    handles = [h for ax in legend_axes for h in ax.get_legend_handles_labels()[0]]
    fig.legend(handles, [h.get_label() for h in handles], loc="lower center", ncol=4)
    fig.suptitle(f"Genre evolution by release period, model {model}")
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    save_figure(fig, output)


def optimised_inputs_figure(optimum_h5s: list[str], gap_tsv: str, output: str, model: str) -> None:
    """The headline optimum of every genre (normalised units) with its verdict, one panel per genre."""
    gap = read_tsv(gap_tsv).set_index("genre")
    fig, axes = _grid(len(optimum_h5s), width=4.2, height=3.0)
    for ax, path in zip(axes, optimum_h5s):
        optimum = read_optimum(path)
        row = gap.loc[optimum.genre]
        z = optimum.start_inputs_normalised[optimum.start_index(row["headline_start"])]
        seconds = z.shape[1] * optimum.feature["hop_length"] / optimum.feature["sr"]
        image = ax.imshow(z, origin="lower", aspect="auto", cmap="coolwarm", interpolation="nearest",
                          extent=(0, seconds, -0.5, z.shape[0] - 0.5))
        ax.set_title(f"{optimum.genre}: {row['verdict']} (margin {row['optimum_margin']:.2f})", fontsize=9)
        ax.set_xlabel("time (s)")
        bands = " + ".join(name for name, _ in optimum.bands)
        ax.set_ylabel(f"band index ({bands})")
        fig.colorbar(image, ax=ax, label="normalised value (std)")
    fig.suptitle(f"Headline optimum per genre (the input model {model} scores highest under the constraints)")
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    save_figure(fig, output)
