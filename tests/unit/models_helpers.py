"""Helpers shared by the model tests: tiny packs made by the pipeline's own writers, full specs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fmagenre.config import validate_config
from fmagenre.data.metadata import SPLITS
from fmagenre.data.pack import FEATURE_SETS, pack_dataset
from fmagenre.features.extract import FEATURES, FeatureParams
from fmagenre.features.store import write_track
from fmagenre.io import write_tsv

GENRES = ["Electronic", "Folk", "Hip-Hop", "Rock"]
SIZES = {"training": 48, "validation": 16, "test": 16}
# Track ids per split: distinct across splits, as in a real split table (validation 100.., test 200..).
FIRST_ID = {"training": 1000, "validation": 100, "test": 200}
PARAMS = FeatureParams(n_mfcc=20, n_mels=32, dtype="float32")


def write_packs(
    folder: Path, feature_set: str = "mfcc", frames: int = 300, seed: int = 0, unlabelled: int = 0
) -> dict:
    """Packs whose genres differ by a band pattern (learnable), made by :func:`pack_arrays`.

    The last ``unlabelled`` tracks of each split have two root genres and no genre_top (label -1).
    """
    rng = np.random.default_rng(seed)
    channels = sum(PARAMS.bands()[name] for name in FEATURE_SETS[feature_set])
    patterns = rng.normal(0, 1.0, (len(GENRES), channels, 1))
    rows, x = [], []
    for split, n in SIZES.items():
        for i in range(n):
            genre = i % len(GENRES)
            x.append(10 + 3 * rng.normal(size=(channels, frames)) + 3 * patterns[genre])
            titles = [GENRES[genre]] + ([GENRES[(genre + 1) % len(GENRES)]] if i % 3 == 0 else [])
            label = genre
            if i >= n - unlabelled:
                titles, label = [GENRES[genre], GENRES[(genre + 1) % len(GENRES)]], -1
            rows.append(
                {
                    "track_id": FIRST_ID[split] + i,
                    "split": split,
                    "genre_top": GENRES[genre] if label >= 0 else "",
                    "label": label,
                    "year": np.nan,
                    "genres_all": "|".join(titles),
                }
            )
    return pack_arrays(folder, feature_set, np.stack(x), pd.DataFrame(rows), GENRES, PARAMS)


def pack_arrays(
    folder: Path,
    feature_set: str,
    x: np.ndarray,
    tracks: pd.DataFrame,
    genres: list[str],
    params: FeatureParams,
) -> dict:
    """Packs of given inputs ``x`` [N, C, T] in pack units (mel in dB), one per split-table row of
    ``tracks`` (track_id, split, genre_top, label, year, genres_all), made the pipeline's way: each
    track through the feature store's writer, then ``pack_dataset``. Returns {split: path}."""
    bands, frames = params.bands(), x.shape[2]
    manifest = []
    for track_id, values in zip(tracks["track_id"], x):
        features, offset = {}, 0
        for name in FEATURES:  # the store holds every feature; the pack reads its set's bands
            if name in FEATURE_SETS[feature_set]:
                part, offset = values[offset : offset + bands[name]], offset + bands[name]
            else:
                part = np.zeros((bands[name], frames))
            features[name] = (
                10 ** (part / 10) if name == "mel" else part
            )  # computed units: the store's writer turns power into dB
        h5 = f"{track_id:06d}.h5"
        write_track(
            folder / "features" / h5, features, {**params.attrs(), "frames": frames}, params
        )
        manifest.append({"track_id": track_id, "h5": h5, "frames": frames})
    defaults = {"artist_id": tracks["track_id"], "folder": "000", "genres_all": tracks["genre_top"]}
    split_table = tracks.assign(**{k: v for k, v in defaults.items() if k not in tracks})
    write_tsv(folder / "manifest.tsv", pd.DataFrame(manifest))
    write_tsv(folder / "tracks.tsv", split_table)
    write_tsv(folder / "genres.tsv", pd.DataFrame({"label": range(len(genres)), "genre": genres}))
    paths = {split: str(folder / feature_set / f"{split}.h5") for split in SPLITS}
    pack_dataset(
        folder / "tracks.tsv",
        folder / "genres.tsv",
        [folder / "manifest.tsv"],
        folder / "features",
        feature_set,
        frames,
        paths,
    )
    return paths


def spec(name: str = "m", **model) -> dict:
    """A model spec exactly as rules/common.smk model_spec builds it (schema defaults filled in)."""
    model = {"arch": "li2010", "features": "mfcc", **model}
    config = {
        "dataset": {"metadata_dir": "m", "audio_dir": "a", "synthetic": {"enabled": True}},
        "training": {
            "device": "cpu",
            "epochs": 3,
            "batch_size": 16,
            "patience": 3,
            "num_threads": 1,
        },
        "models": {name: model},
    }
    validate_config(config)
    return {**config["training"], **config["models"][name], "name": name}


def outputs(folder: Path) -> dict:
    names = {
        "checkpoint": "checkpoint.pt",
        "history": "history.csv",
        "metrics": "metrics.json",
        "curves": "curves.png",
        "confusion": "confusion.png",
    }
    return {key: str(folder / name) for key, name in names.items()}
