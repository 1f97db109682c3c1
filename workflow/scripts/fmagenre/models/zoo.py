"""Model architectures chosen by name in the config (``arch``), built from a model spec.

Every model takes NORMALISED input [B, C, T] (C feature bands, T frames) and returns logits [B, G].
"""

from __future__ import annotations

import torch
from torch import nn

ARCHITECTURES = ("li2010", "vgg", "probe")

# Li et al. 2010 as the FMA baselines reproduce it: the first conv spans every band.
LI2010_FILTERS = [3, 15, 65]
LI2010_KERNELS = [10, 10, 10]
LI2010_STRIDES = [4, 4, 4]
# The seed paper's extra conv layer: 100 filters, 1x20 kernel.
EXTRA_CONV = (100, 20, 1)
VGG_CHANNELS = [16, 32, 64, 128]


def dense_head(size: int, fc: list[int], dropout: float, n_classes: int) -> nn.Sequential:
    """Flatten, fully connected ReLU layers of ``fc`` units (dropout after each), then linear."""
    head: list[nn.Module] = [nn.Flatten()]
    for units in fc:
        head += [nn.Linear(size, units), nn.ReLU()]
        if dropout > 0:
            head.append(nn.Dropout(dropout))
        size = units
    if not fc and dropout > 0:
        head.append(nn.Dropout(dropout))
    head.append(nn.Linear(size, n_classes))
    return nn.Sequential(*head)


class Li2010(nn.Module):
    """Conv stack over time (first kernel spans all bands), optional FC head, linear to the genres."""

    def __init__(
        self,
        in_channels: int,
        frames: int,
        n_classes: int,
        filters: list[int],
        kernels: list[int],
        strides: list[int],
        extra_conv: bool,
        fc: list[int],
        dropout: float,
        name: str = "li2010",
    ):
        super().__init__()
        if not len(filters) == len(kernels) == len(strides):
            raise ValueError(
                f"model '{name}': filters, kernels and strides must have the same length "
                f"(got {len(filters)}, {len(kernels)}, {len(strides)}). Fix them in the model spec."
            )
        layers: list[nn.Module] = []
        specs = list(zip(filters, kernels, strides))
        if extra_conv:
            specs.append(EXTRA_CONV)
        previous, width = 1, frames
        for index, (n_filters, kernel, stride) in enumerate(specs):
            height = in_channels if index == 0 else 1
            width = (width - kernel) // stride + 1
            if width < 1:
                raise ValueError(
                    f"model '{name}': conv layer {index + 1} (kernel {kernel}, stride {stride}) "
                    f"is longer than its input of {frames} frames after the earlier layers. "
                    "Fix: use smaller kernels/strides, fewer layers or longer segments."
                )
            layers += [nn.Conv2d(previous, n_filters, (height, kernel), (1, stride)), nn.ReLU()]
            previous = n_filters
        self.features = nn.Sequential(*layers)
        self.head = dense_head(previous * width, fc, dropout, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x.unsqueeze(1)))


class VGG(nn.Module):
    """Small VGG-style 2D CNN on [1, bands, T]: conv-BN-ReLU-maxpool blocks, global pooling, dropout."""

    def __init__(
        self, in_channels: int, frames: int, n_classes: int, channels: list[int], dropout: float
    ):
        super().__init__()
        blocks: list[nn.Module] = []
        previous, height, width = 1, in_channels, frames
        for index, width_out in enumerate(channels):
            # The first conv has stride 2: full-resolution activations would dominate CPU time.
            stride = 2 if index == 0 else 1
            height, width = (height - 1) // stride + 1, (width - 1) // stride + 1
            pool = (min(2, height), min(2, width))
            blocks += [
                nn.Conv2d(previous, width_out, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(width_out),
                nn.ReLU(),
                nn.MaxPool2d(pool),
            ]
            previous, height, width = width_out, height // pool[0], width // pool[1]
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(2 * previous, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.features(x.unsqueeze(1)).mean(dim=2)  # average over frequency -> [B, F, T']
        pooled = torch.cat([z.mean(dim=2), z.amax(dim=2)], dim=1)  # mean + max over time
        return self.head(pooled)


def build_model(spec: dict, in_channels: int, frames: int, n_classes: int) -> nn.Module:
    """Build the architecture ``spec["arch"]`` for input [C=in_channels, T=frames]."""
    arch = spec.get("arch")
    name = spec.get("name", arch)
    dropout = float(spec.get("dropout", 0.0))
    if arch == "li2010":
        return Li2010(
            in_channels,
            frames,
            n_classes,
            filters=list(spec.get("filters") or LI2010_FILTERS),
            kernels=list(spec.get("kernels") or LI2010_KERNELS),
            strides=list(spec.get("strides") or LI2010_STRIDES),
            extra_conv=bool(spec.get("extra_conv", False)),
            fc=list(spec.get("fc") or []),
            dropout=dropout,
            name=name,
        )
    if arch == "vgg":
        return VGG(
            in_channels, frames, n_classes, list(spec.get("channels") or VGG_CHANNELS), dropout
        )
    if arch == "probe":
        return dense_head(in_channels * frames, list(spec.get("fc") or []), dropout, n_classes)
    raise ValueError(
        f"model '{name}': unknown arch {arch!r}. Fix: set models.{name}.arch to one of {', '.join(ARCHITECTURES)}."
    )
