"""Packed datasets: layout, labels, training-only statistics, pad/crop policy, bounded streaming."""

from __future__ import annotations

import json
import pickle
import tracemalloc

import h5py
import hdf5plugin
import numpy as np
import pandas as pd
import pytest

from fmagenre.data.pack import (
    PAD_POLICY,
    SPLITS,
    PackArray,
    band_extremes,
    fit_frames,
    fits_in_memory,
    gather,
    iter_chunks,
    memory_budget_mb,
    pack_dataset,
    pack_view,
    read_pack,
    read_packs,
    sample_windows,
)
from fmagenre.features.extract import FeatureParams
from fmagenre.features.store import write_track
from fmagenre.io import write_tsv

PARAMS = FeatureParams(n_mfcc=5, n_mels=16, dtype="float32")
GENRES = ["Hip-Hop", "Old-Time / Historic", "Rock"]


def make_features(root, lengths: dict[int, int], seed=0, params=PARAMS) -> dict[int, dict]:
    """Per-track HDF5 files written by the extractor's writer, with random features of given lengths."""
    rng = np.random.default_rng(seed)
    stored, manifest = {}, []
    for track_id, frames in lengths.items():
        features = {
            name: rng.gamma(2.0, 1.0 + track_id % 7, size=(bands, frames)).astype(np.float32)
            for name, bands in params.bands().items()
        }
        features["mel"][0, :3] = 0.0  # exercises the dB floor
        h5 = f"{track_id // 1000:03d}/{track_id:06d}.h5"
        write_track(root / "features" / h5, features, {**params.attrs(), "frames": frames}, params)
        stored[track_id] = features
        manifest.append({"track_id": track_id, "h5": h5, "frames": frames})
    write_tsv(root / "manifest.tsv", pd.DataFrame(manifest))
    return stored


def make_splits(root, track_ids, splits) -> pd.DataFrame:
    rows = []
    for i, (track_id, split) in enumerate(zip(track_ids, splits)):
        rows.append(
            {
                "track_id": track_id,
                "split": split,
                "genre_top": GENRES[i % 3],
                "label": i % 3,
                "year": 2000 + i if i % 4 else np.nan,
                "genres_all": "|".join(GENRES[: 1 + i % 3]) if i % 5 else GENRES[i % 3],
                "artist_id": i,
                "folder": f"{track_id // 1000:03d}",
            }
        )
    table = pd.DataFrame(rows)
    write_tsv(root / "tracks.tsv", table.sample(frac=1, random_state=1))  # order must not matter
    genres = pd.DataFrame({"label": [2, 0, 1], "genre": [GENRES[2], GENRES[0], GENRES[1]]})
    write_tsv(root / "genres.tsv", genres)
    return table


def pack(root, feature_set, frames=None):
    out = {split: root / "datasets" / feature_set / f"{split}.h5" for split in SPLITS}
    used = pack_dataset(
        root / "tracks.tsv",
        root / "genres.tsv",
        [root / "manifest.tsv"],
        root / "features",
        feature_set,
        frames,
        out,
    )
    return used, out


@pytest.fixture
def dataset(tmp_path):
    lengths = {1002: 100, 1005: 96, 1007: 100, 2001: 130, 2004: 100, 2009: 100, 3000: 61, 3003: 100}
    stored = make_features(tmp_path, lengths)
    table = make_splits(
        tmp_path,
        list(lengths),
        [
            "training",
            "training",
            "validation",
            "training",
            "test",
            "training",
            "validation",
            "test",
        ],
    )
    return tmp_path, stored, table


def expected_x(stored, track_id, features, frames):
    parts = [
        (
            10 * np.log10(np.maximum(stored[track_id][name], 1e-10))
            if name == "mel"
            else stored[track_id][name]
        )
        for name in features
    ]
    return fit_frames(np.concatenate(parts), frames)


