"""Packed training sets ``results/datasets/{feature_set}/{split}.h5``: the ONE writer and reader.

Each split file holds ``x`` [N, C, T] (``features.dtype``, float16 or float32; read back as float32)
in feature units (bands of the feature set stacked in
order; ``mel`` as dB, ``10*log10(max(mel, 1e-10))``), ``y``, ``y_multi``, ``track_id``, ``year`` and
the training split's per-band ``mean``/``std`` (identical in all three files).

Frame count T: the ``frames`` parameter, or when null the median frame count of the tracks being
packed (the lower median, so it is a length some clip really has; 1292 for 30 s clips at
22,050 Hz / hop 512, 1291 for FMA's 29.98 s ones). Pad/crop policy (attribute ``pad_policy``): a
longer track is centre-cropped (the middle is the most typical part of a clip); a shorter one is
padded at the end by wrapping around to its start, so padded frames look like the clip rather than
zeros, which are not silence in dB or MFCC units.

Memory: ``x`` is preallocated on disk with one chunk per track (``PACK_COMPRESSION``; one chunk
per track is also what a streamed read fetches) and written one track at a time; mean/std are accumulated per band in float64 from the stored values while the
training split is written (Chan's parallel update), so peak memory is one track plus O(C), whatever
N. A band that is constant over the training split gets std 1 (logged) so that normalising it never
divides by zero.

Track views (``TRACK_VIEW_SETS``: ``mel``): such a pack holds no ``x`` but ``h5``, each track's
per-track file (relative to the folder named by the attribute ``tracks_in``, itself relative to the
pack's folder), read and fitted to T frames on demand. The mel spectrogram is 70 % of the per-track
bytes and the per-track file is the cache that must stay (a re-split or a new frame count would
otherwise decode every clip again), so a copy in the pack doubled it: 0.23 MB per 30 s track at
float16. The price: reading the set opens one file per track (once per job in memory, once per
epoch streamed), which a parallel file system serves more slowly than one pack; README weighs it.

Views (:func:`pack_view`): a split table whose tracks all lie in existing packs (the evolution
folds re-split the same tracks) gets packs that hold no ``x`` but, per track, ``source`` (index
into the JSON attribute ``view_of``: the source packs' paths relative to the view's folder) and
``row`` (the track's row there), with their own ``y``, ``y_multi``, ``track_id``, ``year`` and
training statistics; they read as packs do and cost kilobytes instead of a copy of ``x``.

Reading: :func:`read_packs` loads a model's three splits into memory when they fit the memory
budget (``training.memory_budget_mb``; null = half of what this machine, cgroup or SLURM job
allows), else gives each split's ``x`` as a :class:`PackArray` that reads tracks on demand.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import h5py
import hdf5plugin
import numpy as np
import pandas as pd
from tqdm import tqdm

from fmagenre.data.metadata import SPLITS
from fmagenre.features.manifest import read_manifests, with_features
from fmagenre.features.store import read_features
from fmagenre.io import TMP_SUFFIX, atomic_path, read_tsv

log = logging.getLogger(__name__)

# Feature sets packed as track views (module docstring); the others are copied into the pack.
TRACK_VIEW_SETS = ("mel",)
FEATURE_SETS = {
    "mfcc": ("mfcc",),
    "mfcc+chroma": ("mfcc", "chroma"),
    "mfcc+chroma+tonnetz": ("mfcc", "chroma", "tonnetz"),
    "mel": ("mel",),
    "musicnn": ("musicnn",),  # the judge's embedding, [400, 1] per track (fmagenre.judge.tracks)
}
PAD_POLICY = "centre-crop; pad-end-wrap"
PARAM_ATTRS = ("sr", "hop_length", "n_fft", "n_mels", "n_mfcc")
# The per-track arrays every reader gets in memory (O(N), small); ``x`` is the big one.
SMALL_ARRAYS = ("y", "y_multi", "track_id", "year", "mean", "std")
# The packs' filter: Blosc's LZ4HC after the byte shuffle (hdf5plugin, whose import here registers
# it for every reader of a pack). Packs are read once per epoch when streamed, so decoding speed
# matters there, as it does for the per-track files the mel set reads (``store.TRACK_COMPRESSION``).
# Measured on the default run's float16 packs against gzip 1 + shuffle: 8 % larger, read 3.6x faster
# (mfcc 0.09 vs 0.32 ms per track, mel 0.56 vs 1.42 ms; uncompressed 0.08 / 0.45 ms).
PACK_COMPRESSION = dict(hdf5plugin.Blosc(cname="lz4hc", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE))
# An in-memory split costs its float32 x twice while training (raw + normalised copy).
IN_MEMORY_COPIES = 2


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


def read_track(
    h5_path: Path, features: tuple[str, ...], with_attrs: bool = True
) -> tuple[np.ndarray, dict]:
    """One track's bands stacked [C, t] (stored in pack units: mel in dB) and its attributes
    (``{}`` without ``with_attrs``)."""
    stored, attrs = read_features(h5_path, features, with_attrs=with_attrs)
    return np.concatenate([stored[name] for name in features], axis=0), attrs


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
    tracks = _pack_tracks(splits_tsv, manifest_tsvs)
    genres = read_tsv(genres_tsv).sort_values("label")["genre"].tolist()
    if frames is None:
        frames = int(np.sort(tracks["frames"].to_numpy())[(len(tracks) - 1) // 2])
        log.info("frames = %d (median frame count of %d tracks)", frames, len(tracks))
    attrs = _pack_attrs(features_dir / tracks["h5"].iloc[0], features, feature_set, frames, genres)
    channels = sum(n for _, n in json.loads(attrs["bands"]))
    stats = _BandStats(channels)
    with contextlib.ExitStack() as stack:
        tmps = _split_temps(stack, out_paths)
        for split in SPLITS:
            rows = tracks[tracks["split"] == split]
            training = stats if split == "training" else None
            view = Path(out_paths[split]).parent if feature_set in TRACK_VIEW_SETS else None
            _write_split(tmps[split], rows, genres, features, features_dir, attrs, training, view)
        _write_stats(tmps.values(), *stats.result())
    log.info(
        "packed %s: %s (%d bands x %d frames, %s)",
        feature_set,
        ", ".join(f"{split} {int((tracks['split'] == split).sum())}" for split in SPLITS),
        channels,
        frames,
        attrs["dtype"],
    )
    return frames


def _pack_tracks(splits_tsv, manifest_tsvs) -> pd.DataFrame:
    """The split table sorted by track id, with each track's HDF5 and frame count."""
    tracks = read_tsv(splits_tsv, dtype={"folder": str}).sort_values("track_id")
    tracks = with_features(tracks, read_manifests(manifest_tsvs), str(splits_tsv))
    if not (tracks["split"] == "training").any():
        raise ValueError(f"{splits_tsv} has no training tracks: normalisation needs some")
    return tracks


