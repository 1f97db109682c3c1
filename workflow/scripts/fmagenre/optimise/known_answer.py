"""Known answer on the synthetic data: does each genre's headline optimum carry that genre's signature?

The synthetic generator plants each genre's synthesis parameters (``ground_truth.json``:
``genre_parameters``, and per track its ``genre`` and drawn parameters). What the features can show
of them is measured on the planted tracks themselves: a genre's signature is the mean, over its
tracks (no blended ones), of three descriptors computed from packed features exactly as for the
optimum: the mean spectral centroid (Hz), the tempo (BPM, :func:`fmagenre.optimise.spectra.track_summaries`)
and the band-energy profile (mean dB of ``PROFILE_BANDS`` equal groups of mel bands). Each descriptor
dimension is standardised by its spread over the planted tracks, the profile's groups together
weighing as much as the centroid and as the tempo. ``known_answer.tsv``: per genre the headline
optimum's nearest signature and whether it is its own genre's.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from fmagenre.data.pack import fit_frames, read_pack
from fmagenre.io import read_tsv, write_tsv
from fmagenre.optimise.optimum import read_optimum
from fmagenre.optimise.spectra import mel_db, track_summaries

log = logging.getLogger(__name__)

PROFILE_BANDS = 8
KNOWN_COLUMNS = [
    "genre",
    "verdict",
    "headline_start",
    "nearest_genre",
    "correct",
    "own_distance",
    "nearest_other_distance",
]


def descriptors(x: np.ndarray, bands, feature: dict) -> np.ndarray:
    """[N, 2 + PROFILE_BANDS]: centroid (Hz), tempo (BPM) and the band-energy profile (dB) of packed
    features ``x`` [N, C, T]."""
    summaries = track_summaries(x, bands, feature["n_mels"], feature["sr"], feature["hop_length"])
    db = mel_db(x.astype(np.float64), bands, feature["n_mels"]).mean(axis=-1)  # [N, n_mels]
    profile = np.stack(
        [part.mean(axis=1) for part in np.array_split(db, PROFILE_BANDS, axis=1)], axis=1
    )
    return np.column_stack([summaries["spectral_centroid_hz"], summaries["tempo_bpm"], profile])


def weights() -> np.ndarray:
    """Per-dimension weights: centroid 1, tempo 1, each profile group 1/PROFILE_BANDS (squared distance)."""
    return np.concatenate([[1.0, 1.0], np.full(PROFILE_BANDS, 1.0 / PROFILE_BANDS)])


def signatures(real: np.ndarray, genres: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each genre's mean descriptor, and the per-dimension spread over all planted tracks."""
    scale = real.std(axis=0)
    scale[scale == 0] = 1.0
    return {g: real[genres == g].mean(axis=0) for g in dict.fromkeys(genres)}, scale


def nearest(
    candidate: np.ndarray, signature: dict[str, np.ndarray], scale: np.ndarray
) -> dict[str, float]:
    """Weighted standardised distance of ``candidate`` to every genre's signature."""
    w = weights()
    return {
        g: float(np.sqrt(np.sum(w * ((candidate - s) / scale) ** 2))) for g, s in signature.items()
    }


def known_answer(
    datasets: dict[str, str], optimum_h5s: list[str], gap_tsv: str, ground_truth: str, output: str
) -> None:
    """``known_answer.tsv`` of one model (see the module docstring)."""
    with open(ground_truth, encoding="utf-8") as handle:
        truth = json.load(handle)
    planted = {int(t["track_id"]): t["genre"] for t in truth["tracks"] if not t.get("blend_with")}
    gap = read_tsv(gap_tsv).set_index("genre")
    optima = [read_optimum(path) for path in optimum_h5s]
    bands, feature = optima[0].bands, optima[0].feature
    real, labels = [], []
    for pack in (read_pack(path) for path in datasets.values()):
        keep = np.array([int(t) in planted for t in pack["track_id"]])
        real.append(descriptors(pack["x"][keep], bands, feature))
        labels += [planted[int(t)] for t in pack["track_id"][keep]]
    signature, scale = signatures(np.concatenate(real), np.array(labels))
    rows = []
    for optimum in optima:
        row = gap.loc[optimum.genre]
        x = optimum.start_inputs[optimum.start_index(row["headline_start"])]
        distances = nearest(
            descriptors(fit_frames(x, optimum.frames)[None], bands, feature)[0], signature, scale
        )
        closest = min(distances, key=distances.get)
        others = [d for g, d in distances.items() if g != optimum.genre]
        rows.append(
            [
                optimum.genre,
                row["verdict"],
                row["headline_start"],
                closest,
                closest == optimum.genre,
                distances[optimum.genre],
                min(others),
            ]
        )
    table = pd.DataFrame(rows, columns=KNOWN_COLUMNS)
    log.info(
        "known answer: %d/%d headline optima nearest their own genre's signature\n%s",
        int(table["correct"].sum()),
        len(table),
        table.to_string(index=False),
    )
    write_tsv(output, table)
