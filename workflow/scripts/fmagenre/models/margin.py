"""The scale-free genre score shared by optimisation and evolution: the margin of one genre's logit.

``margin_g = z_g - logsumexp_{k != g} z_k`` is the log-odds of genre g against all others together
(``margin_g = log p_g - log(1 - p_g)``), so it does not move when every logit rises together and it
is comparable across genres and training runs, unlike a raw logit.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import logsumexp, softmax


def _others(logits: np.ndarray) -> np.ndarray:
    """[N, G, G] copies of the logits with each row's own genre masked to -inf."""
    tiled = np.repeat(logits[:, None, :], logits.shape[1], axis=1)
    idx = np.arange(logits.shape[1])
    tiled[:, idx, idx] = -np.inf
    return tiled


def genre_margins(logits: np.ndarray) -> np.ndarray:
    """Margin of every genre for every row of ``logits`` [N, G] (float64 [N, G]); needs G >= 2."""
    logits = np.atleast_2d(np.asarray(logits, dtype=np.float64))
    if logits.shape[1] < 2:
        raise ValueError(f"a margin needs at least 2 genres, got logits of shape {logits.shape}")
    return logits - logsumexp(_others(logits), axis=2)


def genre_probabilities(logits: np.ndarray) -> np.ndarray:
    """Softmax probabilities [N, G] (float64) of logits [N, G]."""
    return softmax(np.atleast_2d(np.asarray(logits, dtype=np.float64)), axis=1)


def margin_torch(logits: torch.Tensor, target: int) -> torch.Tensor:
    """Differentiable margin of genre ``target`` for each row of ``logits`` [N, G] -> [N]."""
    others = torch.cat([logits[:, :target], logits[:, target + 1 :]], dim=1)
    return logits[:, target] - torch.logsumexp(others, dim=1)
