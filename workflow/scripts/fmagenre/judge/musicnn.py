"""musicnn (Pons & Serra 2019) in PyTorch: an independent tagger trained on real music.

The network is the wheel's ``build_musicnn`` graph in inference mode, layer for layer:

- front end on the batch-normalised log-mel patch [187 frames, 96 bands]: two timbral convolutions
  (7 frames x 38 / 67 bands, "valid" after padding 3 frames each side) and three temporal ones
  (128 / 64 / 32 frames x 1 band, TensorFlow "same": the odd padding frame goes at the end), each
  ReLU -> batch norm -> max over the frequency axis; 204 + 204 + 51 x 3 = 561 channels per frame;
- mid end: three 7-frame convolutions over all channels (1D in effect), ReLU -> batch norm, the
  second and third added to their input (residual sums);
- back end: max and mean over time of the 753 stacked channels (interleaved max, mean per channel,
  as TensorFlow's concat + flatten orders them), batch norm, dense 200 + ReLU + batch norm (the
  "penultimate" embedding), dense 50 -> sigmoid.

Batch norms use the checkpoint's moving statistics and TensorFlow's epsilon (0.001). Weights come
from ``resources/musicnn/{model}.pt`` (made by ``make setup``, see :mod:`fmagenre.judge.weights`).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pandas as pd
import soxr
import torch
import torch.nn.functional as F
from torch import nn

from fmagenre.librosa_cache import librosa

MODELS = ("MSD_musicnn", "MTT_musicnn")
WEIGHTS_DIR = Path(__file__).resolve().parents[4] / "resources" / "musicnn"  # the checkout's
SR = 16000
N_FFT = 512
HOP = 256
N_MELS = 96
PATCH_FRAMES = 187  # librosa.time_to_frames(3 s) + 1, as the wheel computes it
BN_EPS = 1e-3
TIMBRAL_BANDS = (int(0.4 * N_MELS), int(0.7 * N_MELS))
TEMPORAL_FRAMES = (128, 64, 32)
LAYERS = (
    "timbral",
    "temporal",
    "cnn1",
    "cnn2",
    "cnn3",
    "mean_pool",
    "max_pool",
    "penultimate",
    "taggram",
)
FRAME_LAYERS = ("timbral", "temporal", "cnn1", "cnn2", "cnn3")  # [patches, C, frames] tensors


class _ConvBN(nn.Module):
    """Convolution -> ReLU -> batch norm, the order of musicnn's blocks."""

    def __init__(self, conv: nn.Module, bn: nn.Module):
        super().__init__()
        self.conv, self.bn = conv, bn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(torch.relu(self.conv(x)))


class Musicnn(nn.Module):
    """The musicnn tagger; input [B, 187, 96] log-mel (time-major), output a dict of layers."""

    def __init__(self, n_tags: int = 50, midend: int = 64, backend: int = 200):
        super().__init__()
        self.input_bn = nn.BatchNorm2d(1, eps=BN_EPS)
        self.timbral = nn.ModuleList(
            _ConvBN(nn.Conv2d(1, 204, (7, bands)), nn.BatchNorm2d(204, eps=BN_EPS))
            for bands in TIMBRAL_BANDS
        )
        self.temporal = nn.ModuleList(
            _ConvBN(nn.Conv2d(1, 51, (frames, 1)), nn.BatchNorm2d(51, eps=BN_EPS))
            for frames in TEMPORAL_FRAMES
        )
        front = 2 * 204 + 3 * 51
        self.midend = nn.ModuleList(
            _ConvBN(nn.Conv1d(cin, midend, 7, padding=3), nn.BatchNorm1d(midend, eps=BN_EPS))
            for cin in (front, midend, midend)
        )
        pooled = 2 * (front + 3 * midend)
        self.pool_bn = nn.BatchNorm1d(pooled, eps=BN_EPS)
        self.dense = _ConvBN(nn.Linear(pooled, backend), nn.BatchNorm1d(backend, eps=BN_EPS))
        self.output = nn.Linear(backend, n_tags)

    def forward(self, logmel: torch.Tensor) -> dict[str, torch.Tensor]:
        x = self.input_bn(logmel.unsqueeze(1))  # NCHW [B, 1, T, 96]: H = time, W = mel band
        padded = F.pad(x, (0, 0, 3, 3))
        timbral = [block(padded).amax(dim=3) for block in self.timbral]
        temporal = []
        for block, frames in zip(self.temporal, TEMPORAL_FRAMES, strict=True):
            before = (frames - 1) // 2  # TensorFlow "same": the extra frame goes after
            temporal.append(block(F.pad(x, (0, 0, before, frames - 1 - before))).amax(dim=3))
        front = torch.cat(timbral + temporal, dim=1)  # [B, 561, T]
        cnn1 = self.midend[0](front)
        cnn2 = self.midend[1](cnn1) + cnn1
        cnn3 = self.midend[2](cnn2) + cnn2
        stacked = torch.cat([front, cnn1, cnn2, cnn3], dim=1)  # [B, 753, T]
        max_pool, mean_pool = stacked.amax(dim=2), stacked.mean(dim=2)
        pooled = torch.stack([max_pool, mean_pool], dim=2).flatten(1)  # max0, mean0, max1, ...
        penultimate = self.dense(self.pool_bn(pooled))
        return {
            "timbral": torch.cat(timbral, dim=1),
            "temporal": torch.cat(temporal, dim=1),
            "cnn1": cnn1,
            "cnn2": cnn2,
            "cnn3": cnn3,
            "mean_pool": mean_pool,
            "max_pool": max_pool,
            "penultimate": penultimate,
            "taggram": torch.sigmoid(self.output(penultimate)),
        }


