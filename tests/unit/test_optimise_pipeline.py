"""The optimisation stage's jobs chained on a tiny trained model with real packs and a real checkpoint.

score_tracks -> optimise_genre -> gap -> invert_genre -> audio_roundtrip -> figures, as the
rules run them, for a whole-clip model and a segment model (whose optimum is looped to the clip).
"""

from __future__ import annotations

import json
import logging
import os

import h5py
import numpy as np
import pandas as pd
import pytest
import soundfile
import torch
from models_helpers import pack_arrays

from fmagenre.config import load_schema
from fmagenre.data.pack import fit_frames, read_pack
from fmagenre.features.extract import FeatureParams, compute_features
from fmagenre.figures.optimise import (
    gap_figure,
    optimised_inputs_figure,
    optimum_comparison_figure,
    quality_figure,
)
from fmagenre.io import genre_slug, read_tsv
from fmagenre.models.checkpoint import load_model, save_checkpoint, track_logits
from fmagenre.models.margin import genre_margins
from fmagenre.models.zoo import build_model
from fmagenre.optimise.audio import AudioParams, audio_roundtrip, invert_genre, start_roundtrip
from fmagenre.optimise.gap import gap_table
from fmagenre.optimise.known_answer import known_answer
from fmagenre.optimise.maximise import OptimiseParams, optimise_genre
from fmagenre.optimise.optimum import read_optimum
from fmagenre.optimise.quality import Thresholds, quality_table
from fmagenre.optimise.scores import score_tracks

FEATURE = FeatureParams(n_mfcc=20, n_mels=64, dtype="float32")
GENRES = ["Dark Folk", "Hip-Hop", "Rock"]
FRAMES, PER_GENRE = 64, 24
SPECS = {
    "whole": {"arch": "li2010", "filters": [4, 8], "kernels": [4, 4], "strides": [2, 2]},
    "segment": {"arch": "vgg", "channels": [4, 8], "segment_seconds": 0.4},
}
SPACES = {"whole": "pixel", "segment": "pca"}  # both optimisation spaces run the whole stage
PENALTIES = {"pixel": ["l2", "tv"], "pca": ["prior", "box"]}
# the schema's defaults of the optimise section, read from the schema itself
PARAMS = {
    name: spec["default"]
    for name, spec in load_schema()["properties"]["optimise"]["properties"].items()
    if name in OptimiseParams.__dataclass_fields__
}