def _pack_attrs(first_h5: Path, features, feature_set: str, frames: int, genres) -> dict:
    """The pack's attributes; feature parameters and storage dtype come from the first track."""
    stored, track_attrs = read_features(first_h5, features, frames=1)
    params = {key: track_attrs[key] for key in PARAM_ATTRS}
    bands = [[name, int(stored[name].shape[0])] for name in features]
    dtype = str(track_attrs.get("dtype", "float32"))
    return {
        "feature_set": feature_set,
        "bands": json.dumps(bands),
        "frames": frames,
        "genres": json.dumps(genres),
        "pad_policy": PAD_POLICY,
        "dtype": dtype,
        **params,
    }


def _split_temps(stack: contextlib.ExitStack, out_paths) -> dict:
    """Temp paths of the three split files, moved into place together when ``stack`` closes (the
    leftovers of an interrupted pack deleted first)."""
    tmps = {}
    for split in SPLITS:
        _remove_leftovers(Path(out_paths[split]))
        tmps[split] = stack.enter_context(atomic_path(out_paths[split]))
    return tmps


def _remove_leftovers(path: Path) -> None:
    """Delete temp files of an interrupted pack (atomic_path names them .{name}.*.tmp)."""
    for leftover in path.parent.glob(f".{path.name}.*{TMP_SUFFIX}"):
        leftover.unlink()


