"""The paper's evaluation protocols. Each returns a `Split`: training data (normal only) and a labelled test set
(y_test: 1 = anomaly)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Split:
    X_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray  # 1 = anomaly
    description: str
    test_classes: np.ndarray | None = None  # original class of each test sample (image protocols)


def leave_one_out(ds, anomaly_class: int) -> Split:
    """Section 6: train on the other classes of the train split, test on the whole test split, the left-out class
    being the anomaly (MNIST, Fashion-MNIST, CIFAR-10, digits)."""
    if ds.kind != "image":
        raise ValueError(f"leave-one-out is an image protocol; {ds.name} is {ds.kind}")
    classes = np.unique(ds.y_train)
    if anomaly_class not in classes:
        raise ValueError(f"anomaly class {anomaly_class} is not a class of {ds.name} ({classes.tolist()})")
    keep = ds.y_train != anomaly_class
    return Split(ds.X_train[keep], ds.X_test, (ds.y_test == anomaly_class).astype(int),
                 f"{ds.name} leave-one-out, anomaly class {anomaly_class}", ds.y_test)


def tabular_split(ds, seed: int = 0) -> Split:
    """Section 6, non-image data: a random 50% is the training split with its anomalies removed; the other 50%
    is the test set."""
    if ds.kind != "tabular":
        raise ValueError(f"the tabular protocol needs a tabular dataset; {ds.name} is {ds.kind}")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(ds.X))
    half = len(perm) // 2
    tr, te = perm[:half], perm[half:]
    tr = tr[ds.y[tr] == 0]
    return Split(ds.X[tr], ds.X[te], ds.y[te].astype(int), f"{ds.name} 50/50 split, seed {seed}")
