"""The representativeness gap per genre (the paper's Fig. 12), reported for the headline start.

The headline start of a genre is its best-scoring start (margin) among those ``quality.tsv`` judges
representative; a genre with none reports its best-scoring start with verdict ``adversarial``, so that
an adversarial answer is shown, not hidden. ``gap`` = the headline's margin minus the best real
track's (any split); a negative gap (a real track outscores the optimum) is flagged ``failed``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from fmagenre.io import read_tsv, write_tsv
from fmagenre.models.margin import genre_probabilities
from fmagenre.optimise.optimum import read_optimum
from fmagenre.optimise.quality import VERDICTS

log = logging.getLogger(__name__)

GAP_COLUMNS = [
    "genre",
    "verdict",
    "headline_start",
    "representative_starts",
    "optimum_margin",
    "optimum_probability",
    "optimum_top_genre",
    "best_track_id",
    "best_track_split",
    "best_track_margin",
    "gap",
    "failed",
]


def headline(rows: pd.DataFrame) -> pd.Series:
    """The best-margin representative start of one genre's quality rows, else its best-margin start."""
    representative = rows[rows["verdict"] == VERDICTS[0]]
    pool = representative if len(representative) else rows
    return pool.loc[pool["margin"].idxmax()]


def representativeness_gap(quality: pd.DataFrame, optima: list) -> pd.DataFrame:
    """One row per genre of ``optima`` (``Optimum`` objects) from its ``quality`` rows."""
    rows = []
    for optimum in optima:
        mine = quality[quality["genre"] == optimum.genre]
        if mine.empty:
            raise KeyError(
                f"quality.tsv has no rows for {optimum.genre!r}; fix: rerun rule optimum_quality"
            )
        chosen = headline(mine)
        index = optimum.start_index(chosen["start"])
        logits = optimum.start_logits[index].astype(np.float64)
        verdict = VERDICTS[0] if (mine["verdict"] == VERDICTS[0]).any() else VERDICTS[1]
        gap = float(chosen["margin"]) - optimum.best_track_margin
        if verdict == VERDICTS[1]:
            log.warning(
                "%s: no start is representative: the headline %s is an adversarial pattern (%s)",
                optimum.genre,
                chosen["start"],
                chosen["failed_checks"],
            )
        if gap < 0:
            log.warning(
                "%s: real track %d (margin %.3f) outscores the optimum (%.3f)",
                optimum.genre,
                optimum.best_track_id,
                optimum.best_track_margin,
                float(chosen["margin"]),
            )
        rows.append(
            [
                optimum.genre,
                verdict,
                chosen["start"],
                int((mine["verdict"] == VERDICTS[0]).sum()),
                float(chosen["margin"]),
                float(genre_probabilities(logits[None])[0, optimum.genre_index]),
                optimum.genres[int(np.argmax(logits))],
                optimum.best_track_id,
                optimum.best_track_split,
                optimum.best_track_margin,
                gap,
                bool(gap < 0),
            ]
        )
    return pd.DataFrame(rows, columns=GAP_COLUMNS)


def gap_table(quality_tsv: str, optimum_h5s: list[str], output: str) -> None:
    write_tsv(
        output,
        representativeness_gap(read_tsv(quality_tsv), [read_optimum(p) for p in optimum_h5s]),
    )
