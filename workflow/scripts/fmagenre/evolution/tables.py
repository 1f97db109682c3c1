"""``periods.tsv`` and ``trends.tsv`` of one model: cell means with artist-cluster CIs, size-corrected
best margins, and per genre and measure a trend with permutation p, BH q and a verdict.

A verdict is about the measure it names, on these tracks: "rising" means the measure's mean over a
genre's artists grows with their release year beyond what shuffling years between artists gives,
after the false-discovery correction over every genre x measure of the model.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from fmagenre.evolution.axis import axis_positions, group_embedding
from fmagenre.evolution.cells import cell_table, eligible_tracks, period_bins
from fmagenre.evolution.embeddings import read_embeddings
from fmagenre.evolution.folds import assign_folds
from fmagenre.evolution.measures import DESCRIPTORS
from fmagenre.evolution.stats import best_corrected, cluster_bootstrap, trend_test, verdicts
from fmagenre.io import read_tsv, write_tsv
from fmagenre.judge.era import decade_estimate

log = logging.getLogger(__name__)

MODEL_MEASURES = ["margin", "displacement", "projection"]
# The musicnn judge's decade estimate (``fmagenre.judge.era``): which era a track *sounds* like to a
# tagger trained on real music; needs the MSD_musicnn tags (the MTT model has no decade tags).
JUDGE_MEASURES = ["judge_era"]
MEASURES = MODEL_MEASURES + DESCRIPTORS + JUDGE_MEASURES
PERIOD_COLUMNS = [
    "genre",
    "period",
    "period_start",
    "period_end",
    "n_tracks",
    "n_artists",
    "eligible",
    "measure",
    "mean",
    "ci_low",
    "ci_high",
    "best_corrected",
    "best_ci_low",
    "best_ci_high",
    "gap_to_optimum",
]
TREND_COLUMNS = [
    "genre",
    "measure",
    "slope_per_decade",
    "ci_low",
    "ci_high",
    "p_value",
    "q_value",
    "verdict",
    "n_eligible_periods",
]


def displacement(
    by_model: np.ndarray, group: np.ndarray, tracks: pd.DataFrame, cells: pd.DataFrame
) -> np.ndarray:
    """Distance of each track's embedding to its genre's earliest eligible period's centroid, both
    in the embedding of the model that scored the track (:func:`group_embedding`: distances between
    two networks' embeddings mean nothing).

    Tracks of that period are measured against the centroid of the period's *other* artists, so that
    a track (and its artist's effect) is never part of its own reference. NaN for genres without an
    eligible period.
    """
    out = np.full(len(tracks), np.nan)
    artists = tracks["artist_id"].to_numpy()
    for genre, mine in cells[cells["eligible"]].groupby("genre"):
        first = mine["period_start"].min()
        in_genre = (tracks["genre"] == genre).to_numpy()
        reference = in_genre & (tracks["period_start"] == first).to_numpy()
        for k in np.unique(group[in_genre]):
            embedding = group_embedding(by_model, k)
            scored = in_genre & (group == k)
            centroid = embedding[reference].mean(axis=0)
            out[scored] = np.linalg.norm(embedding[scored] - centroid, axis=1)
            for artist in np.unique(artists[reference & scored]):
                own = reference & scored & (artists == artist)
                others = reference & (artists != artist)
                out[own] = np.linalg.norm(embedding[own] - embedding[others].mean(axis=0), axis=1)
    return out


def axis_groups(scores: pd.DataFrame, models: list[str], folds: int, seed: int) -> np.ndarray:
    """Per track, the index into ``models`` of the model that scored it, which is also its axis
    group; with a single model (``evolution.scores: heldout``) artist-grouped groups
    (:func:`fmagenre.evolution.folds.assign_folds`), all in that model's embedding."""
    if len(models) > 1:
        return scores["scored_by"].map({m: i for i, m in enumerate(models)}).to_numpy()
    return assign_folds(scores["genre"], scores["artist_id"], folds, seed)


def projection(
    by_model: np.ndarray, group: np.ndarray, tracks: pd.DataFrame, fit: np.ndarray
) -> np.ndarray:
    """Every track's position on its genre's early-to-late axis (:func:`axis_positions`), the axes
    fitted on the ``fit`` tracks (those of eligible cells) of the other groups."""
    out = np.full(len(tracks), np.nan)
    years = tracks["year"].to_numpy(dtype=np.float64)
    for genre in tracks["genre"].unique():
        mine = (tracks["genre"] == genre).to_numpy()
        out[mine] = axis_positions(by_model[:, mine], group[mine], years[mine], fit[mine])[0]
    return out


def optimum_margins(gap_tsvs: list[str]) -> dict[str, float]:
    """Each genre's headline optimum margin (``gap.tsv``'s ``optimum_margin``, margin units like the
    tracks'), or nothing when the model is not optimised."""
    out = {}
    for path in gap_tsvs:
        gap = read_tsv(path)
        out.update(zip(gap["genre"], gap["optimum_margin"].astype(float)))
    return out


def periods_table(
    tracks: pd.DataFrame,
    cells: pd.DataFrame,
    n_boot: int,
    rng: np.random.Generator,
    optimum: dict[str, float],
    measures: list[str] = MEASURES,
) -> pd.DataFrame:
    """One row per cell and measure (see docs/ARCHITECTURE.md)."""
    smallest = cells[cells["eligible"]].groupby("genre")["n_tracks"].min()
    rows = []
    for cell in cells.itertuples(index=False):
        members = tracks[
            (tracks["genre"] == cell.genre) & (tracks["period_start"] == cell.period_start)
        ]
        for measure in measures:
            values = members[measure].to_numpy()
            finite = np.isfinite(values)
            mean, low, high = cluster_bootstrap(
                values[finite], members["artist_id"].to_numpy()[finite], n_boot=n_boot, rng=rng
            )
            best = (np.nan, np.nan, np.nan)
            if measure == "margin" and cell.eligible:
                best = best_corrected(
                    values,
                    members["artist_id"].to_numpy(),
                    int(smallest[cell.genre]),
                    n_boot=n_boot,
                    rng=rng,
                )
            gap = optimum.get(cell.genre, np.nan) - best[0]
            rows.append(
                [
                    cell.genre,
                    cell.period,
                    cell.period_start,
                    cell.period_end,
                    cell.n_tracks,
                    cell.n_artists,
                    bool(cell.eligible),
                    measure,
                    mean,
                    low,
                    high,
                    *best,
                    gap,
                ]
            )
    return pd.DataFrame(rows, columns=PERIOD_COLUMNS)


def trends_table(
    tracks: pd.DataFrame,
    cells: pd.DataFrame,
    n_perm: int,
    n_boot: int,
    rng: np.random.Generator,
    measures: list[str] = MEASURES,
    by_model: np.ndarray | None = None,
    group: np.ndarray | None = None,
) -> pd.DataFrame:
    """One row per genre and measure over the genre's eligible cells; BH over the whole table.

    The model measures are fitted within the groups of ``group`` (the model that scored each track:
    two fold models' embeddings differ in offset and scale; with one held-out model, its artist
    groups, where the fixed effects only cost a few degrees of freedom). ``projection`` refits its axes (from
    ``by_model``) under every permutation and is tested one-sided: by construction a drift in one
    direction moves held-out tracks *along* the axis, so only "rising" is evidence of a drift.
    """
    keep = eligible_tracks(tracks, cells)
    n_periods = cells[cells["eligible"]].groupby("genre").size()
    rows = []
    for genre in sorted(tracks["genre"].unique()):
        in_genre = keep & (tracks["genre"] == genre).to_numpy()
        mine = tracks[in_genre]
        for measure in measures:
            values = mine[measure].to_numpy()
            finite = np.isfinite(values)
            options = {}
            if measure in MODEL_MEASURES and group is not None:
                options["strata"] = group[in_genre][finite]
            if measure == "projection":
                embedded, fitted = by_model[:, in_genre][:, finite], options["strata"]
                options.update(
                    refit=lambda years, weights, e=embedded, g=fitted: axis_positions(
                        e, g, years, np.ones(len(g), dtype=bool), weights
                    ),
                    alternative="greater",
                )
            result = trend_test(
                values[finite],
                mine["year"].to_numpy()[finite],
                mine["artist_id"].to_numpy()[finite],
                n_perm=n_perm,
                n_boot=n_boot,
                rng=rng,
                **options,
            )
            if int(n_periods.get(genre, 0)) < 2:  # one period cannot show a change over periods
                result.update(
                    slope_per_decade=np.nan, ci_low=np.nan, ci_high=np.nan, p_value=np.nan
                )
            rows.append(
                {
                    "genre": genre,
                    "measure": measure,
                    **result,
                    "n_eligible_periods": int(n_periods.get(genre, 0)),
                }
            )
    table = pd.DataFrame(rows)
    table["q_value"], table["verdict"] = verdicts(table["slope_per_decade"], table["p_value"])
    return table[TREND_COLUMNS]


def judge_era(judge_tsv: str, track_ids: pd.Series) -> np.ndarray:
    """The judge's decade estimate per track (NaN for a track the judge did not tag)."""
    tags = read_tsv(judge_tsv).set_index("track_id")
    return decade_estimate(tags).reindex(track_ids.to_numpy()).to_numpy(dtype=np.float64)


def evolution_tables(
    scores_tsv: str,
    embeddings_h5: str,
    descriptors_tsv: str,
    judge_tsv: str | None,
    gap_tsvs: list[str],
    params: dict,
    periods_out: str,
    trends_out: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both tables of one model from its track scores, embeddings, the audio descriptors and (for
    ``judge_era``) the judge's per-track tags; ``params["measures"]`` lists the measures tested."""
    measures = list(params.get("measures", MEASURES))
    unknown = sorted(set(measures) - set(MEASURES))
    if unknown:
        raise ValueError(f"unknown evolution measures {unknown}; fix: use some of {MEASURES}")
    scores = read_tsv(scores_tsv)
    ids, by_model, models = read_embeddings(embeddings_h5)
    if not np.array_equal(ids, scores["track_id"].to_numpy()):
        raise ValueError(
            f"{embeddings_h5} and {scores_tsv} list different tracks; fix: rerun evolution_scores"
        )
    descriptors = read_tsv(descriptors_tsv).drop(columns="genre")
    tracks = scores[["track_id", "genre", "artist_id", "year", "margin"]].merge(
        descriptors, on="track_id", how="left", validate="one_to_one"
    )
    if "judge_era" in measures:
        if judge_tsv is None:
            raise ValueError(
                "measure judge_era needs results/judge/tracks.tsv; fix: pass judge_tsv"
            )
        tracks["judge_era"] = judge_era(judge_tsv, tracks["track_id"])
    tracks = tracks.join(period_bins(tracks["year"].astype(float), int(params["period_years"])))
    cells = cell_table(tracks, int(params["min_tracks"]), int(params["min_artists"]))
    group = axis_groups(scores, models, int(params["folds"]), int(params["seed"]))
    tracks["displacement"] = displacement(by_model, group, tracks, cells)
    tracks["projection"] = projection(by_model, group, tracks, eligible_tracks(tracks, cells))
    rng = np.random.default_rng(int(params["seed"]))
    n_boot, n_perm = int(params["bootstrap"]), int(params["permutations"])
    periods = periods_table(tracks, cells, n_boot, rng, optimum_margins(gap_tsvs), measures)
    trends = trends_table(tracks, cells, n_perm, n_boot, rng, measures, by_model, group)
    write_tsv(periods_out, periods)
    write_tsv(trends_out, trends)
    for row in trends[trends["verdict"] != "no evidence"].itertuples():
        log.info(
            "%s %s: %s (slope %.3g per decade, q %.3g)",
            row.genre,
            row.measure,
            row.verdict,
            row.slope_per_decade,
            row.q_value,
        )
    return periods, trends
