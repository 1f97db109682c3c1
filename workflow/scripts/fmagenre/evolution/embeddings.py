"""``results/evolution/{model}/embeddings.h5``: the one writer and reader.

Datasets ``track_id`` int64 [N] and ``embedding`` float32 [N, D] (the input of the model's last
linear layer, the mean over a segment model's segments), rows in the order of ``track_scores.tsv``;
attribute ``genres`` (JSON list, the model's label order).
"""

from __future__ import annotations

import json

import h5py
import numpy as np

from fmagenre.io import atomic_path


def write_embeddings(path: str, track_id: np.ndarray, embedding: np.ndarray, genres: list) -> None:
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        handle.create_dataset("track_id", data=np.asarray(track_id, dtype=np.int64))
        handle.create_dataset("embedding", data=np.asarray(embedding, dtype=np.float32))
        handle.attrs["genres"] = json.dumps(list(genres))


def read_embeddings(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(track_id [N], embedding float64 [N, D])."""
    with h5py.File(path, "r") as handle:
        return handle["track_id"][()], handle["embedding"][()].astype(np.float64)
