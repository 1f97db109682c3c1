"""Model zoo, metrics, segment aggregation and the checkpoint API (no training loop here)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from models_helpers import spec

from fmagenre.models.checkpoint import (
    aggregate,
    denormalise,
    load_model,
    normalise,
    save_checkpoint,
    segments,
    track_logits,
)
from fmagenre.models.metrics import classification_metrics, majority_vote, multilabel_metrics
from fmagenre.models.train import learning_rate
from fmagenre.models.zoo import build_model

# Real band counts: mfcc 20, mfcc+chroma 32, mfcc+chroma+tonnetz 38, mel 128; 30 s clips = 1294 frames.
INPUTS = {"mfcc": 20, "mfcc+chroma": 32, "mfcc+chroma+tonnetz": 38, "mel": 128}
VARIANTS = {
    "li2010": {},
    "li2010_paper_final": {"fc": [512, 256], "dropout": 0.5},
    "li2010_extra_conv": {"extra_conv": True, "strides": [4, 4, 2]},
    "li2010_kernels": {"kernels": [5, 5, 5], "strides": [2, 2, 2], "filters": [8, 16, 32]},
    "vgg": {"arch": "vgg", "dropout": 0.3},
    "vgg_small": {"arch": "vgg", "channels": [8, 16, 32, 64]},
}


@pytest.mark.parametrize("features", INPUTS)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("frames", [1294, 129])
def test_every_architecture_accepts_every_input(variant, features, frames):
    options = {"arch": "li2010", **VARIANTS[variant]}
    if options["arch"] == "li2010" and frames == 129:
        options.update(kernels=[5, 5, 3], strides=[2, 2, 2], extra_conv=False)
    model = build_model(spec(features=features, **options), INPUTS[features], frames, 8).eval()
    with torch.no_grad():
        out = model(torch.randn(3, INPUTS[features], frames))
    assert out.shape == (3, 8)
    assert torch.isfinite(out).all()


def test_li2010_first_conv_spans_all_bands():
    model = build_model(spec(features="mfcc+chroma+tonnetz"), 38, 1294, 8)
    first = model.features[0]
    assert first.kernel_size == (38, 10) and first.stride == (1, 4) and first.out_channels == 3
    assert [
        layer.out_channels for layer in model.features if isinstance(layer, torch.nn.Conv2d)
    ] == [3, 15, 65]


def test_too_short_input_and_unknown_arch_name_the_fix():
    with pytest.raises(ValueError, match="extra_conv|conv layer 4.*Fix"):
        build_model(spec(extra_conv=True), 20, 1294, 8)  # 18 frames left, kernel 20
    with pytest.raises(ValueError, match="unknown arch 'resnet'.*li2010, vgg"):
        build_model({"arch": "resnet", "name": "x"}, 20, 100, 8)


def test_collapse_detected_on_a_constant_predictor(caplog):
    genres = ["a", "b", "c", "d"]
    y = np.array([0, 1, 2, 3] * 5)
    logits = np.tile([0.0, 3.0, 0.0, 0.0], (len(y), 1))
    with caplog.at_level(logging.WARNING, logger="fmagenre"):
        metrics = classification_metrics(y, logits, genres, train_labels=np.array([1, 1, 0]))
    assert metrics["collapsed"] is True
    assert any(
        "collapsed" in record.message and record.levelno == logging.WARNING
        for record in caplog.records
    )
    assert metrics["predicted_class_histogram"] == {"a": 0, "b": 20, "c": 0, "d": 0}
    assert metrics["test_accuracy"] == pytest.approx(0.25)
    assert metrics["majority_baseline_accuracy"] == pytest.approx(0.25)
    assert metrics["balanced_accuracy"] == pytest.approx(0.25)
    assert metrics["per_genre_accuracy"] == {"a": 0.0, "b": 1.0, "c": 0.0, "d": 0.0}


def test_classification_metrics_on_a_known_case():
    y = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 0])
    logits = np.eye(3)[pred] * 2.0
    metrics = classification_metrics(y, logits, ["a", "b", "c"], train_labels=np.array([2, 2, 0]))
    assert metrics["collapsed"] is False
    assert metrics["test_accuracy"] == pytest.approx(4 / 6)
    assert metrics["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    # F1: a = 2*1/(2+1+1) = .5, b = 2*2/(4+1) = .8, c = 2*1/(2+0+1) = 2/3
    assert metrics["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert metrics["majority_baseline_accuracy"] == pytest.approx(2 / 6)
    expected_loss = -np.log(np.exp(2) / (np.exp(2) + 2))
    assert metrics["log_loss"] == pytest.approx(
        (4 * expected_loss - 2 * np.log(1 / (np.exp(2) + 2))) / 6
    )


def test_segment_aggregation_mean_log_probability_and_majority_vote():
    # Two tracks x three segments x three genres.
    seg = torch.tensor(
        [
            [
                [5.0, 0.0, 0.0],
                [0.0, 1.0, 0.0],
                [0.0, 1.0, 0.0],
            ],  # votes b (2 of 3), mean log-prob a
            [[0.0, 0.0, 2.0], [0.0, 0.0, 2.0], [2.0, 0.0, 0.0]],
        ]
    )
    track = aggregate(seg, multilabel=False)
    expected = torch.log_softmax(seg, dim=2).mean(dim=1)
    assert torch.allclose(track, expected)
    assert track.argmax(dim=1).tolist() == [0, 2]
    assert majority_vote(seg.numpy()).tolist() == [1, 2]
    assert torch.equal(
        aggregate(seg[:, :1], multilabel=False), seg[:, 0]
    )  # one segment: raw logits
    assert torch.allclose(aggregate(seg, multilabel=True), seg.mean(dim=1))


def test_segments_are_consecutive_windows():
    x = torch.arange(2 * 3 * 10, dtype=torch.float32).reshape(2, 3, 10)
    windows = segments(x, 4)
    assert windows.shape == (2, 2, 3, 4)
    assert torch.equal(windows[1, 1], x[1, :, 4:8])


def test_multilabel_metrics_on_a_known_case():
    truth = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0]])
    logits = np.array(
        [[2.0, -1.0, 3.0], [-2.0, 1.0, 1.0], [1.0, -1.0, -1.0]]
    )  # pred: 101, 011, 100
    metrics = multilabel_metrics(truth, logits, ["a", "b", "c"])
    # tp 4 (a:2, b:1, c:1), fp 1 (c), fn 1 (b): micro F1 = 8/10
    assert metrics["multilabel_micro_f1"] == pytest.approx(0.8)
    # per genre F1: a 1.0, b 2/3, c 2/3
    assert metrics["multilabel_macro_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert metrics["exact_set_accuracy"] == pytest.approx(1 / 3)
    assert metrics["hamming_loss"] == pytest.approx(2 / 9)
    # Average precision: a 1 (positives ranked first); b 5/6 (rows 0 and 2 tie at -1: one threshold,
    # precision 2/3 there); c 1.
    assert metrics["multilabel_map"] == pytest.approx((1 + 5 / 6 + 1) / 3)
    assert metrics["per_genre_average_precision"]["b"] == pytest.approx(5 / 6)
    # ROC-AUC: b's positives score 1 and -1 against a negative at -1: (1 + 0.5) / 2.
    assert metrics["per_genre_roc_auc"] == pytest.approx({"a": 1.0, "b": 0.75, "c": 1.0})
    assert metrics["multilabel_roc_auc"] == pytest.approx(2.75 / 3)
    # Two tracks have two genres; the first is predicted exactly, the second is not.
    assert metrics["n_multi_root_test"] == 2 and metrics["exact_set_accuracy_multi_root"] == 0.5


def test_checkpoint_round_trip_with_weights_only(tmp_path):
    model_spec = spec(arch="vgg", features="mel", channels=[4, 8], segment_seconds=1.0)
    model = build_model(model_spec, 16, 43, 4).eval()
    info = {
        "spec": model_spec,
        "genres": ["a", "b", "c", "d"],
        "feature_set": "mel",
        "mean": torch.linspace(-30, -10, 16),
        "std": torch.linspace(1, 5, 16),
        "input_shape": [16, 43],
        "bands": [["mel", 16]],
        "frames": 130,
        "sr": 22050,
        "hop_length": 512,
    }
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, model, info)
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"state_dict", *info}
    loaded, loaded_info = load_model(path)
    assert not loaded.training and "state_dict" not in loaded_info
    x = -20 + 3 * torch.randn(2, 16, 130)
    assert torch.allclose(denormalise(normalise(x, loaded_info), loaded_info), x, atol=1e-4)
    with torch.no_grad():
        got = track_logits(loaded, loaded_info, x)
        windows = (
            normalise(x, info)[:, :, :129]
            .reshape(2, 16, 3, 43)
            .permute(0, 2, 1, 3)
            .reshape(6, 16, 43)
        )
        expected = model(windows).reshape(2, 3, 4).mean(dim=1)
    assert got.shape == (2, 4)
    assert torch.allclose(got, expected, atol=1e-5)


def test_load_model_names_a_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_model"):
        load_model(tmp_path / "nope.pt")


def test_learning_rate_schedules_follow_the_paper_and_keras():
    exponential = spec(optimizer="sgd", lr=0.1, lr_decay=0.5)
    assert [learning_rate(exponential, epoch, 999) for epoch in range(3)] == [0.1, 0.05, 0.025]
    # Keras SGD(lr=0.1, decay=0.5): lr / (1 + decay * iterations), per update, whatever the epoch.
    keras = spec(optimizer="sgd", lr=0.1, lr_decay=0.5, lr_schedule="inverse_time")
    assert learning_rate(keras, 0, 0) == 0.1
    assert learning_rate(keras, 3, 8) == pytest.approx(0.1 / 5)
