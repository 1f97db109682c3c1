"""summary.tsv over seed replicates: the layout of run folders, mean and sd beside each row."""

from __future__ import annotations

import numpy as np
import pytest

from fmagenre.io import write_json
from fmagenre.models.metrics import classification_metrics
from fmagenre.models.report import summarise
from fmagenre.models.runs import replicate_dir, replicate_seed, run_of


def test_replicate_layout_round_trips():
    assert replicate_dir("results/models", "vgg_mel", 0) == "results/models/vgg_mel"
    assert replicate_dir("results/models", "vgg_mel", 2) == "results/models/vgg_mel/replicates/2"
    assert run_of("results/models/vgg_mel/replicates/2/metrics.json") == ("vgg_mel", 2)
    assert run_of("results/models/vgg_mel/metrics.json") == ("vgg_mel", 0)
    assert replicate_seed(7, 2) == 9


def test_summary_has_every_replicate_and_their_mean_and_sd(tmp_path):
    y = np.arange(10) % 2
    paths = []
    for k, correct in enumerate([5, 6, 7]):  # test accuracy 0.5, 0.6, 0.7
        pred = np.where(np.arange(10) < correct, y, 1 - y)
        metrics = classification_metrics(y, np.eye(2)[pred], ["a", "b"], y)
        metrics.update(val_accuracy_chosen_epoch=0.5, chosen_epoch=3, seed=replicate_seed(0, k))
        path = f"{replicate_dir(str(tmp_path), 'm', k)}/metrics.json"
        write_json(path, metrics)
        paths.append(path)
    single = f"{replicate_dir(str(tmp_path), 'one', 0)}/metrics.json"
    write_json(single, {**metrics, "seed": 0})
    specs = {"one": {"arch": "li2010", "features": "mfcc"}, "m": {"arch": "vgg", "features": "mel"}}
    frame = summarise([paths[2], single, paths[0], paths[1]], [], specs, str(tmp_path / "s.tsv"))
    runs = list(zip(frame["model"], frame["replicate"], strict=True))
    assert runs == [("one", 0), ("m", 0), ("m", 1), ("m", 2)]
    rows = frame[frame["model"] == "m"]
    assert list(rows["seed"]) == [0, 1, 2] and (rows["replicates"] == 3).all()
    assert rows["test_accuracy_mean"].tolist() == pytest.approx([0.6] * 3)
    assert rows["test_accuracy_sd"].tolist() == pytest.approx([0.1] * 3)
    assert frame.loc[frame["model"] == "one", "test_accuracy_sd"].isna().all()
    assert (frame["test_accuracy_ci_low"] < frame["test_accuracy"]).all()
