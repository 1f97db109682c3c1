"""Activation maximisation: beats every real track in margin, stays in the box, PCA space, transforms."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.fft
import torch

from fmagenre.config import load_schema
from fmagenre.models.margin import genre_margins
from fmagenre.models.zoo import build_model
from fmagenre.optimise.maximise import OptimiseParams, maximise
from fmagenre.optimise.quality import clamp_fraction
from fmagenre.optimise.space import PcaSpace, PixelSpace
from fmagenre.optimise.transforms import Transforms, receptive_field

C, T, G = 6, 40, 3


class TinyCNN(torch.nn.Module):
    """Conv over time -> ReLU -> global average -> linear: the shape of the pipeline's models."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv1d(C, 8, kernel_size=5, padding=2)
        self.head = torch.nn.Linear(8, G)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean(dim=-1))


@pytest.fixture(scope="module")
def trained():
    """A tiny CNN trained to separate three genres that differ in the mean of one band each."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    n = 60
    y = np.repeat(np.arange(G), n // G)
    x = rng.standard_normal((n, C, T)).astype(np.float32)
    x[np.arange(n), y] += 1.5
    # normalise per band, as the pipeline's models see their input
    z = (x - x.mean(axis=(0, 2))[None, :, None]) / x.std(axis=(0, 2))[None, :, None]
    model = TinyCNN()
    optimiser = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        loss = torch.nn.functional.cross_entropy(model(torch.as_tensor(z)), torch.as_tensor(y))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(torch.as_tensor(z)).argmax(1).numpy() == y).mean()
    assert accuracy > 0.9, "the test model did not learn the separable data"
    return model, z.astype(np.float32)


def params(**changes) -> OptimiseParams:
    """The schema's defaults of the optimise section, with ``changes``."""
    defaults = {
        name: spec["default"]
        for name, spec in load_schema()["properties"]["optimise"]["properties"].items()
        if name in OptimiseParams.__dataclass_fields__
    }
    return OptimiseParams(**{**defaults, **changes})


def transforms(max_shift=4, band_shift=0, gain_db=0.0) -> Transforms:
    return Transforms([["mel", C]], C, np.zeros(C), np.ones(C), max_shift, band_shift, gain_db)


def box_of(z):
    return z.min(axis=(0, 2)), z.max(axis=(0, 2))


def test_optimum_outscores_every_real_track_in_margin(trained):
    model, z = trained
    lo, hi = box_of(z)
    chosen = params(steps=120, lr=0.1, l2=0.001, tv=0.01)
    with torch.no_grad():
        real = genre_margins(model(torch.as_tensor(z)).numpy())
    weights = [p.detach().clone() for p in model.parameters()]
    space = PixelSpace(lo, hi, chosen.l2, chosen.tv)
    starts = np.stack([np.random.default_rng(0).standard_normal((C, T)), np.zeros((C, T))]).astype(
        np.float32
    )
    for genre in range(G):
        result = maximise(
            model, genre, space, space.encode(starts, np.array([True, False])), transforms(), chosen
        )
        with torch.no_grad():
            final = genre_margins(model(torch.as_tensor(result.inputs)).numpy())[:, genre]
        assert final.max() > real[:, genre].max()
        # the trajectory is an ascent: the last steps score higher than the first
        assert result.trajectories[:, -5:].mean() > result.trajectories[:, :5].mean()
        assert result.penalty_names == ["l2", "tv"] and result.penalty_ratios.shape == (2, 2)
        assert (result.penalty_ratios[:, 0] > 0).all()
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters())), "weights changed"


def test_pixel_space_keeps_the_input_inside_the_training_box(trained):
    model, z = trained
    lo, hi = box_of(z)
    # a large step and no pull: only the projection keeps the input inside
    chosen = params(steps=40, lr=2.0, l2=0.0, tv=0.0)
    space = PixelSpace(lo, hi, 0.0, 0.0)
    start = np.random.default_rng(1).standard_normal((1, C, T)).astype(np.float32) * 5
    result = maximise(model, 0, space, space.encode(start, np.array([True])), transforms(0), chosen)
    assert (result.inputs >= lo[None, :, None] - 1e-6).all() and (
        result.inputs <= hi[None, :, None] + 1e-6
    ).all()
    assert clamp_fraction(result.inputs, lo, hi)[0] > 0.2  # unregularised, it sits on the bounds


def test_pca_space_covers_the_variance_and_reaches_only_real_directions():
    rng = np.random.default_rng(0)
    # training windows on a 3-dimensional subspace plus a little noise
    basis = rng.standard_normal((3, C * T))
    windows = (
        rng.standard_normal((200, 3)) * [5.0, 3.0, 2.0]
    ) @ basis + 0.01 * rng.standard_normal((200, C * T))
    windows = windows.reshape(200, C, T).astype(np.float32)
    lo, hi = np.full(C, -1e3, np.float32), np.full(C, 1e3, np.float32)
    space = PcaSpace(windows, 0.95, 1.0, lo, hi)
    assert space.k <= 3 and space.covered >= 0.95
    coefficients = space.encode(windows[:5], np.zeros(5, dtype=bool))
    np.testing.assert_allclose(space.decode(coefficients).numpy(), windows[:5], atol=0.2)
    # whitened: the training windows' coefficients have unit variance
    all_c = space.encode(windows, np.zeros(200, dtype=bool)).numpy()
    np.testing.assert_allclose(all_c.std(axis=0), 1.0, atol=0.1)
    # a noise start is a draw from the prior; the prior penalty is 0.5 mean(c^2)
    draw = space.encode(windows[:2], np.array([True, False]))
    assert not torch.allclose(draw[0], coefficients[0])
    prior = space.penalties(draw, space.decode(draw))["prior"]
    torch.testing.assert_close(prior, 0.5 * draw.pow(2).mean(dim=1))


