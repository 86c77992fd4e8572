"""One detector trained and evaluated under a dataset's protocol: the one path shared by `python -m core train`,
the app's training jobs, the reproduction grid and the shipped-checkpoint script.

    run = ProtocolRun.prepare("digits", klass=1, seed=0)
    model = MirroredAE(preset=run.preset, contamination=run.contamination, seed=0)
    outcome = run.fit_and_evaluate(model)            # metrics, timings, training status and health
    run.save(model, "runs/digits-c1", outcome)

Any estimator with `fit(X)` and `decision_function(X)` (higher = more anomalous) runs the same way; `MirroredAE`
also takes progress callbacks. The metrics always come from `core.evaluation.metrics.evaluate` on the split's test
set, with k = the known anomaly share for tabular data and the test set's own share for images.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from core.data.subsets import seeded_subset
from core.evaluation.metrics import evaluate
from core.evaluation.protocols import Split, resolve_class, split_for

DEFAULT_CONTAMINATION = 0.1  # PyOD's default (BaseDetector(contamination=0.1))


@dataclass
class ProtocolRun:
    dataset: str
    klass: object  # the protocol's class (None for tabular data)
    seed: int
    split: Split
    X_train: np.ndarray  # the split's training data, or a seeded subset of it (max_train)
    max_train: Optional[int] = None
    preset: str = ""
    input_range: Optional[tuple] = None  # the raw pixel range of an image dataset (None for tabular data)
    feature_names: Optional[list] = None  # a tabular dataset's columns, kept in the sidecar for scoring CSVs
    data_source: Optional[dict] = None  # a user's dataset: where it came from (core.data.user_data), for the sidecar

    @classmethod
    def prepare(cls, dataset: str, klass=None, seed: int = 0, data_dir=None, max_train: Optional[int] = None,
                ds=None) -> "ProtocolRun":
        from core.data.registry import get_spec

        spec = get_spec(dataset)
        klass = resolve_class(spec, klass)
        if ds is None:
            from core.data import load_dataset

            ds = load_dataset(dataset, data_dir=data_dir)
        split = split_for(dataset, klass, seed, ds=ds)
        # max_train 0 or None = all rows; else the harness's one subset rule (core.data.subsets)
        X_train = seeded_subset(split.X_train, max_train or None, seed)
        return cls(dataset, klass, seed, split, X_train, max_train, spec.preset_for(ds),
                   None if ds.input_range is None else tuple(float(v) for v in ds.input_range),
                   [str(n) for n in ds.feature_names] if ds.feature_names else None,
                   spec.user_source.record(ds) if spec.user_source is not None else None)

    @property
    def tabular(self) -> bool:
        return self.split.anomaly_fraction is not None

    @property
    def contamination(self) -> float:
        """The share of *training* scores above a detector's threshold (`threshold_`, what `predict` flags):
        PyOD's default 0.1 for every dataset. Never the test set's anomaly share: the training rows are all normal,
        so that share (20 % on KDD99) would flag as many normal rows; the tables' top-k metrics take the known
        share themselves (`anomaly_fraction`) and do not depend on it."""
        return DEFAULT_CONTAMINATION

    def describe(self) -> str:
        return (f"{self.split.description}: {len(self.X_train)} training samples, {len(self.split.X_test)} test "
                f"samples ({int(self.split.y_test.sum())} anomalies)")

    @property
    def labelled(self) -> bool:
        """The test set holds anomalies, so metrics are defined (a user's unlabelled data has none)."""
        return bool(np.any(self.split.y_test == 1)) and bool(np.any(self.split.y_test == 0))

    def evaluate(self, estimator, score: Optional[str] = None) -> dict:
        """The protocol's metrics on the test set: AUC, AP, and precision/recall/F1 of the top-k scores; {} when
        the test set holds no anomaly (a user's unlabelled data)."""
        if not self.labelled:
            return {}
        scores = (estimator.decision_function(self.split.X_test) if score is None
                  else estimator.decision_function(self.split.X_test, score=score))
        return evaluate(self.split.y_test, scores, self.split.anomaly_fraction)

    def fit_and_evaluate(self, estimator, callbacks=(), extra_scores: tuple = ()) -> dict:
        """Fit on the training data, score the test set. Returns {"metrics", "fit_seconds", "score_seconds",
        "status", "health", "selected_epoch", "metrics_<score>" for each of `extra_scores`}. A MirroredAE that
        diverged after at least one finished epoch is evaluated with its last good weights (status "diverged");
        one that diverged earlier raises `core.training.trainer.TrainingDiverged`."""
        from core.training.trainer import TrainingDiverged

        t0 = time.perf_counter()
        status = None
        try:
            estimator.fit(self.X_train, callbacks=list(callbacks)) if callbacks else estimator.fit(self.X_train)
        except TrainingDiverged as err:
            if not err.result.epochs_finished:
                raise
            status = "diverged"
        t1 = time.perf_counter()
        out = {"metrics": self.evaluate(estimator), "fit_seconds": t1 - t0, "n_train": int(len(self.X_train)),
               "n_test": int(len(self.split.X_test)), "n_test_anomalies": int(np.sum(self.split.y_test)),
               "split": self.split.description}
        for score in extra_scores:
            out[f"metrics_{score}"] = self.evaluate(estimator, score=score)
        out["score_seconds"] = time.perf_counter() - t1
        out["status"] = status or getattr(estimator, "training_status_", None) or "completed"
        for attr in ("health_", "selected_epoch_"):
            if getattr(estimator, attr, None) is not None:
                out[attr.rstrip("_")] = getattr(estimator, attr)
        return out

    def record(self, command: Optional[str] = None) -> dict:
        """What a checkpoint's sidecar says about the run that made it."""
        return {"dataset": self.dataset, "anomaly_class": self.klass, "command": command, "seed": self.seed,
                "max_train": self.max_train, "n_train": int(len(self.X_train)), "split": self.split.description,
                **({"feature_names": self.feature_names} if self.feature_names else {}),
                **({"data_source": self.data_source} if self.data_source else {})}

    def save(self, model, out, outcome: Optional[dict] = None, command: Optional[str] = None,
             half: bool = False) -> Path:
        return model.save(out, half=half, metrics=(outcome or {}).get("metrics", {}), extra=self.record(command))