# (PyTorch module, TensorFlow layer) in graph order; batch norms are numbered in creation order.
_TF_LAYERS = [
    ("input_bn", "batch_normalization"),
    ("timbral.0.conv", "conv2d"),
    ("timbral.0.bn", "batch_normalization_1"),
    ("timbral.1.conv", "conv2d_1"),
    ("timbral.1.bn", "batch_normalization_2"),
    *(
        pair
        for k in range(3)
        for pair in (
            (f"temporal.{k}.conv", f"conv2d_{2 + k}"),
            (f"temporal.{k}.bn", f"batch_normalization_{3 + k}"),
        )
    ),
    *(
        pair
        for k in range(3)
        for pair in (
            (f"midend.{k}.conv", f"conv2d_{5 + k}"),
            (f"midend.{k}.bn", f"batch_normalization_{6 + k}"),
        )
    ),
    ("pool_bn", "batch_normalization_9"),
    ("dense.conv", "dense"),
    ("dense.bn", "batch_normalization_10"),
    ("output", "dense_1"),
]
_BN_NAMES = {
    "weight": "gamma",
    "bias": "beta",
    "running_mean": "moving_mean",
    "running_var": "moving_variance",
}


def _kernel(name: str, kernel: np.ndarray) -> np.ndarray:
    """TensorFlow kernel layout -> PyTorch: conv2d [kh, kw, in, out] -> [out, in, kh, kw]; the
    mid end's [7, channels, 1, out] (channels on the width axis) -> Conv1d [out, channels, 7];
    dense [in, out] -> [out, in]."""
    if kernel.ndim == 2:
        return kernel.T
    if name.startswith("midend"):
        return kernel[:, :, 0, :].transpose(2, 1, 0)
    return kernel.transpose(3, 2, 0, 1)


