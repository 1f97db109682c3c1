"""Real tracks against the optimum: per-track scores, the representativeness gap and genre evolution.

The gap (the paper's Fig. 12) is the optimum's logit minus the best real track's; a negative gap
means a real track outscores the optimised input, i.e. the optimisation failed, and is flagged.
Evolution bins each genre's tracks by release year and follows the best and mean score, the
distance of the period's mean input to the optimum, and the spectral centroid (so a planted
brightness drift can be checked against the synthetic ground truth).
"""

from __future__ import annotations

import json
import logging

import h5py
import numpy as np
import pandas as pd
import torch

from fmagenre.io import genre_slug, read_tsv, write_tsv
from fmagenre.optimise.maximise import logit_column, read_packs
from fmagenre.optimise.spectra import spectral_centroid

log = logging.getLogger(__name__)

GAP_COLUMNS = [
    "genre", "optimum_logit", "optimum_probability", "best_track_id", "best_track_logit",
    "best_track_split", "gap", "failed",
]
EVOLUTION_COLUMNS = [
    "genre", "period", "period_start", "period_end", "n_tracks", "best_logit", "mean_logit",
    "gap_to_optimum", "feature_distance", "spectral_centroid_hz",
]
SCORE_BATCH = 256


def model_logits(model, info, x: np.ndarray) -> np.ndarray:
    """``fmagenre.models.track_logits`` in batches of tracks, as a float64 array [N, G]."""
    from fmagenre.models import track_logits

    parts = []
    with torch.no_grad():
        for start in range(0, len(x), SCORE_BATCH):
            logits = track_logits(model, info, x[start : start + SCORE_BATCH])
            if isinstance(logits, torch.Tensor):
                logits = logits.detach().cpu().numpy()
            parts.append(np.asarray(logits, dtype=np.float64))
    return np.concatenate(parts) if parts else np.zeros((0, len(info["genres"])))


def score_tracks(checkpoint: str, datasets: dict[str, str], tracks_tsv: str, output: str) -> None:
    """``track_scores.tsv``: track_id, split, genre_top, year and one ``logit_<slug>`` column per genre."""
    from fmagenre.models import load_model

    model, info = load_model(checkpoint, device="cpu")
    tracks = read_tsv(tracks_tsv).set_index("track_id")
    columns = [logit_column(genre_slug(title)) for title in info["genres"]]
    frames = []
    for split, pack in read_packs(datasets).items():
        missing = np.setdiff1d(pack["track_id"], tracks.index)
        if missing.size:
            raise KeyError(
                f"{datasets[split]}: tracks {missing[:5].tolist()} are not in {tracks_tsv}; "
                "fix: rerun pack_dataset after the splits checkpoint"
            )
        meta = tracks.loc[pack["track_id"]]
        frame = pd.DataFrame(
            {
                "track_id": pack["track_id"],
                "split": split,
                "genre_top": meta["genre_top"].to_numpy(),
                "year": meta["year"].to_numpy(),
            }
        )
        logits = model_logits(model, info, pack["x"])
        frames.append(pd.concat([frame, pd.DataFrame(logits, columns=columns)], axis=1))
        log.info("scored %d %s tracks", len(frame), split)
    write_tsv(output, pd.concat(frames, ignore_index=True))


def read_optimum(path: str) -> dict:
    """The summary of one ``{genre}.h5``: titles, logit, probability and the optimum's band profile."""
    with h5py.File(path, "r") as handle:
        attrs = handle.attrs
        return {
            "genre": str(attrs["genre"]),
            "slug": str(attrs["slug"]),
            "logit": float(attrs["logit"]),
            "probability": float(attrs["probability"]),
            "profile": handle["x_normalised"][()].mean(axis=1),
        }


def representativeness_gap(scores: pd.DataFrame, optima: list[dict]) -> pd.DataFrame:
    """Per genre: the optimum, the highest-scoring real track (any split, any genre) and the gap."""
    rows = []
    for optimum in optima:
        column = logit_column(optimum["slug"])
        best = scores.loc[scores[column].idxmax()]
        gap = optimum["logit"] - float(best[column])
        failed = gap < 0
        if failed:
            log.warning(
                "%s: real track %d (logit %.3f) outscores the optimum (%.3f): the optimisation failed",
                optimum["genre"], int(best["track_id"]), float(best[column]), optimum["logit"],
            )
        rows.append(
            [optimum["genre"], optimum["logit"], optimum["probability"], int(best["track_id"]),
             float(best[column]), best["split"], gap, bool(failed)]
        )
    return pd.DataFrame(rows, columns=GAP_COLUMNS)


