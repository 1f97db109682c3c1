"""Transformation robustness: each optimisation step scores a randomly transformed copy of the input.

An input that keeps its score under shifts a real recording survives (a later or earlier start in
time, a small change of pitch/timbre, a different playback level) cannot rely on single cells; this
is the transformation-robustness regulariser of feature visualisation (Olah et al. 2017):

- time: a circular shift of up to the model's receptive field along time (frames);
- frequency: a shift of up to ``band_shift`` mel bands (edges repeated) of the spectral block; MFCCs
  are shifted in the mel domain they come from (inverse DCT, shift, DCT), chroma/tonnetz stay;
- gain: up to ``gain_db`` dB added to every mel band in dB (for MFCCs, that is c0 only).

All three act on feature units, so the transform is applied between de- and re-normalisation.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import torch

from fmagenre.optimise.spectra import band_slices


def receptive_field(model: torch.nn.Module) -> int:
    """Time extent (frames) that one unit of the model's last convolution/pooling layer sees.

    Walks ``model.features`` (both zoo architectures keep their conv stack there) accumulating
    kernel size and stride along the last (time) axis.
    """
    field, jump = 1, 1
    for layer in model.features.modules():
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.MaxPool2d, torch.nn.Conv1d)):
            kernel = (
                layer.kernel_size if isinstance(layer.kernel_size, int) else layer.kernel_size[-1]
            )
            stride = layer.stride if isinstance(layer.stride, int) else layer.stride[-1]
            field += (kernel - 1) * jump
            jump *= stride
    return field


def _shift_matrix(n: int, shift: int) -> np.ndarray:
    """[n, n] matrix moving a band profile up by ``shift`` bands, repeating the edge band."""
    rows = np.clip(np.arange(n) - shift, 0, n - 1)
    out = np.zeros((n, n))
    out[np.arange(n), rows] = 1.0
    return out


class Transforms:
    """Random time shift, band shift and gain for the packed layout ``bands`` (see module docstring)."""

    def __init__(
        self, bands, n_mels: int, mean, std, max_shift: int, band_shift: int, gain_db: float
    ):
        slices = band_slices(bands)
        self.max_shift, self.band_shift, self.gain_db = (
            int(max_shift),
            int(band_shift),
            float(gain_db),
        )
        self.mean = torch.as_tensor(np.asarray(mean), dtype=torch.float32)[:, None]
        self.std = torch.as_tensor(np.asarray(std), dtype=torch.float32)[:, None]
        self.rows = slices.get("mel", slices.get("mfcc"))
        count = self.mean.shape[0] if self.rows is None else self.rows.stop - self.rows.start
        self.gain = torch.zeros(self.mean.shape[0])
        is_mel = "mel" in slices
        dct = scipy.fft.dct(np.eye(n_mels), axis=0, norm="ortho")  # dB mel -> cepstral coefficients
        matrices = []
        for shift in range(-self.band_shift, self.band_shift + 1):
            move = _shift_matrix(count if is_mel else n_mels, shift)
            matrices.append(move if is_mel else dct[:count] @ move @ dct.T[:, :count])
        self.matrices = torch.as_tensor(np.stack(matrices), dtype=torch.float32)
        if self.rows is not None:
            if is_mel:
                self.gain[self.rows] = 1.0
            else:
                self.gain[self.rows.start] = float(
                    np.sqrt(n_mels)
                )  # ortho DCT of a constant dB offset

    def __call__(self, z: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """A transformed copy of ``z`` [S, C, T] (normalised units), one random transform per row."""
        rows = z.shape[0]
        shifts = torch.randint(-self.max_shift, self.max_shift + 1, (rows,), generator=generator)
        z = torch.stack([torch.roll(row, int(s), dims=-1) for row, s in zip(z, shifts)])
        if self.rows is None or (self.band_shift == 0 and self.gain_db == 0):
            return z
        x = z * self.std + self.mean
        pick = torch.randint(0, len(self.matrices), (rows,), generator=generator)
        spectral = torch.einsum("sbc,sct->sbt", self.matrices[pick], x[:, self.rows])
        gain = (torch.rand(rows, generator=generator) * 2 - 1) * self.gain_db
        x = torch.cat([x[:, : self.rows.start], spectral, x[:, self.rows.stop :]], dim=1)
        x = x + gain[:, None, None] * self.gain[None, :, None]
        return (x - self.mean) / self.std