def make_packs(root) -> tuple[dict[str, str], str, np.ndarray, np.ndarray]:
    """Three genres with different MFCC envelopes (levels of coefficients 1-3), as packs + tracks.tsv."""
    rng = np.random.default_rng(0)
    n = PER_GENRE * len(GENRES)
    labels = np.repeat(np.arange(len(GENRES)), PER_GENRE)
    x = rng.normal(0.0, 8.0, (n, FEATURE.n_mfcc, FRAMES))
    x[:, 0] += -250.0
    x[np.arange(n), 1 + labels] += 40.0
    tracks = pd.DataFrame(
        {
            "track_id": np.arange(n) + 1,
            "split": np.array(["training", "training", "validation", "test"] * (n // 4)),
            "genre_top": np.array(GENRES)[labels],
            "label": labels,
            "year": 2006 + np.arange(n) % 12,
        }
    )
    datasets = pack_arrays(root, "mfcc", x, tracks, GENRES, FEATURE)
    training = read_pack(datasets["training"])
    return datasets, str(root / "tracks.tsv"), training["mean"], training["std"]


def train_checkpoint(path, datasets, mean, std, spec, seed: int = 0, steps: int = 80) -> None:
    """A tiny model of the zoo trained on (segments of) the training pack, saved as the contract says."""
    torch.manual_seed(seed)
    with h5py.File(datasets["training"], "r") as handle:
        x, y = handle["x"][()], handle["y"][()]
    z = torch.as_tensor((x - mean[:, None]) / std[:, None])
    frames = FRAMES if not spec.get("segment_seconds") else 16
    model = build_model(spec, FEATURE.n_mfcc, frames, len(GENRES))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        start = int(torch.randint(0, FRAMES - frames + 1, (1,), generator=generator))
        loss = torch.nn.functional.cross_entropy(
            model(z[..., start : start + frames]), torch.as_tensor(y)
        )
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    info = {
        "spec": spec,
        "genres": GENRES,
        "feature_set": "mfcc",
        "mean": torch.as_tensor(mean),
        "std": torch.as_tensor(std),
        "input_shape": [FEATURE.n_mfcc, frames],
        "bands": [["mfcc", FEATURE.n_mfcc]],
        "frames": FRAMES,
        "sr": FEATURE.sr,
        "n_fft": FEATURE.n_fft,
        "hop_length": FEATURE.hop_length,
        "n_mels": FEATURE.n_mels,
        "n_mfcc": FEATURE.n_mfcc,
    }
    save_checkpoint(path, model, info)


@pytest.mark.parametrize("kind", list(SPECS))
def test_stage_end_to_end(tmp_path, kind):
    datasets, tracks, mean, std = make_packs(tmp_path)
    checkpoint = str(tmp_path / "checkpoint.pt")
    train_checkpoint(checkpoint, datasets, mean, std, SPECS[kind])
    replicate = str(tmp_path / "replicate.pt")
    train_checkpoint(replicate, datasets, mean, std, SPECS[kind], seed=1)
    scores_tsv = str(tmp_path / "track_scores.tsv")
    score_tracks(checkpoint, datasets, tracks, scores_tsv)
    scores = read_tsv(scores_tsv)
    slugs = [genre_slug(g) for g in GENRES]
    assert list(scores.columns) == ["track_id", "split", "genre_top", "year"] + [
        f"logit_{s}" for s in slugs
    ]
    assert len(scores) == PER_GENRE * len(GENRES)
    # the trained model separates the genres (else the stage would be tested on noise)
    assert (
        scores.iloc[:, 4:].to_numpy().argmax(axis=1)
        == [GENRES.index(g) for g in scores["genre_top"]]
    ).mean() > 0.8

    space = SPACES[kind]
    params = OptimiseParams(**{**PARAMS, "steps": 60, "lr": 0.1, "starts": 5, "space": space})
    optima = [str(tmp_path / f"{slug}.h5") for slug in slugs]
    roundtrips = [str(tmp_path / f"roundtrip_{slug}.tsv") for slug in slugs]
    audio = AudioParams(seconds=None, griffin_lim_iters=8, quality_iters=4)
    for slug, path, rt in zip(slugs, optima, roundtrips):
        optimise_genre(checkpoint, datasets, scores_tsv, slug, path, params)
        start_roundtrip(checkpoint, path, rt, audio, wav_dir=tmp_path / "starts" / slug)
    optimum = read_optimum(optima[1])
    assert optimum.trajectories.shape == (5, 60)
    # every start's round-trip clip (and the best track's) is written for the judge, at the model's
    # input length
    clips = sorted((tmp_path / "starts" / slugs[1]).glob("*.wav"))
    assert [c.stem for c in clips] == sorted([*optimum.start_names, "best_track"])
    frames_in = int(load_model(checkpoint)[1]["input_shape"][1])
    assert soundfile.info(clips[0]).frames == (frames_in - 1) * FEATURE.hop_length
    assert optimum.start_names[:2] == ["noise", "mean"] and len(optimum.start_names) == 5
    frames = 64 if kind == "whole" else 16
    assert (
        optimum.start_inputs.shape
        == optimum.start_inputs_normalised.shape
        == (5, FEATURE.n_mfcc, frames)
    )
    # the starts are real training tracks of the genre, never the best-scoring real track
    track_ids = optimum.start_track_ids[2:]
    genre_of = scores.set_index("track_id")
    assert all(
        genre_of.loc[t, "genre_top"] == GENRES[1] and genre_of.loc[t, "split"] == "training"
        for t in track_ids
    )
    assert optimum.best_track_id not in track_ids
    typical = scores[(scores["split"] == "training") & (scores["genre_top"] == GENRES[1])]
    typical_margins = genre_margins(typical.iloc[:, 4:].to_numpy())[:, 1]
    assert np.sort(typical_margins)[len(typical) // 2] == pytest.approx(
        typical_margins[list(typical["track_id"]).index(optimum.typical_track_id)]
    )
    # the margins written are the starts' inputs scored as tracks by the model
    model, info = load_model(checkpoint)
    with torch.no_grad():
        logits = track_logits(
            model,
            info,
            torch.as_tensor(np.stack([fit_frames(x, FRAMES) for x in optimum.start_inputs])),
        )
    np.testing.assert_allclose(
        optimum.start_margins, genre_margins(logits.numpy())[:, 1], rtol=1e-4, atol=1e-4
    )
    assert optimum.space == space
    # every penalty reported; the box barrier is 0 where the optimum stayed inside the shrunk box
    assert optimum.penalty_names == PENALTIES[space] and (optimum.penalty_ratios[:, 0] > 0).all()
    assert (optimum.penalty_ratios >= 0).all()

    quality_tsv = str(tmp_path / "quality.tsv")
    quality_table(
        checkpoint,
        datasets,
        optima,
        roundtrips,
        {"replicate": replicate},
        quality_tsv,
        Thresholds(),
    )
    quality = read_tsv(quality_tsv)
    assert len(quality) == 5 * len(GENRES) and set(quality["verdict"]) <= {
        "representative",
        "adversarial",
    }
    for column in (
        "margin",
        "clamp_fraction",
        "knn_percentile",
        "frechet_distance",
        "transfer_rank_replicate",
        "transfer_margin_replicate",
        "roundtrip_share",
        "spectral_convergence_db",
    ):
        assert column in quality
    assert (
        quality["knn_percentile"].between(0, 100).all()
        and quality["spectral_convergence_db"].lt(0).all()
    )
    assert quality.groupby("genre")["frechet_distance"].nunique().eq(1).all()

    gap_tsv = str(tmp_path / "gap.tsv")
    gap_table(quality_tsv, optima, gap_tsv)
    gap = read_tsv(gap_tsv)
    assert list(gap["genre"]) == GENRES
    for row in gap.itertuples():
        mine = quality[quality["genre"] == row.genre]
        representative = mine[mine["verdict"] == "representative"]
        pool = representative if len(representative) else mine
        assert row.headline_start == pool.loc[pool["margin"].idxmax(), "start"]
        assert row.verdict == ("representative" if len(representative) else "adversarial")
        assert row.gap == pytest.approx(row.optimum_margin - row.best_track_margin)
        assert row.failed == (row.gap < 0)  # a real track above the optimum is flagged

    wavs = [(str(tmp_path / f"{s}.wav"), str(tmp_path / f"{s}_best.wav")) for s in slugs]
    for path, (wav, best) in zip(optima, wavs):
        mp3s = (wav.replace(".wav", ".mp3"), best.replace(".wav", ".mp3"))
        invert_genre(path, gap_tsv, wav, best, audio, mp3s=mp3s)
        for name, mp3 in zip((wav, best), mp3s):
            # the report's compressed copy decodes to the same clip, a fraction of the size
            y_mp3, sr_mp3 = soundfile.read(mp3)
            y_wav, _ = soundfile.read(name)
            assert sr_mp3 == FEATURE.sr and abs(len(y_mp3) - len(y_wav)) < 2 * 1152
            assert os.path.getsize(mp3) < 0.4 * os.path.getsize(name)
            y, sr = soundfile.read(name)
            assert sr == FEATURE.sr and len(y) == (FRAMES - 1) * FEATURE.hop_length
            assert np.isfinite(y).all() and np.sqrt(np.mean(y**2)) > 0.03

    audio_roundtrip(checkpoint, optima, gap_tsv, wavs, str(tmp_path / "roundtrip.tsv"), audio)
    roundtrip = read_tsv(tmp_path / "roundtrip.tsv")
    assert list(roundtrip["source"]) == ["optimum", "best_track"] * len(GENRES)
    assert list(roundtrip["start"][::2]) == list(gap["headline_start"])
    assert roundtrip["spectral_convergence_db"].lt(0).all()
    # computed from the WAV, not assumed: re-extract independently and compare
    y, _ = soundfile.read(wavs[1][0], dtype="float32")
    x = fit_frames(compute_features(y, FEATURE)["mfcc"], FRAMES)
    with torch.no_grad():
        row_logits = track_logits(model, info, torch.as_tensor(x[None])).numpy()
    row = roundtrip.iloc[2]
    assert row["genre"] == GENRES[1] and row["source"] == "optimum"
    assert row["target_margin"] == pytest.approx(
        float(genre_margins(row_logits)[0, 1]), rel=1e-4, abs=1e-4
    )
    assert row["target_rank"] == 1 + int((row_logits[0] > row_logits[0, 1]).sum())
    assert row["top_genre"] == GENRES[int(row_logits.argmax())]

    figures = tmp_path / "figures"
    gap_figure(gap_tsv, str(figures / "gap.png"), model=kind)
    optimised_inputs_figure(optima, gap_tsv, str(figures / "optimised_inputs.png"), model=kind)
    quality_figure(quality_tsv, gap_tsv, str(figures / "quality.png"), model=kind)
    optimum_comparison_figure(optima, gap_tsv, str(figures / "optimum_vs_real.png"), model=kind)
    names = ("gap", "optimised_inputs", "quality", "optimum_vs_real")
    assert all((figures / f"{name}.png").stat().st_size > 10_000 for name in names)


def test_streamed_packs_give_the_stage_the_same_results(tmp_path, caplog):
    """A memory budget below the packs: scoring, the PCA optimisation (box bounds in one pass, PCA
    on a sample of windows) and the quality table read the packs from disk and equal the
    in-memory stage exactly."""
    datasets, tracks, mean, std = make_packs(tmp_path)
    checkpoint = str(tmp_path / "checkpoint.pt")
    train_checkpoint(checkpoint, datasets, mean, std, SPECS["segment"])
    params = OptimiseParams(**{**PARAMS, "steps": 10, "lr": 0.1, "starts": 5, "space": "pca"})
    audio = AudioParams(seconds=None, griffin_lim_iters=4, quality_iters=2)
    slug = genre_slug(GENRES[1])
    results = {}
    for mode, budget in (("memory", None), ("streamed", 1e-6)):
        root = tmp_path / mode
        root.mkdir()
        scores, optimum = str(root / "track_scores.tsv"), str(root / f"{slug}.h5")
        roundtrip, quality = str(root / "roundtrip.tsv"), str(root / "quality.tsv")
        caplog.clear()
        with caplog.at_level(logging.INFO):
            score_tracks(checkpoint, datasets, tracks, scores, budget_mb=budget)
            optimise_genre(checkpoint, datasets, scores, slug, optimum, params, budget_mb=budget)
            start_roundtrip(checkpoint, optimum, roundtrip, audio)
            quality_table(
                checkpoint, datasets, [optimum], [roundtrip], {}, quality, Thresholds(), budget
            )
        assert ("streamed from disk" in caplog.text) == (mode == "streamed")
        results[mode] = (read_tsv(scores), read_optimum(optimum), read_tsv(quality))
    (scores, optimum, quality), (scores_s, optimum_s, quality_s) = results.values()
    pd.testing.assert_frame_equal(scores, scores_s)
    pd.testing.assert_frame_equal(quality, quality_s)
    for name in ("feature_lo_normalised", "feature_hi_normalised"):  # one pass: the same numbers
        np.testing.assert_array_equal(getattr(optimum, name), getattr(optimum_s, name))
    # the float32 optimisation goes through BLAS kernels whose summation order can follow the
    # inputs' memory alignment (seen: 3e-5 on values of 250): equal to float32 rounding
    for name in ("start_inputs", "trajectories"):
        memory, streamed = getattr(optimum, name), getattr(optimum_s, name)
        np.testing.assert_allclose(streamed, memory, rtol=0, atol=1e-6 * np.abs(memory).max())


def headline_stage(
    tmp_path, checkpoint, datasets, tracks, name
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """score -> optimise -> per-start round trip -> quality -> gap -> known answer for one checkpoint."""
    root = tmp_path / name
    root.mkdir()
    scores_tsv = str(root / "track_scores.tsv")
    score_tracks(checkpoint, datasets, tracks, scores_tsv)
    params = OptimiseParams(**{**PARAMS, "steps": 60, "lr": 0.1, "starts": 5, "space": "pixel"})
    audio = AudioParams(seconds=None, griffin_lim_iters=8, quality_iters=4)
    optima, roundtrips = [], []
    for slug in (genre_slug(g) for g in GENRES):
        optima.append(str(root / f"{slug}.h5"))
        roundtrips.append(str(root / f"roundtrip_{slug}.tsv"))
        optimise_genre(checkpoint, datasets, scores_tsv, slug, optima[-1], params)
        start_roundtrip(checkpoint, optima[-1], roundtrips[-1], audio)
    quality_table(
        checkpoint, datasets, optima, roundtrips, {}, str(root / "quality.tsv"), Thresholds()
    )
    gap_table(str(root / "quality.tsv"), optima, str(root / "gap.tsv"))
    truth = root / "ground_truth.json"
    listed = read_tsv(tracks)
    truth.write_text(
        json.dumps(
            {
                "tracks": [
                    {"track_id": int(t), "genre": g, "blend_with": None}
                    for t, g in zip(listed["track_id"], listed["genre_top"])
                ]
            }
        )
    )
    known_answer(
        datasets, optima, str(root / "gap.tsv"), str(truth), str(root / "known_answer.tsv")
    )
    return read_tsv(root / "gap.tsv"), read_tsv(root / "known_answer.tsv")


def test_known_answer_holds_for_a_trained_model_and_fails_for_random_weights(tmp_path):
    """The negative control: a random-weights model's optima do not pass as the genres' music."""
    datasets, tracks, mean, std = make_packs(tmp_path)
    trained, random = str(tmp_path / "trained.pt"), str(tmp_path / "random.pt")
    train_checkpoint(trained, datasets, mean, std, SPECS["whole"])
    train_checkpoint(random, datasets, mean, std, SPECS["whole"], seed=3, steps=0)
    _, known = headline_stage(tmp_path, trained, datasets, tracks, "trained")
    _, control = headline_stage(tmp_path, random, datasets, tracks, "random")
    assert known["correct"].all(), known.to_string()
    passed = control["correct"] & (control["verdict"] == "representative")
    assert not passed.all(), control.to_string()
