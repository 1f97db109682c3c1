"""Out-of-sample scores: margins and penultimate embeddings of real (untrained) models on real packs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from models_helpers import GENRES, spec, write_packs

from fmagenre.data.pack import read_pack
from fmagenre.evolution.embeddings import read_embeddings
from fmagenre.evolution.measures import score_tracks
from fmagenre.io import read_tsv, write_tsv
from fmagenre.models.checkpoint import load_model, save_checkpoint, track_logits
from fmagenre.models.margin import genre_margins
from fmagenre.models.zoo import build_model
from fmagenre.optimise.scores import model_logits


def checkpoint(tmp_path, name, feature_set, frames, packs, seed=0, **model):
    model_spec = spec(name, features=feature_set, **model)
    training = read_pack(packs["training"], in_memory=False)
    mean, std, channels = training["mean"], training["std"], training["x"].shape[1]
    torch.manual_seed(seed)
    net = build_model(model_spec, channels, frames, len(GENRES))
    path = tmp_path / f"{name}.pt"
    save_checkpoint(
        path,
        net,
        {
            "spec": model_spec,
            "genres": GENRES,
            "mean": torch.from_numpy(mean),
            "std": torch.from_numpy(std),
            "input_shape": [channels, frames],
        },
    )
    return str(path)


@pytest.mark.parametrize(
    "arch, feature_set, frames, extra",
    [
        ("li2010", "mfcc", 300, {"fc": [16]}),
        ("vgg", "mel", 100, {"channels": [4, 8], "segment_seconds": 100 * 512 / 22050}),
    ],
)
def test_embedding_is_the_last_layers_input_and_logits_match_track_logits(
    tmp_path, arch, feature_set, frames, extra
):
    packs = write_packs(tmp_path, feature_set=feature_set, frames=300)
    path = checkpoint(tmp_path, arch, feature_set, frames, packs, arch=arch, **extra)
    model, info = load_model(path)
    x = read_pack(packs["test"])["x"]
    logits, embedding = model_logits(model, info, x, embeddings=True)
    with torch.no_grad():
        expected = track_logits(model, info, torch.as_tensor(x)).double().numpy()
    assert logits == pytest.approx(expected, abs=1e-5)
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    # the mean of segment logits is affine in the mean of segment embeddings
    rebuilt = (
        embedding @ last.weight.detach().double().numpy().T + last.bias.detach().double().numpy()
    )
    assert rebuilt == pytest.approx(logits, abs=1e-4)
    assert embedding.shape == (len(x), last.in_features)


def test_track_scores_name_the_model_that_scored_each_track(tmp_path):
    packs = write_packs(tmp_path, frames=300)  # validation ids 100.., test ids 200..
    path = checkpoint(tmp_path, "m", "mfcc", 300, packs)
    other = checkpoint(tmp_path, "m2", "mfcc", 300, packs, seed=1)  # a second fold model
    ids = list(range(100, 116)) + list(range(200, 216))
    genre = [GENRES[i % 4] for i in range(16)] * 2
    followed = pd.DataFrame(
        {
            "track_id": ids,
            "genre": genre,
            "artist_id": ids,
            "split": "test",
            "year": 2010,
            "year_source": "released",
        }
    )
    followed = followed[followed["track_id"] != 205]  # not followed (e.g. no release year)
    write_tsv(tmp_path / "followed.tsv", followed)
    score_tracks(
        [(other, packs["validation"], 0), (path, packs["test"], 1)],
        str(tmp_path / "followed.tsv"),
        str(tmp_path / "scores.tsv"),
        str(tmp_path / "embeddings.h5"),
    )
    scores = read_tsv(tmp_path / "scores.tsv")
    assert list(scores["track_id"]) == sorted(followed["track_id"])
    first = scores["track_id"] < 200
    assert set(scores.loc[first, "fold"]) == {0} and (scores.loc[first, "scored_by"] == other).all()
    assert (
        set(scores.loc[~first, "fold"]) == {1} and (scores.loc[~first, "scored_by"] == path).all()
    )
    margins = scores[[f"margin_{g}" for g in GENRES]]
    own = [GENRES.index(g) for g in scores["genre"]]
    assert scores["margin"].to_numpy() == pytest.approx(
        margins.to_numpy()[np.arange(len(own)), own]
    )
    model, info = load_model(path)
    x = read_pack(packs["test"])["x"]
    logits = model_logits(model, info, x)
    row = scores.set_index("track_id").loc[203]
    assert row["margin_Hip-Hop"] == pytest.approx(genre_margins(logits)[3, 2], abs=1e-6)
    ids, by_model, models = read_embeddings(str(tmp_path / "embeddings.h5"))
    assert list(ids) == list(scores["track_id"]) and models == [other, path]
    # every model embeds every followed track: the test pack by both, in the models' order
    row = list(ids).index(203)
    for embedded, checkpoint_path in zip(by_model, models):
        _, expected = model_logits(*load_model(checkpoint_path), x, embeddings=True)
        assert embedded[row] == pytest.approx(expected[3], abs=1e-5)
    assert not np.allclose(by_model[0], by_model[1])


def test_embeddings_of_the_old_layout_name_the_file_and_the_fix(tmp_path):
    import h5py

    path = tmp_path / "embeddings.h5"
    with h5py.File(path, "w") as handle:  # the layout before by_model: one embedding per track
        handle.create_dataset("track_id", data=np.arange(3))
        handle.create_dataset("embedding", data=np.zeros((3, 4)))
    with pytest.raises(ValueError, match="embeddings.h5.*rerun rule evolution_scores"):
        read_embeddings(str(path))
