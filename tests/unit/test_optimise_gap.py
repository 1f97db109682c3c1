"""The representativeness gap flags a real track that outscores the optimum."""

from __future__ import annotations

import pandas as pd

from fmagenre.optimise.scores import logit_column, representativeness_gap


def test_gap_flags_a_real_track_above_the_optimum(caplog):
    scores = pd.DataFrame({"track_id": [1, 2, 3], "split": ["training", "test", "validation"],
                           logit_column("A"): [1.0, 5.0, 2.0], logit_column("B"): [0.5, 0.1, 9.0]})
    table = representativeness_gap(scores, [
        {"genre": "A", "slug": "A", "logit": 7.0, "probability": 0.9, "top_genre": "A"},
        {"genre": "B", "slug": "B", "logit": 8.0, "probability": 0.8, "top_genre": "A"},
    ])
    a, b = table.iloc[0], table.iloc[1]
    assert (a["best_track_id"], a["best_track_split"], a["gap"], a["failed"]) == (2, "test", 2.0, False)
    assert (b["best_track_id"], b["gap"], b["failed"]) == (3, -1.0, True)
    assert "outscores the optimum" in caplog.text
