"""Classification metrics with uncertainty.

Why confidence intervals: with 170 seed sentences one mislabelled sentence moves
macro-F1 by a point or more; a number without its interval invites over-reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


def expected_calibration_error(proba: np.ndarray, y_true: np.ndarray, n_bins: int = 10) -> float:
    """Mean |confidence - accuracy| over equal-width confidence bins, weighted by bin size."""
    conf = proba.max(1)
    correct = (proba.argmax(1) == y_true).astype(float)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            ece += mask.mean() * abs(conf[mask].mean() - correct[mask].mean())
    return float(ece)


def reliability_bins(proba: np.ndarray, y_true: np.ndarray, n_bins: int = 10) -> list[dict[str, float]]:
    conf = proba.max(1)
    correct = (proba.argmax(1) == y_true).astype(float)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    return [
        {
            "bin": b,
            "confidence": float(conf[bins == b].mean()),
            "accuracy": float(correct[bins == b].mean()),
            "count": int((bins == b).sum()),
        }
        for b in range(n_bins)
        if (bins == b).any()
    ]


def bootstrap_macro_f1(
    y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[int], n_boot: int = 1000, seed: int = 0
) -> list[float]:
    rng = np.random.default_rng(seed)
    n = len(y_true)
    scores = [
        f1_score(y_true[idx], y_pred[idx], labels=list(labels), average="macro", zero_division=0)
        for idx in rng.integers(0, n, size=(n_boot, n))
    ]
    lo, hi = np.percentile(scores, [2.5, 97.5])
    return [round(float(lo), 4), round(float(hi), 4)]


def classification_metrics(
    y_true: Sequence[str], proba: np.ndarray, labels: Sequence[str], *, n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Everything metrics.json records for one task (frame or attribution) of one model."""
    labels = list(labels)
    yt = np.array([labels.index(y) for y in y_true])
    proba = np.asarray(proba, dtype=float)
    yp = proba.argmax(1)
    ids = list(range(len(labels)))
    p, r, f, s = precision_recall_fscore_support(yt, yp, labels=ids, zero_division=0)
    return {
        "n": len(yt),
        "macro_f1": round(float(f1_score(yt, yp, labels=ids, average="macro", zero_division=0)), 4),
        "macro_f1_ci": bootstrap_macro_f1(yt, yp, ids, n_boot, seed),
        "accuracy": round(float(accuracy_score(yt, yp)), 4),
        "ece": round(expected_calibration_error(proba, yt), 4),
        "per_label": {
            lab: {
                "precision": round(float(p[k]), 4),
                "recall": round(float(r[k]), 4),
                "f1": round(float(f[k]), 4),
                "support": int(s[k]),
            }
            for k, lab in enumerate(labels)
        },
        "confusion": {"labels": labels, "matrix": confusion_matrix(yt, yp, labels=ids).tolist()},
        "reliability": reliability_bins(proba, yt),
    }
