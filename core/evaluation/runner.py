"""One model trained and evaluated under a dataset's protocol: the shared path of `python -m core train`, the
app's training jobs and the shipped-checkpoint script.

    run = ProtocolRun("digits", anomaly_class=1, interpolation=3)
    run.fit(callbacks=[...]); metrics = run.evaluate(); run.save("runs/digits-c1")
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..config import DATASET_PRESET
from ..model import MirroredAE
from .metrics import auc, average_precision, top_k_prf
from .protocols import Split, leave_one_out, tabular_split


def evaluate_split(model, split: Split, tabular: bool, fraction: Optional[float] = None) -> dict:
    """The protocol's metrics on the split's test set: AUC and AP, plus P/R/F1 at the top-k% for tabular data."""
    scores = model.decision_function(split.X_test)
    metrics = {"auc": auc(split.y_test, scores), "ap": average_precision(split.y_test, scores)}
    if tabular:
        metrics.update(top_k_prf(split.y_test, scores, fraction))
    return metrics


def subsample(X: np.ndarray, max_n: Optional[int], seed: int) -> np.ndarray:
    """A seeded random subset of at most `max_n` rows (all of X when max_n is None or large enough)."""
    if not max_n or len(X) <= max_n:
        return X
    return X[np.sort(np.random.default_rng(seed).choice(len(X), max_n, replace=False))]


class ProtocolRun:
    """Leave-one-out for image datasets (anomaly class default 0), the 50/50 split for tabular ones."""

    def __init__(self, dataset: str, anomaly_class: Optional[int] = None, *, data_dir=None,
                 preset: Optional[str] = None, max_train: Optional[int] = None, seed: int = 0,
                 command: Optional[str] = None, **model_kwargs):
        from ..data import load_dataset

        self.dataset = load_dataset(dataset, data_dir=data_dir)
        self.tabular = self.dataset.kind == "tabular"
        if self.tabular:
            if anomaly_class is not None:
                raise ValueError(f"{dataset} is tabular: its anomaly class is fixed, so give no anomaly class")
            self.split = tabular_split(self.dataset, seed=seed)
        else:
            anomaly_class = 0 if anomaly_class is None else anomaly_class
            self.split = leave_one_out(self.dataset, anomaly_class)
        self.anomaly_class = anomaly_class
        self.X_train = subsample(self.split.X_train, max_train, seed)
        self.model = MirroredAE(preset=preset or DATASET_PRESET[dataset], seed=seed,
                                contamination=self.dataset.anomaly_fraction if self.tabular else 0.1, **model_kwargs)
        self.metrics: dict = {}
        self.extra = {"dataset": dataset, "anomaly_class": anomaly_class, "command": command, "seed": seed,
                      "max_train": max_train, "n_train": int(len(self.X_train))}

    def describe(self) -> str:
        cfg = self.model.make_config()
        return (f"{self.split.description}: {len(self.X_train)} training samples, {len(self.split.X_test)} test "
                f"samples ({int(self.split.y_test.sum())} anomalies); preset {cfg.preset}, interpolation "
                f"{cfg.interpolation}, {cfg.epochs} epochs, lipschitz {cfg.lipschitz}")

    def fit(self, callbacks=()) -> "ProtocolRun":
        self.model.fit(self.X_train, callbacks=list(callbacks))
        return self

    def evaluate(self) -> dict:
        self.metrics = evaluate_split(self.model, self.split, self.tabular,
                                      self.dataset.anomaly_fraction if self.tabular else None)
        return self.metrics

    def save(self, out, half: bool = False) -> Path:
        return self.model.save(out, half=half, metrics=self.metrics, extra=self.extra)
