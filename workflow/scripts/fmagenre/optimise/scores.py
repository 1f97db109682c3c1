"""Real tracks scored by the model (``track_scores.tsv``, the one batched inference of this stage)
and genre evolution (the gap is :mod:`fmagenre.optimise.gap`).

Evolution bins each genre's tracks by release year and follows the best and mean score, the
distance of the period's mean input to the optimum, and two feature summaries, the spectral
centroid and the tempo, so that the synthetic data's planted brightness and tempo drifts can be
checked against its ground truth (:func:`drift_report`).
"""

from __future__ import annotations

import json
import logging

import h5py
import numpy as np
import pandas as pd
import torch

from fmagenre.io import genre_slug, read_tsv, write_tsv
from fmagenre.optimise.optimum import read_optimum
from fmagenre.optimise.spectra import track_summaries

log = logging.getLogger(__name__)

EVOLUTION_COLUMNS = [
    "genre", "period", "period_start", "period_end", "n_tracks", "best_logit", "mean_logit",
    "gap_to_optimum", "feature_distance", "spectral_centroid_hz", "tempo_bpm",
]
# The evolution column each synthetic drift parameter (ground_truth.json "drifts") moves.
DRIFT_COLUMNS = {"bright": "spectral_centroid_hz", "tempo": "tempo_bpm"}
SCORE_BATCH = 256


def read_packs(datasets: dict[str, str]) -> dict[str, dict[str, np.ndarray]]:
    """``x`` (feature units), ``track_id``, ``y`` (label) and ``year`` of each split's pack, plus the pack attributes."""
    packs = {}
    for split, path in datasets.items():
        with h5py.File(path, "r") as handle:
            packs[split] = {
                "x": handle["x"][()],
                "track_id": handle["track_id"][()],
                "y": handle["y"][()],
                "year": handle["year"][()],
                "attrs": dict(handle.attrs),
            }
    return packs


def logit_column(slug: str) -> str:
    """Column of ``track_scores.tsv`` holding the logits of the genre with file-name slug ``slug``."""
    return f"logit_{slug}"


def model_logits(model, info, x: np.ndarray) -> np.ndarray:
    """``fmagenre.models.track_logits`` of ``x`` [N, C, T] (feature units) in batches, float64 [N, G]."""
    from fmagenre.models import track_logits

    parts = []
    with torch.no_grad():
        for start in range(0, len(x), SCORE_BATCH):
            logits = track_logits(model, info, torch.as_tensor(x[start : start + SCORE_BATCH]))
            parts.append(logits.cpu().numpy().astype(np.float64))
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


def evolution_optimum(path: str) -> dict:
    """What evolution compares periods with: the highest-margin start of one ``{genre}.h5``."""
    optimum = read_optimum(path)
    best = int(np.argmax(optimum.start_margins))
    return {
        "genre": optimum.genre,
        "slug": optimum.slug,
        "logit": float(optimum.start_logits[best, optimum.genre_index]),
        "profile": optimum.start_inputs_normalised[best].mean(axis=1),
    }


