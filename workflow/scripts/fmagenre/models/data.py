"""The models stage's view of the packed sets: loading, row selection, normalised splits."""

from __future__ import annotations

import copy
import json
import logging
import os
from pathlib import Path

import h5py
import numpy as np
import torch

from fmagenre.models.checkpoint import normalise

log = logging.getLogger("fmagenre.models")

PARAM_ATTRS = ("sr", "hop_length", "n_fft", "n_mels", "n_mfcc")
# A split stays in GPU memory when it takes at most this fraction of the free memory; else batches
# are gathered on the CPU and copied (fma_large mel does not fit, fma_small does).
DEVICE_DATA_FRACTION = 0.5


def load_pack(path: str | os.PathLike) -> dict:
    """Read one packed split (docs/ARCHITECTURE.md) into numpy arrays plus parsed attributes.

    The models stage's one way into a pack (training, overfit check, tests), so that the pack
    reader of ``fmagenre.data.pack`` can replace this body alone.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: packed dataset missing. Fix: run the pack_dataset rule.")
    with h5py.File(path, "r") as handle:
        missing = {"x", "y", "y_multi", "mean", "std"} - set(handle)
        if missing:
            raise ValueError(
                f"{path}: packed dataset lacks {sorted(missing)}. Fix: rerun pack_dataset."
            )
        attrs = dict(handle.attrs)
        pack = {key: handle[key][()] for key in ("x", "y", "y_multi", "track_id", "mean", "std")}
    pack["genres"] = json.loads(attrs["genres"])
    pack["bands"] = json.loads(attrs["bands"])
    pack["feature_set"] = str(attrs["feature_set"])
    pack["params"] = {key: int(attrs[key]) for key in PARAM_ATTRS}
    return pack


def select_rows(pack: dict, keep: np.ndarray) -> dict:
    """The pack restricted to the tracks where ``keep`` is true (per-track arrays only)."""
    return {
        **pack,
        **{key: pack[key][keep] for key in ("x", "y", "y_multi", "track_id")},
    }


def segment_frames(spec: dict, pack: dict) -> int:
    """Model input length in frames: the whole clip, or ``segment_seconds`` worth of frames."""
    frames = pack["x"].shape[2]
    seconds = spec["segment_seconds"]
    if seconds is None:
        return frames
    count = int(round(seconds * pack["params"]["sr"] / pack["params"]["hop_length"]))
    if not 1 <= count <= frames:
        raise ValueError(
            f"model '{spec.get('name')}': segment_seconds={seconds} gives {count} frames, outside "
            f"1..{frames} (the packed clip length). Fix: choose a shorter segment or null."
        )
    return count


def storage_device(nbytes: int, device: torch.device) -> torch.device:
    """Where a split's arrays live: on the compute device when they fit, else on the CPU."""
    if device.type != "cuda":
        return device
    free, _ = torch.cuda.mem_get_info(device)
    if nbytes <= DEVICE_DATA_FRACTION * free:
        return device
    log.info(
        "%.1f GB of data exceed half the free GPU memory: batches are copied from the CPU",
        nbytes / 1e9,
    )
    return torch.device("cpu")


class Split:
    """One split: normalised x [N, C, T], labels, multi-hot targets on its storage device;
    ``device`` is where the model computes."""

    def __init__(self, pack: dict, mean: np.ndarray, std: np.ndarray, device: torch.device):
        self.device = device
        storage = storage_device(pack["x"].nbytes, device)
        self.x = normalise(torch.from_numpy(pack["x"]).to(storage), {"mean": mean, "std": std})
        self.y = torch.from_numpy(pack["y"].astype(np.int64)).to(storage)
        self.y_multi = torch.from_numpy(pack["y_multi"].astype(np.float32)).to(storage)

    def subset(self, index: torch.Tensor) -> Split:
        part = copy.copy(self)
        index = index.to(self.x.device)
        part.x, part.y, part.y_multi = self.x[index], self.y[index], self.y_multi[index]
        return part
