"""Figures of the input-optimisation stage: the representativeness gap and the optimised inputs."""

from __future__ import annotations

import json
import math

import h5py
import numpy as np

from fmagenre.figures.common import plt, save_figure
from fmagenre.io import read_tsv

# track_scores.tsv holds fmagenre.models.track_logits: raw logits (segment models: mean over segments)
SCORE_LABEL = "track score (logit)"


def _grid(n: int, width: float = 4.0, height: float = 2.8):
    cols = min(4, max(1, n))
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def gap_figure(gap_tsv: str, output: str, model: str) -> None:
    """Grouped bars: the optimum's and the best real track's logit per genre; failed genres marked."""
    gap = read_tsv(gap_tsv)
    positions = np.arange(len(gap))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(gap) + 2), 4.5))
    ax.bar(positions - 0.2, gap["optimum_logit"], 0.4, label="optimised input")
    ax.bar(positions + 0.2, gap["best_track_logit"], 0.4, label="best real track")
    failed = gap["failed"].astype(str).str.lower() == "true"
    for position, row in zip(positions[failed.to_numpy()], gap[failed].itertuples()):
        ax.annotate("failed", (position, max(row.optimum_logit, row.best_track_logit)),
                    ha="center", va="bottom", color="red", fontweight="bold")
    ax.set_xticks(positions, gap["genre"], rotation=30, ha="right")
    ax.set_xlabel("genre")
    ax.set_ylabel(f"{SCORE_LABEL} of the genre")
    ax.set_title(f"Representativeness gap, model {model}: optimum vs best real track")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.legend()
    save_figure(fig, output)


def optimised_inputs_figure(optimum_h5s: list[str], output: str, model: str) -> None:
    """The optimised input of every genre (normalised units), one panel per genre with a colour bar."""
    fig, axes = _grid(len(optimum_h5s), width=4.2, height=3.0)
    for ax, path in zip(axes, optimum_h5s):
        with h5py.File(path, "r") as handle:
            z = handle["x_normalised"][()]
            attrs = dict(handle.attrs)
        seconds = z.shape[1] * int(attrs["hop_length"]) / int(attrs["sr"])
        image = ax.imshow(z, origin="lower", aspect="auto", cmap="coolwarm", interpolation="nearest",
                          extent=(0, seconds, -0.5, z.shape[0] - 0.5))
        ax.set_title(f"{attrs['genre']} (logit {float(attrs['logit']):.2f}, p = {float(attrs['probability']):.2f})")
        ax.set_xlabel("time (s)")
        bands = " + ".join(name for name, _ in json.loads(attrs["bands"]))
        ax.set_ylabel(f"band index ({bands})")
        fig.colorbar(image, ax=ax, label="normalised value (std)")
    fig.suptitle(f"Optimised inputs per genre, model {model}")
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    save_figure(fig, output)