def track_periods(years: pd.Series, period_years: int, periods: list | None = None) -> pd.DataFrame:
    """``period_start`` and ``period_end`` (inclusive) of each track's release period, NaN if none.

    Without explicit ``periods`` ([[start, end], ...]) the bins are ``period_years`` wide and start at
    the earliest known year; with them, tracks outside every period (and without a year) get NaN.
    """
    out = pd.DataFrame({"period_start": np.nan, "period_end": np.nan}, index=years.index)
    known = years.notna()
    if periods:
        bounds = sorted((int(a), int(b)) for a, b in periods)
        for (a, b), (c, _) in zip(bounds, bounds[1:]):
            if c <= b:
                raise ValueError(f"optimise.periods {a}-{b} and {c}-... overlap; fix: make them disjoint")
        for a, b in bounds:
            if b < a:
                raise ValueError(f"optimise.periods [{a}, {b}] ends before it starts; fix: [start, end]")
            inside = known & years.between(a, b)
            out.loc[inside, "period_start"], out.loc[inside, "period_end"] = a, b
        return out
    if period_years < 1:
        raise ValueError(f"optimise.period_years = {period_years}; fix: use a whole number >= 1")
    if known.any():
        first = int(years[known].min())
        start = first + ((years[known] - first) // period_years).astype(int) * period_years
        out.loc[known, "period_start"], out.loc[known, "period_end"] = start, start + period_years - 1
    return out


def genre_evolution(
    scores: pd.DataFrame,
    profiles: np.ndarray,
    summaries: dict[str, np.ndarray],
    optima: list[dict],
    period_years: int,
    periods: list | None = None,
) -> pd.DataFrame:
    """Per genre and release period of that genre's tracks (rows of ``scores`` with a period).

    ``profiles`` [N, C] are the tracks' normalised inputs averaged over time and ``summaries`` the
    per-track drift summaries of :func:`track_summaries`, aligned with ``scores``. The feature
    distance compares time-averaged band profiles because the jittered optimum has no time
    alignment with any track. The tempo is a period median: the estimator's octave errors are outliers.
    """
    bins = track_periods(scores["year"], period_years, periods)
    if bins["period_start"].isna().all():
        raise ValueError("no track has a release year inside a period: evolution needs the 'year' column "
                         "of tracks.tsv (and, with optimise.periods, periods that cover it)")
    rows = []
    for optimum in optima:
        column = logit_column(optimum["slug"])
        mine = (scores["genre_top"] == optimum["genre"]).to_numpy()
        for (start, end), members in bins[mine].dropna().groupby(["period_start", "period_end"]).groups.items():
            index = scores.index.get_indexer(members)
            logits = scores[column].to_numpy()[index]
            mean_profile = profiles[index].mean(axis=0)
            rows.append(
                [optimum["genre"], f"{int(start)}" if start == end else f"{int(start)}-{int(end)}",
                 int(start), int(end), len(index), logits.max(), logits.mean(),
                 optimum["logit"] - logits.max(),
                 float(np.sqrt(np.mean((mean_profile - optimum["profile"]) ** 2))),
                 float(summaries["spectral_centroid_hz"][index].mean()),
                 float(np.median(summaries["tempo_bpm"][index]))]
            )
    return pd.DataFrame(rows, columns=EVOLUTION_COLUMNS)


def drift_trend(evolution: pd.DataFrame, genre: str, column: str) -> int:
    """Sign (-1, 0, +1) of the least-squares slope of ``column`` over period midpoints for ``genre``.

    Periods are weighted by the square root of their track counts, so a sparsely populated period
    moves the trend less.
    """
    rows = evolution[(evolution["genre"] == genre) & evolution[column].notna()]
    if len(rows) < 2:
        raise ValueError(f"evolution has {len(rows)} period(s) with {column!r} for {genre!r}; a trend needs 2")
    mid = (rows["period_start"] + rows["period_end"]) / 2.0
    slope = np.polyfit(mid, rows[column], 1, w=np.sqrt(rows["n_tracks"]))[0]
    return int(np.sign(slope))


def drift_report(evolution: pd.DataFrame, drifts: dict) -> pd.DataFrame:
    """Planted drifts (``ground_truth.json``'s ``drifts``: genre -> parameter, sign) against the trend
    of the evolution column that parameter moves: genre, parameter, column, expected, observed."""
    rows = []
    for genre, drift in drifts.items():
        if drift["parameter"] not in DRIFT_COLUMNS:
            raise KeyError(f"drift parameter {drift['parameter']!r} of {genre!r} has no evolution column; "
                           f"known: {sorted(DRIFT_COLUMNS)}")
        column = DRIFT_COLUMNS[drift["parameter"]]
        rows.append([genre, drift["parameter"], column, int(np.sign(drift["sign"])),
                     drift_trend(evolution, genre, column)])
    return pd.DataFrame(rows, columns=["genre", "parameter", "column", "expected", "observed"])


def evolution_table(
    checkpoint: str, datasets: dict[str, str], scores_tsv: str, optimum_h5s: list[str],
    output: str, period_years: int, periods: list | None = None,
) -> None:
    """``evolution.tsv`` of one model from its packs, track scores and per-genre optima."""
    from fmagenre.models import load_model, normalise

    _, info = load_model(checkpoint, device="cpu")
    scores = read_tsv(scores_tsv)
    packs = read_packs(datasets)
    attrs = packs["training"]["attrs"]
    bands = json.loads(attrs["bands"])
    profiles, summaries, ids = [], [], []
    for split, pack in packs.items():
        # the time average commutes with the per-band affine normalisation
        profiles.append(normalise(torch.as_tensor(pack["x"].mean(axis=2, keepdims=True)), info)[..., 0].numpy())
        summaries.append(track_summaries(pack["x"], bands, int(attrs["n_mels"]), int(attrs["sr"]),
                                         int(attrs["hop_length"])))
        ids.append(pd.DataFrame({"track_id": pack["track_id"], "split": split}))
        log.info("summarised %d %s tracks", len(pack["x"]), split)
    order = pd.concat(ids, ignore_index=True)
    aligned = order.merge(scores, on=["track_id", "split"], how="left", validate="one_to_one")
    unscored = aligned[logit_column(genre_slug(info["genres"][0]))].isna()
    if unscored.any():
        raise KeyError(f"{scores_tsv}: {int(unscored.sum())} packed tracks are not scored (e.g. "
                       f"{aligned.loc[unscored, 'track_id'].iloc[0]}); fix: rerun rule score_tracks")
    merged = {key: np.concatenate([part[key] for part in summaries]) for key in summaries[0]}
    optima = [evolution_optimum(path) for path in optimum_h5s]
    table = genre_evolution(aligned, np.concatenate(profiles), merged, optima, period_years, periods)
    write_tsv(output, table)
