"""The judge in the pipeline: musicnn tags and embeddings per track and per written WAV.

One job per audio folder (like the features) writes ``results/judge/{folder}/{track_id:06d}.h5`` for
every ``ok`` track: ``taggram`` [patches, 50], ``penultimate`` [patches, 200] and ``musicnn``
[400, 1] (the per-track mean and max over patches of the penultimate layer: the packed feature set
``musicnn``, one "frame"), plus ``manifest.tsv`` in the features' format so that
:func:`fmagenre.data.pack.pack_dataset` packs it like the other sets. A rerun skips tracks whose
file matches the source (size, mtime, else sha256), the weights, ``max_patches`` and the judge code.
Tracks are decoded one by one; their patches go through the network in batches spanning tracks.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from tqdm import tqdm

from fmagenre.data.audio import decode
from fmagenre.data.metadata import audio_path
from fmagenre.fingerprint import code_fingerprint
from fmagenre.io import atomic_path, read_tsv, sha256_file, write_tsv
from fmagenre.judge import musicnn

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ["track_id", "h5", "frames", "content"]
FEATURE = "musicnn"
# Attributes the packs copy from a track file (pack.PARAM_ATTRS); n_mfcc does not apply: 0.
PACK_ATTRS = {
    "sr": musicnn.SR,
    "hop_length": musicnn.HOP,
    "n_fft": musicnn.N_FFT,
    "n_mels": musicnn.N_MELS,
    "n_mfcc": 0,
}


def track_feature(penultimate: np.ndarray) -> np.ndarray:
    """The ``musicnn`` feature of one track: [mean over patches; max over patches] as [400, 1]."""
    return np.concatenate([penultimate.mean(axis=0), penultimate.max(axis=0)])[:, None]


def _valid(h5_path: Path, source: Path, expected: dict) -> str | None:
    """The stored source sha256 when ``h5_path`` is still valid for ``source``, else None."""
    if not h5_path.is_file():
        return None
    try:
        with h5py.File(h5_path, "r") as handle:
            attrs = dict(handle.attrs)
    except OSError as error:
        log.warning("%s is unreadable (%s); recomputing it", h5_path, error)
        return None
    if any(attrs.get(key) != value for key, value in expected.items()):
        return None
    stat = source.stat()
    if int(attrs["source_size"]) != stat.st_size:
        return None
    touched = int(attrs["source_mtime_ns"]) != stat.st_mtime_ns
    if touched and str(attrs["source_sha256"]) != sha256_file(source):
        return None
    return str(attrs["source_sha256"])


def _content_id(expected: dict, source_sha256: str) -> str:
    key = ":".join(f"{k}={expected[k]}" for k in sorted(expected)) + f":{source_sha256}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def judge_folder(
    validation_tsv: str | os.PathLike,
    audio_dir: str | os.PathLike,
    judge_dir: str | os.PathLike,
    folder: str,
    model: str,
    weights_dir: str | os.PathLike,
    manifest_out: str | os.PathLike,
    batch_patches: int = 64,
    max_patches: int | None = None,
) -> dict:
    """Tag and embed every ``ok`` track of one folder's validation table; return counts.

    ``max_patches`` (None = all) keeps only each track's central patches (config judge.max_patches).
    """
    table = read_tsv(validation_tsv)
    ok = table.loc[table["status"] == "ok"].sort_values("track_id")
    net, _ = musicnn.load(model, weights_dir)
    expected = _expected_attrs(model, Path(weights_dir) / f"{model}.pt", max_patches)
    judge_dir, audio_dir = Path(judge_dir), Path(audio_dir)
    batches = _PatchBatches(net, batch_patches)
    cached = []
    for track_id in tqdm(ok["track_id"].astype(int), desc=f"judge {folder}", unit="track"):
        source = audio_dir / audio_path(track_id)
        h5_path = judge_dir / folder / f"{track_id:06d}.h5"
        sha = _valid(h5_path, source, expected)
        if sha is not None:
            cached.append((track_id, sha))
            continue
        stat = source.stat()
        signal, _ = decode(source, sr=musicnn.SR)
        source_attrs = {
            "source_size": stat.st_size,
            "source_mtime_ns": stat.st_mtime_ns,
            "source_sha256": sha256_file(source),
        }
        batch = musicnn.patches(musicnn.logmel(signal, musicnn.SR), max_patches)
        batches.add(track_id, h5_path, {**expected, **PACK_ATTRS, **source_attrs}, batch)
    batches.flush()
    manifest = pd.DataFrame(
        [
            (tid, f"{folder}/{tid:06d}.h5", 1, _content_id(expected, sha))
            for tid, sha in sorted(cached + batches.written)
        ],
        columns=MANIFEST_COLUMNS,
    )
    write_tsv(manifest_out, manifest)
    counts = {"cached": len(cached), "computed": len(batches.written)}
    log.info("folder %s: %d judged, %d cached", folder, counts["computed"], counts["cached"])
    return counts


def _expected_attrs(model: str, weights: Path, max_patches: int | None) -> dict:
    """What a stored track file must match to be reused: model, weights, judge code, patches."""
    return {
        "model": model,
        "weights_sha256": sha256_file(weights),
        # an edit to the decoder or the judge re-judges every track (I/O-only edits do not)
        "code": code_fingerprint(__name__, exclude=("fmagenre.io",)),
        "max_patches": -1 if max_patches is None else max_patches,  # HDF5 attrs cannot be None
    }


class _PatchBatches:
    """Patches of pending tracks, run through the net in batches spanning tracks; each track's
    layers are written to its file as soon as its batch has run (``written``: (id, sha256))."""

    def __init__(self, net, batch_patches: int):
        self.net, self.batch_patches = net, batch_patches
        self.pending: list[tuple] = []
        self.written: list[tuple[int, str]] = []

    def add(self, track_id: int, h5_path: Path, attrs: dict, batch: np.ndarray) -> None:
        self.pending.append((track_id, h5_path, attrs, batch))
        if sum(len(p) for *_, p in self.pending) >= self.batch_patches:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        out = musicnn.run_patches(
            self.net,
            np.concatenate([p for *_, p in self.pending]),
            ("taggram", "penultimate"),
            self.batch_patches,
        )
        start = 0
        for track_id, h5_path, attrs, batch in self.pending:
            stop = start + len(batch)
            _write_judged(h5_path, {name: out[name][start:stop] for name in out}, attrs)
            self.written.append((track_id, attrs["source_sha256"]))
            start = stop
        self.pending.clear()


def _write_judged(h5_path: Path, layers: dict[str, np.ndarray], attrs: dict) -> None:
    """One track's judge file: its layers per patch, the packed ``musicnn`` feature, attributes."""
    with atomic_path(h5_path) as tmp, h5py.File(tmp, "w") as handle:
        for name, value in layers.items():
            handle.create_dataset(name, data=value)
        handle.create_dataset(FEATURE, data=track_feature(layers["penultimate"]))
        handle.attrs.update(attrs)


