"""Optimisation spaces: what the optimiser moves, and the penalties that keep it near real music.

- ``pixel``: every cell of the normalised input is a variable; penalties ``l2`` (mean squared
  normalised value: the pull to the training distribution's centre) and ``tv`` (mean absolute
  frame-to-frame difference); after each step the input is projected onto the training box.
- ``pca``: the variable is the whitened coefficient vector c over the k principal components of the
  training inputs that cover ``pca_variance`` of their variance (``torch.pca_lowrank``), decoded as
  ``mean + V diag(sigma) c`` and clipped to the training box; the penalty ``prior`` is the Gaussian
  prior's negative log-density per coefficient, 0.5 mean(c^2), and ``box`` a soft barrier on the
  decoded input's excess beyond the slightly shrunk box. Every input it can reach is a
  combination of the directions real training inputs vary in.
"""

from __future__ import annotations

import logging

import numpy as np
import torch

log = logging.getLogger(__name__)

SPACES = ("pixel", "pca")
PCA_MAX_SAMPLES = 1024  # training windows used to fit the components (CPU: ~N * D * q)
PCA_MAX_COMPONENTS = 512
BOX_MARGIN = 0.02  # the box penalty starts this share of a band's range inside each bound


def total_variation(z: torch.Tensor) -> torch.Tensor:
    """Mean absolute frame-to-frame difference per batch row [S]."""
    return (z[..., 1:] - z[..., :-1]).abs().mean(dim=(-2, -1))


def box(z: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    return torch.maximum(torch.minimum(z, hi), lo)


class PixelSpace:
    """The normalised input itself, with the l2 and total-variation penalties."""

    name = "pixel"

    def __init__(self, lo: np.ndarray, hi: np.ndarray, l2: float, tv: float):
        self.lo = torch.as_tensor(lo, dtype=torch.float32)[None, :, None]
        self.hi = torch.as_tensor(hi, dtype=torch.float32)[None, :, None]
        self.l2, self.tv = l2, tv

    def encode(self, z: np.ndarray, noise: np.ndarray) -> torch.Tensor:
        """Variables [S, ...] of the starting inputs ``z`` [S, C, T]; rows flagged ``noise`` are left as given."""
        return box(torch.as_tensor(z, dtype=torch.float32), self.lo, self.hi)

    def decode(self, variable: torch.Tensor) -> torch.Tensor:
        return variable

    def penalties(self, variable: torch.Tensor, z: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"l2": self.l2 * z.pow(2).mean(dim=(1, 2)), "tv": self.tv * total_variation(z)}

    def project(self, variable: torch.Tensor) -> None:
        with torch.no_grad():
            variable.copy_(box(variable, self.lo, self.hi))


class PcaSpace:
    """Whitened principal-component coefficients of the training inputs, with a Gaussian prior."""

    name = "pca"

    def __init__(
        self,
        windows: np.ndarray,
        variance: float,
        prior: float,
        lo: np.ndarray,
        hi: np.ndarray,
        seed: int = 0,
        box_weight: float = 0.0,
    ):
        """``windows`` [N, C, T]: normalised training inputs of the model's input shape."""
        flat = torch.as_tensor(windows.reshape(len(windows), -1), dtype=torch.float32)
        self.shape = windows.shape[1:]
        self.mean = flat.mean(dim=0)
        centred = flat - self.mean
        total = float(centred.pow(2).sum()) / max(len(flat) - 1, 1)
        q = min(len(flat) - 1, flat.shape[1], PCA_MAX_COMPONENTS)
        torch.manual_seed(seed)
        _, s, v = torch.pca_lowrank(centred, q=q, center=False, niter=2)
        explained = s.pow(2) / max(len(flat) - 1, 1)
        cumulative = torch.cumsum(explained, 0) / total
        reached = torch.nonzero(cumulative >= variance)
        k = int(reached[0]) + 1 if len(reached) else q
        if not len(reached):
            log.warning(
                "pca: %d components cover only %.3f of the variance (asked %.3f); using all",
                q,
                float(cumulative[-1]),
                variance,
            )
        self.k, self.covered = k, float(cumulative[k - 1])
        self.basis = (v[:, :k] * (explained[:k].sqrt())[None, :]).T.contiguous()  # [k, D]
        self.lo = torch.as_tensor(lo, dtype=torch.float32)[None, :, None]
        self.hi = torch.as_tensor(hi, dtype=torch.float32)[None, :, None]
        self.prior, self.box_weight = prior, box_weight
        margin = BOX_MARGIN * (self.hi - self.lo)
        self.inner_lo, self.inner_hi = self.lo + margin, self.hi - margin
        log.info(
            "pca: %d components cover %.3f of the variance of %d training windows",
            k,
            self.covered,
            len(flat),
        )

    def encode(self, z: np.ndarray, noise: np.ndarray) -> torch.Tensor:
        """Least-squares coefficients of ``z`` [S, C, T]; ``noise`` rows draw c from the prior instead.

        The basis rows are orthogonal (principal axes scaled by their SDs), so least squares is a
        projection divided by each row's squared norm. ``torch.linalg.lstsq`` gave the same to 1e-5
        but not reproducibly: its rounding changed from call to call on identical inputs, and the
        default run's 100 Adam steps grew that into optimum margins 0.13 apart between two runs.
        """
        flat = torch.as_tensor(z.reshape(len(z), -1), dtype=torch.float32) - self.mean
        coefficients = (flat @ self.basis.T) / self.basis.pow(2).sum(dim=1)
        generator = torch.Generator().manual_seed(0)
        draws = torch.randn(coefficients.shape, generator=generator)
        return torch.where(torch.as_tensor(noise)[:, None], draws, coefficients)

    def unclipped(self, variable: torch.Tensor) -> torch.Tensor:
        """The decoded input [S, C, T] before clipping to the box."""
        return (self.mean + variable @ self.basis).reshape(len(variable), *self.shape)

    def decode(self, variable: torch.Tensor) -> torch.Tensor:
        return box(self.unclipped(variable), self.lo, self.hi)

    def penalties(self, variable: torch.Tensor, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """``prior``, and ``box``: the mean squared excess of the decoded input (before clipping)
        beyond the training box shrunk by :data:`BOX_MARGIN` of its range, so that the optimum pays
        for leaving real music's range instead of being clipped onto its bounds."""
        raw = self.unclipped(variable)
        excess = torch.relu(raw - self.inner_hi) + torch.relu(self.inner_lo - raw)
        return {
            "prior": self.prior * 0.5 * variable.pow(2).mean(dim=1),
            "box": self.box_weight * excess.pow(2).mean(dim=(1, 2)),
        }

    def project(self, variable: torch.Tensor) -> None:
        """Nothing to project: the decoder clips to the box."""
