"""Feature extraction speed per 30 s, 44.1 kHz stereo MP3 clip, side by side in one run.

(a) naive: ``librosa.load`` then ``mfcc(y=)``, ``chroma_stft(y=)``, ``tonnetz(y=, chroma=chroma_stft(y=))``
    and ``melspectrogram(y=)``, each from the signal (four STFTs, chroma twice);
(b) ours: the shared decoder + ``compute_features`` (one STFT);
(c) floor: decoding + resampling alone.
Extra line: the literal ``tonnetz(y=)``, which builds chroma from a CQT instead.
Then tracks/s of a whole folder job (``extract_folder``), fresh and rerun (cached), and the storage
per track (issue 14): each feature's compressed bytes in the per-track HDF5, the whole file, and the
packs of the default config's feature sets (the mel set's is a track view: labels and file names,
no copy), for ``features.dtype`` float16 (default) and float32.

Targets (issue 3): a/b >= 3 and b/c <= 1.5, same outputs. Clips are generated with LAME in a temp
dir; the folder job uses copies of them. Run: ``.venv/bin/python bench/bench_features.py``.
Last line: one JSON object (collected by bench/run_all.py).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
os.environ.setdefault("TQDM_DISABLE", "1")  # keep the folder job's progress bar out of the table

from fmagenre.data.audio import decode, encode_mp3
from fmagenre.data.metadata import SPLITS
from fmagenre.data.pack import pack_dataset
from fmagenre.data.validate import ValidationParams
from fmagenre.features.extract import FEATURES, FeatureParams, compute_features
from fmagenre.features.store import extract_folder
from fmagenre.io import write_tsv
from fmagenre.librosa_cache import librosa

SR_IN, SECONDS = 44100, 30.0
N_CLIPS, REPS, FOLDER_TRACKS = 4, 3, 40
PARAMS = FeatureParams()
DEFAULT_PACKS = ("mfcc", "mfcc+chroma+tonnetz", "mel")  # the feature sets config/config.yaml trains
MB = 1e6


def music(seed: int) -> np.ndarray:
    """30 s of stereo 'music': a chord progression with harmonics, a beat, noise and stereo delay."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SECONDS * SR_IN)) / SR_IN
    root = 110 * 2 ** (rng.integers(0, 24) / 12)
    chords = root * 2 ** (rng.choice([0, 3, 4, 7, 10, 12], size=(int(SECONDS // 2) + 1, 3)) / 12)
    bar = (t // 2).astype(int)
    y = np.zeros_like(t)
    for voice in range(3):
        phase = 2 * np.pi * np.cumsum(chords[bar, voice]) / SR_IN
        y += sum(0.12 / h * np.sin(h * phase) for h in range(1, 6))
    y += 0.3 * (np.mod(t, 0.5) < 0.05) * rng.standard_normal(t.size) + 0.01 * rng.standard_normal(
        t.size
    )
    y = np.stack([y, np.roll(y, int(0.01 * SR_IN))], axis=1)
    return 0.8 * y / np.abs(y).max()


def naive(path: Path) -> dict:
    y, sr = librosa.load(path, sr=PARAMS.sr)
    return {
        "mfcc": librosa.feature.mfcc(y=y, sr=sr, n_mfcc=PARAMS.n_mfcc),
        "chroma": librosa.feature.chroma_stft(y=y, sr=sr),
        "tonnetz": librosa.feature.tonnetz(
            y=y, sr=sr, chroma=librosa.feature.chroma_stft(y=y, sr=sr)
        ),
        "mel": librosa.feature.melspectrogram(y=y, sr=sr, n_mels=PARAMS.n_mels),
    }


def naive_cqt_tonnetz(path: Path) -> np.ndarray:
    y, sr = librosa.load(path, sr=PARAMS.sr)
    return librosa.feature.tonnetz(y=y, sr=sr)


def ours(path: Path) -> dict:
    y, _ = decode(path, PARAMS.sr)
    return compute_features(y, PARAMS)


def floor(path: Path) -> np.ndarray:
    return decode(path, PARAMS.sr)[0]


def timed(function, path: Path) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(path)
    return time.perf_counter() - start, result


def check_same(a: dict, b: dict) -> None:
    np.testing.assert_allclose(b["mel"], a["mel"], rtol=1e-4, atol=1e-6 * a["mel"].max())
    np.testing.assert_allclose(b["mfcc"], a["mfcc"], rtol=0, atol=1e-3)
    np.testing.assert_allclose(b["chroma"], a["chroma"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(b["tonnetz"], a["tonnetz"], rtol=0, atol=1e-5)


def run_folder(work: Path, params: FeatureParams, out: str) -> float:
    """extract_folder over the copied clips into ``work/out``; returns tracks/s."""
    start = time.perf_counter()
    counts = extract_folder(
        list(range(FOLDER_TRACKS)),
        work / "audio",
        work / out / "features",
        "000",
        params,
        ValidationParams(),
        work / out / "validation.tsv",
        work / out / "000" / "manifest.tsv",
    )
    assert counts["ok"] == FOLDER_TRACKS, counts
    return FOLDER_TRACKS / (time.perf_counter() - start)


def folder_job(clips: list[Path], work: Path) -> tuple[float, float]:
    """tracks/s of extract_folder over FOLDER_TRACKS copies of the clips: fresh, then rerun."""
    audio = work / "audio" / "000"
    audio.mkdir(parents=True)
    for i in range(FOLDER_TRACKS):
        shutil.copy(clips[i % len(clips)], audio / f"{i:06d}.mp3")
    return run_folder(work, PARAMS, "float16"), run_folder(work, PARAMS, "float16")


def storage(work: Path, dtype: str) -> dict:
    """MB per track: each feature in the per-track HDF5, whole files, the default packs, total."""
    out = work / dtype
    if not (out / "features").is_dir():
        run_folder(work, FeatureParams(dtype=dtype), dtype)
    files = sorted((out / "features" / "000").glob("*.h5"))
    result = {f"{name}_mb": 0.0 for name in FEATURES}
    for path in files:
        with h5py.File(path, "r") as handle:
            for name in FEATURES:
                result[f"{name}_mb"] += handle[name].id.get_storage_size() / MB / len(files)
    result["track_file_mb"] = sum(path.stat().st_size for path in files) / MB / len(files)
    splits = pd.DataFrame(
        {
            "track_id": range(FOLDER_TRACKS),
            "split": [
                {8: "validation", 9: "test"}.get(i % 10, "training") for i in range(FOLDER_TRACKS)
            ],
            "genre_top": "Rock",
            "label": 0,
            "year": 2000,
            "genres_all": "Rock",
            "folder": "000",
        }
    )
    write_tsv(out / "splits.tsv", splits)
    write_tsv(out / "genres.tsv", pd.DataFrame({"label": [0], "genre": ["Rock"]}))
    for feature_set in DEFAULT_PACKS:
        paths = {split: out / "datasets" / feature_set / f"{split}.h5" for split in SPLITS}
        pack_dataset(
            out / "splits.tsv",
            out / "genres.tsv",
            [out / "000" / "manifest.tsv"],
            out / "features",
            feature_set,
            None,
            paths,
        )
        size = sum(path.stat().st_size for path in paths.values())
        result[f"pack_{feature_set}_mb"] = size / MB / FOLDER_TRACKS
    result["total_mb"] = result["track_file_mb"] + sum(
        result[f"pack_{feature_set}_mb"] for feature_set in DEFAULT_PACKS
    )
    return result


def main() -> None:
    warnings.simplefilter("ignore")
    logging.disable(logging.INFO)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clips = []
        for seed in range(N_CLIPS):
            clips.append(work / f"clip{seed}.mp3")
            encode_mp3(clips[-1], music(seed), SR_IN)
        for function in (naive, ours, floor, naive_cqt_tonnetz):  # numba JIT, lazy imports, caches
            function(clips[0])
        samples = {"a": [], "b": [], "c": [], "a_cqt": []}
        for rep in range(REPS):
            for clip in clips:
                t_a, ref = timed(naive, clip)
                t_b, got = timed(ours, clip)
                t_c, _ = timed(floor, clip)
                check_same(ref, got)
                samples["a"].append(t_a)
                samples["b"].append(t_b)
                samples["c"].append(t_c)
                if rep == 0:  # slow: one repetition per clip
                    samples["a_cqt"].append(timed(naive_cqt_tonnetz, clip)[0])
        fresh, cached = folder_job(clips, work)
        sizes = {dtype: storage(work, dtype) for dtype in ("float16", "float32")}
    med = {key: statistics.median(values) for key, values in samples.items()}
    result = {
        "clips": N_CLIPS,
        "repetitions": REPS,
        "naive_ms": 1e3 * med["a"],
        "ours_ms": 1e3 * med["b"],
        "floor_ms": 1e3 * med["c"],
        "naive_cqt_tonnetz_ms": 1e3 * med["a_cqt"],
        "naive_over_ours": med["a"] / med["b"],
        "ours_over_floor": med["b"] / med["c"],
        "folder_tracks_per_s": fresh,
        "folder_rerun_tracks_per_s": cached,
        "folder_tracks": FOLDER_TRACKS,
        "cpu_count": os.cpu_count(),
        "storage_mb_per_track": sizes,
    }
    print(f"per 30 s 44.1 kHz stereo MP3 clip, median of {N_CLIPS} clips x {REPS} runs:")
    print(f"  (a) naive librosa            {result['naive_ms']:8.1f} ms")
    print(f"  (b) ours                     {result['ours_ms']:8.1f} ms")
    print(f"  (c) floor (decode+resample)  {result['floor_ms']:8.1f} ms")
    print(
        f"  extra: librosa.load + literal tonnetz(y=) (chroma_cqt) alone "
        f"{result['naive_cqt_tonnetz_ms']:8.1f} ms ({N_CLIPS} clips x 1 run)"
    )
    print(
        f"  a/b = {result['naive_over_ours']:.2f} (target >= 3)   "
        f"b/c = {result['ours_over_floor']:.2f} (target <= 1.5); outputs allclose: yes"
    )
    print(
        f"folder job, {FOLDER_TRACKS} tracks, 1 thread: {fresh:.1f} tracks/s fresh, "
        f"{cached:.1f} tracks/s rerun (all cached)"
    )
    print(
        f"storage per 30 s track in MB (extractor/decode floor = {result['ours_over_floor']:.2f}):"
    )
    for dtype, row in sizes.items():
        print(f"  {dtype}: " + ", ".join(f"{key[:-3]} {value:.3f}" for key, value in row.items()))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
