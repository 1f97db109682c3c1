"""Temporal generalisation: does a model trained on a genre's early years recognise its late tracks?

The model (the cheapest configured one) trains on early-half artists only; its accuracy on held-out
early artists minus its accuracy on late tracks is, per genre, the drop. A genre that moved loses
accuracy late; a genre that did not keeps it (up to chance). The CI resamples artists within each
half (artist-cluster bootstrap, :func:`fmagenre.evolution.stats.cluster_counts`).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from fmagenre.evolution.measures import _read_pack
from fmagenre.evolution.stats import ALPHA, cluster_counts
from fmagenre.io import read_tsv, write_tsv
from fmagenre.optimise.scores import model_logits

log = logging.getLogger(__name__)

COLUMNS = [
    "genre",
    "n_early",
    "n_late",
    "accuracy_early",
    "accuracy_late",
    "accuracy_drop",
    "ci_low",
    "ci_high",
]


def _boot_accuracy(correct: np.ndarray, artists: np.ndarray, n_boot: int, rng) -> np.ndarray:
    _, codes = np.unique(artists, return_inverse=True)
    weights = cluster_counts(codes.max() + 1, n_boot, rng)[:, codes]
    return (weights * correct).sum(axis=1) / weights.sum(axis=1)


def accuracy_drops(frame: pd.DataFrame, n_boot: int, seed: int, min_artists: int) -> pd.DataFrame:
    """Per genre (and ``all``): early and late accuracy and the drop with its CI; ``frame`` has
    genre, artist_id, half (early|late) and correct (bool) per test track.

    A half with fewer than ``min_artists`` artists (``evolution.min_artists``, as for cells) gets no
    CI: an artist bootstrap of one or two artists is degenerate (a zero-width "interval"), so such a
    genre is left out of the test rather than read as evidence."""
    rng = np.random.default_rng(seed)
    rows = []
    for genre, mine in [*frame.groupby("genre"), ("all", frame)]:
        early, late = mine[mine["half"] == "early"], mine[mine["half"] == "late"]
        if early.empty or late.empty:
            rows.append([genre, len(early), len(late), np.nan, np.nan, np.nan, np.nan, np.nan])
            continue
        boot = _boot_accuracy(
            early["correct"].to_numpy(float), early["artist_id"].to_numpy(), n_boot, rng
        ) - _boot_accuracy(
            late["correct"].to_numpy(float), late["artist_id"].to_numpy(), n_boot, rng
        )
        low, high = np.quantile(boot, [ALPHA / 2, 1 - ALPHA / 2])
        if min(early["artist_id"].nunique(), late["artist_id"].nunique()) < min_artists:
            low = high = np.nan
        a_early, a_late = early["correct"].mean(), late["correct"].mean()
        rows.append([genre, len(early), len(late), a_early, a_late, a_early - a_late, low, high])
    return pd.DataFrame(rows, columns=COLUMNS)


def temporal_generalisation(
    checkpoint: str,
    test_pack: str,
    split_tsv: str,
    n_boot: int,
    seed: int,
    min_artists: int,
    output: str,
) -> pd.DataFrame:
    """``temporal_generalisation.tsv`` from the early-trained model and its test pack."""
    from fmagenre.models.checkpoint import load_model

    model, info = load_model(checkpoint, device="cpu")
    x, ids, _ = _read_pack(test_pack)
    logits = model_logits(model, info, x)
    split = read_tsv(split_tsv).set_index("track_id").loc[ids]
    frame = pd.DataFrame(
        {
            "genre": split["genre_top"].to_numpy(),
            "artist_id": split["artist_id"].to_numpy(),
            "half": split["half"].to_numpy(),
            "correct": np.array(info["genres"])[logits.argmax(axis=1)]
            == split["genre_top"].to_numpy(),
        }
    )
    table = accuracy_drops(frame, n_boot, seed, min_artists)
    write_tsv(output, table)
    overall = table[table["genre"] == "all"].iloc[0]
    log.info(
        "temporal generalisation: early %.3f, late %.3f (drop %.3f, CI %.3f..%.3f)",
        overall["accuracy_early"],
        overall["accuracy_late"],
        overall["accuracy_drop"],
        overall["ci_low"],
        overall["ci_high"],
    )
    return table
