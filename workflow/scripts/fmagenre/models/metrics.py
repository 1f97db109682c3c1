"""Evaluation metrics (numpy only) and the collapse diagnostic.

The paper's model predicted one class for weeks unnoticed; ``collapsed`` makes that visible at once.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger("fmagenre.models")

COLLAPSE_FRACTION = 0.9


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denominator = 2 * tp + fp + fn
    return np.divide(
        2 * tp, denominator, out=np.zeros(tp.shape, dtype=float), where=denominator > 0
    )


def majority_vote(segment_logits: np.ndarray) -> np.ndarray:
    """Track predictions from segment logits [N, S, G]: the most-voted class (ties: lowest index)."""
    votes = segment_logits.argmax(axis=2)
    counts = np.stack([(votes == g).sum(axis=1) for g in range(segment_logits.shape[2])], axis=1)
    return counts.argmax(axis=1)


def classification_metrics(
    y_true: np.ndarray, logits: np.ndarray, genres: list[str], train_labels: np.ndarray
) -> dict:
    """Single-label metrics of track logits [N, G] against labels [N].

    ``majority_baseline_accuracy`` is the accuracy of always predicting the most frequent training label.
    """
    n_classes = len(genres)
    y_pred = logits.argmax(axis=1)
    matrix = confusion_matrix(y_true, y_pred, n_classes)
    support = matrix.sum(axis=1)
    tp = np.diag(matrix)
    recall = np.divide(tp, support, out=np.zeros(n_classes), where=support > 0)
    f1 = _f1(tp, matrix.sum(axis=0) - tp, support - tp)
    present = support > 0
    log_probs = log_softmax(logits.astype(np.float64))
    majority = np.bincount(train_labels, minlength=n_classes).argmax()
    histogram = np.bincount(y_pred, minlength=n_classes)
    return {
        "test_accuracy": float((y_pred == y_true).mean()),
        "balanced_accuracy": float(recall[present].mean()),
        "macro_f1": float(f1[present].mean()),
        "log_loss": float(-log_probs[np.arange(len(y_true)), y_true].mean()),
        "majority_baseline_accuracy": float((y_true == majority).mean()),
        "per_genre_accuracy": {
            genre: (float(recall[g]) if present[g] else None) for g, genre in enumerate(genres)
        },
        "confusion_matrix": matrix.tolist(),
        "genres": list(genres),
        "predicted_class_histogram": {genre: int(histogram[g]) for g, genre in enumerate(genres)},
        "collapsed": is_collapsed(y_pred, n_classes, genres),
    }


def is_collapsed(y_pred: np.ndarray, n_classes: int, genres: list[str]) -> bool:
    """True (and a WARNING in the log) when more than 90% of predictions fall in one class."""
    histogram = np.bincount(y_pred, minlength=n_classes)
    top = int(histogram.argmax())
    fraction = histogram[top] / max(len(y_pred), 1)
    if fraction > COLLAPSE_FRACTION:
        log.warning(
            "model collapsed: %.0f%% of %d test predictions are '%s' (more than %.0f%% in one class). "
            "Check the learning rate, normalisation and the overfit check.",
            100 * fraction,
            len(y_pred),
            genres[top],
            100 * COLLAPSE_FRACTION,
        )
        return True
    return False


def average_precision(truth: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall steps of one genre; tied scores form one threshold
    (as sklearn's average_precision_score). NaN when the genre has no positive."""
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], truth[order].astype(bool)
    if not hits.any():
        return float("nan")
    last = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]  # end of each distinct score
    tp, seen = np.cumsum(hits)[last], last + 1
    recall = tp / tp[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * tp / seen))


def multilabel_metrics(y_multi: np.ndarray, logits: np.ndarray) -> dict:
    """Multi-label metrics of sigmoid outputs thresholded at 0.5 against multi-hot targets [N, G]."""
    truth = y_multi.astype(bool)
    pred = logits > 0
    tp = (truth & pred).sum(axis=0)
    fp = (~truth & pred).sum(axis=0)
    fn = (truth & ~pred).sum(axis=0)
    present = truth.sum(axis=0) > 0
    probs = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    eps = 1e-7
    probs = np.clip(probs, eps, 1 - eps)
    bce = -(truth * np.log(probs) + (~truth) * np.log(1 - probs)).mean()
    return {
        "multilabel_micro_f1": float(_f1(tp.sum(), fp.sum(), fn.sum())),
        "multilabel_macro_f1": float(_f1(tp, fp, fn)[present].mean()),
        "subset_accuracy": float((truth == pred).all(axis=1).mean()),
        "hamming_loss": float((truth != pred).mean()),
        "multilabel_log_loss": float(bce),
        # Threshold-free: how well each genre's scores rank its tracks (mean over present genres).
        "multilabel_map": float(
            np.mean([average_precision(truth[:, g], logits[:, g]) for g in np.flatnonzero(present)])
        ),
    }
