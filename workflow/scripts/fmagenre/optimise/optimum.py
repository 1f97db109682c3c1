"""The optimum file ``results/optimise/{model}/{genre}.h5``: its one writer and its one reader.

One file per model and genre holds every start's result, so that the realism checks and the verdict
(:mod:`fmagenre.optimise.quality`) can choose the headline start after the fact:

- ``start_inputs`` [S, C, T] feature units and ``start_inputs_normalised`` [S, C, T] model units,
  the final inputs of the S starts (T = the model's input length);
- ``start_logits`` [S, G]: each final input scored as a track (looped to the packed clip length, with
  ``fmagenre.models.track_logits``, as ``track_scores.tsv`` scores real tracks); ``start_margins`` [S];
- ``trajectories`` [S, steps]: the objective of the transformed input scored at each step;
- ``penalty_ratios`` [S, P]: each penalty's size relative to the objective's at the last step
  (names in the ``penalty_names`` attribute), so that an inactive regulariser shows;
- ``best_track_x`` [C, frames]: the best-scoring real track (the comparison; never a start);
- ``typical_track_x`` [C, frames]: a typical real track, the genre's training track of median margin;
- ``feature_lo_normalised`` / ``feature_hi_normalised`` [C]: the clamp box.

Attributes: ``genre``, ``slug``, ``genre_index``, ``genres``, ``start_names``, ``start_track_ids``
(JSON; -1 for noise and mean), ``best_track_id``, ``best_track_split``, ``best_track_margin``,
``space``, ``params`` (JSON), ``bands``, ``frames``, ``feature_set``, ``checkpoint`` and the feature
parameters of the pack (``sr``, ``hop_length``, ``n_fft``, ``n_mels``, ``n_mfcc``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import h5py
import numpy as np

from fmagenre.io import atomic_path

ARRAYS = (
    "start_inputs",
    "start_inputs_normalised",
    "start_logits",
    "start_margins",
    "trajectories",
    "penalty_ratios",
    "best_track_x",
    "typical_track_x",
    "feature_lo_normalised",
    "feature_hi_normalised",
)
JSON_ATTRS = ("genres", "start_names", "start_track_ids", "penalty_names", "params", "bands")
SCALAR_ATTRS = {
    "genre": str,
    "slug": str,
    "genre_index": int,
    "best_track_id": int,
    "best_track_split": str,
    "best_track_margin": float,
    "typical_track_id": int,
    "space": str,
    "frames": int,
    "feature_set": str,
    "checkpoint": str,
}
FEATURE_ATTRS = ("sr", "hop_length", "n_fft", "n_mels", "n_mfcc")


@dataclass
class Optimum:
    """Everything one ``{genre}.h5`` holds (see the module docstring for units and shapes)."""

    genre: str
    slug: str
    genre_index: int
    genres: list[str]
    start_names: list[str]
    start_track_ids: list[int]
    start_inputs: np.ndarray
    start_inputs_normalised: np.ndarray
    start_logits: np.ndarray
    start_margins: np.ndarray
    trajectories: np.ndarray
    penalty_names: list[str]
    penalty_ratios: np.ndarray
    best_track_x: np.ndarray
    best_track_id: int
    best_track_split: str
    best_track_margin: float
    typical_track_x: np.ndarray
    typical_track_id: int
    feature_lo_normalised: np.ndarray
    feature_hi_normalised: np.ndarray
    space: str
    params: dict
    bands: list
    frames: int
    feature_set: str
    checkpoint: str
    feature: dict = field(default_factory=dict)  # sr, hop_length, n_fft, n_mels, n_mfcc

    def start_index(self, name: str) -> int:
        if name not in self.start_names:
            raise KeyError(
                f"optimum of {self.genre}: no start {name!r}; starts are {self.start_names}"
            )
        return self.start_names.index(name)


def write_optimum(path, optimum: Optimum) -> None:
    """Write ``optimum`` atomically to ``path``."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as handle:
        for name in ARRAYS:
            handle[name] = np.asarray(getattr(optimum, name))
        for name in JSON_ATTRS:
            handle.attrs[name] = json.dumps(getattr(optimum, name))
        for name in SCALAR_ATTRS:
            handle.attrs[name] = getattr(optimum, name)
        for name in FEATURE_ATTRS:
            handle.attrs[name] = optimum.feature[name]


def read_optimum(path) -> Optimum:
    """Read a file written by :func:`write_optimum`; a file of another layout is an error naming the fix."""
    with h5py.File(path, "r") as handle:
        missing = [name for name in ARRAYS if name not in handle]
        if missing:
            raise KeyError(
                f"{path}: no datasets {missing}: written by an older pipeline; fix: rerun "
                "rule optimise_genre (delete the file)"
            )
        values = {name: handle[name][()] for name in ARRAYS}
        attrs = handle.attrs
        values |= {name: json.loads(attrs[name]) for name in JSON_ATTRS}
        values |= {name: cast(attrs[name]) for name, cast in SCALAR_ATTRS.items()}
        values["feature"] = {name: int(attrs[name]) for name in FEATURE_ATTRS}
    return Optimum(**values)
