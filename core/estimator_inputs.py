"""What `core.estimator.MirroredAE` accepts: the input checks (with scikit-learn's wording where its estimator checks
look for it), the deprecated `score=` argument, and the rule for scores that are not finite.

A score is non-finite when the float32 networks cannot compute it, e.g. for a tabular row holding 3e38 in a column
of small values: the model's normalisation overflows. Such a row is never labelled normal: `decision_function`
returns +inf for it (the most anomalous score, kept visible rather than silently replaced by a number) and
`predict` labels it 1. numpy's overflow warnings are kept inside (`quiet_numpy`), so no warning naming a file path
reaches a caller of `decision_function` or `predict`.
"""
from __future__ import annotations

import contextlib
import warnings

import numpy as np
import torch
from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

from core.method.config import upgrade_keys


class NotFittedError(_SklearnNotFittedError, RuntimeError):
    """A MirroredAE used before `fit` or `load`: scikit-learn's NotFittedError (a ValueError and AttributeError),
    and a RuntimeError as it was before."""


def quiet_numpy():
    """numpy's floating-point warnings off for the block (thread-local: `np.errstate` is a context variable)."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore")


def visible_scores(scores: np.ndarray) -> np.ndarray:
    """The scores with NaN (a score the networks could not compute) shown as +inf: the most anomalous."""
    return np.where(np.isnan(scores), np.inf, scores)


def anomaly_labels(scores: np.ndarray, threshold: float) -> np.ndarray:
    """1 above the threshold or not finite (never normal), else 0."""
    return ((scores > threshold) | ~np.isfinite(scores)).astype(int)


def score_kind_from(score_kind: str, deprecated: dict) -> str:
    """`MirroredAE(score=...)`, the former name of `score_kind`, still works with a FutureWarning; any other
    unknown keyword is a TypeError as for any function."""
    deprecated = dict(deprecated)
    if "score" in deprecated:
        old = deprecated.pop("score")
        warnings.warn("MirroredAE(score=...) is deprecated and will be removed; use score_kind=... (score is "
                      "now the scikit-learn method score(X, y))", FutureWarning, stacklevel=3)
        if score_kind != "feature" and score_kind != old:
            raise TypeError(f"MirroredAE got score={old!r} and score_kind={score_kind!r}; pass score_kind only")
        score_kind = old
    if deprecated:
        raise TypeError(f"MirroredAE got unexpected keyword argument(s) {sorted(deprecated)}")
    return score_kind


def as_array(X) -> np.ndarray:
    """X as a real numeric numpy array: a clear error for sparse, ragged, complex or non-numeric input."""
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError("X is a sparse matrix or array: sparse input is not supported; pass X.toarray()")
    if hasattr(X, "to_numpy"):
        X = X.to_numpy()
    try:
        X = np.asarray(X)
    except Exception as e:  # ragged lists and the like
        raise ValueError(f"X could not be read as an array: {e}") from None
    if np.iscomplexobj(X):
        raise ValueError("X must be real-valued: Complex data not supported")
    if X.dtype == object:
        try:
            X = X.astype(np.float64)
        except (TypeError, ValueError) as e:
            raise type(e)(f"X must be numeric: {e}") from None
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise ValueError(f"X must be numeric, got dtype {X.dtype}")
    return X


def check_shape(X: np.ndarray, preset: str, tabular: bool) -> np.ndarray:
    """(samples, features) for a tabular preset, (N, C, H, W) images (or (N, H, W) grey ones) otherwise."""
    if tabular:
        if X.ndim != 2:
            hint = (" Reshape your data: X.reshape(-1, 1) for a single feature, X.reshape(1, -1) for a single "
                    "sample." if X.ndim == 1 else "")
            raise ValueError(f"preset {preset!r} is tabular: X must be 2-D (samples, features), got shape "
                             f"{X.shape}.{hint}")
        if X.shape[1] == 0:
            raise ValueError(f"X has no features: 0 feature(s) (shape={X.shape}) while a minimum of 1 is required.")
    else:
        if X.ndim == 3:  # (N, H, W) grey images
            X = X[:, None]
        if X.ndim != 4:
            raise ValueError(f"preset {preset!r} takes images: X must be (N, C, H, W) or (N, H, W), "
                             f"got shape {X.shape}")
        if 0 in X.shape[1:]:
            raise ValueError(f"X has images of no pixels: per-sample shape {X.shape[1:]}")
    if len(X) == 0:
        raise ValueError(f"X has no samples: 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")
    return X


def check_fitted_shape(X: np.ndarray, input_shape: tuple, tabular: bool) -> None:
    if tuple(X.shape[1:]) == tuple(input_shape):
        return
    if tabular:
        raise ValueError(f"X has {X.shape[1]} features, but MirroredAE is expecting {input_shape[0]} features "
                         f"as input")
    raise ValueError(f"X has per-sample shape {tuple(X.shape[1:])} but the model was fitted on {tuple(input_shape)}")


def check_finite(X: np.ndarray) -> None:
    if not np.isfinite(X).all():
        rows = np.flatnonzero(~np.isfinite(X.reshape(len(X), -1)).all(axis=1))
        shown = ", ".join(str(r) for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
        raise ValueError(f"X contains NaN or infinite values (rows {shown})")


@contextlib.contextmanager
def torch_threads(n: int):
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def upgrade_params(params: dict) -> dict:
    """A sidecar's `params` in today's names: `upgrade_keys`' renames, and `score` (before it was `score_kind`)."""
    params = upgrade_keys(params)
    if "score" in params:
        old = params.pop("score")
        if params.setdefault("score_kind", old) != old:
            raise ValueError(f"score (the former name of score_kind) is {old!r} but score_kind is "
                             f"{params['score_kind']!r}")
    return params
