"""ODDS outlier-detection sets (Thyroid, Arrhythmia) from their MATLAB .mat files.

Each file has ``X`` (N, F) and ``y`` (N, 1) with 1 = outlier. ODDS has already handled
missing values; Thyroid's features are in [0, 1], Arrhythmia's are raw measurements.
Features are returned unscaled (float32); ODDS gives no feature names, so they are x0, x1, ...
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.data.dataset import DataFileError, Dataset

__all__ = ["load_odds"]


def load_odds(path: Path, name: str, description: str) -> Dataset:
    """Load an ODDS .mat file as a tabular Dataset (y: 1 = anomaly)."""
    import scipy.io  # imported here: scipy is slow to import and only needed for .mat files

    path = Path(path)
    try:
        mat = scipy.io.loadmat(path)
    except Exception as e:  # scipy raises ValueError/TypeError/OSError/... for damaged files
        raise DataFileError(path, f"cannot read the MAT file ({type(e).__name__}: {e})") from e
    if "X" not in mat or "y" not in mat:
        raise DataFileError(path, f"expected keys X and y, found {sorted(k for k in mat if not k.startswith('__'))}")
    X = np.asarray(mat["X"], dtype=np.float32)
    y = np.asarray(mat["y"]).ravel()
    if X.ndim != 2 or len(y) != len(X) or not np.isin(y, (0, 1)).all():
        raise DataFileError(path, f"X {X.shape} and y {y.shape} do not form N rows with 0/1 labels")
    if not np.isfinite(X).all():
        raise DataFileError(path, "X contains NaN or infinite values")
    return Dataset(name=name, kind="tabular", description=description, X=X, y=y.astype(np.int64),
                   feature_names=[f"x{i}" for i in range(X.shape[1])], source=(str(path),))
