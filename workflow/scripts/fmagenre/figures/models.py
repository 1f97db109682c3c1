"""Model figures: training curves, confusion matrix, comparison of all models with the baseline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from fmagenre.figures.common import plt, save_figure
from fmagenre.io import read_tsv


def plot_curves(history: pd.DataFrame, path: str, name: str, chosen_epoch: int) -> None:
    """Loss and accuracy per epoch, training vs validation; the epoch early stopping kept marked."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for split, style in (("train", "-o"), ("val", "-s")):
        loss_ax.plot(history["epoch"], history[f"{split}_loss"], style, label=split, markersize=3)
        acc_ax.plot(
            history["epoch"], history[f"{split}_accuracy"], style, label=split, markersize=3
        )
    loss_ax.set(title="Loss", xlabel="epoch", ylabel="loss (nats; BCE when multi-label)")
    acc_ax.set(title="Accuracy", xlabel="epoch", ylabel="accuracy (fraction)", ylim=(0, 1))
    for ax in (loss_ax, acc_ax):
        ax.axvline(chosen_epoch, color="grey", linestyle=":", label=f"chosen epoch {chosen_epoch}")
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
    """Test accuracy of every model: the mean over its seed replicates as a bar, each replicate as
    a dot with its Wilson 95 % interval, the chosen epoch's validation accuracy, and the majority
    baseline as a line; so the spread over seeds and the sampling error are both visible."""
    models = list(dict.fromkeys(summary["model"]))
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(models) + 2), 4.5))
    for position, name in enumerate(models):
        rows = summary[summary["model"] == name]
        ax.bar(
            position,
            rows["test_accuracy"].mean(),
            0.6,
            color="tab:blue",
            alpha=0.35,
            label="test, mean over replicates" if position == 0 else None,
        )
        offsets = position + np.linspace(-0.2, 0.2, len(rows)) if len(rows) > 1 else [position]
        ax.errorbar(
            offsets,
            rows["test_accuracy"],
            yerr=[
                rows["test_accuracy"] - rows["test_accuracy_ci_low"],
                rows["test_accuracy_ci_high"] - rows["test_accuracy"],
            ],
            fmt="o",
            color="tab:blue",
            capsize=3,
            markersize=4,
            label="test, one replicate (Wilson 95 % CI)" if position == 0 else None,
        )
        ax.plot(
            offsets,
            rows["val_accuracy_chosen_epoch"],
            "x",
            color="tab:orange",
            label="validation, chosen epoch" if position == 0 else None,
        )
        if (rows["collapsed"].astype(str) == "True").any():
            ax.text(position, 0.02, "collapsed", rotation=90, ha="center", va="bottom", color="red")
    baseline = float(summary["majority_baseline_accuracy"].max())
    ax.axhline(baseline, color="black", linestyle="--", label=f"majority baseline ({baseline:.2f})")
    first = summary.drop_duplicates("model")
    labels = [
        f"{m}\n{a}/{f}\n{n} seed(s)"
        for m, a, f, n in zip(
            first["model"], first["arch"], first["features"], first["replicates"], strict=True
        )
    ]
    ax.set_xticks(range(len(models)), labels, fontsize=8)
    ax.set(
        title="Model comparison (test accuracy over seed replicates)",
        xlabel="model (architecture/features, replicates)",
        ylabel="accuracy (fraction)",
        ylim=(0, 1),
    )
    ax.legend(fontsize=8)
    save_figure(fig, path)


def training_figures(history_csv: str, metrics_json: str, outputs: dict, name: str) -> None:
    """The two figures of one training run (rule train_model): curves and confusion matrix."""
    metrics = json.loads(Path(metrics_json).read_text())
    plot_curves(pd.read_csv(history_csv), outputs["curves"], name, metrics["chosen_epoch"])
    plot_confusion(
        np.array(metrics["confusion_matrix"]), metrics["genres"], outputs["confusion"], name
    )


def comparison_figure(summary_tsv: str, output: str) -> None:
    plot_comparison(read_tsv(summary_tsv), output)
