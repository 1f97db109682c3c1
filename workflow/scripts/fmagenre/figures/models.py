"""Model figures: training curves, confusion matrix, comparison of all models with the baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from fmagenre.figures.common import plt, save_figure


def plot_curves(history: pd.DataFrame, path: str, name: str) -> None:
    """Loss and accuracy per epoch, training vs validation."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for split, style in (("train", "-o"), ("val", "-s")):
        loss_ax.plot(history["epoch"], history[f"{split}_loss"], style, label=split, markersize=3)
        acc_ax.plot(
            history["epoch"], history[f"{split}_accuracy"], style, label=split, markersize=3
        )
    loss_ax.set(title="Loss", xlabel="epoch", ylabel="loss (nats; BCE when multi-label)")
    acc_ax.set(title="Accuracy", xlabel="epoch", ylabel="accuracy (fraction)", ylim=(0, 1))
    for ax in (loss_ax, acc_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(f"Training curves: {name}")
    save_figure(fig, path)


def plot_confusion(matrix: np.ndarray, genres: list[str], path: str, name: str) -> None:
    """Test confusion matrix, each row normalised by its true-genre count."""
    totals = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    size = max(5, 0.6 * len(genres) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(genres)), genres, rotation=45, ha="right")
    ax.set_yticks(range(len(genres)), genres)
    for (row, col), value in np.ndenumerate(matrix):
        if value:
            colour = "white" if normalised[row, col] > 0.5 else "black"
            ax.text(col, row, str(value), ha="center", va="center", fontsize=8, color=colour)
    ax.set(title=f"Test confusion matrix: {name}", xlabel="predicted genre", ylabel="true genre")
    fig.colorbar(image, ax=ax, label="fraction of the true genre's test tracks")
    save_figure(fig, path)


def plot_comparison(summary: pd.DataFrame, path: str) -> None:
    """Test and validation accuracy of every model, with the majority-class baseline as a line."""
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(summary) + 2), 4))
    positions = np.arange(len(summary))
    ax.bar(positions - 0.2, summary["test_accuracy"], 0.4, label="test")
    ax.bar(positions + 0.2, summary["val_accuracy"], 0.4, label="validation")
    baseline = float(summary["majority_baseline_accuracy"].max())
    ax.axhline(baseline, color="black", linestyle="--", label=f"majority baseline ({baseline:.2f})")
    for position, collapsed in zip(positions, summary["collapsed"].astype(str) == "True"):
        if collapsed:
            ax.text(position, 0.02, "collapsed", rotation=90, ha="center", va="bottom", color="red")
    labels = [
        f"{m}\n{a}/{f}" for m, a, f in zip(summary["model"], summary["arch"], summary["features"])
    ]
    ax.set_xticks(positions, labels, fontsize=8)
    ax.set(
        title="Model comparison",
        xlabel="model (architecture/features)",
        ylabel="accuracy (fraction)",
        ylim=(0, 1),
    )
    ax.legend()
    save_figure(fig, path)
