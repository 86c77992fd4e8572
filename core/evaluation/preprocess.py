"""The input every non-maesi row sees, scaled by the model's own scaler (`core.method.scaling.Scaler`), in float64:

* tabular data: per-feature min-max scaling fitted on the training split (as `MirroredAE` does);
* images: flattened and divided by the top of the dataset's pixel range (255, or 16 for the 8x8 digits), i.e.
  scaled to [0, 1] (the maesi rows see [-1, 1], the range of their generator's tanh).
"""
from __future__ import annotations

import numpy as np

from core.method.scaling import Scaler


def _flat(X) -> np.ndarray:
    X = np.asarray(X)
    return X.reshape(len(X), -1)


class Preprocess:
    """Min-max scaling fitted on the training data (tabular) or division by the pixel range (images, flattened).

    Learned: `scaler_`, the `Scaler` that does the arithmetic."""

    def __init__(self, input_range=None):
        self.input_range = input_range  # None = tabular

    def fit(self, X) -> "Preprocess":
        if self.input_range is None:
            self.scaler_ = Scaler.fit(_flat(X), "minmax")
        else:
            self.scaler_ = Scaler.for_range(*self.input_range)
        return self

    def transform(self, X) -> np.ndarray:
        return self.scaler_.transform(_flat(X), dtype=np.float64)