def _multi_hot(rows: pd.DataFrame, genres: list[str]) -> np.ndarray:
    """y_multi [N, G]: 1 for every label genre among a track's ``genres_all`` titles."""
    index = {genre: i for i, genre in enumerate(genres)}
    y_multi = np.zeros((len(rows), len(genres)), dtype=np.uint8)
    for row, titles in enumerate(rows["genres_all"].fillna("")):
        for title in filter(None, str(titles).split("|")):
            if title in index:
                y_multi[row, index[title]] = 1
    return y_multi


def _write_split(tmp, rows, genres, features, features_dir, attrs, stats, view=None) -> None:
    """Preallocate the split's arrays on disk and fill ``x`` one track (one chunk) at a time; or,
    for a track view to be moved into folder ``view``, name the per-track files instead of ``x``
    (each is still read: it is checked and, for the training split, counted in the statistics)."""
    channels = sum(n for _, n in json.loads(attrs["bands"]))
    frames, n, dtype = int(attrs["frames"]), len(rows), np.dtype(attrs["dtype"])
    with h5py.File(tmp, "w") as handle:
        if view is None:
            x = handle.create_dataset(
                "x",
                shape=(n, channels, frames),
                dtype=dtype,
                **({"chunks": (1, channels, frames), **PACK_COMPRESSION} if n else {}),
            )
        else:
            handle.create_dataset("h5", data=rows["h5"].tolist(), dtype=h5py.string_dtype())
            attrs = {**attrs, "tracks_in": os.path.relpath(features_dir.resolve(), view.resolve())}
        pairs = list(zip(rows["track_id"], rows["h5"]))
        for row, (track_id, h5) in enumerate(
            tqdm(pairs, desc="pack", unit="track", file=sys.stderr, mininterval=5)
        ):
            values, track_attrs = read_track(features_dir / h5, features)
            mismatched = [
                key
                for key in (*PARAM_ATTRS, "dtype")
                if track_attrs.get(key, "float32") != attrs[key]
            ]
            if mismatched:
                raise ValueError(
                    f"{features_dir / h5} (track {track_id}) was extracted with different "
                    f"{', '.join(mismatched)} than the other tracks; rerun extract_folder for it"
                )
            values = fit_frames(values, frames).astype(dtype)
            if stats is not None:
                stats.update(values)
            if view is None:
                x[row] = values
        _write_labels(handle, rows, genres)
        handle.attrs.update(attrs)


def _write_labels(handle: h5py.File, rows: pd.DataFrame, genres: list[str]) -> None:
    """The small per-track arrays of a split's pack (or view)."""
    handle.create_dataset("y", data=rows["label"].to_numpy(dtype=np.int64))
    handle.create_dataset("y_multi", data=_multi_hot(rows, genres))
    handle.create_dataset("track_id", data=rows["track_id"].to_numpy(dtype=np.int64))
    handle.create_dataset("year", data=rows["year"].to_numpy(dtype=np.float32, na_value=np.nan))


