"""Real tracks scored by the model (``track_scores.tsv``, the one batched inference of the optimise
stage). The gap is :mod:`fmagenre.optimise.gap`; genre evolution lives in :mod:`fmagenre.evolution`
(out-of-sample scores, not these).
"""

from __future__ import annotations

import logging
import sys

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from fmagenre.data.pack import read_packs
from fmagenre.io import genre_slug, read_tsv, write_tsv

log = logging.getLogger(__name__)

SCORE_BATCH = 256


def logit_column(slug: str) -> str:
    """Column of ``track_scores.tsv`` holding the logits of the genre with file-name slug ``slug``."""
    return f"logit_{slug}"


def model_logits(model, info, x: np.ndarray, embeddings: bool = False):
    """``fmagenre.models.track_logits`` of ``x`` [N, C, T] (feature units) in batches, float64 [N, G].

    With ``embeddings``: (logits, embeddings [N, D]), the embedding being the input of the model's
    last linear layer (its penultimate activations), the mean over a segment model's segments.
    """
    from fmagenre.models.checkpoint import track_logits

    captured, hook = [], None
    if embeddings:
        last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
        hook = last.register_forward_pre_hook(lambda _m, inputs: captured.append(inputs[0]))
    parts, embedded = [], []
    progress = tqdm(total=len(x), desc="score", unit="track", file=sys.stderr, mininterval=10)
    try:
        with torch.no_grad(), progress:
            for start in range(0, len(x), SCORE_BATCH):
                batch = torch.as_tensor(x[start : start + SCORE_BATCH])
                captured.clear()
                logits = track_logits(model, info, batch)
                parts.append(logits.cpu().numpy().astype(np.float64))
                if embeddings:  # segments in track-major order, as segment_logits flattens them
                    flat = torch.cat(captured)
                    per_track = flat.reshape(len(batch), -1, flat.shape[-1]).mean(dim=1)
                    embedded.append(per_track.cpu().numpy().astype(np.float64))
                progress.update(len(logits))
    finally:
        if hook is not None:
            hook.remove()
    out = np.concatenate(parts) if parts else np.zeros((0, len(info["genres"])))
    if not embeddings:
        return out
    return out, np.concatenate(embedded) if embedded else np.zeros((0, 0))


def score_tracks(
    checkpoint: str,
    datasets: dict[str, str],
    tracks_tsv: str,
    output: str,
    budget_mb: float | None = None,
) -> None:
    """``track_scores.tsv``: track_id, split, genre_top, year and one ``logit_<slug>`` column per genre.

    The packs are read into memory when they fit ``budget_mb`` (``training.memory_budget_mb``),
    else scored ``SCORE_BATCH`` tracks at a time from disk."""
    from fmagenre.models.checkpoint import load_model

    model, info = load_model(checkpoint, device="cpu")
    tracks = read_tsv(tracks_tsv).set_index("track_id")
    columns = [logit_column(genre_slug(title)) for title in info["genres"]]
    frames = []
    for split, pack in read_packs(datasets, budget_mb).items():
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