def gap_table(scores_tsv: str, optimum_h5s: list[str], output: str) -> None:
    write_tsv(output, representativeness_gap(read_tsv(scores_tsv), [read_optimum(p) for p in optimum_h5s]))


def period_bins(years: pd.Series, period_years: int) -> pd.Series:
    """First year of each track's period; periods start at the earliest known year."""
    if period_years < 1:
        raise ValueError(f"optimise.period_years = {period_years}; fix: use a whole number >= 1")
    first = int(years.min())
    return first + ((years - first) // period_years).astype(int) * period_years


def genre_evolution(
    scores: pd.DataFrame,
    profiles: np.ndarray,
    centroids: np.ndarray,
    optima: list[dict],
    period_years: int,
) -> pd.DataFrame:
    """Per genre and release period of that genre's tracks (rows of ``scores`` with a year).

    ``profiles`` [N, C] are the tracks' normalised inputs averaged over time and ``centroids`` [N]
    their spectral centroids, aligned with ``scores``. The feature distance compares time-averaged
    band profiles because the jittered optimum has no time alignment with any track.
    """
    known = scores["year"].notna().to_numpy()
    if not known.any():
        raise ValueError("no track has a release year: evolution needs the 'year' column of tracks.tsv")
    starts = pd.Series(np.nan, index=scores.index)
    starts[known] = period_bins(scores.loc[known, "year"].astype(int), period_years)
    rows = []
    for optimum in optima:
        column = logit_column(optimum["slug"])
        mine = (scores["genre_top"] == optimum["genre"]).to_numpy() & known
        for start in sorted(starts[mine].unique()):
            members = np.flatnonzero(mine & (starts == start).to_numpy())
            logits = scores[column].to_numpy()[members]
            mean_profile = profiles[members].mean(axis=0)
            end = int(start) + period_years - 1
            rows.append(
                [optimum["genre"], f"{int(start)}" if period_years == 1 else f"{int(start)}-{end}",
                 int(start), end, len(members), logits.max(), logits.mean(),
                 optimum["logit"] - logits.max(),
                 float(np.sqrt(np.mean((mean_profile - optimum["profile"]) ** 2))),
                 float(centroids[members].mean())]
            )
    return pd.DataFrame(rows, columns=EVOLUTION_COLUMNS)


def drift_trend(evolution: pd.DataFrame, genre: str, column: str) -> int:
    """Sign (-1, 0, +1) of the least-squares slope of ``column`` over period midpoints for ``genre``.

    Periods are weighted by their track counts, so a sparsely populated period moves the trend less.
    """
    rows = evolution[(evolution["genre"] == genre) & evolution[column].notna()]
    if len(rows) < 2:
        raise ValueError(f"evolution has {len(rows)} period(s) with {column!r} for {genre!r}; a trend needs 2")
    mid = (rows["period_start"] + rows["period_end"]) / 2.0
    slope = np.polyfit(mid, rows[column], 1, w=np.sqrt(rows["n_tracks"]))[0]
    return int(np.sign(slope))


def evolution_table(
    checkpoint: str, datasets: dict[str, str], scores_tsv: str, optimum_h5s: list[str],
    output: str, period_years: int,
) -> None:
    """``evolution.tsv`` of one model from its packs, track scores and per-genre optima."""
    from fmagenre.models import load_model, normalise

    _, info = load_model(checkpoint, device="cpu")
    scores = read_tsv(scores_tsv)
    packs = read_packs(datasets)
    attrs = packs["training"]["attrs"]
    bands = json.loads(attrs["bands"]) if isinstance(attrs["bands"], str) else attrs["bands"]
    profiles, centroids, ids = [], [], []
    for split, pack in packs.items():
        z = np.asarray(normalise(pack["x"], info), dtype=np.float32)
        profiles.append(z.mean(axis=2))
        centroids.append(spectral_centroid(pack["x"], bands, int(attrs["n_mels"]), int(attrs["sr"])))
        ids.append(pd.DataFrame({"track_id": pack["track_id"], "split": split}))
    order = pd.concat(ids, ignore_index=True)
    aligned = order.merge(scores, on=["track_id", "split"], how="left", validate="one_to_one")
    if aligned["genre_top"].isna().all() and len(aligned):
        raise KeyError(f"{scores_tsv}: no track of the packs is scored; fix: rerun rule score_tracks")
    optima = [read_optimum(path) for path in optimum_h5s]
    table = genre_evolution(aligned, np.concatenate(profiles), np.concatenate(centroids), optima, period_years)
    write_tsv(output, table)
