"""Packed training sets: ``results/datasets/{feature_set}/{split}.h5``, streamed track by track.

Each split file holds ``x`` float32 [N, C, T] in feature units (bands of the feature set stacked in
order; ``mel`` as dB, ``10*log10(max(mel, 1e-10))``), ``y``, ``y_multi``, ``track_id``, ``year`` and
the training split's per-band ``mean``/``std`` (identical in all three files).

Frame count T: the ``frames`` parameter, or when null the median frame count of the tracks being
packed (the lower median, so it is a length some clip really has; 1292 for 30 s clips at
22,050 Hz / hop 512, 1291 for FMA's 29.98 s ones). Pad/crop policy (attribute ``pad_policy``): a
longer track is centre-cropped (the middle is the most typical part of a clip); a shorter one is
padded at the end by wrapping around to its start, so padded frames look like the clip rather than
zeros, which are not silence in dB or MFCC units.

Memory: ``x`` is preallocated on disk with one chunk per track and written one track at a time;
mean/std are accumulated per band in float64 while the training split is written (Chan's parallel
update), so peak memory is one track plus O(C), whatever N. A band that is constant over the
training split gets std 1 (logged) so that normalising it never divides by zero.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from tqdm import tqdm

from fmagenre.data.metadata import SPLITS
from fmagenre.features.extract import power_to_db
from fmagenre.io import TMP_SUFFIX, atomic_path, read_tsv

log = logging.getLogger(__name__)

FEATURE_SETS = {
    "mfcc": ("mfcc",),
    "mfcc+chroma": ("mfcc", "chroma"),
    "mfcc+chroma+tonnetz": ("mfcc", "chroma", "tonnetz"),
    "mel": ("mel",),
}
PAD_POLICY = "centre-crop; pad-end-wrap"
PARAM_ATTRS = ("sr", "hop_length", "n_fft", "n_mels", "n_mfcc")


def fit_frames(x: np.ndarray, frames: int) -> np.ndarray:
    """Centre-crop or end-wrap-pad [C, t] to [C, frames] (see the module docstring)."""
    length = x.shape[1]
    if length >= frames:
        start = (length - frames) // 2
        return x[:, start : start + frames]
    return np.pad(x, ((0, 0), (0, frames - length)), mode="wrap")


class _BandStats:
    """Streaming per-band mean and variance over frames (Chan et al. parallel update, float64)."""

    def __init__(self, bands: int):
        self.count = 0
        self.mean = np.zeros(bands)
        self.m2 = np.zeros(bands)

    def update(self, x: np.ndarray) -> None:
        block = x.astype(np.float64)
        n = block.shape[1]
        mean = block.mean(axis=1)
        m2 = np.square(block - mean[:, None]).sum(axis=1)
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + np.square(delta) * self.count * n / total
        self.count = total

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        std = np.sqrt(self.m2 / self.count)
        constant = np.flatnonzero(std == 0)
        if constant.size:
            log.warning(
                "bands %s are constant over the training split; std set to 1", constant.tolist()
            )
            std[constant] = 1.0
        return self.mean.astype(np.float32), std.astype(np.float32)


def pack_units(name: str, values: np.ndarray) -> np.ndarray:
    """A stored feature in the units packs (and models) use: mel power -> dB (no top_db floor); the others
    as stored."""
    if name == "mel":
        return power_to_db(values, top_db=np.inf)
    return values


def read_track(h5_path: Path, features: tuple[str, ...]) -> tuple[np.ndarray, dict]:
    """One track's bands stacked [C, t] in pack units (mel in dB) and its attributes."""
    with h5py.File(h5_path, "r") as handle:
        parts = [pack_units(name, handle[name][()]) for name in features]
        return np.concatenate(parts, axis=0), dict(handle.attrs)


