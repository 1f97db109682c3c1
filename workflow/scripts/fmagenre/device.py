"""The one device resolver: which torch device a stage computes on (``training.device``).

Training and the overfit check compute on the resolved device; the optimisation-stage jobs
(scores, maximisation, inversion, round trip) load models on the CPU, so the profiles request a
GPU only for the first two (see profiles/README.md).
"""

from __future__ import annotations

import torch

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda when visible, else cpu; ``cuda`` without a visible GPU is an error."""
    if name not in DEVICES:
        raise ValueError(f"training.device is {name!r}. Fix: use one of {', '.join(DEVICES)}.")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            "training.device is 'cuda' but no CUDA device is visible. Fix: use 'auto' or 'cpu'."
        )
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)
