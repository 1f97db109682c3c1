"""A release-era estimate from musicnn's MSD decade tags (60s, 70s, 80s, 90s, 00s).

The estimate is the decade midpoints weighted by the tags' probabilities (normalised to sum to
one), so it lies in 1965..2005; it says which era a track *sounds* like to a judge trained on
Last.fm tags, not when it was released. The MTT model has no decade tags.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DECADE_MIDPOINTS = {"60s": 1965.0, "70s": 1975.0, "80s": 1985.0, "90s": 1995.0, "00s": 2005.0}


def decade_estimate(tags: pd.DataFrame | pd.Series) -> pd.Series | float:
    """Probability-weighted year per row of a tag table (a float for one row given as a Series)."""
    frame = tags.to_frame().T if isinstance(tags, pd.Series) else tags
    missing = [tag for tag in DECADE_MIDPOINTS if tag not in frame.columns]
    if missing:
        raise ValueError(
            f"tag table lacks the decade tags {missing}; the era estimate needs MSD_musicnn tags "
            f"(results/judge/tracks.tsv or musicnn.tag(..., model='MSD_musicnn'))"
        )
    weights = frame[list(DECADE_MIDPOINTS)].to_numpy(dtype=np.float64)
    years = weights @ np.array(list(DECADE_MIDPOINTS.values())) / weights.sum(axis=1)
    estimate = pd.Series(years, index=frame.index, name="era_year")
    return float(estimate.iloc[0]) if isinstance(tags, pd.Series) else estimate
