"""The cached per-track feature store and the incremental per-folder job.

Per-track files ``{features_dir}/{folder}/{track_id:06d}.h5`` hold ``mfcc``, ``chroma``, ``tonnetz``
and ``mel`` [bands, frames] in ``features.dtype`` and in the packs' units (mel as dB, see
``extract.DTYPES``), chunked and compressed (``TRACK_COMPRESSION``: Blosc, registered with h5py
by ``hdf5plugin``, which this module imports); their attributes record every parameter, the code
fingerprint, the source's size, mtime and sha256, and the decoded facts validation needs. A rerun
skips a track whose file matches all of them (sha256 settles a changed mtime), so it neither
decodes nor re-judges it from audio. Files are written through ``atomic_path``: a killed job
leaves at most a ``.tmp`` file, which the next run deletes, never a final file it would trust.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import h5py
import hdf5plugin
import numpy as np
import pandas as pd
from tqdm import tqdm

from fmagenre.data.audio import AudioInfo
from fmagenre.data.validate import (
    COLUMNS,
    STATUSES,
    Decoded,
    ValidationParams,
    judge,
    validate_clip,
)
from fmagenre.features.extract import FEATURES, FeatureParams, compute_features, stored_units
from fmagenre.features.manifest import MANIFEST_COLUMNS
from fmagenre.fingerprint import code_fingerprint
from fmagenre.io import TMP_SUFFIX, atomic_path, sha256_file, write_tsv

log = logging.getLogger(__name__)

# Blosc zstd level 3 after the byte shuffle. The mel set is read from these files (pack.TRACK_VIEW_SETS)
# and the others once each by the packing; measured on the default run's float16 tracks against the
# former gzip 1 + shuffle (KB per track; ms to open and read a track's mel): the same size (mel 231
# vs 229, mfcc 44 vs 43, chroma 22, tonnetz 12), read 1.9x faster (1.13 vs 2.18 ms) and written 2x
# faster (3.1 vs 6.6 ms). The bit shuffle is 9 % larger on float16 dB, zstd 1 and lz4hc 4-5 %.
TRACK_COMPRESSION = dict(hdf5plugin.Blosc(cname="zstd", clevel=3, shuffle=hdf5plugin.Blosc.SHUFFLE))
# Time-axis chunk length: whole 30 s clips in one chunk, whole tracks (fma_full) in ~95 s pieces.
CHUNK_FRAMES = 4096


def write_track(
    path: str | os.PathLike, features: dict[str, np.ndarray], attrs: dict, params: FeatureParams
) -> None:
    """Write one track's computed features (in the stored units and dtype) and attributes atomically."""
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as handle:
            for name in FEATURES:
                values = stored_units(name, features[name])
                values = values.astype(params.storage_dtype(name), copy=False)
                chunks = (values.shape[0], max(1, min(values.shape[1], CHUNK_FRAMES)))
                handle.create_dataset(name, data=values, chunks=chunks, **TRACK_COMPRESSION)
            handle.attrs.update(attrs)


def read_features(
    path: str | os.PathLike,
    names: tuple[str, ...],
    frames: int | None = None,
    with_attrs: bool = True,
) -> tuple[dict[str, np.ndarray], dict]:
    """The named features of one stored track (its first ``frames`` frames, all when None), as
    stored, and the file's attributes (``{}`` without ``with_attrs``: reading them takes 1.5 of a
    track's 2.2 ms, which a pack view's every read would pay)."""
    with h5py.File(path, "r") as handle:
        values = {name: handle[name][:, :frames] for name in names}
        return values, dict(handle.attrs) if with_attrs else {}


def _cached(h5_path: Path, source: Path, expected: dict, bands: dict[str, int]):
    """(AudioInfo, level_dbfs, frames, source_sha256) of a stored track valid for ``source``."""
    if not h5_path.is_file():
        return None
    try:
        with h5py.File(h5_path, "r") as handle:
            attrs = dict(handle.attrs)
            frames = int(attrs["frames"])
            shapes_ok = all(handle[name].shape == (n, frames) for name, n in bands.items())
    except (OSError, KeyError, ValueError) as error:
        log.warning("%s is unreadable (%s); recomputing it", h5_path, error)
        return None
    if not shapes_ok or any(attrs.get(key) != value for key, value in expected.items()):
        return None
    stat = source.stat()
    if int(attrs["source_size"]) != stat.st_size:
        return None
    if int(attrs["source_mtime_ns"]) != stat.st_mtime_ns:
        try:
            if str(attrs["source_sha256"]) != sha256_file(source):
                return None
        except OSError:  # unreadable now: decoding will report it
            return None
    info = AudioInfo(
        duration_s=float(attrs["duration_s"]),
        sample_rate=int(attrs["sample_rate"]),
        channels=int(attrs["channels"]),
        container=str(attrs["container"]),
    )
    return info, float(attrs["level_dbfs"]), frames, str(attrs["source_sha256"])