def pack_view(
    splits_tsv: str | os.PathLike,
    genres_tsv: str | os.PathLike,
    source_paths: list[str | os.PathLike],
    out_paths: dict[str, str | os.PathLike],
) -> int:
    """Packs of the split table ``splits_tsv`` as views of the packs ``source_paths`` (see the
    module docstring): the same arrays, labels and statistics :func:`pack_dataset` would write for
    that table at the sources' frame count, without copying ``x``. Returns the frame count."""
    tracks = read_tsv(splits_tsv, dtype={"folder": str}).sort_values("track_id")
    if not (tracks["split"] == "training").any():
        raise ValueError(f"{splits_tsv} has no training tracks: normalisation needs some")
    genres = read_tsv(genres_tsv).sort_values("label")["genre"].tolist()
    where = {}
    for number, path in enumerate(source_paths):
        with h5py.File(path, "r") as handle:
            if "view_of" in handle.attrs:
                raise ValueError(f"{path} is a view itself; make views of packs only")
            attrs = {k: v for k, v in handle.attrs.items() if k != "tracks_in"}
            ids = handle["track_id"][()]
        where.update({int(t): (number, row) for row, t in enumerate(ids)})
    missing = [int(t) for t in tracks["track_id"] if int(t) not in where]
    if missing:
        raise ValueError(
            f"{len(missing)} tracks of {splits_tsv} are in none of {[str(p) for p in source_paths]}"
            f" (first: {missing[:5]}); fix: rerun pack_dataset after the splits checkpoint"
        )
    if json.loads(attrs["genres"]) != genres:
        raise ValueError(f"{source_paths[0]} holds other genres than {genres_tsv}; rerun its pack")
    with contextlib.ExitStack() as stack:
        tmps = _split_temps(stack, out_paths)
        for split in SPLITS:
            rows = tracks[tracks["split"] == split]
            pairs = np.array([where[int(t)] for t in rows["track_id"]], dtype=np.int64)
            pairs = pairs.reshape(len(rows), 2)
            folder = Path(out_paths[split]).parent
            view_of = [
                os.path.relpath(Path(path).resolve(), folder.resolve()) for path in source_paths
            ]
            with h5py.File(tmps[split], "w") as handle:
                handle.create_dataset("source", data=pairs[:, 0].astype(np.uint8))
                handle.create_dataset("row", data=pairs[:, 1])
                _write_labels(handle, rows, genres)
                handle.attrs.update({**attrs, "view_of": json.dumps(view_of)})
        # in track order, as pack_dataset accumulates them: the same float64 sums, the same stats
        training = PackArray(tmps["training"])
        stats = _BandStats(training.shape[1])
        progress = tqdm(total=len(training), desc="view statistics", unit="track", mininterval=5)
        for _, chunk in iter_chunks(training, 64):
            for values in chunk:
                stats.update(values)
            progress.update(len(chunk))
        progress.close()
        _write_stats(tmps.values(), *stats.result())
    log.info(
        "packed %s as views of %s: %s",
        attrs["feature_set"],
        ", ".join(str(p) for p in source_paths),
        ", ".join(f"{split} {int((tracks['split'] == split).sum())}" for split in SPLITS),
    )
    return int(attrs["frames"])


def _write_stats(paths, mean: np.ndarray, std: np.ndarray) -> None:
    for path in paths:
        with h5py.File(path, "a") as handle:
            handle.create_dataset("mean", data=mean)
            handle.create_dataset("std", data=std)


# ---- reading -------------------------------------------------------------------------------------


def memory_budget_mb(setting: float | None = None) -> float:
    """``training.memory_budget_mb``, or when null half of the memory this process may use.

    That is the smallest of the machine's available memory, the cgroup limit (containers) and
    the SLURM job's allocation (``SLURM_MEM_PER_NODE``), so a job sized by the profile's mem_mb
    decides by what it was given, not by the node's size.
    """
    if setting is not None:
        return float(setting)
    limits = []
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) / 1024)
    with contextlib.suppress(OSError, ValueError):
        limits.append(int(Path("/sys/fs/cgroup/memory.max").read_text()) / 2**20)
    with contextlib.suppress(KeyError, ValueError):
        limits.append(float(os.environ["SLURM_MEM_PER_NODE"]))
    if not limits:
        limits.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20)
    return min(limits) / 2


