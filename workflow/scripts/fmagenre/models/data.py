"""The models stage's view of the packed sets: which rows a model uses, and its input length.

Reading packs (in memory or streamed) is :mod:`fmagenre.data.pack`'s; the normalised splits on a
device are :mod:`fmagenre.data.loader`'s.
"""

from __future__ import annotations

import numpy as np

from fmagenre.data.pack import PackArray


def select_rows(pack: dict, keep: np.ndarray) -> dict:
    """The pack restricted to the tracks where ``keep`` is true (per-track arrays only); a streamed
    ``x`` stays on disk, as a :class:`PackArray` over those rows."""
    x = pack["x"]
    rows = {key: pack[key][keep] for key in ("y", "y_multi", "track_id", "year") if key in pack}
    return {**pack, **rows, "x": x.subset(keep) if isinstance(x, PackArray) else x[keep]}


def segment_frames(spec: dict, pack: dict) -> int:
    """Model input length in frames: the whole clip, or ``segment_seconds`` worth of frames."""
    frames = pack["x"].shape[2]
    seconds = spec["segment_seconds"]
    if seconds is None:
        return frames
    count = int(round(seconds * pack["params"]["sr"] / pack["params"]["hop_length"]))
    if not 1 <= count <= frames:
        raise ValueError(
            f"model '{spec.get('name')}': segment_seconds={seconds} gives {count} frames, outside "
            f"1..{frames} (the packed clip length). Fix: choose a shorter segment or null."
        )
    return count
