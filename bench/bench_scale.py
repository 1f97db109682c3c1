"""Bounded memory at scale: packs of N and 4N tracks, one training epoch and one scoring pass each.

Random per-track features (no audio) are written with the real writer and packed with the real
``pack_dataset``; then each measurement runs in a fresh process (its peak RSS is its own
``ru_maxrss``): the default config's li2010 model on the mfcc pack, 1 torch thread, one epoch of
``fit`` over the training split and one ``predict`` pass over all three splits, the packs either in
memory (the fast path) or streamed from disk (``training.memory_budget_mb`` below their size).

Targets (issue 14): streamed peak RSS at 4N <= 1.25 x at N; streamed training samples/s >= 0.8 x
in-memory samples/s at N. The in-memory run at 4N is shown for contrast (it grows with N).
Run: ``.venv/bin/python bench/bench_scale.py``. Last line: one JSON object (bench/run_all.py).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))
os.environ.setdefault("TQDM_DISABLE", "1")

import torch  # noqa: E402

from fmagenre.config import validate_config  # noqa: E402
from fmagenre.data.loader import make_split  # noqa: E402
from fmagenre.data.metadata import SPLITS  # noqa: E402
from fmagenre.data.pack import pack_dataset, read_packs  # noqa: E402
from fmagenre.features.extract import FeatureParams  # noqa: E402
from fmagenre.features.store import write_track  # noqa: E402
from fmagenre.io import write_tsv  # noqa: E402
from fmagenre.models.train import fit, predict, seed_everything  # noqa: E402
from fmagenre.models.zoo import build_model  # noqa: E402

# N large enough that prediction reads full 256-track chunks at N too (the chunk size is fixed).
N, FRAMES, GENRES, MODEL = 1000, 1292, 8, "li2010"
PARAMS = FeatureParams(n_mels=16)  # small mel: the mfcc pack is what is measured
STREAMED_BUDGET_MB = 1.0


def write_dataset(root: Path, n: int) -> dict[str, Path]:
    """n tracks of random features in per-track HDF5 files, packed as mfcc; returns the packs."""
    rng = np.random.default_rng(n)
    manifest, rows = [], []
    for track_id in range(n):
        features = {
            name: rng.gamma(2.0, 2.0, size=(bands, FRAMES)).astype(np.float32)
            for name, bands in PARAMS.bands().items()
        }
        h5 = f"{track_id // 1000:03d}/{track_id:06d}.h5"
        write_track(root / "features" / h5, features, {**PARAMS.attrs(), "frames": FRAMES}, PARAMS)
        manifest.append({"track_id": track_id, "h5": h5, "frames": FRAMES})
        split = {8: "validation", 9: "test"}.get(track_id % 10, "training")
        rows.append(
            {
                "track_id": track_id,
                "split": split,
                "genre_top": f"g{track_id % GENRES}",
                "label": track_id % GENRES,
                "year": 2000,
                "genres_all": "",
                "folder": h5[:3],
            }
        )
    write_tsv(root / "manifest.tsv", pd.DataFrame(manifest))
    write_tsv(root / "tracks.tsv", pd.DataFrame(rows))
    genres = pd.DataFrame({"label": range(GENRES), "genre": [f"g{i}" for i in range(GENRES)]})
    write_tsv(root / "genres.tsv", genres)
    packs = {split: root / "datasets" / f"{split}.h5" for split in SPLITS}
    return packs


def model_spec() -> dict:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    validate_config(config)
    return {**config["training"], **config["models"][MODEL], "name": MODEL, "epochs": 1}


def measure(packs: dict, budget_mb: float | None) -> dict:
    """One epoch of training and one scoring pass in this process; samples/s and peak RSS."""
    spec = {**model_spec(), "memory_budget_mb": budget_mb}
    device = torch.device("cpu")
    seed_everything(0, device, 1)
    loaded = read_packs({split: str(path) for split, path in packs.items()}, budget_mb)
    train = loaded["training"]
    data = {s: make_split(p, train["mean"], train["std"], device) for s, p in loaded.items()}
    _, channels, frames = data["training"].shape
    model = build_model(spec, channels, frames, GENRES)
    start = time.perf_counter()
    fit(model, data["training"], spec, frames, lambda model, row: (0.0, False))
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    scored = sum(len(predict(model, split, frames, False)[0]) for split in data.values())
    score_s = time.perf_counter() - start
    return {
        "streamed": not isinstance(train["x"], np.ndarray),
        "train_samples_per_s": data["training"].shape[0] / train_s,
        "score_tracks_per_s": scored / score_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def pack_step(root: Path) -> dict:
    """pack_dataset of the mfcc set in this process: seconds and peak RSS."""
    start = time.perf_counter()
    packs = {split: root / "datasets" / f"{split}.h5" for split in SPLITS}
    pack_dataset(
        root / "tracks.tsv",
        root / "genres.tsv",
        [root / "manifest.tsv"],
        root / "features",
        "mfcc",
        None,
        packs,
    )
    return {
        "pack_s": time.perf_counter() - start,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child(*args: str) -> dict:
    """Run this file with ``args`` in a fresh process; its last output line is a JSON result."""
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(result.stderr[-4000:])
    return json.loads(result.stdout.splitlines()[-1])


def main() -> None:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (N, 4 * N):
            root = Path(tmp) / str(n)
            packs = write_dataset(root, n)
            pack = child("pack", str(root))
            size_mb = sum(path.stat().st_size for path in packs.values()) / 2**20
            results[n] = {
                "pack": pack,
                "pack_mb_on_disk": size_mb,
                "memory": child("measure", str(root), "null"),
                "streamed": child("measure", str(root), str(STREAMED_BUDGET_MB)),
            }
    small, large = results[N], results[4 * N]
    rss_ratio = large["streamed"]["peak_rss_mb"] / small["streamed"]["peak_rss_mb"]
    speed_ratio = small["streamed"]["train_samples_per_s"] / small["memory"]["train_samples_per_s"]
    pack_rss_ratio = large["pack"]["peak_rss_mb"] / small["pack"]["peak_rss_mb"]
    print(f"{MODEL} on mfcc packs [{PARAMS.n_mfcc} x {FRAMES}], 1 epoch + 1 scoring pass, 1 thread")
    print(f"{'tracks':>8} {'mode':>9} {'train/s':>9} {'score/s':>9} {'peak RSS MB':>12}")
    for n, row in results.items():
        for mode in ("memory", "streamed"):
            r = row[mode]
            print(
                f"{n:8d} {mode:>9} {r['train_samples_per_s']:9.0f} {r['score_tracks_per_s']:9.0f}"
                f" {r['peak_rss_mb']:12.0f}"
            )
        print(
            f"{n:8d} {'packing':>9} {row['pack']['pack_s']:8.1f}s {'':>9} "
            f"{row['pack']['peak_rss_mb']:12.0f}   ({row['pack_mb_on_disk']:.0f} MB on disk)"
        )
    print(
        f"streamed peak RSS 4N/N = {rss_ratio:.3f} (target <= 1.25); packing 4N/N = "
        f"{pack_rss_ratio:.3f}; streamed/in-memory samples/s at N = {speed_ratio:.2f} "
        "(target >= 0.8)"
    )
    summary = {
        "n": N,
        "results": {str(n): row for n, row in results.items()},
        "streamed_rss_ratio_4n_over_n": rss_ratio,
        "pack_rss_ratio_4n_over_n": pack_rss_ratio,
        "streamed_over_memory_samples_per_s": speed_ratio,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "pack":
        print(json.dumps(pack_step(Path(sys.argv[2]))))
    elif len(sys.argv) > 1 and sys.argv[1] == "measure":
        root, budget = Path(sys.argv[2]), sys.argv[3]
        packs = {split: root / "datasets" / f"{split}.h5" for split in SPLITS}
        print(json.dumps(measure(packs, None if budget == "null" else float(budget))))
    else:
        main()
