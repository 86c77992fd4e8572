"""Input normalisation: the one min-max / affine scaler of maesi. It travels with a model (it is written into every
checkpoint), and the evaluation's other rows scale their input with it too (`core.evaluation.preprocess`).

Images: the preset's raw pixel range (e.g. [0, 255], or [0, 16] for the 8x8 digits) is mapped affinely to
[-1, 1], the range of the generator's tanh. Tabular data (`Config.scaling`, fitted on the training normals only,
so no statistic of the test split leaks into training): "minmax" maps each feature to [0, 1], "zscore" to zero
mean and unit variance, "none" leaves the features as they are.
"""
from __future__ import annotations

import numpy as np

KINDS = ("affine", "minmax", "zscore", "identity")


class Scaler:
    """x_scaled = (x - low) / span, then 2 x - 1 for images. `low`/`high` are the min/max (minmax), or the mean and
    mean + std (zscore), so that one formula serves every kind and the sidecar stays two vectors."""

    def __init__(self, kind: str, low, high):
        if kind not in KINDS:
            raise ValueError(f"unknown scaler kind {kind!r}")
        self.kind = kind
        self.low = np.asarray(low, dtype=np.float64)
        self.high = np.asarray(high, dtype=np.float64)
        span = self.high - self.low
        # A constant training column maps to 0 rather than dividing by zero.
        self.span = np.where(span > 0, span, 1.0)

    @classmethod
    def for_images(cls, input_range) -> "Scaler":
        return cls("affine", float(input_range[0]), float(input_range[1]))

    @classmethod
    def fit(cls, X: np.ndarray, scaling: str) -> "Scaler":
        """A tabular scaler of `Config.scaling` ("minmax", "zscore" or "none") fitted on X."""
        X = np.asarray(X, dtype=np.float64)
        if scaling == "minmax":
            return cls("minmax", X.min(axis=0), X.max(axis=0))
        if scaling == "zscore":
            mean = X.mean(axis=0)
            return cls("zscore", mean, mean + X.std(axis=0))
        if scaling == "none":
            return cls("identity", np.zeros(X.shape[1]), np.ones(X.shape[1]))
        raise ValueError(f"unknown scaling {scaling!r}; choose minmax, zscore or none")

    @classmethod
    def for_range(cls, low: float, high: float) -> "Scaler":
        """A fixed range [low, high] (e.g. a pixel range) mapped to [0, 1], the same for every feature."""
        return cls("minmax", float(low), float(high))

    def transform(self, X: np.ndarray, dtype=np.float32) -> np.ndarray:
        # float32 by default, as the model trains: a CIFAR-10 training set in float64 would need over 1 GB for
        # nothing. The classical baselines ask for float64, the precision scikit-learn and PyOD compute in.
        Xs = (np.asarray(X, dtype=dtype) - self.low.astype(dtype)) / self.span.astype(dtype)
        return 2.0 * Xs - 1.0 if self.kind == "affine" else Xs

    def inverse(self, Xs: np.ndarray) -> np.ndarray:
        Xs = np.asarray(Xs, dtype=np.float64)
        if self.kind == "affine":
            Xs = (Xs + 1.0) / 2.0
        return (Xs * self.span + self.low).astype(np.float32)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "low": self.low.tolist(), "high": self.high.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> "Scaler":
        return cls(d["kind"], d["low"], d["high"])


def scaler_for(config, X: np.ndarray) -> Scaler:
    """The scaler a model of `config` fits on its training data X."""
    if config.arch.family != "mlp":
        return Scaler.for_images(config.input_range)
    return Scaler.fit(X, config.scaling)
