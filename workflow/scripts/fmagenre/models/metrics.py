"""Evaluation metrics with 95 % intervals, and the collapse diagnostic.

Test sets here are small (tens of tracks per genre), so every headline number carries an interval:
accuracy a Wilson score interval (a binomial proportion), balanced accuracy and macro-F1 a bootstrap
that resamples whole artists, since an artist's tracks are not independent draws (FMA's split keeps
each artist in one split, so the test set is a sample of artists).

The paper's model predicted one class for weeks unnoticed; ``collapsed`` makes that visible at once.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy import stats
from scipy.special import log_softmax
from sklearn.metrics import average_precision_score, roc_auc_score

log = logging.getLogger("fmagenre.models")

COLLAPSE_FRACTION = 0.9
CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 2000


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denominator = 2 * tp + fp + fn
    return np.divide(
        2 * tp, denominator, out=np.zeros(np.shape(tp), dtype=float), where=denominator > 0
    )


def per_genre_scores(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(recall, F1, present) per genre of a confusion matrix; ``present``: the genre has support."""
    support = matrix.sum(axis=1)
    tp = np.diag(matrix)
    recall = np.divide(tp, support, out=np.zeros(len(matrix)), where=support > 0)
    return recall, _f1(tp, matrix.sum(axis=0) - tp, support - tp), support > 0


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Mean recall over the genres present in ``y_true``."""
    recall, _, present = per_genre_scores(confusion_matrix(y_true, y_pred, n_classes))
    return float(recall[present].mean())


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    """Mean F1 over the genres present in ``y_true``."""
    _, f1, present = per_genre_scores(confusion_matrix(y_true, y_pred, n_classes))
    return float(f1[present].mean())


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (successes of n)."""
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(
        confidence_level=confidence, method="wilson"
    )
    return float(ci.low), float(ci.high)


def cluster_bootstrap_interval(
    statistic,
    arrays: tuple[np.ndarray, ...],
    clusters: np.ndarray,
    *,
    confidence: float = CONFIDENCE,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(*arrays)`` resampling whole clusters (artists).

    ``scipy.stats.bootstrap`` resamples the cluster indices; each resample's statistic is computed
    on the rows of the drawn clusters (a cluster drawn twice contributes its rows twice). Percentile,
    not BCa: BCa's jackknife fails on the degenerate resamples that tiny test sets produce.
    """
    codes = np.unique(clusters, return_inverse=True)[1]
    members = [np.flatnonzero(codes == c) for c in range(codes.max() + 1)]
    if len(members) < 2:
        return float("nan"), float("nan")

    def resampled(index: np.ndarray) -> float:
        rows = np.concatenate([members[i] for i in index])
        return statistic(*(array[rows] for array in arrays))

    result = stats.bootstrap(
        (np.arange(len(members)),),
        resampled,
        vectorized=False,
        n_resamples=n_resamples,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def majority_vote(segment_logits: np.ndarray) -> np.ndarray:
    """Track predictions from segment logits [N, S, G]: the most-voted class (ties: lowest index)."""
    votes = segment_logits.argmax(axis=2)
    counts = np.stack([(votes == g).sum(axis=1) for g in range(segment_logits.shape[2])], axis=1)
    return counts.argmax(axis=1)


def classification_metrics(
    y_true: np.ndarray,
    logits: np.ndarray,
    genres: list[str],
    train_labels: np.ndarray,
    artists: np.ndarray | None = None,
    seed: int = 0,
) -> dict:
    """Single-label metrics of track logits [N, G] against labels [N], with 95 % intervals.

    ``majority_baseline_accuracy`` is the accuracy of always predicting the most frequent training
    label. ``artists`` [N] are the bootstrap's clusters (None: every track its own cluster).
    """
    n_classes = len(genres)
    y_pred = logits.argmax(axis=1)
    matrix = confusion_matrix(y_true, y_pred, n_classes)
    recall, f1, present = per_genre_scores(matrix)
    log_probs = log_softmax(logits.astype(np.float64), axis=1)
    majority = np.bincount(train_labels, minlength=n_classes).argmax()
    histogram = np.bincount(y_pred, minlength=n_classes)
    correct = int((y_pred == y_true).sum())
    clusters = np.arange(len(y_true)) if artists is None else np.asarray(artists)
    metrics = {
        "test_accuracy": correct / len(y_true),
        "test_accuracy_ci": list(wilson_interval(correct, len(y_true))),
        "balanced_accuracy": float(recall[present].mean()),
        "macro_f1": float(f1[present].mean()),
    }
    for name, statistic in (("balanced_accuracy", balanced_accuracy), ("macro_f1", macro_f1)):
        metrics[f"{name}_ci"] = list(
            cluster_bootstrap_interval(
                lambda t, p, s=statistic: s(t, p, n_classes), (y_true, y_pred), clusters, seed=seed
            )
        )
    return {
        **metrics,
        "majority_baseline_accuracy": float((y_true == majority).mean()),
        "interval_confidence": CONFIDENCE,
        "n_test": len(y_true),
        "n_test_artists": len(np.unique(clusters)),
        "log_loss": float(-log_probs[np.arange(len(y_true)), y_true].mean()),
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


def multilabel_metrics(y_multi: np.ndarray, logits: np.ndarray, genres: list[str]) -> dict:
    """Multi-label metrics of sigmoid outputs (thresholded at 0.5) against multi-hot targets [N, G].

    Ranking metrics (average precision, ROC-AUC) are threshold-free and per genre, over the genres
    with at least one positive (ROC-AUC also needs a negative); ``exact_set_accuracy`` is FMA's
    multi-label accuracy: the predicted genre set equals the true set.
    """
    truth = y_multi.astype(bool)
    pred = logits > 0
    tp = (truth & pred).sum(axis=0)
    fp = (~truth & pred).sum(axis=0)
    fn = (truth & ~pred).sum(axis=0)
    positives = truth.sum(axis=0)
    present = positives > 0
    ranked = present & (positives < len(truth))
    multi_root = truth.sum(axis=1) > 1
    precision = {
        genre: (float(average_precision_score(truth[:, g], logits[:, g])) if present[g] else None)
        for g, genre in enumerate(genres)
    }
    auc = {
        genre: (float(roc_auc_score(truth[:, g], logits[:, g])) if ranked[g] else None)
        for g, genre in enumerate(genres)
    }
    bce = -np.mean(
        np.where(truth, -np.logaddexp(0, -logits), -np.logaddexp(0, logits)).astype(np.float64)
    )
    return {
        "multilabel_micro_f1": float(_f1(tp.sum(), fp.sum(), fn.sum())),
        "multilabel_macro_f1": float(_f1(tp, fp, fn)[present].mean()),
        "exact_set_accuracy": float((truth == pred).all(axis=1).mean()),
        "hamming_loss": float((truth != pred).mean()),
        "multilabel_log_loss": float(bce),
        "multilabel_map": float(np.mean([v for v in precision.values() if v is not None])),
        "multilabel_roc_auc": float(np.mean([v for v in auc.values() if v is not None])),
        "per_genre_average_precision": precision,
        "per_genre_roc_auc": auc,
        "n_multilabel_test": len(truth),
        "n_multi_root_test": int(multi_root.sum()),
        # The tracks without a genre_top, that only a multi-label model can be scored on.
        "exact_set_accuracy_multi_root": (
            float((truth == pred)[multi_root].all(axis=1).mean()) if multi_root.any() else None
        ),
    }