def pack_dataset(
    splits_tsv: str | os.PathLike,
    genres_tsv: str | os.PathLike,
    manifest_tsvs: list[str | os.PathLike],
    features_dir: str | os.PathLike,
    feature_set: str,
    frames: int | None,
    out_paths: dict[str, str | os.PathLike],
) -> int:
    """Write one packed file per split (see the module docstring); return the frame count used."""
    if feature_set not in FEATURE_SETS:
        raise ValueError(
            f"unknown feature set {feature_set!r}; use one of {', '.join(FEATURE_SETS)}"
        )
    features, features_dir = FEATURE_SETS[feature_set], Path(features_dir)
    tracks = read_tsv(splits_tsv, dtype={"folder": str}).sort_values("track_id")
    genres = read_tsv(genres_tsv).sort_values("label")["genre"].tolist()
    manifest = pd.concat([read_tsv(path) for path in manifest_tsvs], ignore_index=True)
    tracks = tracks.merge(manifest[["track_id", "h5", "frames"]], on="track_id", how="left")
    unextracted = tracks.loc[tracks["h5"].isna(), "track_id"]
    if len(unextracted):
        raise ValueError(
            f"{len(unextracted)} tracks of {splits_tsv} have no features in the manifests (first: "
            f"{int(unextracted.iloc[0])}); the splits are stale: rerun the splits rule"
        )
    if not (tracks["split"] == "training").any():
        raise ValueError(f"{splits_tsv} has no training tracks: normalisation needs some")
    if frames is None:
        frames = int(np.sort(tracks["frames"].to_numpy())[(len(tracks) - 1) // 2])
        log.info("frames = %d (median frame count of %d tracks)", frames, len(tracks))
    with h5py.File(features_dir / tracks["h5"].iloc[0], "r") as handle:
        params = {key: handle.attrs[key] for key in PARAM_ATTRS}
        bands = [[name, int(handle[name].shape[0])] for name in features]
    channels = sum(n for _, n in bands)
    attrs = {
        "feature_set": feature_set,
        "bands": json.dumps(bands),
        "frames": frames,
        "genres": json.dumps(genres),
        "pad_policy": PAD_POLICY,
        **params,
    }
    stats = _BandStats(channels)
    with contextlib.ExitStack() as stack:
        tmps = {}
        for split in SPLITS:
            _remove_leftovers(Path(out_paths[split]))
            tmps[split] = stack.enter_context(atomic_path(out_paths[split]))
        for split in SPLITS:
            rows = tracks[tracks["split"] == split]
            _write_split(
                tmps[split],
                rows,
                genres,
                features,
                features_dir,
                (channels, frames),
                params,
                attrs,
                stats if split == "training" else None,
            )
        mean, std = stats.result()
        for split in SPLITS:
            with h5py.File(tmps[split], "a") as handle:
                handle.create_dataset("mean", data=mean)
                handle.create_dataset("std", data=std)
    log.info(
        "packed %s: %s (%d bands x %d frames)",
        feature_set,
        ", ".join(f"{split} {int((tracks['split'] == split).sum())}" for split in SPLITS),
        channels,
        frames,
    )
    return frames


def _remove_leftovers(path: Path) -> None:
    """Delete temp files of an interrupted pack (atomic_path names them .{name}.*.tmp)."""
    for leftover in path.parent.glob(f".{path.name}.*{TMP_SUFFIX}"):
        leftover.unlink()


def _write_split(tmp, rows, genres, features, features_dir, shape, params, attrs, stats) -> None:
    """Preallocate the split's arrays on disk and fill ``x`` one track (one chunk) at a time."""
    (channels, frames), n = shape, len(rows)
    index = {genre: i for i, genre in enumerate(genres)}
    y_multi = np.zeros((n, len(genres)), dtype=np.uint8)
    for row, titles in enumerate(rows["genres_all"].fillna("")):
        for title in filter(None, str(titles).split("|")):
            if title in index:
                y_multi[row, index[title]] = 1
    with h5py.File(tmp, "w") as handle:
        x = handle.create_dataset(
            "x",
            shape=(n, channels, frames),
            dtype="f4",
            chunks=(1, channels, frames) if n else None,
        )
        for row, (track_id, h5) in enumerate(
            tqdm(
                list(zip(rows["track_id"], rows["h5"])), desc="pack", unit="track", file=sys.stderr
            )
        ):
            values, track_attrs = read_track(features_dir / h5, features)
            mismatched = [key for key in PARAM_ATTRS if track_attrs[key] != params[key]]
            if mismatched:
                raise ValueError(
                    f"{features_dir / h5} (track {track_id}) was extracted with different "
                    f"{', '.join(mismatched)} than the other tracks; rerun extract_folder for it"
                )
            values = fit_frames(values, frames)
            if stats is not None:
                stats.update(values)
            x[row] = values
        handle.create_dataset("y", data=rows["label"].to_numpy(dtype=np.int64))
        handle.create_dataset("y_multi", data=y_multi)
        handle.create_dataset("track_id", data=rows["track_id"].to_numpy(dtype=np.int64))
        handle.create_dataset("year", data=rows["year"].to_numpy(dtype=np.float32, na_value=np.nan))
        handle.attrs.update(attrs)