@pytest.mark.parametrize(
    "feature_set, features, track_view",
    [("mfcc+chroma+tonnetz", ["mfcc", "chroma", "tonnetz"], False), ("mel", ["mel"], True)],
)
def test_layout_labels_and_training_only_statistics(dataset, feature_set, features, track_view):
    root, stored, table = dataset
    frames, out = pack(root, feature_set)
    assert frames == 100  # the lower median of the frame counts
    channels = sum(PARAMS.bands()[name] for name in features)
    training_x, means = [], []
    for split in SPLITS:
        rows = table[table["split"] == split].sort_values("track_id")
        x = read_pack(out[split])["x"]
        assert x.shape == (len(rows), channels, frames) and x.dtype == np.float32
        with h5py.File(out[split], "r") as handle:
            if (
                track_view
            ):  # the mel spectrogram is not copied: the per-track files, found from here
                assert "x" not in handle
                h5s = [f"{t // 1000:03d}/{t:06d}.h5" for t in rows["track_id"]]
                assert list(handle["h5"].asstr()[()]) == h5s
                folder = (out[split].parent / handle.attrs["tracks_in"]).resolve()
                assert folder == (root / "features").resolve()
            else:
                assert handle["x"].chunks == (1, channels, frames)  # one track per write
            np.testing.assert_array_equal(handle["track_id"][()], rows["track_id"])
            assert handle["y"].dtype == np.int64
            np.testing.assert_array_equal(handle["y"][()], rows["label"])
            np.testing.assert_array_equal(handle["year"][()], rows["year"].to_numpy(np.float32))
            for row, titles in zip(handle["y_multi"][()], rows["genres_all"]):
                assert row.dtype == np.uint8
                assert [GENRES[i] for i in np.flatnonzero(row)] == sorted(
                    titles.split("|"), key=GENRES.index
                )
            for i, track_id in enumerate(rows["track_id"]):
                np.testing.assert_allclose(
                    x[i], expected_x(stored, track_id, features, frames), rtol=1e-6
                )
            attrs = dict(handle.attrs)
            assert attrs["feature_set"] == feature_set and attrs["frames"] == frames
            assert json.loads(attrs["bands"]) == [[name, PARAMS.bands()[name]] for name in features]
            assert json.loads(attrs["genres"]) == GENRES
            assert attrs["pad_policy"] == PAD_POLICY
            assert (attrs["sr"], attrs["hop_length"], attrs["n_fft"]) == (22050, 512, 2048)
            assert (attrs["n_mels"], attrs["n_mfcc"]) == (16, 5)
            means.append((handle["mean"][()], handle["std"][()]))
            if split == "training":
                training_x = x.astype(np.float64)
    mean, std = means[0]
    np.testing.assert_allclose(mean, training_x.mean(axis=(0, 2)), rtol=1e-5)
    np.testing.assert_allclose(std, training_x.std(axis=(0, 2)), rtol=1e-5)
    for other_mean, other_std in means[1:]:
        np.testing.assert_array_equal(other_mean, mean)
        np.testing.assert_array_equal(other_std, std)


def test_pad_and_crop_policy():
    x = np.arange(2 * 7, dtype=np.float32).reshape(2, 7)
    np.testing.assert_array_equal(fit_frames(x, 3), x[:, 2:5])  # centre crop
    np.testing.assert_array_equal(fit_frames(x, 7), x)
    np.testing.assert_array_equal(fit_frames(x, 10), np.concatenate([x, x[:, :3]], axis=1))  # wrap
    np.testing.assert_array_equal(fit_frames(x, 16), np.concatenate([x, x, x[:, :2]], axis=1))


def test_fixed_frame_count_from_config(dataset):
    root, stored, _ = dataset
    frames, out = pack(root, "mfcc", frames=80)
    assert frames == 80
    with h5py.File(out["training"], "r") as handle:
        assert handle["x"].shape[2] == 80
        np.testing.assert_array_equal(handle["x"][0], stored[1002]["mfcc"][:, 10:90])


