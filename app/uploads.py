"""Readers of a user's uploads for the Score page (pure: no Streamlit)."""
from __future__ import annotations

import io
from typing import Optional, Sequence

import numpy as np

def read_table_upload(name: str, data: bytes, n_features: int, feature_names: Optional[Sequence[str]] = None
                      ) -> tuple[np.ndarray, list[str]]:
    """A CSV or NPY upload as an (n, n_features) float array and row names; ValueError naming the problem
    (wrong number of columns, text columns, missing values, wrong dimensions)."""
    lower = name.lower()
    if lower.endswith(".npy"):
        try:
            X = np.load(io.BytesIO(data), allow_pickle=False)
        except Exception as e:  # noqa: BLE001 (numpy raises several types for a bad file)
            raise ValueError(f"{name}: not a readable .npy file ({e})") from None
        if X.ndim == 1 and len(X) == n_features:
            X = X[None]
        if X.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D array (samples, {n_features} features), got shape {X.shape}")
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
            raise ValueError(f"{name}: expected numbers, got dtype {X.dtype}")
        names = [str(i) for i in range(len(X))]
    elif lower.endswith(".csv") or lower.endswith(".txt"):
        import pandas as pd

        try:
            df = pd.read_csv(io.BytesIO(data))
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"{name}: not a readable CSV file ({e})") from None
        header_numeric = all(_is_number(c) for c in df.columns)
        if header_numeric:  # no header row: the first row is data
            df = pd.read_csv(io.BytesIO(data), header=None)
        elif feature_names is not None and set(feature_names) <= set(map(str, df.columns)):
            df = df[[*feature_names]]  # named columns: pick and order the model's features
        text_cols = [str(c) for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
        if text_cols:
            raise ValueError(f"{name}: column(s) {', '.join(text_cols[:5])} are not numeric")
        X = df.to_numpy(dtype=np.float64)
        names = [str(i) for i in range(len(X))]
    else:
        raise ValueError(f"{name}: expected a .csv or .npy file")
    if len(X) == 0:
        raise ValueError(f"{name}: no rows")
    if X.shape[1] != n_features:
        raise ValueError(f"{name}: has {X.shape[1]} columns but the model takes {n_features} features")
    bad = np.flatnonzero(~np.isfinite(X.astype(np.float64)).all(axis=1))
    if len(bad):
        raise ValueError(f"{name}: row(s) {', '.join(map(str, bad[:5]))} contain missing or infinite values")
    return X.astype(np.float32), names


def check_image_array(name: str, X: np.ndarray, input_shape: Sequence[int]) -> np.ndarray:
    """An .npy of images checked against the model's (C, H, W); ValueError naming what differs."""
    C, H, W = (int(v) for v in input_shape)
    if X.ndim == 2 and (H, W) == X.shape and C == 1:
        X = X[None, None]
    elif X.ndim == 3 and X.shape[1:] == (H, W) and C == 1:
        X = X[:, None]
    if X.ndim != 4:
        raise ValueError(f"{name}: expected images of shape (N, {C}, {H}, {W}), got shape {X.shape}")
    if X.shape[1] != C:
        raise ValueError(f"{name}: images have {X.shape[1]} channel(s) but the model takes {C}")
    if X.shape[2:] != (H, W):
        raise ValueError(f"{name}: images are {X.shape[2]}x{X.shape[3]} but the model takes {H}x{W}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return X


def _is_number(s) -> bool:
    try:
        float(s)
        return True
    except (TypeError, ValueError):
        return False
