"""``results/evolution/{model}/embeddings.h5``: the one writer and reader.

Datasets ``track_id`` int64 [N] and ``by_model`` float32 [M, N, D]: every followed track embedded by
each of the M models that score them (the input of the model's last linear layer, the mean over a
segment model's segments), rows in the order of ``track_scores.tsv``; attributes ``models`` (JSON
list of the M checkpoints, matching ``scored_by``) and ``genres`` (JSON list, the label order).
"""

from __future__ import annotations

import json

import h5py
import numpy as np

from fmagenre.io import atomic_path


def write_embeddings(
    path: str, track_id: np.ndarray, by_model: np.ndarray, models: list, genres: list
) -> None:
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        handle.create_dataset("track_id", data=np.asarray(track_id, dtype=np.int64))
        handle.create_dataset("by_model", data=np.asarray(by_model, dtype=np.float32))
        handle.attrs["models"] = json.dumps(list(models))
        handle.attrs["genres"] = json.dumps(list(genres))


def read_embeddings(path: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(track_id [N], by_model float64 [M, N, D], the M checkpoints)."""
    with h5py.File(path, "r") as handle:
        if "by_model" not in handle:
            raise ValueError(
                f"{path} has no dataset 'by_model' (written before every fold model embedded every "
                "track); fix: rerun rule evolution_scores"
            )
        return (
            handle["track_id"][()],
            handle["by_model"][()].astype(np.float64),
            json.loads(handle.attrs["models"]),
        )
