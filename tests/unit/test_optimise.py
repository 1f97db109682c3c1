"""Activation maximisation: beats every real track, respects the clamp, jitters circularly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fmagenre.optimise.maximise import OptimiseParams, feature_range, jitter, maximise, start_inputs

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


def test_optimum_outscores_every_real_track(trained):
    model, z = trained
    lo, hi = feature_range(z)
    params = OptimiseParams(steps=120, lr=0.1, starts=("noise", "mean"), l2=0.001, tv=0.01, jitter_frames=4)
    with torch.no_grad():
        real = model(torch.as_tensor(z)).numpy()
    weights = [p.detach().clone() for p in model.parameters()]
    for genre in range(G):
        starts = start_inputs(params.starts, (C, T), None, params.seed)
        result = maximise(model, genre, starts, params, lo, hi)
        assert result.logits[:, genre].max() > real[:, genre].max()
        # the trajectory is an ascent: the last steps score higher than the first
        assert result.trajectories[:, -5:].mean() > result.trajectories[:, :5].mean()
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters())), "weights changed"


def test_log_probability_objective_raises_the_probability(trained):
    model, z = trained
    lo, hi = feature_range(z)
    params = OptimiseParams(steps=60, lr=0.1, objective="log_probability", starts=("mean",))
    result = maximise(model, 1, start_inputs(("mean",), (C, T), None, 0), params, lo, hi)
    probabilities = torch.softmax(torch.as_tensor(result.logits), dim=1).numpy()
    assert probabilities[0, 1] > 0.9


def test_clamp_keeps_the_input_inside_the_training_range(trained):
    model, z = trained
    lo, hi = feature_range(z)
    # a large step and no L2 pull: without the clamp the input leaves the range
    params = OptimiseParams(steps=40, lr=2.0, starts=("noise",), l2=0.0, tv=0.0, jitter_frames=0)
    result = maximise(model, 0, start_inputs(("noise",), (C, T), None, 1), params, lo, hi)
    assert (result.inputs >= lo[None, :, None] - 1e-6).all()
    assert (result.inputs <= hi[None, :, None] + 1e-6).all()
    free = maximise(model, 0, start_inputs(("noise",), (C, T), None, 1),
                    OptimiseParams(**{**params.__dict__, "clamp": False}))
    assert ((free.inputs < lo[None, :, None]) | (free.inputs > hi[None, :, None])).any()


def test_jitter_is_circular():
    z = torch.arange(2 * 3 * 10, dtype=torch.float32).reshape(2, 3, 10)
    shifted = jitter(z, [3, -4])
    assert torch.equal(shifted[0], torch.roll(z[0], 3, dims=-1))
    assert torch.equal(shifted[1, :, 0], z[1, :, 4])
    # nothing lost or invented: each row holds the same values
    assert torch.equal(shifted.sort(dim=-1).values, z.sort(dim=-1).values)
    assert torch.equal(jitter(shifted, [-3, 4]), z)


def test_best_track_start_is_fitted_to_the_input_length():
    track = np.arange(3 * 50, dtype=np.float32).reshape(3, 50)
    starts = start_inputs(("best_track", "mean"), (3, 20), track, 0)
    assert starts["best_track"].shape == (3, 20)
    np.testing.assert_array_equal(starts["best_track"], track[:, 15:35])  # centre crop, as the packs
    assert not starts["mean"].any()
    with pytest.raises(ValueError, match="best_track"):
        start_inputs(("best_track",), (3, 20), None, 0)


def test_params_reject_unknown_objective_and_starts():
    with pytest.raises(ValueError, match="objective"):
        OptimiseParams(objective="probability")
    with pytest.raises(ValueError, match="starts"):
        OptimiseParams(starts=("zeros",))