class PackArray:
    """A pack's ``x`` [N, C, T] on disk (in the pack, its view's sources, or a track view's
    per-track files), read on demand as float32.

    Indexing (an int, a slice, or :meth:`rows` for any index array) reads only those tracks.
    Worker-safe: the HDF5 handle is opened lazily in each process (HDF5 handles must not cross a
    fork), and a pickled copy carries only the path.
    """

    def __init__(self, path: str | os.PathLike, index: np.ndarray | None = None):
        self.path = Path(path)
        # a view's source packs and (source, row) per track; a track view's per-track files
        self.sources, self.source_rows, self.tracks = None, None, None
        with h5py.File(self.path, "r") as handle:
            if "tracks_in" in handle.attrs:
                folder = self.path.parent / handle.attrs["tracks_in"]
                self.tracks = [folder / h5 for h5 in handle["h5"].asstr()[()]]
                bands = json.loads(handle.attrs["bands"])
                self.features = tuple(name for name, _ in bands)
                self.shape = (
                    len(self.tracks),
                    sum(n for _, n in bands),
                    int(handle.attrs["frames"]),
                )
                self.stored_dtype = np.dtype(handle.attrs["dtype"])
            elif "view_of" in handle.attrs:
                names = json.loads(handle.attrs["view_of"])
                self.sources = [PackArray(self.path.parent / name) for name in names]
                self.source_rows = np.stack([handle["source"][()], handle["row"][()]], axis=1)
                self.shape = (len(self.source_rows), *self.sources[0].shape[1:])
                self.stored_dtype = self.sources[0].stored_dtype
            else:
                self.shape = tuple(handle["x"].shape)
                self.stored_dtype = handle["x"].dtype
        # a row map into the file's tracks (a subset still on disk), or None for all of them
        self.index = None if index is None else np.asarray(index, dtype=np.int64)
        if self.index is not None:
            self.shape = (len(self.index), *self.shape[1:])
        self._handle, self._pid = None, None

    def subset(self, keep: np.ndarray) -> PackArray:
        """The tracks where boolean ``keep`` is true, still read on demand."""
        rows = np.flatnonzero(np.asarray(keep, dtype=bool))
        return PackArray(self.path, rows if self.index is None else self.index[rows])

    @property
    def nbytes(self) -> int:
        """Bytes of ``x`` as float32 (what holding it in memory would take)."""
        return int(np.prod(self.shape)) * 4

    def __len__(self) -> int:
        return self.shape[0]

    def _x(self) -> h5py.Dataset:
        if self._pid != os.getpid():
            self._handle, self._pid = h5py.File(self.path, "r"), os.getpid()
        return self._handle["x"]

    def __getitem__(self, key) -> np.ndarray:
        """``x[i]``, ``x[a:b]`` or ``x[index array]``, as numpy indexes an in-memory pack."""
        if isinstance(key, slice):
            return self.rows(range(*key.indices(len(self))))
        if np.ndim(key) == 0:
            return self.rows([key])[0]
        key = np.asarray(key)
        return self.rows(np.flatnonzero(key) if key.dtype == bool else key)

    def rows(self, index, out: np.ndarray | None = None) -> np.ndarray:
        """x[index] [len(index), C, T] for any index array (repeats and order kept), as float32;
        or read into ``out`` of the stored dtype (``stored_dtype``), which is returned: a caller
        may then convert faster than numpy (its float16 -> float32 cast takes 0.09 ms per mfcc
        track, torch's 0.02) and into buffers it reuses.

        One read per track (one chunk each): h5py's fancy and multi-chunk selections are 5-20x
        slower per track than single-chunk reads, and ``read_direct`` into a row of ``out`` 25x
        (0.31 vs 0.012 ms per mfcc track, then a 0.003 ms copy).
        """
        index = np.asarray(index, dtype=np.int64)
        if self.index is not None:
            index = self.index[index]
        stored = (
            out if out is not None else np.empty((len(index), *self.shape[1:]), self.stored_dtype)
        )
        if self.tracks is not None:
            for row, track in enumerate(index):
                values = read_track(self.tracks[track], self.features, with_attrs=False)[0]
                stored[row] = fit_frames(values, self.shape[2])
        elif self.sources is not None:
            for row, (source, track) in enumerate(self.source_rows[index]):
                self.sources[source].rows([track], out=stored[row : row + 1])
        else:
            x = self._x()
            for row, track in enumerate(index):
                stored[row] = x[track]
        return stored if out is not None else stored.astype(np.float32, copy=False)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_handle": None, "_pid": None}


def iter_chunks(x, rows: int) -> Iterator[tuple[int, np.ndarray]]:
    """(start, x[start:start + rows] as float32) over an in-memory array or a :class:`PackArray`."""
    for start in range(0, len(x), rows):
        yield start, np.asarray(x[start : start + rows], dtype=np.float32)


def gather(x, index, transform, rows: int = 256) -> np.ndarray:
    """``transform(x[index])`` read ``rows`` tracks at a time from ``x`` (in memory or a
    :class:`PackArray`): peak memory is the result plus one chunk, not the tracks as stored
    (``transform`` may crop them)."""
    index = np.asarray(index, dtype=np.int64)
    parts = [
        transform(np.asarray(x[index[start : start + rows]], dtype=np.float32))
        for start in range(0, len(index), rows)
    ]
    return np.concatenate(parts) if parts else transform(np.asarray(x[index], np.float32))


