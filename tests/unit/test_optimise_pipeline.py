"""The optimisation stage's jobs chained on a tiny trained model with real packs and a real checkpoint.

score_tracks -> optimise_genre -> gap -> invert_genre -> audio_roundtrip -> figures, as the
rules run them, for a whole-clip model and a segment model (whose optimum is looped to the clip).
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pandas as pd
import pytest
import soundfile
import torch

from fmagenre.data.pack import fit_frames
from fmagenre.features.extract import FeatureParams, compute_features
from fmagenre.figures.optimise import gap_figure, optimised_inputs_figure
from fmagenre.io import genre_slug, read_tsv, write_tsv
from fmagenre.models import load_model, track_logits
from fmagenre.models.checkpoint import save_checkpoint
from fmagenre.models.zoo import build_model
from fmagenre.optimise.audio import AudioParams, audio_roundtrip, invert_genre
from fmagenre.optimise.maximise import OptimiseParams, optimise_genre
from fmagenre.optimise.scores import gap_table, score_tracks

FEATURE = FeatureParams(n_mfcc=20, n_mels=64)
GENRES = ["Dark Folk", "Hip-Hop", "Rock"]
FRAMES, PER_GENRE = 64, 24
SPECS = {
    "whole": {"arch": "li2010", "filters": [4, 8], "kernels": [4, 4], "strides": [2, 2]},
    "segment": {"arch": "vgg", "channels": [4, 8], "segment_seconds": 0.4},
}


def make_packs(root) -> tuple[dict[str, str], str, np.ndarray, np.ndarray]:
    """Three genres with different MFCC envelopes (levels of coefficients 1-3), as packs + tracks.tsv."""
    rng = np.random.default_rng(0)
    n = PER_GENRE * len(GENRES)
    labels = np.repeat(np.arange(len(GENRES)), PER_GENRE)
    x = rng.normal(0.0, 8.0, (n, FEATURE.n_mfcc, FRAMES)).astype(np.float32)
    x[:, 0] += -250.0
    x[np.arange(n), 1 + labels] += 40.0
    split = np.array(["training", "training", "validation", "test"] * (n // 4))
    year = 2006 + np.arange(n) % 12
    mean, std = x[split == "training"].mean(axis=(0, 2)), x[split == "training"].std(axis=(0, 2))
    datasets = {}
    for name in ("training", "validation", "test"):
        rows = split == name
        datasets[name] = str(root / f"{name}.h5")
        with h5py.File(datasets[name], "w") as handle:
            handle["x"], handle["y"] = x[rows], labels[rows]
            handle["track_id"], handle["year"] = np.flatnonzero(rows) + 1, year[rows].astype(np.float32)
            handle["mean"], handle["std"] = mean, std
            handle.attrs.update({"feature_set": "mfcc", "bands": json.dumps([["mfcc", FEATURE.n_mfcc]]),
                                 "frames": FRAMES, "genres": json.dumps(GENRES), "sr": FEATURE.sr,
                                 "hop_length": FEATURE.hop_length, "n_fft": FEATURE.n_fft,
                                 "n_mels": FEATURE.n_mels, "n_mfcc": FEATURE.n_mfcc})
    tracks = str(root / "tracks.tsv")
    write_tsv(tracks, pd.DataFrame({"track_id": np.arange(n) + 1, "split": split,
                                    "genre_top": np.array(GENRES)[labels], "label": labels, "year": year}))
    return datasets, tracks, mean, std


def train_checkpoint(path, datasets, mean, std, spec) -> None:
    """A tiny model of the zoo trained on (segments of) the training pack, saved as the contract says."""
    torch.manual_seed(0)
    with h5py.File(datasets["training"], "r") as handle:
        x, y = handle["x"][()], handle["y"][()]
    z = torch.as_tensor((x - mean[:, None]) / std[:, None])
    frames = FRAMES if not spec.get("segment_seconds") else 16
    model = build_model(spec, FEATURE.n_mfcc, frames, len(GENRES))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    generator = torch.Generator().manual_seed(0)
    for _ in range(80):
        start = int(torch.randint(0, FRAMES - frames + 1, (1,), generator=generator))
        loss = torch.nn.functional.cross_entropy(model(z[..., start : start + frames]), torch.as_tensor(y))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    info = {"spec": spec, "genres": GENRES, "feature_set": "mfcc", "mean": torch.as_tensor(mean),
            "std": torch.as_tensor(std), "input_shape": [FEATURE.n_mfcc, frames],
            "bands": [["mfcc", FEATURE.n_mfcc]], "frames": FRAMES, "sr": FEATURE.sr,
            "n_fft": FEATURE.n_fft, "hop_length": FEATURE.hop_length, "n_mels": FEATURE.n_mels,
            "n_mfcc": FEATURE.n_mfcc}
    save_checkpoint(path, model, info)


@pytest.mark.parametrize("kind", list(SPECS))
def test_stage_end_to_end(tmp_path, kind):
    datasets, tracks, mean, std = make_packs(tmp_path)
    checkpoint = str(tmp_path / "checkpoint.pt")
    train_checkpoint(checkpoint, datasets, mean, std, SPECS[kind])
    scores_tsv = str(tmp_path / "track_scores.tsv")
    score_tracks(checkpoint, datasets, tracks, scores_tsv)
    scores = read_tsv(scores_tsv)
    slugs = [genre_slug(g) for g in GENRES]
    assert list(scores.columns) == ["track_id", "split", "genre_top", "year"] + [f"logit_{s}" for s in slugs]
    assert len(scores) == PER_GENRE * len(GENRES)
    # the trained model separates the genres (else the stage would be tested on noise)
    assert (scores.iloc[:, 4:].to_numpy().argmax(axis=1) == [GENRES.index(g) for g in scores["genre_top"]]).mean() > 0.8

    params = OptimiseParams(steps=60, lr=0.1)
    optima = [str(tmp_path / f"{slug}.h5") for slug in slugs]
    for slug, path in zip(slugs, optima):
        optimise_genre(checkpoint, datasets, scores_tsv, slug, path, params)
    with h5py.File(optima[0], "r") as handle:
        assert handle["trajectories"].shape == (3, 60)
        assert handle["x_normalised"].shape == handle["x"].shape == (FEATURE.n_mfcc, 64 if kind == "whole" else 16)
        assert handle.attrs["best_start"] in ("noise", "mean", "best_track")
        assert json.loads(handle.attrs["params"])["steps"] == 60

    gap_table(scores_tsv, optima, str(tmp_path / "gap.tsv"))
    gap = read_tsv(tmp_path / "gap.tsv")
    # the optimum outscores every real track of every split, for every genre
    assert not gap["failed"].any() and (gap["gap"] > 0).all(), gap.to_string()
    for row in gap.itertuples():
        assert row.optimum_logit > scores[f"logit_{genre_slug(row.genre)}"].max()

    audio = AudioParams(seconds=None, n_iter=8)
    wavs = [(str(tmp_path / f"{s}.wav"), str(tmp_path / f"{s}_best.wav")) for s in slugs]
    for path, (wav, best) in zip(optima, wavs):
        invert_genre(path, wav, best, audio)
        for name in (wav, best):
            y, sr = soundfile.read(name)
            assert sr == FEATURE.sr and len(y) == (FRAMES - 1) * FEATURE.hop_length
            assert np.isfinite(y).all() and np.sqrt(np.mean(y**2)) > 0.03

    audio_roundtrip(checkpoint, optima, wavs, str(tmp_path / "roundtrip.tsv"))
    roundtrip = read_tsv(tmp_path / "roundtrip.tsv")
    assert list(roundtrip["source"]) == ["optimum", "best_track"] * len(GENRES)
    assert roundtrip["target_rank"].between(1, len(GENRES)).all()
    # computed from the WAV, not assumed: re-extract independently and compare
    y, _ = soundfile.read(wavs[1][0], dtype="float32")
    x = fit_frames(compute_features(y, FEATURE)["mfcc"], FRAMES)
    model, info = load_model(checkpoint)
    with torch.no_grad():
        probabilities = torch.softmax(track_logits(model, info, torch.as_tensor(x[None])), dim=1)[0]
    row = roundtrip.iloc[2]
    assert row["genre"] == GENRES[1] and row["source"] == "optimum"
    assert row["target_probability"] == pytest.approx(float(probabilities[1]), rel=1e-4)
    assert row["top_genre"] == GENRES[int(probabilities.argmax())]

    figures = tmp_path / "figures"
    gap_figure(str(tmp_path / "gap.tsv"), str(figures / "gap.png"), model=kind)
    optimised_inputs_figure(optima, str(figures / "optimised_inputs.png"), model=kind)
    assert all((figures / f"{name}.png").stat().st_size > 10_000 for name in ("gap", "optimised_inputs"))
