"""The margin is log p/(1-p), invariant to a common shift, and the torch and numpy forms agree."""

import numpy as np
import pytest
import torch

from fmagenre.models.margin import genre_margins, genre_probabilities, margin_torch


def test_margin_is_log_odds_and_shift_invariant():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(50, 8))
    margins = genre_margins(logits)
    p = genre_probabilities(logits)
    np.testing.assert_allclose(margins, np.log(p) - np.log1p(-p), atol=1e-9)
    np.testing.assert_allclose(genre_margins(logits + 17.0), margins, atol=1e-9)
    # raising every logit but one's own by the same amount lowers the margin by that amount
    shifted = logits.copy()
    shifted[:, 1:] += 2.0
    np.testing.assert_allclose(genre_margins(shifted)[:, 0], margins[:, 0] - 2.0, atol=1e-9)


def test_torch_margin_matches_numpy():
    logits = np.random.default_rng(1).normal(size=(5, 4))
    expected = genre_margins(logits)
    for target in range(4):
        got = margin_torch(torch.as_tensor(logits), target).numpy()
        np.testing.assert_allclose(got, expected[:, target], atol=1e-9)


def test_margin_needs_two_genres():
    with pytest.raises(ValueError, match="at least 2 genres"):
        genre_margins(np.zeros((3, 1)))