def state_dict_from_tf(variables: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Map a musicnn TensorFlow checkpoint's variables onto :class:`Musicnn`'s state dict."""
    state = {}
    for module, layer in _TF_LAYERS:
        if module.endswith("bn"):
            for ours, theirs in _BN_NAMES.items():
                state[f"{module}.{ours}"] = variables[f"{layer}/{theirs}"]
            state[f"{module}.num_batches_tracked"] = np.array(0, dtype=np.int64)
        else:
            state[f"{module}.weight"] = _kernel(module, variables[f"{layer}/kernel"])
            state[f"{module}.bias"] = variables[f"{layer}/bias"]
    return {key: torch.from_numpy(np.ascontiguousarray(value)) for key, value in state.items()}


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@functools.lru_cache(maxsize=4)
def load(
    model: str = "MSD_musicnn",
    weights_dir: str | os.PathLike | None = None,
    device: str | None = None,
) -> tuple[Musicnn, list[str]]:
    """The network (eval mode, on ``device`` or CUDA when visible) and its tag names."""
    if model not in MODELS:
        raise ValueError(f"unknown musicnn model {model!r}; use one of {', '.join(MODELS)}")
    path = Path(weights_dir or WEIGHTS_DIR) / f"{model}.pt"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: run `make setup` (it converts musicnn's wheel weights once)"
        )
    saved = torch.load(path, weights_only=True, map_location="cpu")
    net = Musicnn(n_tags=len(saved["tags"]))
    net.load_state_dict(saved["state_dict"])
    return net.eval().to(device or default_device()), list(saved["tags"])


def logmel(signal: np.ndarray, sr: int) -> np.ndarray:
    """musicnn's input, [frames, 96] float32: ``log10(10000 * mel + 1)`` of the 16 kHz mono signal.

    A multi-channel signal ([channels, n]) is averaged and other rates are resampled with soxr "HQ",
    as ``librosa.load(path, sr=16000)`` does. Computed in float32 (the wheel's float16 overflows).
    """
    y = np.asarray(signal, dtype=np.float32)
    if y.ndim == 2:
        y = y.mean(axis=0)
    if sr != SR:
        y = soxr.resample(y, sr, SR, quality="HQ").astype(np.float32)
    mel = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS)
    return np.log10(np.float32(10000) * mel.T.astype(np.float32) + np.float32(1))


def patches(features: np.ndarray, limit: int | None = None) -> np.ndarray:
    """Cut [frames, 96] into non-overlapping [P, 187, 96] patches (a partial last one dropped);
    with ``limit``, only the central ``limit`` patches (the judge costs ~1.4 GMAC per patch).

    Audio shorter than one patch (3 s) is wrapped around to fill it, as the packs pad short
    clips, so that a short WAV is judged on its own content rather than on silence.
    """
    if features.shape[0] == 0:
        raise ValueError("no audio frames to judge: the signal is empty")
    if features.shape[0] < PATCH_FRAMES:
        features = np.pad(features, ((0, PATCH_FRAMES - features.shape[0]), (0, 0)), mode="wrap")
    n = features.shape[0] // PATCH_FRAMES
    cut = features[: n * PATCH_FRAMES].reshape(n, PATCH_FRAMES, features.shape[1])
    if limit is not None and n > limit:
        start = (n - limit) // 2
        cut = cut[start : start + limit]
    return cut


def run_patches(
    net: Musicnn, batch: np.ndarray, layers=("taggram",), batch_size: int = 64
) -> dict[str, np.ndarray]:
    """Run [P, 187, 96] patches in batches; frame layers come back as [P, 187, C] (time-major, as
    the reference files hold them), the others as [P, C]."""
    device = next(net.parameters()).device
    parts: dict[str, list[np.ndarray]] = {name: [] for name in layers}
    with torch.inference_mode(), torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        for start in range(0, len(batch), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(batch[start : start + batch_size]))
            out = net(x.to(device))
            for name in layers:
                value = out[name]
                if name in FRAME_LAYERS:
                    value = value.transpose(1, 2)
                parts[name].append(value.float().cpu().numpy())
    return {name: np.concatenate(values) for name, values in parts.items()}


def _patches_of(audio) -> np.ndarray:
    if isinstance(audio, (str, os.PathLike)):
        from fmagenre.data.audio import decode

        signal, _ = decode(audio, sr=SR)
        return patches(logmel(signal, SR))
    signal, sr = audio
    return patches(logmel(signal, sr))


def tag(audio, model: str = "MSD_musicnn", weights_dir=None, device=None) -> pd.DataFrame:
    """Tag probabilities per 3 s patch: rows = patches (index ``start_s``), columns = the 50 tags.

    ``audio`` is a path (any format the pipeline decodes) or a ``(signal, sr)`` pair.
    """
    net, tags = load(model, weights_dir, device)
    taggram = run_patches(net, _patches_of(audio))["taggram"]
    start = pd.Index(np.arange(len(taggram)) * PATCH_FRAMES * HOP / SR, name="start_s")
    return pd.DataFrame(taggram, index=start, columns=tags)


def embed(audio, model: str = "MSD_musicnn", layers=None, weights_dir=None, device=None):
    """The penultimate layer [patches, 200]; with ``layers`` (names from :data:`LAYERS`, e.g.
    ``("penultimate", "mean_pool", "max_pool")``) a dict of those layers instead."""
    net, _ = load(model, weights_dir, device)
    wanted = ("penultimate",) if layers is None else tuple(layers)
    unknown = set(wanted) - set(LAYERS)
    if unknown:
        raise ValueError(f"unknown musicnn layers {sorted(unknown)}; use names from {LAYERS}")
    out = run_patches(net, _patches_of(audio), layers=wanted)
    return out["penultimate"] if layers is None else out