def test_pca_box_barrier_is_the_excess_beyond_the_shrunk_box():
    rng = np.random.default_rng(3)
    windows = rng.standard_normal((100, C, T)).astype(np.float32)
    lo, hi = np.full(C, -2.0, np.float32), np.full(C, 2.0, np.float32)
    space = PcaSpace(windows, 0.99, 0.0, lo, hi, box_weight=10.0)
    inside = space.encode(0.5 * windows[:1], np.zeros(1, dtype=bool))  # mostly inside +-1.92
    raw = space.unclipped(inside)
    expected = 10.0 * (torch.relu(raw - 1.92) + torch.relu(-1.92 - raw)).pow(2).mean()
    box = space.penalties(inside, space.decode(inside))["box"]
    torch.testing.assert_close(box[0], expected)
    far = space.encode(5 * windows[:1], np.zeros(1, dtype=bool))
    assert space.penalties(far, space.decode(far))["box"][0] > 10 * max(float(box[0]), 1e-3)


def test_pca_box_barrier_keeps_the_optimum_off_the_bounds(trained):
    model, z = trained
    lo, hi = box_of(z)
    chosen = params(steps=60, lr=0.5, prior=0.0, space="pca")
    fractions = {}
    for weight in (0.0, 1000.0):
        space = PcaSpace(z, 0.95, 0.0, lo, hi, box_weight=weight)
        start = space.encode(z[:1], np.zeros(1, dtype=bool))
        result = maximise(model, 0, space, start, transforms(0), chosen)
        fractions[weight] = float(clamp_fraction(result.inputs, lo, hi)[0])
    # without the barrier the optimiser drives cells onto the bounds; with it they stay off
    assert fractions[0.0] > 0.05 and fractions[1000.0] < fractions[0.0] / 5, fractions


def test_pca_encoding_is_least_squares_and_reproducible():
    """The same starts encode to the same bits every call: an optimisation job reruns to the same
    optimum. ``torch.linalg.lstsq`` differed between calls on identical inputs (stop 20)."""
    rng = np.random.default_rng(3)
    windows = (rng.standard_normal((300, 40)) @ rng.standard_normal((40, 64 * 100))).astype(
        np.float32
    )
    space = PcaSpace(windows.reshape(300, 64, 100), 0.99, 1.0, *np.full((2, 64), [[-1e4], [1e4]]))
    starts = windows[:6].reshape(6, 64, 100)
    keep = np.zeros(6, dtype=bool)
    first = space.encode(starts, keep)
    assert all(torch.equal(first, space.encode(starts, keep)) for _ in range(5))
    flat = torch.as_tensor(starts.reshape(6, -1)) - space.mean
    lstsq = torch.linalg.lstsq(space.basis.double().T, flat.double().T).solution.T
    torch.testing.assert_close(first.double(), lstsq, rtol=1e-4, atol=1e-4)


def test_time_shift_is_circular_and_gain_adds_decibels():
    z = torch.arange(2 * C * T, dtype=torch.float32).reshape(2, C, T)
    shifted = transforms(max_shift=5)(z, torch.Generator().manual_seed(0))
    assert torch.equal(
        shifted.sort(dim=-1).values, z.sort(dim=-1).values
    )  # nothing lost or invented
    gained = transforms(max_shift=0, gain_db=3.0)(
        torch.zeros(50, C, T), torch.Generator().manual_seed(0)
    )
    offsets = gained[:, :, 0]
    assert torch.allclose(offsets, offsets[:, :1].expand_as(offsets))  # the same dB on every band
    assert offsets.abs().max() <= 3.0 and offsets.abs().max() > 2.0


def test_mfcc_gain_and_band_shift_match_the_mel_domain():
    n_mels, n_mfcc = (
        32,
        32,
    )  # all coefficients: the DCT is invertible, so the mel-domain answer is exact
    bands = [["mfcc", n_mfcc]]
    mfcc_t = Transforms(bands, n_mels, np.zeros(n_mfcc), np.ones(n_mfcc), 0, 2, 3.0)
    mel_t = Transforms([["mel", n_mels]], n_mels, np.zeros(n_mels), np.ones(n_mels), 0, 2, 3.0)
    db = torch.as_tensor(
        np.random.default_rng(0).normal(-40, 10, (6, n_mels, 8)), dtype=torch.float32
    )
    mfcc = torch.as_tensor(scipy.fft.dct(db.numpy(), axis=1, norm="ortho"), dtype=torch.float32)
    out_mfcc = mfcc_t(mfcc, torch.Generator().manual_seed(3))
    out_mel = mel_t(db, torch.Generator().manual_seed(3))
    back = scipy.fft.idct(out_mfcc.numpy(), axis=1, norm="ortho")
    np.testing.assert_allclose(back, out_mel.numpy(), atol=1e-3)
    assert not np.allclose(out_mel.numpy(), db.numpy())


def test_receptive_field_of_the_zoo_models():
    assert receptive_field(build_model({"arch": "li2010"}, 20, 1292, 8)) == 1 + 9 + 9 * 4 + 9 * 16
    assert receptive_field(build_model({"arch": "vgg", "channels": [4]}, 20, 64, 8)) == 3 + 1 * 2


def test_params_reject_unknown_objective_space_and_too_few_starts():
    with pytest.raises(ValueError, match="objective"):
        params(objective="probability")
    with pytest.raises(ValueError, match="space"):
        params(space="latent")
    with pytest.raises(ValueError, match="starts"):
        params(starts=2)
