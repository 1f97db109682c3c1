"""FMA genres scored by the judge's tags (config ``judge.genre_tags``: genre -> list of tags).

A genre's score is the highest probability among its tags (a track is Soul-RnB if it is soul or
rnb). Genres the mapping leaves out get NA: the judge has no opinion on them, and no score is
made up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def genre_tag_scores(
    tags: pd.DataFrame, genre_tags: dict[str, list[str]], genres: list[str]
) -> pd.DataFrame:
    """[rows of ``tags``, genres]: max over each genre's mapped tags, NA for unmapped genres."""
    scores = pd.DataFrame(index=tags.index)
    for genre in genres:
        mapped = genre_tags.get(genre) or []
        unknown = [tag for tag in mapped if tag not in tags.columns]
        if unknown:
            raise ValueError(
                f"config key 'judge.genre_tags.{genre}' names tags {unknown} that the judge does "
                f"not output; fix: use tags from {', '.join(tags.columns)}"
            )
        scores[genre] = tags[mapped].max(axis=1) if mapped else np.nan
    return scores
