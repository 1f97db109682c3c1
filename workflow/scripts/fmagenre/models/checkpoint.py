"""Checkpoints and prediction: the ``fmagenre.models`` API that later stages (optimisation) use.

A checkpoint is a plain dict of tensors and Python primitives so it loads with
``torch.load(path, weights_only=True)`` (no pickled code runs on load).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from fmagenre.io import atomic_path
from fmagenre.models.zoo import build_model

STD_FLOOR = 1e-6


def save_checkpoint(path: str | os.PathLike, model: nn.Module, info: dict) -> None:
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"state_dict": state, **info}, tmp)


def load_model(
    path: str | os.PathLike, device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict]:
    """Load ``checkpoint.pt`` -> (model in eval mode on ``device``, info = checkpoint minus state_dict)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no checkpoint. Fix: run the train_model rule for this model first."
        )
    checkpoint = torch.load(path, map_location=device, weights_only=True)
    missing = {"state_dict", "spec", "genres", "mean", "std", "input_shape"} - set(checkpoint)
    if missing:
        raise ValueError(
            f"{path}: not a fmagenre checkpoint (missing {sorted(missing)}). Fix: retrain the model."
        )
    info = {key: value for key, value in checkpoint.items() if key != "state_dict"}
    channels, frames = info["input_shape"]
    model = build_model(info["spec"], channels, frames, len(info["genres"]))
    model.load_state_dict(checkpoint["state_dict"])
    return model.to(device).eval(), info


def _band_stats(info: dict, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.as_tensor(info["mean"], dtype=like.dtype, device=like.device)[:, None]
    std = torch.as_tensor(info["std"], dtype=like.dtype, device=like.device).clamp_min(STD_FLOOR)[
        :, None
    ]
    return mean, std


def normalise(x: torch.Tensor, info: dict, inplace: bool = False) -> torch.Tensor:
    """Feature units -> model input units, per band (training-split mean and std); ``inplace``
    overwrites ``x`` (the same operations, so the same values, without two temporaries)."""
    mean, std = _band_stats(info, x)
    if inplace:
        return x.sub_(mean).div_(std)
    return (x - mean) / std


def denormalise(z: torch.Tensor, info: dict) -> torch.Tensor:
    """Model input units -> feature units (inverse of :func:`normalise`)."""
    mean, std = _band_stats(info, z)
    return z * std + mean


def segments(x: torch.Tensor, frames: int) -> torch.Tensor:
    """[N, C, T] -> [N, S, C, frames]: the S = T // frames consecutive windows from frame 0."""
    n, c, t = x.shape
    if t < frames:
        raise ValueError(f"input has {t} frames, fewer than the model's input length {frames}")
    count = t // frames
    return x[:, :, : count * frames].reshape(n, c, count, frames).permute(0, 2, 1, 3)


def aggregate(segment_logits: torch.Tensor, multilabel: bool) -> torch.Tensor:
    """Track scores from segment logits [N, S, G]: mean log-probability (single-label) or mean logit."""
    if segment_logits.shape[1] == 1:
        return segment_logits[:, 0]
    if multilabel:
        return segment_logits.mean(dim=1)
    return torch.log_softmax(segment_logits, dim=2).mean(dim=1)


def segment_logits(
    model: nn.Module, info: dict, x: torch.Tensor, batch_size: int = 256
) -> torch.Tensor:
    """x [N, C, T] in feature units -> logits [N, S, G] of the track's consecutive segments."""
    windows = segments(normalise(x, info), int(info["input_shape"][1]))
    n, count = windows.shape[:2]
    flat = windows.reshape(n * count, *windows.shape[2:])
    out = torch.cat([model(flat[i : i + batch_size]) for i in range(0, len(flat), batch_size)])
    return out.reshape(n, count, -1)


def track_logits(model: nn.Module, info: dict, x: torch.Tensor) -> torch.Tensor:
    """x [N, C, T] in feature units -> logits [N, G] per track: the mean of its segments' logits.

    Raw logits for every model (one segment: that segment's logits), so that scores of real tracks
    and of optimised inputs are in the same units; predictions aggregate with :func:`aggregate`.
    """
    return segment_logits(model, info, x).mean(dim=1)
