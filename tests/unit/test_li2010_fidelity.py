"""li2010 is the Li et al. 2010 CNN as the FMA baselines' Keras code builds it (fma-facts §6)."""

from __future__ import annotations

import torch
from models_helpers import spec

from fmagenre.models.zoo import build_model

# FMA baselines.ipynb §3.1 (Keras 1.2.2): MFCC 13 x 2582 (n_fft 512, hop 256, 22.05 kHz), 16 genres.
BANDS, FRAMES, GENRES = 13, 2582, 16
# Activations [channels, height, width] after each conv (valid padding, stride 4 along time):
# Keras' (1, 644, 3) -> (1, 159, 15) -> (1, 38, 65), flattened to 2470, then Dense(16).
SHAPES = [(3, 1, 644), (15, 1, 159), (65, 1, 38)]
FLAT = 2470
# Parameters [derived here: fma-facts.md gives the layers, not the count; Keras Conv2D and Dense
# have one bias per output]: conv 13x10x1 -> 3: 390 + 3; conv 1x10x3 -> 15: 450 + 15;
# conv 1x10x15 -> 65: 9750 + 65; dense 2470 -> 16: 39520 + 16; total 50209.
PARAMETERS = [393, 465, 9815, 39536]


def test_li2010_layer_shapes_and_parameter_count_match_the_fma_keras_baseline():
    model = build_model(spec(), BANDS, FRAMES, GENRES).eval()
    convs = [layer for layer in model.features if isinstance(layer, torch.nn.Conv2d)]
    assert [(c.kernel_size, c.stride) for c in convs] == [((13, 10), (1, 4))] + [
        ((1, 10), (1, 4))
    ] * 2
    shapes = []
    hooks = [
        c.register_forward_hook(lambda _m, _i, out: shapes.append(tuple(out.shape[1:])))
        for c in convs
    ]
    with torch.no_grad():
        out = model(torch.zeros(2, BANDS, FRAMES))
    for hook in hooks:
        hook.remove()
    assert shapes == SHAPES and out.shape == (2, GENRES)
    linears = [layer for layer in model.head if isinstance(layer, torch.nn.Linear)]
    assert len(linears) == 1 and linears[0].in_features == FLAT  # no pooling, no hidden layer
    assert not any(
        isinstance(layer, (torch.nn.Dropout, torch.nn.MaxPool2d)) for layer in model.modules()
    )
    counts = [sum(p.numel() for p in layer.parameters()) for layer in [*convs, *linears]]
    assert counts == PARAMETERS and sum(p.numel() for p in model.parameters()) == 50209
