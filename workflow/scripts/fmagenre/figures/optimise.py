"""Figures of the input-optimisation stage: the gap, quality checks, optima beside real tracks."""

from __future__ import annotations

import math

import numpy as np

from fmagenre.data.pack import fit_frames
from fmagenre.figures.common import plt, save_figure
from fmagenre.io import read_tsv
from fmagenre.optimise.optimum import read_optimum
from fmagenre.optimise.spectra import mel_db

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
        ax.annotate(
            label,
            (position, max(row.optimum_margin, row.best_track_margin)),
            ha="center",
            va="bottom",
            fontsize=8,
            color="black" if row.verdict == "representative" else "red",
        )
    ax.set_xticks(positions, gap["genre"], rotation=30, ha="right")
    ax.set_xlabel("genre")
    ax.set_ylabel(f"{MARGIN_LABEL}")
    ax.set_title(
        f"Representativeness gap, model {model}: headline optimum (verdict) vs best real track"
    )
    ax.axhline(0, color="black", linewidth=0.5)
    ax.legend()
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
        image = ax.imshow(
            z,
            origin="lower",
            aspect="auto",
            cmap="coolwarm",
            interpolation="nearest",
            extent=(0, seconds, -0.5, z.shape[0] - 0.5),
        )
        ax.set_title(
            f"{optimum.genre}: {row['verdict']} (margin {row['optimum_margin']:.2f})", fontsize=9
        )
        ax.set_xlabel("time (s)")
        bands = " + ".join(name for name, _ in optimum.bands)
        ax.set_ylabel(f"band index ({bands})")
        fig.colorbar(image, ax=ax, label="normalised value (std)")
    fig.suptitle(
        f"Headline optimum per genre (the input model {model} scores highest under the constraints)"
    )
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    save_figure(fig, output)


def quality_figure(quality_tsv: str, gap_tsv: str, output: str, model: str) -> None:
    """Per genre: every start's margin against its knn_percentile, coloured by verdict; the panel title
    gives the genre's verdict and headline start, the lines the best real track and the knn threshold."""
    quality, gap = read_tsv(quality_tsv), read_tsv(gap_tsv).set_index("genre")
    genres = list(dict.fromkeys(quality["genre"]))
    fig, axes = _grid(len(genres), width=4.0, height=3.0)
    for ax, genre in zip(axes, genres):
        rows, row = quality[quality["genre"] == genre], gap.loc[genre]
        for verdict, colour in (("representative", "tab:green"), ("adversarial", "tab:red")):
            mine = rows[rows["verdict"] == verdict]
            ax.scatter(mine["knn_percentile"], mine["margin"], color=colour, label=verdict)
        chosen = rows[rows["start"] == row["headline_start"]]
        ax.scatter(
            chosen["knn_percentile"],
            chosen["margin"],
            s=160,
            facecolors="none",
            edgecolors="black",
            label="headline",
        )
        ax.axhline(
            float(row["best_track_margin"]), color="grey", linestyle="--", label="best real track"
        )
        ax.set_xlim(-5, 105)
        ax.set_title(
            f"{genre}: {row['verdict']} ({row['headline_start']})",
            fontsize=9,
            color="black" if row["verdict"] == "representative" else "red",
        )
        ax.set_xlabel("knn_percentile (100 = farther than every real track)")
        ax.set_ylabel("margin (log-odds)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4)
    count = int((gap["verdict"] == "representative").sum())
    fig.suptitle(
        f"Quality checks per start, model {model}: {count}/{len(gap)} genres representative"
    )
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    save_figure(fig, output)


def optimum_comparison_figure(
    optimum_h5s: list[str], gap_tsv: str, output: str, model: str
) -> None:
    """Per genre (rows) as dB mel images: the headline optimum, the best real track and a typical real
    track (median margin), over the optimum's frames, on one colour scale per row."""
    gap = read_tsv(gap_tsv).set_index("genre")
    fig, axes = plt.subplots(
        len(optimum_h5s), 3, figsize=(12, 2.4 * len(optimum_h5s)), squeeze=False
    )
    for ax_row, path in zip(axes, optimum_h5s):
        optimum = read_optimum(path)
        row = gap.loc[optimum.genre]
        x = optimum.start_inputs[optimum.start_index(row["headline_start"])]
        frames = x.shape[1]
        maps = [
            mel_db(m, optimum.bands, optimum.feature["n_mels"])
            for m in (
                x,
                fit_frames(optimum.best_track_x, frames),
                fit_frames(optimum.typical_track_x, frames),
            )
        ]
        lo, hi = min(float(m.min()) for m in maps), max(float(m.max()) for m in maps)
        seconds = frames * optimum.feature["hop_length"] / optimum.feature["sr"]
        titles = (
            f"{optimum.genre} optimum: {row['verdict']} (margin {row['optimum_margin']:.1f})",
            f"best real track {optimum.best_track_id} (margin {optimum.best_track_margin:.1f})",
            f"typical real track {optimum.typical_track_id}",
        )
        for ax, image, title in zip(ax_row, maps, titles):
            shown = ax.imshow(
                image,
                origin="lower",
                aspect="auto",
                cmap="magma",
                vmin=lo,
                vmax=hi,
                extent=(0, seconds, -0.5, image.shape[0] - 0.5),
                interpolation="nearest",
            )
            ax.set_title(title, fontsize=8)
            ax.set_xlabel("time (s)")
            ax.set_ylabel("mel band")
        fig.colorbar(shown, ax=ax_row[-1], label="level (dB)")
    fig.suptitle(f"Headline optimum beside real tracks (mel, dB), model {model}")
    fig.tight_layout(rect=(0, 0, 1, 0.98))
    save_figure(fig, output, dpi=90)  # 24 spectrogram panels: keeps the report under 20 MB