def test_stale_splits_are_refused(dataset):
    root, _, table = dataset
    write_tsv(root / "tracks.tsv", pd.concat([table, table.iloc[[0]].assign(track_id=4444)]))
    with pytest.raises(ValueError, match="4444.*rerun the splits rule"):
        pack(root, "mfcc")


def test_peak_memory_stays_bounded(tmp_path):
    """Packing 150 tracks must not hold the set in memory: peak well under the size of x."""
    lengths = {1000 + i: 1000 for i in range(150)}
    make_features(tmp_path, lengths)
    make_splits(tmp_path, list(lengths), ["training", "validation", "test"] * 50)
    x_bytes = 150 * PARAMS.n_mels * 1000 * 4
    tracemalloc.start()
    try:
        pack(tmp_path, "mel")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < x_bytes / 4, (peak, x_bytes)


def test_float16_storage_is_compressed_and_packs_within_float16_rounding(tmp_path):
    """features.dtype float16: every per-track feature (mel as dB) and the packs in float16."""
    params = FeatureParams(n_mfcc=5, n_mels=16, dtype="float16")
    lengths = {1000 + i: 100 for i in range(6)}
    stored = make_features(tmp_path, lengths, params=params)
    make_splits(tmp_path, list(lengths), ["training", "validation", "test"] * 2)
    with h5py.File(tmp_path / "features" / "001" / "001000.h5", "r") as handle:
        assert handle["mfcc"].dtype == np.float16 and handle["chroma"].dtype == np.float16
        assert handle["mel"].dtype == np.float16
        assert all(str(hdf5plugin.BLOSC_ID) in handle[name]._filters for name in handle)
    _, out = pack(tmp_path, "mfcc+chroma")
    with h5py.File(out["training"], "r") as handle:
        assert handle["x"].dtype == np.float16
        assert str(hdf5plugin.BLOSC_ID) in handle["x"]._filters  # Blosc (pack.PACK_COMPRESSION)
        assert handle.attrs["dtype"] == "float16"
        first = handle["x"][0].astype(np.float32)
    expected = np.concatenate([stored[1000]["mfcc"], stored[1000]["chroma"]])
    np.testing.assert_allclose(first, expected, rtol=2.0**-10)
    assert not np.array_equal(first, expected)  # really rounded to float16
    mel = read_pack(pack(tmp_path, "mel")[1]["training"])["x"]
    assert mel.dtype == np.float32  # read back as float32
    np.testing.assert_allclose(
        mel[0], 10 * np.log10(np.maximum(stored[1000]["mel"], 1e-10)), rtol=2.0**-10, atol=0.02
    )


def test_streamed_reader_reads_what_memory_holds(dataset):
    root, _, _ = dataset
    _, out = pack(root, "mfcc+chroma+tonnetz")
    memory = read_pack(out["training"])
    streamed = read_pack(out["training"], in_memory=False)
    assert isinstance(streamed["x"], PackArray) and streamed["x"].shape == memory["x"].shape
    np.testing.assert_array_equal(streamed["x"].rows([3, 0, 3]), memory["x"][[3, 0, 3]])
    np.testing.assert_array_equal(streamed["x"][1:3], memory["x"][1:3])
    mask = np.arange(len(memory["x"])) % 2 == 1  # numpy's indexing: masks and index arrays
    np.testing.assert_array_equal(streamed["x"][mask], memory["x"][mask])
    np.testing.assert_array_equal(streamed["x"][np.array([2, 0])], memory["x"][[2, 0]])
    copy = pickle.loads(pickle.dumps(streamed["x"]))  # what a DataLoader worker receives
    np.testing.assert_array_equal(copy[2], memory["x"][2])
    chunks = [x for _, x in iter_chunks(streamed["x"], 2)]
    np.testing.assert_array_equal(np.concatenate(chunks), memory["x"])
    for key in ("y", "y_multi", "track_id", "mean", "std"):
        np.testing.assert_array_equal(streamed[key], memory[key])
    assert fits_in_memory(out.values(), budget_mb=100)
    assert not fits_in_memory(out.values(), budget_mb=0.001)
    assert all(isinstance(p["x"], PackArray) for p in read_packs(out, budget_mb=0.001).values())
    assert memory_budget_mb() > 0 and memory_budget_mb(5) == 5
    buffer = np.empty((2, *memory["x"].shape[1:]), streamed["x"].stored_dtype)
    assert streamed["x"].rows([2, 0], out=buffer) is buffer
    np.testing.assert_array_equal(buffer.astype(np.float32), memory["x"][[2, 0]])


