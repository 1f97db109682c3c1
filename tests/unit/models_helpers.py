"""Helpers shared by the model tests: tiny packed datasets in the documented layout, full specs."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from fmagenre.config import validate_config

GENRES = ["Electronic", "Folk", "Hip-Hop", "Rock"]
BANDS = {
    "mfcc": [["mfcc", 20]],
    "mel": [["mel", 32]],
    "mfcc+chroma+tonnetz": [["mfcc", 20], ["chroma", 12], ["tonnetz", 6]],
}
SIZES = {"training": 48, "validation": 16, "test": 16}
PARAMS = {"sr": 22050, "hop_length": 512, "n_fft": 2048, "n_mels": 32, "n_mfcc": 20}


def write_packs(
    folder: Path, feature_set: str = "mfcc", frames: int = 300, seed: int = 0, unlabelled: int = 0
) -> dict:
    """Write training/validation/test packs whose genres differ by a band pattern (learnable).

    The last ``unlabelled`` tracks of each split have two root genres and no genre_top (label -1).
    """
    rng = np.random.default_rng(seed)
    bands = BANDS[feature_set]
    channels = sum(n for _, n in bands)
    patterns = rng.normal(0, 1.0, (len(GENRES), channels, 1)).astype(np.float32)
    data = {}
    for split, n in SIZES.items():
        y = np.arange(n) % len(GENRES)
        x = 10 + 3 * rng.normal(size=(n, channels, frames)).astype(np.float32) + 3 * patterns[y]
        y_multi = np.zeros((n, len(GENRES)), dtype=np.uint8)
        y_multi[np.arange(n), y] = 1
        y_multi[np.arange(n), (y + 1) % len(GENRES)] = np.arange(n) % 3 == 0
        if unlabelled:
            y_multi[n - unlabelled :, (y[n - unlabelled :] + 1) % len(GENRES)] = 1
            y = np.where(np.arange(n) < n - unlabelled, y, -1)
        data[split] = (x.astype(np.float32), y, y_multi)
    mean = data["training"][0].mean(axis=(0, 2)).astype(np.float32)
    std = data["training"][0].std(axis=(0, 2)).astype(np.float32)
    paths = {}
    for split, (x, y, y_multi) in data.items():
        path = folder / feature_set / f"{split}.h5"
        path.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(path, "w") as handle:
            handle["x"], handle["y"], handle["y_multi"] = x, y.astype(np.int64), y_multi
            handle["track_id"] = np.arange(len(y), dtype=np.int64)
            handle["year"] = np.full(len(y), np.nan, dtype=np.float32)
            handle["mean"], handle["std"] = mean, std
            handle.attrs.update(
                feature_set=feature_set,
                bands=json.dumps(bands),
                frames=frames,
                genres=json.dumps(GENRES),
                pad_policy="centre-crop; pad-end-wrap",
                **PARAMS,
            )
        paths[split] = str(path)
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