def band_extremes(x, transform, rows: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Per-band min and max of ``transform(x)`` over all tracks and frames of ``x`` [N, C, T] (in
    memory or a :class:`PackArray`), one chunk of ``rows`` tracks at a time: the numbers the
    whole array gives, in the memory of one chunk. ``transform`` maps a float32 chunk elementwise
    per band (e.g. the model's normalisation)."""
    lo = np.full(x.shape[1], np.inf, dtype=np.float32)
    hi = np.full(x.shape[1], -np.inf, dtype=np.float32)
    for _, chunk in iter_chunks(x, rows):
        z = transform(chunk)
        np.minimum(lo, z.min(axis=(0, 2)), out=lo)
        np.maximum(hi, z.max(axis=(0, 2)), out=hi)
    return lo, hi


def sample_windows(x, frames: int, limit: int, seed: int) -> np.ndarray:
    """At most ``limit`` consecutive windows [L, C, frames] of the tracks of ``x`` [N, C, T].

    Window j of track i is window ``i * (T // frames) + j``; more than ``limit`` windows are a
    seeded sample of them, in window order. Only the tracks holding chosen windows are read, so a
    streamed :class:`PackArray` costs at most ``limit`` tracks of memory.
    """
    count = x.shape[2] // frames
    total = len(x) * count
    chosen = np.arange(total)
    if total > limit:
        chosen = np.sort(np.random.default_rng(seed).choice(total, limit, replace=False))
    if not chosen.size:
        return np.zeros((0, x.shape[1], frames), dtype=np.float32)
    tracks, window = np.divmod(chosen, count)
    unique, local = np.unique(tracks, return_inverse=True)
    held = np.asarray(x[unique], dtype=np.float32)
    starts = window * frames
    return np.stack([held[i, :, s : s + frames] for i, s in zip(local, starts)])


def read_pack(
    path: str | os.PathLike, in_memory: bool = True, require: tuple = ("x", "track_id")
) -> dict:
    """One packed split: ``x`` (float32 numpy, or a :class:`PackArray` when not ``in_memory``), the
    small arrays it has (``y``, ``y_multi``, ``track_id``, ``year``, ``mean``, ``std``; those in
    ``require`` must be there), the parsed ``genres``, ``bands``, ``feature_set``, ``params`` and
    the raw ``attrs``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: packed dataset missing. Fix: run the pack_dataset rule.")
    with h5py.File(path, "r") as handle:
        views = {"view_of", "tracks_in"} & set(handle.attrs)
        missing = set(require) - set(handle) - ({"x"} if views else set())
        if missing:
            raise ValueError(
                f"{path}: packed dataset lacks {sorted(missing)}. Fix: rerun pack_dataset."
            )
        attrs = dict(handle.attrs)
        pack = {key: handle[key][()] for key in SMALL_ARRAYS if key in handle}
    pack["x"] = PackArray(path)
    if in_memory:
        pack["x"] = pack["x"][:]
    pack["attrs"] = attrs
    pack["genres"] = json.loads(attrs["genres"])
    pack["bands"] = json.loads(attrs["bands"])
    pack["feature_set"] = str(attrs["feature_set"])
    pack["params"] = {key: int(attrs[key]) for key in PARAM_ATTRS}
    return pack


def fits_in_memory(paths, budget_mb: float | None = None) -> bool:
    """Whether the splits at ``paths`` fit the memory budget in memory (float32, two copies)."""
    need = sum(PackArray(path).nbytes * IN_MEMORY_COPIES for path in paths)
    budget = memory_budget_mb(budget_mb)
    fits = need <= budget * 2**20
    log.info(
        "packs need %.0f MB in memory, budget %.0f MB: %s",
        need / 2**20,
        budget,
        "in memory" if fits else "streamed from disk",
    )
    return fits


def read_packs(
    datasets: dict[str, str], budget_mb: float | None = None, require: tuple = ("x", "track_id")
) -> dict[str, dict]:
    """Every split by :func:`read_pack`: all in memory when they fit the budget, else streamed."""
    in_memory = fits_in_memory(datasets.values(), budget_mb)
    return {split: read_pack(path, in_memory, require) for split, path in datasets.items()}