class _FolderJob:
    """The state of one folder job: where it reads and writes, what a valid stored track matches."""

    def __init__(self, audio_dir, features_dir, folder, params, validation_params):
        self.params = (
            params if isinstance(params, FeatureParams) else FeatureParams.from_config(params)
        )
        self.validation = (
            validation_params
            if isinstance(validation_params, ValidationParams)
            else ValidationParams.from_config(validation_params)
        )
        self.folder = folder
        self.audio_dir, self.out_dir = Path(audio_dir), Path(features_dir) / folder
        # The code fingerprint makes an edit to the decoder or the extractor re-extract every track.
        self.expected = {
            **self.params.attrs(),
            "code": code_fingerprint("fmagenre.features.extract", exclude=("fmagenre.io",)),
        }
        self.expected_key = json.dumps(self.expected, sort_keys=True, default=str)
        self.counts: Counter = Counter()

    def clean(self) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        for leftover in self.out_dir.glob(f"*{TMP_SUFFIX}"):
            log.info("removing %s, left over by an interrupted run", leftover)
            leftover.unlink()

    def track(self, track_id: int) -> tuple[dict, dict | None]:
        """Judge (from the cache, else by decoding) and extract one track.

        Returns (validation row, manifest row or None when the track is not ``ok``).
        """
        name = f"{int(track_id):06d}"
        if name[:3] != self.folder:
            raise ValueError(
                f"track {track_id} belongs in folder {name[:3]}, not {self.folder}; "
                "fix the track ids passed to extract_folder (rules/data.smk folder_track_ids)"
            )
        source, h5_path = self.audio_dir / self.folder / f"{name}.mp3", self.out_dir / f"{name}.h5"
        cached = (
            _cached(h5_path, source, self.expected, self.params.bands())
            if source.is_file()
            else None
        )
        if cached is not None:
            info, level, frames, source_sha256 = cached
            result = judge(info, level, self.validation)
            self.counts["cached"] += 1
        else:
            result, decoded = validate_clip(
                source, self.params.sr, self.params.mono, self.validation
            )
            self.counts["decoded"] += result.status != "missing"
            if result.status == "ok":
                frames, source_sha256 = self._extract(decoded, source, h5_path)
        self.counts[result.status] += 1
        if result.status != "ok":
            h5_path.unlink(missing_ok=True)  # features of a now-bad clip must not be packed
            log.info("%s: %s (%s)", name, result.status, result.reason)
            return result.row(track_id), None
        content = hashlib.sha256(f"{self.expected_key}:{source_sha256}".encode()).hexdigest()[:16]
        manifest = {
            "track_id": int(track_id),
            "h5": f"{self.folder}/{name}.h5",
            "frames": frames,
            "content": content,
        }
        return result.row(track_id), manifest

    def _extract(self, decoded: Decoded, source: Path, h5_path: Path) -> tuple[int, str]:
        """Compute and store one ok track's features; return its frame count and source checksum."""
        stat = source.stat()
        source_sha256 = sha256_file(source)
        features = compute_features(self.params.crop(decoded.signal), self.params)
        frames = features["mel"].shape[1]
        attrs = {
            **self.expected,
            "tuning_estimate": features["tuning"],
            "frames": frames,
            "source_size": stat.st_size,
            "source_mtime_ns": stat.st_mtime_ns,
            "source_sha256": source_sha256,
            **asdict(decoded.info),
            "level_dbfs": decoded.level_dbfs,
        }
        write_track(h5_path, features, attrs, self.params)
        return frames, source_sha256

    def summary(self, tracks: int, seconds: float) -> str:
        return (
            f"folder {self.folder}: {tracks} tracks in {seconds:.1f} s "
            f"({tracks / seconds if seconds else float('nan'):.1f} tracks/s): "
            f"{self.counts['decoded']} decoded, {self.counts['cached']} from cache; "
            + ", ".join(f"{status} {self.counts[status]}" for status in STATUSES)
        )


def extract_folder(
    track_ids: list[int],
    audio_dir: str | os.PathLike,
    features_dir: str | os.PathLike,
    folder: str,
    params: FeatureParams | dict,
    validation_params: ValidationParams | dict,
    validation_out: str | os.PathLike,
    manifest_out: str | os.PathLike,
) -> dict:
    """Validate and extract every track of one audio folder, decoding each at most once.

    Writes the folder's validation table (every track) and manifest (``ok`` tracks). Tracks whose
    HDF5 is still valid are re-judged from its attributes without decoding; all others (new,
    changed, previously bad) are decoded, judged and, when ``ok``, extracted. Returns counts:
    ``decoded``, ``cached`` and one per status.
    """
    job = _FolderJob(audio_dir, features_dir, folder, params, validation_params)
    job.clean()
    rows, manifest = [], []
    start = time.perf_counter()
    for track_id in tqdm(sorted(track_ids), desc=f"folder {folder}", unit="track", file=sys.stderr):
        row, entry = job.track(track_id)
        rows.append(row)
        if entry is not None:
            manifest.append(entry)
    write_tsv(validation_out, pd.DataFrame(rows, columns=COLUMNS))
    write_tsv(manifest_out, pd.DataFrame(manifest, columns=MANIFEST_COLUMNS))
    log.info(job.summary(len(rows), time.perf_counter() - start))
    return dict(job.counts)
