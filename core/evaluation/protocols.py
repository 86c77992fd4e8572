"""The paper's evaluation protocols. Each returns a `Split`: training data (normal only) and a labelled test set
(y_test: 1 = anomaly). Every random draw is seeded, so a (protocol, dataset, class, seed) names one split.

* `leave_one_out` (CIFAR-10, MNIST; Section 6): one class is the anomaly, train on the others.
* `tabular_split` (KDD99, Arrhythmia, Thyroid; Section 6): 50/50 split, anomalies removed from the training half.
* `one_class_fmnist` (Fashion-MNIST, Table 5): one class is normal; 80/20 split of its samples; negatives make half
  of the test set.
* `coil_config` / `coil_split` (COIL-100, Table 4): 1, 4 or 7 inlier categories with 50/25/15% outliers.

`split_for(dataset, klass, seed)` is the one entry point: it reads the dataset's protocol from the registry
(`core.data.registry`), so the CLI, the app and the reproduction runner always evaluate a dataset the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass
class Split:
    X_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray  # 1 = anomaly
    description: str
    test_classes: np.ndarray | None = None  # original class of each test sample (image protocols)
    anomaly_fraction: float | None = None  # the share assumed known for top-k metrics (tabular); None = test share


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
    return Split(ds.X[tr], ds.X[te], ds.y[te].astype(int), f"{ds.name} 50/50 split, seed {seed}",
                 anomaly_fraction=ds.anomaly_fraction)


# ------------------------------------------------------------------ one-class protocols (Fashion-MNIST, COIL-100)

def _image_pool(ds, pool: str) -> tuple[np.ndarray, np.ndarray]:
    if pool == "all":
        return np.concatenate([ds.X_train, ds.X_test]), np.concatenate([ds.y_train, ds.y_test])
    if pool == "test":
        return ds.X_test, ds.y_test
    if pool == "train":
        return ds.X_train, ds.y_train
    raise ValueError(f"pool must be 'all', 'train' or 'test', got {pool!r}")


def one_class(ds, normal_class: int, seed: int = 0, train_fraction: float = 0.8, negative_share: float = 0.5,
              inliers_from: str = "all", negatives_from: str = "all") -> Split:
    """The one-class novelty protocol of GPND/OCGAN: one class is normal, every other class is a novelty.

    The samples of `normal_class` (from `inliers_from`: "all" = train and test splits pooled) are shuffled with
    `seed`; the first `train_fraction` of them are the training set. The test set is the remaining in-class
    samples plus negatives drawn at random, without replacement, from the other classes (of `negatives_from`),
    as many as make them `negative_share` of the test set."""
    if ds.kind != "image":
        raise ValueError(f"the one-class protocol is an image protocol; {ds.name} is {ds.kind}")
    if not 0.0 < train_fraction < 1.0 or not 0.0 < negative_share < 1.0:
        raise ValueError("train_fraction and negative_share must lie strictly between 0 and 1")
    rng = np.random.default_rng(seed)
    X_in, y_in = _image_pool(ds, inliers_from)
    inliers = np.flatnonzero(y_in == normal_class)
    if len(inliers) < 2:
        raise ValueError(f"class {normal_class} has {len(inliers)} samples in {ds.name}; the protocol needs 2 or more")
    inliers = rng.permutation(inliers)
    n_train = int(round(train_fraction * len(inliers)))
    n_train = min(max(n_train, 1), len(inliers) - 1)
    tr, te_in = inliers[:n_train], inliers[n_train:]
    X_neg_pool, y_neg_pool = _image_pool(ds, negatives_from)
    candidates = np.flatnonzero(y_neg_pool != normal_class)
    n_neg = int(round(negative_share / (1.0 - negative_share) * len(te_in)))
    if n_neg > len(candidates):
        raise ValueError(f"{ds.name}: {n_neg} negatives needed but only {len(candidates)} available")
    neg = rng.choice(candidates, n_neg, replace=False)
    X_test = np.concatenate([X_in[te_in], X_neg_pool[neg]])
    y_test = np.concatenate([np.zeros(len(te_in), int), np.ones(n_neg, int)])
    classes = np.concatenate([y_in[te_in], y_neg_pool[neg]])
    order = rng.permutation(len(y_test))
    return Split(X_in[tr], X_test[order], y_test[order],
                 f"{ds.name} one-class, normal class {normal_class}, seed {seed}: {len(tr)} train, "
                 f"{len(te_in)} in-class + {n_neg} negative test samples", classes[order])


def one_class_fmnist(ds, normal_class: int, seed: int = 0) -> Split:
    """Section 6, Fashion-MNIST (Table 5): 80% of the in-class samples train, the other 20% are tested together
    with negatives drawn from the other classes so that they make half of the test set.

    Choice (the paper does not say): the in-class samples and the negatives are both drawn from the official
    train and test splits pooled (70,000 images; 7,000 per class), as GPND/OCGAN pool the whole dataset. Training
    sees only the normal class, so pooling leaks nothing: 5,600 training images and a test set of 1,400 in-class
    + 1,400 negative images per normal class."""
    return one_class(ds, normal_class, seed, train_fraction=0.8, negative_share=0.5,
                     inliers_from="all", negatives_from="all")


# Table 4: (number of inlier categories, outlier fraction of the test set).
COIL_CONFIGS = {"config1": (1, 0.50), "config2": (4, 0.25), "config3": (7, 0.15)}


def coil_split(ds, n_inlier_classes: int, outlier_fraction: float, seed: int = 0,
               train_fraction: float = 0.8) -> Split:
    """Section 6, COIL-100 (Table 4; GPND's design, after R-graph): `n_inlier_classes` categories drawn at random
    are the inliers (all their views); outliers are images drawn at random from the remaining categories, at most
    one image per category (R-graph's rule: outliers do not form a cluster). One call = one of the paper's 30
    repeats; the `seed` picks the categories and every draw.

    Choice (the paper does not give the train/test split): a seeded `train_fraction` (80%) of the inlier images is
    the training set (inliers only, as the method is trained on normal data); the test set is the other 20% of the
    inliers plus as many outliers as make `outlier_fraction` of the test set."""
    if ds.kind != "image":
        raise ValueError(f"the COIL protocol is an image protocol; {ds.name} is {ds.kind}")
    if not 0.0 < outlier_fraction < 1.0:
        raise ValueError("outlier_fraction must lie strictly between 0 and 1")
    X = np.concatenate([ds.X_train, ds.X_test]) if len(ds.X_test) else ds.X_train
    y = np.concatenate([ds.y_train, ds.y_test]) if len(ds.X_test) else ds.y_train
    classes = np.unique(y)
    if n_inlier_classes < 1 or n_inlier_classes >= len(classes):
        raise ValueError(f"n_inlier_classes must be in [1, {len(classes) - 1}], got {n_inlier_classes}")
    rng = np.random.default_rng(seed)
    inlier_classes = rng.choice(classes, n_inlier_classes, replace=False)
    inliers = rng.permutation(np.flatnonzero(np.isin(y, inlier_classes)))
    n_train = min(max(int(round(train_fraction * len(inliers))), 1), len(inliers) - 1)
    tr, te_in = inliers[:n_train], inliers[n_train:]
    n_out = int(round(outlier_fraction / (1.0 - outlier_fraction) * len(te_in)))
    others = rng.permutation(np.setdiff1d(classes, inlier_classes))
    if n_out > len(others):
        raise ValueError(f"{n_out} outliers needed but only {len(others)} other categories (one image each)")
    outliers = np.array([rng.choice(np.flatnonzero(y == c)) for c in others[:n_out]], dtype=int)
    test = np.concatenate([te_in, outliers])
    y_test = np.concatenate([np.zeros(len(te_in), int), np.ones(n_out, int)])
    order = rng.permutation(len(test))
    return Split(X[tr], X[test[order]], y_test[order],
                 f"{ds.name}: inlier categories {sorted(inlier_classes.tolist())}, {len(tr)} train, "
                 f"{len(te_in)} inlier + {n_out} outlier test images, seed {seed}", y[test[order]])


def coil_config(ds, config: str, seed: int = 0) -> Split:
    """One repeat of a Table 4 configuration: "config1" (1 category, 50% outliers), "config2" (4, 25%) or
    "config3" (7, 15%)."""
    if config not in COIL_CONFIGS:
        raise ValueError(f"unknown COIL configuration {config!r}; choose one of {sorted(COIL_CONFIGS)}")
    n, fraction = COIL_CONFIGS[config]
    return coil_split(ds, n, fraction, seed)


# ------------------------------------------------------------------ your own data (core.data.user_data)

def own_split(ds, seed: int = 0, normal_test_ratio: float = 0.2) -> Split:
    """A user's dataset: a seeded `normal_test_ratio` of the normal samples, with every labelled anomaly, is the
    test set; the other normals train (anomalies never do, as anomalib's Folder datamodule uses its abnormal
    folders). Images come with the normals in X_train and the anomalies in X_test (`core.data.user_data`); a
    table with y (1 = anomaly). Without anomalies the test set holds normals only and no metric is defined."""
    rng = np.random.default_rng(seed)
    if ds.kind == "image":
        normals, X_anom, anom_classes = ds.X_train, ds.X_test, ds.y_test
    else:
        normals, X_anom = ds.X[ds.y == 0], ds.X[ds.y == 1]
        anom_classes = np.ones(len(X_anom), np.int64)
    perm = rng.permutation(len(normals))
    n_test = min(max(int(round(normal_test_ratio * len(normals))), 1), len(normals) - 1)
    te, tr = perm[:n_test], perm[n_test:]
    X_test = np.concatenate([normals[te], X_anom])
    y_test = np.concatenate([np.zeros(n_test, int), np.ones(len(X_anom), int)])
    classes = np.concatenate([np.zeros(n_test, np.int64), anom_classes.astype(np.int64)])
    order = rng.permutation(len(y_test))
    return Split(normals[tr], X_test[order], y_test[order],
                 f"{ds.name}: {len(tr)} normal training samples; test {n_test} normal + {len(X_anom)} anomalies "
                 f"(normal test ratio {normal_test_ratio:g}, seed {seed})", classes[order])


# ------------------------------------------------------------------ one entry point, by the registry's protocol name

def _downsample(X: np.ndarray, f: int) -> np.ndarray:
    n, c, h, w = X.shape
    return X.reshape(n, c, h // f, f, w // f, f).mean(axis=(3, 5)).round().astype(np.uint8)


def _coil_protocol(ds, klass, seed: int) -> Split:
    split = coil_config(ds, klass, seed)
    # the CIFAR-10 architecture that COIL-100 trains with takes 32x32: the 128x128 views are 4x4 block-averaged
    return replace(split, X_train=_downsample(split.X_train, 4), X_test=_downsample(split.X_test, 4))


PROTOCOLS = {
    "leave_one_out": lambda ds, klass, seed: leave_one_out(ds, klass),
    "one_class": lambda ds, klass, seed: one_class_fmnist(ds, klass, seed),
    "tabular": lambda ds, klass, seed: tabular_split(ds, seed),
    "coil": _coil_protocol,
}


def resolve_class(spec, klass):
    """The protocol's class from a user's value: None for tabular data, "configN" for COIL-100 (1 or "1" work),
    else an int in range (default 0). ValueError names the valid choices."""
    if spec.one_split:
        if klass not in (None, "", "all"):
            raise ValueError(f"{spec.name}: its anomalies are given by the data, so give no class")
        return None
    choices = spec.classes
    if spec.protocol == "coil":
        klass = choices[0] if klass in (None, "") else (klass if str(klass).startswith("config") else f"config{klass}")
    else:
        try:
            klass = 0 if klass in (None, "") else int(klass)
        except (TypeError, ValueError):
            klass = None
    if klass not in choices:
        raise ValueError(f"{spec.name}: the {spec.class_role} must be one of {choices}")
    return klass


def split_for(dataset: str, klass=None, seed: int = 0, data_dir=None, ds=None) -> Split:
    """The protocol split of `dataset` (a registry name) for one class and seed; `ds` = an already loaded Dataset."""
    from core.data import load_dataset
    from core.data.registry import get_spec

    spec = get_spec(dataset)
    klass = resolve_class(spec, klass)
    ds = ds if ds is not None else load_dataset(dataset, data_dir=data_dir)
    if spec.protocol == "own":
        return own_split(ds, seed, spec.user_source.normal_test_ratio)
    return PROTOCOLS[spec.protocol](ds, klass, seed)