def judge_tracks(
    manifest_tsvs: list[str | os.PathLike], model: str, weights_dir, out_tsv: str | os.PathLike
) -> pd.DataFrame:
    """``results/judge/tracks.tsv``: track_id + each tag's mean probability over the patches."""
    tags = musicnn.load(model, weights_dir)[1]
    rows = []
    for manifest_tsv in manifest_tsvs:
        judge_dir = Path(manifest_tsv).parent.parent
        for h5 in read_tsv(manifest_tsv)["h5"]:
            with h5py.File(judge_dir / h5, "r") as handle:
                rows.append(handle["taggram"][()].mean(axis=0))
    ids = [int(t) for path in manifest_tsvs for t in read_tsv(path)["track_id"]]
    table = pd.DataFrame(np.array(rows).reshape(-1, len(tags)), columns=tags)
    table.insert(0, "track_id", ids)
    table = table.sort_values("track_id")
    write_tsv(out_tsv, table)
    return table


def judge_wavs(
    wavs: list[str | os.PathLike],
    model: str,
    weights_dir,
    out_tsv: str | os.PathLike,
    root: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """``results/judge/audio/{model}.tsv``: one row per WAV, mean tag probabilities; ``wav`` is its
    path relative to ``root`` (else its file name). A folder in ``wavs`` stands for its WAVs (sorted)."""
    files = [
        file
        for entry in map(Path, wavs)
        for file in (sorted(entry.glob("*.wav")) if entry.is_dir() else [entry])
    ]
    tags = musicnn.load(model, weights_dir)[1]
    rows = [musicnn.tag(wav, model, weights_dir).mean(axis=0).to_numpy() for wav in files]
    table = pd.DataFrame(np.array(rows).reshape(-1, len(tags)), columns=tags)
    names = [wav.name if root is None else wav.relative_to(root).as_posix() for wav in files]
    table.insert(0, "wav", names)
    write_tsv(out_tsv, table)
    return table