def test_bounded_readers_give_the_whole_array_numbers(dataset):
    """Band extremes in chunks, a window sample and a chunked gather: streamed or in memory, the
    numbers of the whole array."""
    root, _, _ = dataset
    _, out = pack(root, "mfcc")
    memory = read_pack(out["training"])["x"]
    streamed = read_pack(out["training"], in_memory=False)["x"]
    n, channels, frames = memory.shape
    for x in (memory, streamed):
        lo, hi = band_extremes(x, lambda chunk: 2 * chunk, rows=2)
        np.testing.assert_array_equal(lo, 2 * memory.min(axis=(0, 2)))
        np.testing.assert_array_equal(hi, 2 * memory.max(axis=(0, 2)))
        # window j of track i is i * (T // w) + j; all of them when they fit, a seeded sample else
        every = sample_windows(x, 25, limit=10**6, seed=0)
        assert every.shape == (n * (frames // 25), channels, 25)
        np.testing.assert_array_equal(every[frames // 25 + 1], memory[1, :, 25:50])
        some = sample_windows(x, 25, limit=5, seed=3)
        chosen = np.sort(np.random.default_rng(3).choice(len(every), 5, replace=False))
        np.testing.assert_array_equal(some, every[chosen])
        np.testing.assert_array_equal(
            gather(x, [3, 1, 3], lambda chunk: chunk[:, :, :7], rows=2), memory[[3, 1, 3], :, :7]
        )


def test_a_view_of_the_packs_reads_as_packing_the_re_split_table(dataset):
    """The evolution folds re-split the packed tracks: their views hold what pack_dataset writes
    for the same table (same frames), without a copy of x."""
    root, _, table = dataset
    frames, out = pack(root, "mel", frames=100)
    resplit = table.drop(index=[1]).copy()
    resplit["split"] = [
        "test",
        "training",
        "training",
        "validation",
        "training",
        "training",
        "test",
    ]
    write_tsv(root / "resplit.tsv", resplit)
    copies = {split: root / "copies" / f"{split}.h5" for split in SPLITS}
    pack_dataset(
        root / "resplit.tsv",
        root / "genres.tsv",
        [root / "manifest.tsv"],
        root / "features",
        "mel",
        frames,
        copies,
    )
    views = {split: root / "views" / "mel" / f"{split}.h5" for split in SPLITS}
    assert pack_view(root / "resplit.tsv", root / "genres.tsv", list(out.values()), views) == frames
    for split in SPLITS:
        copy, view = read_pack(copies[split]), read_pack(views[split])
        streamed = read_pack(views[split], in_memory=False)
        for key in ("x", "y", "y_multi", "track_id", "year", "mean", "std"):
            np.testing.assert_array_equal(view[key], copy[key], err_msg=f"{split} {key}")
        last = len(copy["x"]) - 1
        np.testing.assert_array_equal(
            streamed["x"].rows([last, 0, last]), copy["x"][[last, 0, last]]
        )
        drop = ("view_of", "tracks_in")  # where x is found: the sources, the per-track files
        assert {k: v for k, v in view["attrs"].items() if k not in drop} == {
            k: v for k, v in copy["attrs"].items() if k not in drop
        }
        with h5py.File(views[split], "r") as handle:
            assert "x" not in handle
    moved = root / "one" / "level" / "deeper"
    moved.parent.mkdir(parents=True)
    (root / "views" / "mel").rename(moved)  # sources are found relative to the view's folder
    with pytest.raises(OSError):
        read_pack(moved / "training.h5")
