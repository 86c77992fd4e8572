"""Metrics of the paper's tables: ROC AUC (image protocols) and precision/recall/F1 at the top-k% scores
(tabular protocol, k = the known anomaly fraction), plus average precision; and their summaries over seeds."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve


def _check(y_true, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(int).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length: {y.shape} vs {s.shape}")
    if len(np.unique(y)) != 2:
        raise ValueError("AUC needs both normal (0) and anomalous (1) samples")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or Inf")
    return y, s


def auc(y_true, scores) -> float:
    y, s = _check(y_true, scores)
    return float(roc_auc_score(y, s))


def average_precision(y_true, scores) -> float:
    y, s = _check(y_true, scores)
    return float(average_precision_score(y, s))


def roc(y_true, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate, thresholds)."""
    y, s = _check(y_true, scores)
    return roc_curve(y, s)


def top_k_prf(y_true, scores, fraction: float) -> dict:
    """Flag the top `fraction` of scores as anomalies (the DAGMM/ALAD protocol) and return precision, recall, F1."""
    y, s = _check(y_true, scores)
    k = int(round(fraction * len(s)))
    flagged = np.zeros(len(s), dtype=bool)
    flagged[np.argsort(-s, kind="stable")[:k]] = True
    return prf_at(y, flagged)


def prf_at(y_true, flagged) -> dict:
    y = np.asarray(y_true).astype(bool)
    f = np.asarray(flagged).astype(bool)
    tp = float((y & f).sum())
    precision = tp / f.sum() if f.sum() else 0.0
    recall = tp / y.sum() if y.sum() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


METRICS = ("auc", "ap", "precision", "recall", "f1")


def evaluate(y_true, scores, fraction: float | None = None) -> dict:
    """Every metric of the tables for one scored test set: AUC, average precision, and precision / recall / F1 of
    the top-`fraction` scores. `fraction` is the anomaly share assumed known (the tabular protocol passes the
    dataset's); None uses the test set's own anomaly share, so k equals the number of anomalies and
    precision = recall = F1 (R-precision)."""
    y, s = _check(y_true, scores)
    if fraction is None:
        fraction = float(y.mean())
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must lie strictly between 0 and 1, got {fraction}")
    out = {"auc": auc(y, s), "ap": average_precision(y, s)}
    out.update(top_k_prf(y, s, fraction))
    return out


def mean_std(values) -> tuple[float, float, int]:
    """(mean, sample standard deviation (ddof 1; 0 for one value), count) of the finite values."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if len(v) == 0:
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0, len(v)


def health_counts(verdicts: list) -> str:
    """'5 ok', '3 collapsed / 2 ok': a row's training-health verdicts over seeds, most frequent first (the health
    counterpart of `mean_std`)."""
    counts: dict = {}
    for v in verdicts:
        counts[v or "not recorded"] = counts.get(v or "not recorded", 0) + 1
    return " / ".join(f"{n} {v}" for v, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
