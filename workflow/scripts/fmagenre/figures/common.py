"""Shared figure plumbing: a headless backend, atomic saving and a check that axes are labelled."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from fmagenre.io import atomic_path


def save_figure(fig: plt.Figure, path: str | os.PathLike, dpi: int = 120) -> None:
    """Save ``fig`` atomically in the format its extension names (png, svg, pdf) and close it.

    Refuses a figure without a title or with an unlabelled axis: every figure the pipeline makes
    must be readable on its own.
    """
    path = os.fspath(path)
    if not (fig._suptitle and fig._suptitle.get_text()) and not any(
        ax.get_title() for ax in fig.axes
    ):
        raise ValueError(f"figure for {path} has no title")
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>" or not ax.get_visible() or not ax.has_data():
            continue
        if not ax.get_xlabel() or not ax.get_ylabel():
            raise ValueError(f"figure for {path}: axes '{ax.get_title()}' lacks an x or y label")
    fmt = os.path.splitext(path)[1].lstrip(".") or "png"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
