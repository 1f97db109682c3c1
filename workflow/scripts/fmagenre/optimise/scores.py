"""Real tracks against the optimum: per-track scores and the representativeness gap.

The gap (the paper's Fig. 12) is the optimum's logit minus the best real track's; a negative gap
means a real track outscores the optimised input, i.e. the optimisation failed, and is flagged.
Genre evolution lives in :mod:`fmagenre.evolution` (out-of-sample scores, not these).
"""

from __future__ import annotations

import json
import logging
import sys

import h5py
import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from fmagenre.data.pack import read_packs
from fmagenre.io import genre_slug, read_tsv, write_tsv

log = logging.getLogger(__name__)

GAP_COLUMNS = [
    "genre", "optimum_logit", "optimum_probability", "best_track_id", "best_track_logit",
    "best_track_split", "gap", "failed", "optimum_top_genre",
]
SCORE_BATCH = 256


def logit_column(slug: str) -> str:
    """Column of ``track_scores.tsv`` holding the logits of the genre with file-name slug ``slug``."""
    return f"logit_{slug}"


def model_logits(model, info, x: np.ndarray) -> np.ndarray:
    """``fmagenre.models.track_logits`` of ``x`` [N, C, T] (feature units) in batches, float64 [N, G]."""
    from fmagenre.models import track_logits

    parts = []
    progress = tqdm(total=len(x), desc="score", unit="track", file=sys.stderr, mininterval=10)
    with torch.no_grad(), progress:
        for start in range(0, len(x), SCORE_BATCH):
            logits = track_logits(model, info, torch.as_tensor(x[start : start + SCORE_BATCH]))
            parts.append(logits.cpu().numpy().astype(np.float64))
            progress.update(len(logits))
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
            "top_genre": json.loads(attrs["genres"])[int(np.argmax(handle["logits"][()]))],
        }


def representativeness_gap(scores: pd.DataFrame, optima: list[dict]) -> pd.DataFrame:
    """Per genre: the optimum, the highest-scoring real track (any split, any genre) and the gap.

    ``optimum_top_genre`` is the genre the model gives the optimum: a raised logit need not make the
    optimum the model's first choice (every logit can rise together).
    """
    rows = []
    for optimum in optima:
        column = logit_column(optimum["slug"])
        best = scores.loc[scores[column].idxmax()]
        gap = optimum["logit"] - float(best[column])
        failed = gap < 0
        if optimum["top_genre"] != optimum["genre"]:
            log.warning(
                "%s: the model gives the optimum to %s: the raised logit did not make it the top genre "
                "(try optimise.objective: log_probability)", optimum["genre"], optimum["top_genre"],
            )
        if failed:
            log.warning(
                "%s: real track %d (logit %.3f) outscores the optimum (%.3f): the optimisation failed",
                optimum["genre"], int(best["track_id"]), float(best[column]), optimum["logit"],
            )
        rows.append(
            [optimum["genre"], optimum["logit"], optimum["probability"], int(best["track_id"]),
             float(best[column]), best["split"], gap, bool(failed), optimum["top_genre"]]
        )
    return pd.DataFrame(rows, columns=GAP_COLUMNS)


def gap_table(scores_tsv: str, optimum_h5s: list[str], output: str) -> None:
    write_tsv(output, representativeness_gap(read_tsv(scores_tsv), [read_optimum(p) for p in optimum_h5s]))
