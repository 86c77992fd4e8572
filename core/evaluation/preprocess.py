"""The input every non-maesi row sees, and the seeded training subset of the rows that cap their training set.

* tabular data: per-feature min-max scaling fitted on the training split (as `MirroredAE` does);
* images: flattened and divided by the top of the dataset's pixel range (255, or 16 for the 8x8 digits), i.e.
  scaled to [0, 1].
"""
from __future__ import annotations

import numpy as np


class Preprocess:
    """Min-max scaling fitted on the training data (tabular) or division by the pixel range (images, flattened)."""

    def __init__(self, input_range=None):
        self.input_range = input_range  # None = tabular

    def fit(self, X) -> "Preprocess":
        X = np.asarray(X, dtype=np.float64)
        if self.input_range is None:
            X = X.reshape(len(X), -1)
            self.low_ = X.min(axis=0)
            span = X.max(axis=0) - self.low_
            self.span_ = np.where(span > 0, span, 1.0)
        return self

    def transform(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        if self.input_range is None:
            return (X - self.low_) / self.span_
        lo, hi = self.input_range
        return (X - lo) / (hi - lo)


def seeded_subset(X: np.ndarray, cap: int | None, seed: int) -> np.ndarray:
    """At most `cap` rows of X, drawn without replacement with `seed` and kept in their original order (the harness's
    one subset rule: `--max-train` and the training caps draw these rows); all of X when `cap` is None or not below
    len(X)."""
    if cap is None or len(X) <= cap:
        return X
    if cap < 1:
        raise ValueError(f"a training cap must be a positive number of rows, got {cap}")
    return X[np.sort(np.random.default_rng(seed).choice(len(X), cap, replace=False))]
