"""Training on tiny real packs: determinism, resume after kill -9, segments, multi-label, overfit, summary."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import torch
from models_helpers import outputs, spec, write_packs

from fmagenre.data.pack import read_pack
from fmagenre.figures import models as figures_models
from fmagenre.figures.models import training_figures
from fmagenre.models.checkpoint import load_model, track_logits
from fmagenre.models.report import summarise
from fmagenre.models.train import overfit_check, train_model

ROOT = Path(__file__).resolve().parents[2]
METRIC_KEYS = {
    "test_accuracy",
    "test_accuracy_ci",
    "val_accuracy_chosen_epoch",
    "chosen_epoch",
    "balanced_accuracy",
    "balanced_accuracy_ci",
    "macro_f1",
    "macro_f1_ci",
    "log_loss",
    "majority_baseline_accuracy",
    "per_genre_accuracy",
    "confusion_matrix",
    "genres",
    "predicted_class_histogram",
    "collapsed",
}


@pytest.fixture(scope="module")
def packs(tmp_path_factory):
    return write_packs(tmp_path_factory.mktemp("packs"))


def _state(path):
    return torch.load(path, weights_only=True)["state_dict"]


def test_same_seed_gives_identical_metrics_and_weights(packs, tmp_path, monkeypatch):
    model_spec = spec(epochs=3, lr=0.003)
    first = train_model(packs, model_spec, outputs(tmp_path / "a"))
    train_model(packs, model_spec, outputs(tmp_path / "b"))
    a, b = (
        (tmp_path / "a" / "metrics.json").read_bytes(),
        (tmp_path / "b" / "metrics.json").read_bytes(),
    )
    assert a == b
    for key, value in _state(tmp_path / "a" / "checkpoint.pt").items():
        assert torch.equal(value, _state(tmp_path / "b" / "checkpoint.pt")[key])
    assert METRIC_KEYS <= set(first)
    assert first["test_accuracy"] > 0.5  # the genres differ by a strong band pattern: learnable
    history = pd.read_csv(tmp_path / "a" / "history.csv")
    assert list(history.columns) == [
        "epoch",
        "lr",
        "train_loss",
        "train_accuracy",
        "val_loss",
        "val_accuracy",
    ]
    assert not (tmp_path / "a" / "resume.pt").exists()
    # The reported validation accuracy is the one of the epoch early stopping kept.
    chosen = history.iloc[first["chosen_epoch"] - 1]
    assert first["val_accuracy_chosen_epoch"] == chosen["val_accuracy"]
    assert chosen["val_accuracy"] == history["val_accuracy"].max()
    low, high = first["test_accuracy_ci"]
    assert low < first["test_accuracy"] < high or high == 1.0
    files = outputs(tmp_path / "a")
    plotted = {}
    real_save = figures_models.save_figure

    def keep_lines(fig, path):
        plotted[Path(path).name] = {
            (ax.get_title(), line.get_label()): list(line.get_ydata())
            for ax in fig.axes
            for line in ax.get_lines()
        }
        real_save(fig, path)

    monkeypatch.setattr(figures_models, "save_figure", keep_lines)
    training_figures(files["history"], files["metrics"], files, "m")
    curves = plotted["curves.png"]  # the figure draws the history it was given, and is saved
    assert curves[("Loss", "val")] == list(history["val_loss"])
    assert curves[("Accuracy", "train")] == list(history["train_accuracy"])
    assert plt.imread(tmp_path / "a" / "curves.png").ndim == 3  # a PNG that decodes
    different = train_model(packs, {**model_spec, "seed": 1}, outputs(tmp_path / "c"))
    assert different["log_loss"] != first["log_loss"]


def test_checkpoint_predicts_like_the_metrics(packs, tmp_path):
    metrics = train_model(
        packs, spec(arch="vgg", channels=[4, 8], segment_seconds=2.0), outputs(tmp_path)
    )
    model, info = load_model(tmp_path / "checkpoint.pt")
    assert (
        info["input_shape"] == [20, 86]
        and info["genres"] == json.loads(Path(tmp_path / "metrics.json").read_text())["genres"]
    )
    test = read_pack(packs["test"])
    with torch.no_grad():
        logits = track_logits(model, info, torch.from_numpy(test["x"]))
    accuracy = float((logits.argmax(dim=1).numpy() == test["y"]).mean())
    assert accuracy == pytest.approx(metrics["test_accuracy"])
    assert "majority_vote_accuracy" in metrics


def test_multilabel_training_reports_multilabel_metrics(packs, tmp_path):
    metrics = train_model(packs, spec(multilabel=True, epochs=2), outputs(tmp_path))
    for key in ("multilabel_micro_f1", "multilabel_macro_f1", "exact_set_accuracy", "hamming_loss"):
        assert 0.0 <= metrics[key] <= 1.0
    assert METRIC_KEYS <= set(metrics)


def test_tracks_without_genre_top_train_only_the_multilabel_model(tmp_path):
    packs = write_packs(tmp_path / "packs", unlabelled=4)
    single = train_model(packs, spec(epochs=1), outputs(tmp_path / "single"))
    assert single["n_test"] == 12 and sum(single["predicted_class_histogram"].values()) == 12
    multi = train_model(packs, spec(multilabel=True, epochs=1), outputs(tmp_path / "multi"))
    assert multi["n_test"] == 12 and multi["n_multilabel_test"] == 16
    # The four label -1 tracks have two genres each (and some labelled ones too).
    assert multi["n_multi_root_test"] >= 4 and multi["exact_set_accuracy_multi_root"] is not None
    assert set(multi["per_genre_average_precision"]) == set(multi["genres"])


RUNNER = """
import json, sys
sys.path.insert(0, {scripts!r})
from fmagenre.io import setup_logging
setup_logging(sys.argv[1])
from fmagenre.models.train import train_model
train_model(json.loads(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4]))
"""


def test_kill_9_then_rerun_resumes_and_matches_an_uninterrupted_run(packs, tmp_path):
    # Keras-style per-update decay: the resumed run must also set every update's rate exactly.
    model_spec = spec(
        epochs=8,
        patience=8,
        dropout=0.3,
        fc=[32],
        optimizer="sgd",
        lr=0.05,
        lr_decay=0.05,
        lr_schedule="inverse_time",
    )
    reference = tmp_path / "reference"
    train_model(packs, model_spec, outputs(reference))
    killed = tmp_path / "killed"
    args = [json.dumps(packs), json.dumps(model_spec), json.dumps(outputs(killed))]
    script = RUNNER.format(scripts=str(ROOT / "workflow" / "scripts"))
    process = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "run1.log"), *args])
    resume = killed / "resume.pt"
    # Kill after a random number (1-4) of epoch states has been written; 8 epochs leave room.
    target, written, deadline = random.randint(1, 4), set(), time.monotonic() + 120
    while len(written) < target and process.poll() is None and time.monotonic() < deadline:
        if resume.exists():
            written.add(resume.stat().st_mtime_ns)
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert resume.exists() and not (killed / "metrics.json").exists(), (
        f"the kill (after {target} epochs) must land mid-training"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "run2.log"), *args], check=True)
    assert "resumed from" in (tmp_path / "run2.log").read_text()
    assert (killed / "metrics.json").read_bytes() == (reference / "metrics.json").read_bytes()
    assert (killed / "history.csv").read_bytes() == (reference / "history.csv").read_bytes()
    for key, value in _state(reference / "checkpoint.pt").items():
        assert torch.equal(value, _state(killed / "checkpoint.pt")[key])
    assert not resume.exists()


def test_resume_state_of_another_spec_is_ignored(packs, tmp_path):
    model_spec = spec(epochs=2)
    train_model(packs, model_spec, outputs(tmp_path / "a"))
    stale = tmp_path / "b" / "resume.pt"
    stale.parent.mkdir()
    torch.save({"identity": {"spec": "other"}}, stale)
    train_model(packs, model_spec, outputs(tmp_path / "b"))
    assert (tmp_path / "a" / "metrics.json").read_bytes() == (
        tmp_path / "b" / "metrics.json"
    ).read_bytes()


def test_overfit_check_and_summary(packs, tmp_path):
    model_spec = {**spec(fc=[64], overfit_epochs=40, lr=0.003), "overfit_samples": 12}
    result = overfit_check(packs["training"], model_spec, str(tmp_path / "m" / "overfit.json"))
    assert result["reached"] is True and result["final_train_accuracy"] >= 0.95
    assert result["samples"] == 12 and 1 <= result["epochs"] <= 40
    weak = overfit_check(
        packs["training"], {**model_spec, "lr": 1e-6, "overfit_epochs": 2}, str(tmp_path / "w.json")
    )
    assert weak["reached"] is False and weak["epochs"] == 2
    train_model(packs, spec(epochs=1), outputs(tmp_path / "m"))
    frame = summarise(
        [str(tmp_path / "m" / "metrics.json")],
        [str(tmp_path / "m" / "overfit.json")],
        {"m": model_spec},
        str(tmp_path / "summary.tsv"),
    )
    assert list(frame["model"]) == ["m"] and bool(frame["overfit_reached"].iloc[0]) is True
    assert (
        (tmp_path / "summary.tsv")
        .read_text()
        .startswith("model\treplicate\tseed\tarch\tfeatures\ttest_accuracy\ttest_accuracy_ci_low")
    )


@pytest.mark.parametrize(
    "model",
    [{}, {"arch": "vgg", "channels": [4, 8], "segment_seconds": 2.0}],
    ids=["li2010", "vgg"],
)
def test_streamed_split_trains_to_the_weights_of_memory(packs, tmp_path, caplog, model):
    """A budget smaller than the packs streams batches from disk: same batches, same weights."""
    model_spec = spec(epochs=2, **model)
    memory = train_model(packs, model_spec, outputs(tmp_path / "memory"))
    caplog.clear()
    with caplog.at_level("INFO"):
        streamed = train_model(
            packs, {**model_spec, "memory_budget_mb": 0.01}, outputs(tmp_path / "streamed")
        )
    assert "streamed from disk" in caplog.text
    assert streamed == memory
    a, b = (
        _state(tmp_path / "memory" / "checkpoint.pt"),
        _state(tmp_path / "streamed" / "checkpoint.pt"),
    )
    assert all(torch.equal(value, b[key]) for key, value in a.items())
