"""What is reported about trained models: ``metrics.json`` of one training run and ``summary.tsv``.

The summary has one row per model and seed replicate (the run folders of
:mod:`fmagenre.models.runs`), and beside each row the mean and sample standard deviation of the
headline metrics over that model's replicates.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from fmagenre.io import read_tsv, write_tsv
from fmagenre.models.metrics import classification_metrics, majority_vote, multilabel_metrics
from fmagenre.models.runs import run_of

log = logging.getLogger("fmagenre.models")


def artist_ids(tracks_tsv: str | None, track_ids: np.ndarray) -> np.ndarray:
    """``artist_id`` of each track from the splits table (None: each track its own artist)."""
    if tracks_tsv is None:
        return np.asarray(track_ids)
    artists = read_tsv(tracks_tsv).set_index("track_id")["artist_id"]
    missing = np.setdiff1d(track_ids, artists.index)
    if missing.size:
        raise KeyError(
            f"{tracks_tsv}: tracks {missing[:5].tolist()} of the test pack are missing. "
            "Fix: rerun pack_dataset after the splits checkpoint."
        )
    return artists.loc[track_ids].to_numpy()


def model_metrics(
    spec: dict, packs: dict, predictions: dict, history: list[dict], chosen_epoch: int, tracks
) -> dict:
    """``metrics.json`` of one run: test metrics with intervals on the labelled (genre_top) tracks,
    the validation accuracy of the epoch early stopping chose, multi-label metrics on all tracks."""
    test, genres = packs["test"], packs["training"]["genres"]
    logits, segments = (tensor.cpu().numpy() for tensor in predictions["test"])
    labelled = test["y"] >= 0
    train_y = packs["training"]["y"]
    metrics = classification_metrics(
        test["y"][labelled],
        logits[labelled],
        genres,
        train_y[train_y >= 0],
        artist_ids(tracks, test["track_id"])[labelled],
        seed=int(spec["seed"]),
    )
    metrics = {
        "test_accuracy": metrics.pop("test_accuracy"),
        **metrics,
        "val_accuracy_chosen_epoch": history[chosen_epoch - 1]["val_accuracy"],
        "chosen_epoch": int(chosen_epoch),
        "seed": int(spec["seed"]),
    }
    if segments.shape[1] > 1:
        votes = majority_vote(segments[labelled])
        metrics["majority_vote_accuracy"] = float((votes == test["y"][labelled]).mean())
    if spec["multilabel"]:
        metrics.update(multilabel_metrics(test["y_multi"], logits, genres))
    metrics["epochs_trained"] = len(history)
    low, high = metrics["test_accuracy_ci"]
    log.info(
        "model %s: test accuracy %.3f [%.3f, %.3f] on %d tracks (majority baseline %.3f), "
        "collapsed %s",
        spec["name"],
        metrics["test_accuracy"],
        low,
        high,
        metrics["n_test"],
        metrics["majority_baseline_accuracy"],
        metrics["collapsed"],
    )
    return metrics


# Metrics with an interval: the summary has the value, then ``_ci_low`` and ``_ci_high``.
INTERVAL_METRICS = ["test_accuracy", "balanced_accuracy", "macro_f1"]
# Averaged over a model's replicates: ``_mean`` and ``_sd`` (sample sd; empty for one replicate).
REPLICATE_METRICS = INTERVAL_METRICS
# Copied as they are from a replicate's metrics.json into its summary row.
COPIED_METRICS = (
    "majority_baseline_accuracy",
    "n_test",
    "n_test_artists",
    "val_accuracy_chosen_epoch",
    "chosen_epoch",
    "log_loss",
    "collapsed",
)
SUMMARY_COLUMNS = (
    ["model", "replicate", "seed", "arch", "features"]
    + [f"{m}{suffix}" for m in INTERVAL_METRICS for suffix in ("", "_ci_low", "_ci_high")]
    + list(COPIED_METRICS)
    + ["overfit_reached", "replicates"]
    + [f"{m}_{stat}" for m in REPLICATE_METRICS for stat in ("mean", "sd")]
)
# Only some models have these (segment models, multi-label models): empty cells for the others.
OPTIONAL_COLUMNS = [
    "majority_vote_accuracy",
    "multilabel_map",
    "multilabel_roc_auc",
    "exact_set_accuracy",
    "exact_set_accuracy_multi_root",
    "n_multi_root_test",
    "epochs_trained",
]


def _summary_row(name: str, replicate: int, metrics: dict, spec: dict, overfit: dict) -> dict:
    row = {
        "model": name,
        "replicate": replicate,
        "seed": metrics["seed"],
        "arch": spec["arch"],
        "features": spec["features"],
    }
    for metric in INTERVAL_METRICS:
        row[metric] = metrics[metric]
        row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = metrics[f"{metric}_ci"]
    row.update({key: metrics[key] for key in COPIED_METRICS})
    row["overfit_reached"] = overfit[name]["reached"] if name in overfit else None
    row.update({key: metrics.get(key) for key in OPTIONAL_COLUMNS})
    return row


def summarise(
    metrics_paths: list[str], overfit_paths: list[str], specs: dict, output: str
) -> pd.DataFrame:
    """One row per model and replicate (found from each metrics.json's folder) -> summary.tsv."""
    overfit = {run_of(path)[0]: json.loads(Path(path).read_text()) for path in overfit_paths}
    rows = []
    for path in metrics_paths:
        name, replicate = run_of(path)
        metrics = json.loads(Path(path).read_text())
        rows.append(_summary_row(name, replicate, metrics, specs[name], overfit))
    frame = pd.DataFrame(rows)
    grouped = frame.groupby("model", sort=False)
    frame["replicates"] = grouped["replicate"].transform("size")
    for metric in REPLICATE_METRICS:
        frame[f"{metric}_mean"] = grouped[metric].transform("mean")
        frame[f"{metric}_sd"] = grouped[metric].transform("std")  # ddof 1; NaN for one replicate
    config_order = frame["model"].map({name: index for index, name in enumerate(specs)})
    frame = frame.iloc[np.lexsort((frame["replicate"], config_order))]
    frame = frame[SUMMARY_COLUMNS + OPTIONAL_COLUMNS].reset_index(drop=True)
    write_tsv(output, frame)
    return frame
