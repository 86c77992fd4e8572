"""The one subset rule of maesi: which rows a cap keeps. `--max-train`, the peers' training caps, the lab's
latent maps and the training timelines all draw their rows here, so one seed means the same rows everywhere."""
from __future__ import annotations

from typing import Optional

import numpy as np


def seeded_indices(n: int, cap: Optional[int], seed: int, stratify: Optional[np.ndarray] = None) -> np.ndarray:
    """Sorted indices of at most `cap` of `n` rows, drawn without replacement with `seed`; all of them when `cap`
    is None or not below n. With `stratify` (one label per row) every label keeps its share, at least one row of
    each label."""
    if cap is None or n <= cap:
        return np.arange(n)
    if cap < 1:
        raise ValueError(f"a subset cap must be a positive number of rows, got {cap}")
    rng = np.random.default_rng(seed)
    if stratify is None:
        return np.sort(rng.choice(n, cap, replace=False))
    labels = np.asarray(stratify)
    if len(labels) != n:
        raise ValueError(f"stratify has {len(labels)} labels for {n} rows")
    drawn = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        k = max(1, int(round(cap * len(rows) / n)))
        drawn.append(rng.choice(rows, min(k, len(rows)), replace=False))
    return np.sort(np.concatenate(drawn))


def seeded_subset(X: np.ndarray, cap: Optional[int], seed: int) -> np.ndarray:
    """The rows of X that `seeded_indices` keeps, in their original order (X itself when nothing is dropped)."""
    if cap is None or len(X) <= cap:
        return X
    return X[seeded_indices(len(X), cap, seed)]
