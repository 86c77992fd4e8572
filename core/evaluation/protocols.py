"""The paper's evaluation protocols. Each returns a `Split`: training data (normal only) and a labelled test set
(y_test: 1 = anomaly). Every random draw is seeded, so a (protocol, dataset, class, seed) names one split.

* `leave_one_out` (CIFAR-10, MNIST; Section 6): one class is the anomaly, train on the others.
* `tabular_split` (KDD99, Arrhythmia, Thyroid; Section 6): 50/50 split, anomalies removed from the training half.
* `one_class_fmnist` (Fashion-MNIST, Table 5): one class is normal; 80/20 split of its samples; negatives make half
  of the test set.
* `coil_config` / `coil_split` (COIL-100, Table 4): 1, 4 or 7 inlier categories with 50/25/15% outliers.

`split_for(dataset, klass, seed)` is the one entry point: it reads the dataset's protocol from the registry
(`core.data.registry`), so the CLI, the app and the reproduction runner always evaluate a dataset the same way.

The development partition (`development_split`): every setting the paper does not print is chosen on rows that no
reported test split holds. Tabular sets: a fixed share of the normals and of the anomalies (DEVELOPMENT_SHARE,
drawn once with DEVELOPMENT_SEED) is set aside; the reported seeds split only the other rows under the paper's
protocol, so their test halves hold that share fewer anomalies. Image sets: a fixed share of each class's
*official training* images is held out (never a test image); leave-one-out still trains on every training image
of the normal classes and tests on the official test split, and the pooled protocols (Fashion-MNIST, COIL-100)
pool only the rest. The validation seeds (VALIDATION_SEEDS) draw their splits inside the partition with the same
protocol: `split_for(dataset, klass, 100)` is a development split. Every Split carries the dataset rows it holds
(`train_index`, `test_index`: positions in the dataset as loaded; for image sets the official training images
come first, then the test images), so that disjointness is checkable.
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
    train_index: np.ndarray | None = None  # the dataset rows of X_train (image sets: train rows first, then test)
    test_index: np.ndarray | None = None  # the dataset rows of X_test, in the same numbering


VALIDATION_SEEDS = (100, 101, 102, 103, 104)  # split seeds drawn inside the development partition
DEVELOPMENT_SEED = 20261207  # the one draw of every development partition (recorded; never changed)
DEVELOPMENT_SHARE = 0.25  # tabular: of the normals and of the anomalies
DEVELOPMENT_IMAGE_SHARE = 0.1  # image sets: of each class's official training images


def _rows(ds) -> tuple[np.ndarray, np.ndarray]:
    """All samples of `ds` and their labels in the dataset's row numbering (image sets: train, then test)."""
    if ds.kind == "tabular":
        return ds.X, ds.y
    if len(ds.X_test):
        return np.concatenate([ds.X_train, ds.X_test]), np.concatenate([ds.y_train, ds.y_test])
    return ds.X_train, ds.y_train


@dataclass(frozen=True)
class DevelopmentSplit:
    """The rows of a dataset set aside for choosing what the paper does not print."""
    dataset: str
    index: np.ndarray  # dataset rows (the numbering of Split.train_index)
    source: str  # "rows" (tabular), "train" (image sets: official training images only), "none" (a user's data)
    seed: int = DEVELOPMENT_SEED
    share: float = 0.0

    def __len__(self) -> int:
        return len(self.index)


def _stratified_share(labels: np.ndarray, share: float, seed: int) -> np.ndarray:
    """A seeded `share` of each label's positions (at least one of every label with two or more), sorted."""
    rng = np.random.default_rng(seed)
    picked = []
    for label in np.unique(labels):
        where = np.flatnonzero(labels == label)
        n = int(round(share * len(where)))
        n = min(max(n, 1 if len(where) >= 2 else 0), len(where) - 1) if len(where) else 0
        picked.append(rng.permutation(where)[:n])
    return np.sort(np.concatenate(picked)).astype(np.int64) if picked else np.zeros(0, np.int64)


def development_rows(ds, protocol: str) -> DevelopmentSplit:
    """The development partition of a loaded dataset under its protocol (see the module's docstring)."""
    if protocol == "own":
        return DevelopmentSplit(ds.name, np.zeros(0, np.int64), "none")
    if ds.kind == "tabular":
        return DevelopmentSplit(ds.name, _stratified_share(np.asarray(ds.y), DEVELOPMENT_SHARE, DEVELOPMENT_SEED),
                                "rows", share=DEVELOPMENT_SHARE)
    held = _stratified_share(np.asarray(ds.y_train), DEVELOPMENT_IMAGE_SHARE, DEVELOPMENT_SEED)
    return DevelopmentSplit(ds.name, held, "train", share=DEVELOPMENT_IMAGE_SHARE)


def development_split(dataset: str, data_dir=None, ds=None) -> DevelopmentSplit:
    """The development partition of `dataset` (a registry name): fixed once per dataset, disjoint from every
    reported test split (seeds 0-4 and any other seed outside VALIDATION_SEEDS)."""
    from core.data import load_dataset
    from core.data.registry import get_spec

    ds = ds if ds is not None else load_dataset(dataset, data_dir=data_dir)
    return development_rows(ds, get_spec(dataset).protocol)


def leave_one_out(ds, anomaly_class: int, held_out=None, development: bool = False) -> Split:
    """Section 6: train on the other classes of the train split, test on the whole test split, the left-out class
    being the anomaly (MNIST, Fashion-MNIST, CIFAR-10, digits). `development`: the same protocol inside the
    training split, `held_out` (training rows) being the test set and the rest of the training split the
    training pool; the official test split is never touched."""
    if ds.kind != "image":
        raise ValueError(f"leave-one-out is an image protocol; {ds.name} is {ds.kind}")
    classes = np.unique(ds.y_train)
    if anomaly_class not in classes:
        raise ValueError(f"anomaly class {anomaly_class} is not a class of {ds.name} ({classes.tolist()})")
    n_train = len(ds.y_train)
    if development:
        test = np.asarray(held_out, dtype=np.int64)
        pool = np.setdiff1d(np.arange(n_train), test)
        train = pool[ds.y_train[pool] != anomaly_class]
        return Split(ds.X_train[train], ds.X_train[test], (ds.y_train[test] == anomaly_class).astype(int),
                     f"{ds.name} leave-one-out on its development partition (held-out training images), anomaly "
                     f"class {anomaly_class}", ds.y_train[test], train_index=train, test_index=test)
    train = np.flatnonzero(ds.y_train != anomaly_class)
    return Split(ds.X_train[train], ds.X_test, (ds.y_test == anomaly_class).astype(int),
                 f"{ds.name} leave-one-out, anomaly class {anomaly_class}", ds.y_test, train_index=train,
                 test_index=n_train + np.arange(len(ds.y_test)))


def tabular_split(ds, seed: int = 0, rows=None) -> Split:
    """Section 6, non-image data: a random 50% is the training split with its anomalies removed; the other 50%
    is the test set. `rows`: the dataset rows to split (default all of them)."""
    if ds.kind != "tabular":
        raise ValueError(f"the tabular protocol needs a tabular dataset; {ds.name} is {ds.kind}")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(np.arange(len(ds.X)) if rows is None else np.asarray(rows, dtype=np.int64))
    half = len(perm) // 2
    tr, te = perm[:half], perm[half:]
    tr = tr[ds.y[tr] == 0]
    return Split(ds.X[tr], ds.X[te], ds.y[te].astype(int), f"{ds.name} 50/50 split, seed {seed}",
                 anomaly_fraction=ds.anomaly_fraction, train_index=tr, test_index=te)


# ------------------------------------------------------------------ one-class protocols (Fashion-MNIST, COIL-100)

def _image_pool(ds, pool: str, rows=None) -> tuple[np.ndarray, np.ndarray]:
    """(dataset rows, their labels) of `pool` ("all" = train and test splits pooled), within `rows` if given."""
    X_all, y_all = _rows(ds)
    n_train = len(ds.y_train)
    if pool not in ("all", "train", "test"):
        raise ValueError(f"pool must be 'all', 'train' or 'test', got {pool!r}")
    positions = np.arange(len(y_all))
    positions = {"all": positions, "train": positions[:n_train], "test": positions[n_train:]}[pool]
    if rows is not None:
        positions = positions[np.isin(positions, rows)]
    return positions, y_all[positions]


def one_class(ds, normal_class: int, seed: int = 0, train_fraction: float = 0.8, negative_share: float = 0.5,
              inliers_from: str = "all", negatives_from: str = "all", rows=None) -> Split:
    """The one-class novelty protocol of GPND/OCGAN: one class is normal, every other class is a novelty.

    The samples of `normal_class` (from `inliers_from`: "all" = train and test splits pooled) are shuffled with
    `seed`; the first `train_fraction` of them are the training set. The test set is the remaining in-class
    samples plus negatives drawn at random, without replacement, from the other classes (of `negatives_from`),
    as many as make them `negative_share` of the test set. `rows`: the dataset rows the pools are drawn from
    (default all)."""
    if ds.kind != "image":
        raise ValueError(f"the one-class protocol is an image protocol; {ds.name} is {ds.kind}")
    if not 0.0 < train_fraction < 1.0 or not 0.0 < negative_share < 1.0:
        raise ValueError("train_fraction and negative_share must lie strictly between 0 and 1")
    rng = np.random.default_rng(seed)
    X_all, y_all = _rows(ds)
    pos_in, y_in = _image_pool(ds, inliers_from, rows)
    inliers = pos_in[y_in == normal_class]
    if len(inliers) < 2:
        raise ValueError(f"class {normal_class} has {len(inliers)} samples in {ds.name}; the protocol needs 2 or more")
    inliers = rng.permutation(inliers)
    n_train = int(round(train_fraction * len(inliers)))
    n_train = min(max(n_train, 1), len(inliers) - 1)
    tr, te_in = inliers[:n_train], inliers[n_train:]
    pos_neg, y_neg = _image_pool(ds, negatives_from, rows)
    candidates = pos_neg[y_neg != normal_class]
    n_neg = int(round(negative_share / (1.0 - negative_share) * len(te_in)))
    if n_neg > len(candidates):
        raise ValueError(f"{ds.name}: {n_neg} negatives needed but only {len(candidates)} available")
    neg = rng.choice(candidates, n_neg, replace=False)
    test = np.concatenate([te_in, neg])
    y_test = np.concatenate([np.zeros(len(te_in), int), np.ones(n_neg, int)])
    order = rng.permutation(len(y_test))
    return Split(X_all[tr], X_all[test[order]], y_test[order],
                 f"{ds.name} one-class, normal class {normal_class}, seed {seed}: {len(tr)} train, "
                 f"{len(te_in)} in-class + {n_neg} negative test samples", y_all[test[order]],
                 train_index=tr, test_index=test[order])


def one_class_fmnist(ds, normal_class: int, seed: int = 0, rows=None) -> Split:
    """Section 6, Fashion-MNIST (Table 5): 80% of the in-class samples train, the other 20% are tested together
    with negatives drawn from the other classes so that they make half of the test set.

    Choice (the paper does not say): the in-class samples and the negatives are both drawn from the official
    train and test splits pooled (70,000 images; 7,000 per class), as GPND/OCGAN pool the whole dataset. Training
    sees only the normal class, so pooling leaks nothing: 5,600 training images and a test set of 1,400 in-class
    + 1,400 negative images per normal class."""
    return one_class(ds, normal_class, seed, train_fraction=0.8, negative_share=0.5,
                     inliers_from="all", negatives_from="all", rows=rows)


# Table 4: (number of inlier categories, outlier fraction of the test set).
COIL_CONFIGS = {"config1": (1, 0.50), "config2": (4, 0.25), "config3": (7, 0.15)}


def coil_split(ds, n_inlier_classes: int, outlier_fraction: float, seed: int = 0,
               train_fraction: float = 0.8, rows=None) -> Split:
    """Section 6, COIL-100 (Table 4; GPND's design, after R-graph): `n_inlier_classes` categories drawn at random
    are the inliers (all their views); outliers are images drawn at random from the remaining categories, at most
    one image per category (R-graph's rule: outliers do not form a cluster). One call = one of the paper's 30
    repeats; the `seed` picks the categories and every draw.

    Choice (the paper does not give the train/test split): a seeded `train_fraction` (80%) of the inlier images is
    the training set (inliers only, as the method is trained on normal data); the test set is the other 20% of the
    inliers plus as many outliers as make `outlier_fraction` of the test set. `rows`: the dataset rows drawn from
    (default all)."""
    if ds.kind != "image":
        raise ValueError(f"the COIL protocol is an image protocol; {ds.name} is {ds.kind}")
    if not 0.0 < outlier_fraction < 1.0:
        raise ValueError("outlier_fraction must lie strictly between 0 and 1")
    X, y = _rows(ds)
    positions = np.arange(len(y)) if rows is None else np.asarray(rows, dtype=np.int64)
    classes = np.unique(y)
    if n_inlier_classes < 1 or n_inlier_classes >= len(classes):
        raise ValueError(f"n_inlier_classes must be in [1, {len(classes) - 1}], got {n_inlier_classes}")
    rng = np.random.default_rng(seed)
    inlier_classes = rng.choice(classes, n_inlier_classes, replace=False)
    inliers = rng.permutation(positions[np.isin(y[positions], inlier_classes)])
    n_train = min(max(int(round(train_fraction * len(inliers))), 1), len(inliers) - 1)
    tr, te_in = inliers[:n_train], inliers[n_train:]
    n_out = int(round(outlier_fraction / (1.0 - outlier_fraction) * len(te_in)))
    others = rng.permutation(np.setdiff1d(classes, inlier_classes))
    if n_out > len(others):
        raise ValueError(f"{n_out} outliers needed but only {len(others)} other categories (one image each)")
    outliers = np.array([rng.choice(positions[y[positions] == c]) for c in others[:n_out]], dtype=np.int64)
    test = np.concatenate([te_in, outliers])
    y_test = np.concatenate([np.zeros(len(te_in), int), np.ones(n_out, int)])
    order = rng.permutation(len(test))
    return Split(X[tr], X[test[order]], y_test[order],
                 f"{ds.name}: inlier categories {sorted(inlier_classes.tolist())}, {len(tr)} train, "
                 f"{len(te_in)} inlier + {n_out} outlier test images, seed {seed}", y[test[order]],
                 train_index=tr, test_index=test[order])


def coil_config(ds, config: str, seed: int = 0, rows=None) -> Split:
    """One repeat of a Table 4 configuration: "config1" (1 category, 50% outliers), "config2" (4, 25%) or
    "config3" (7, 15%)."""
    if config not in COIL_CONFIGS:
        raise ValueError(f"unknown COIL configuration {config!r}; choose one of {sorted(COIL_CONFIGS)}")
    n, fraction = COIL_CONFIGS[config]
    return coil_split(ds, n, fraction, seed, rows=rows)


# ------------------------------------------------------------------ your own data (core.data.user_data)

def own_split(ds, seed: int = 0, normal_test_ratio: float = 0.2) -> Split:
    """A user's dataset: a seeded `normal_test_ratio` of the normal samples, with every labelled anomaly, is the
    test set; the other normals train (anomalies never do, as anomalib's Folder datamodule uses its abnormal
    folders). Images come with the normals in X_train and the anomalies in X_test (`core.data.user_data`); a
    table with y (1 = anomaly). Without anomalies the test set holds normals only and no metric is defined."""
    rng = np.random.default_rng(seed)
    if ds.kind == "image":
        normals, X_anom, anom_classes = ds.X_train, ds.X_test, ds.y_test
        normal_rows = np.arange(len(normals))
        anomaly_rows = len(normals) + np.arange(len(X_anom))
    else:
        normal_rows, anomaly_rows = np.flatnonzero(ds.y == 0), np.flatnonzero(ds.y == 1)
        normals, X_anom = ds.X[normal_rows], ds.X[anomaly_rows]
        anom_classes = np.ones(len(X_anom), np.int64)
    perm = rng.permutation(len(normals))
    n_test = min(max(int(round(normal_test_ratio * len(normals))), 1), len(normals) - 1)
    te, tr = perm[:n_test], perm[n_test:]
    X_test = np.concatenate([normals[te], X_anom])
    y_test = np.concatenate([np.zeros(n_test, int), np.ones(len(X_anom), int)])
    classes = np.concatenate([np.zeros(n_test, np.int64), anom_classes.astype(np.int64)])
    order = rng.permutation(len(y_test))
    test_rows = np.concatenate([normal_rows[te], anomaly_rows])[order]
    return Split(normals[tr], X_test[order], y_test[order],
                 f"{ds.name}: {len(tr)} normal training samples; test {n_test} normal + {len(X_anom)} anomalies "
                 f"(normal test ratio {normal_test_ratio:g}, seed {seed})", classes[order],
                 train_index=normal_rows[tr], test_index=test_rows)


# ------------------------------------------------------------------ one entry point, by the registry's protocol name

def _downsample(X: np.ndarray, f: int) -> np.ndarray:
    n, c, h, w = X.shape
    return X.reshape(n, c, h // f, f, w // f, f).mean(axis=(3, 5)).round().astype(np.uint8)


def _coil_protocol(ds, klass, seed: int, rows) -> Split:
    split = coil_config(ds, klass, seed, rows)
    # the CIFAR-10 architecture that COIL-100 trains with takes 32x32: the 128x128 views are 4x4 block-averaged
    return replace(split, X_train=_downsample(split.X_train, 4), X_test=_downsample(split.X_test, 4))


def _outside(ds, development: DevelopmentSplit) -> np.ndarray:
    """Every dataset row that is not in the development partition."""
    return np.setdiff1d(np.arange(len(_rows(ds)[1])), development.index)


# Each protocol of the registry: (ds, class, seed, the development partition, whether this is a development split).
PROTOCOLS = {
    "leave_one_out": lambda ds, klass, seed, dev, is_dev: leave_one_out(ds, klass, dev.index, is_dev),
    "one_class": lambda ds, klass, seed, dev, is_dev: one_class_fmnist(
        ds, klass, seed, dev.index if is_dev else _outside(ds, dev)),
    "tabular": lambda ds, klass, seed, dev, is_dev: tabular_split(ds, seed, dev.index if is_dev else _outside(ds, dev)),
    "coil": lambda ds, klass, seed, dev, is_dev: _coil_protocol(ds, klass, seed,
                                                                dev.index if is_dev else _outside(ds, dev)),
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


def is_development_seed(seed: int) -> bool:
    """Whether split seed `seed` draws inside the development partition (the validation seeds)."""
    return int(seed) in VALIDATION_SEEDS


def split_for(dataset: str, klass=None, seed: int = 0, data_dir=None, ds=None) -> Split:
    """The protocol split of `dataset` (a registry name) for one class and seed; `ds` = an already loaded Dataset.
    A validation seed (VALIDATION_SEEDS) gives a split of the development partition, any other seed a split of
    the rest (whose test rows the development partition never holds)."""
    from core.data import load_dataset
    from core.data.registry import get_spec

    spec = get_spec(dataset)
    klass = resolve_class(spec, klass)
    ds = ds if ds is not None else load_dataset(dataset, data_dir=data_dir)
    if spec.protocol == "own":
        return own_split(ds, seed, spec.user_source.normal_test_ratio)
    development = development_rows(ds, spec.protocol)
    split = PROTOCOLS[spec.protocol](ds, klass, seed, development, is_development_seed(seed))
    if is_development_seed(seed) and "development" not in split.description:
        split = replace(split, description=f"{split.description} (development partition)")
    return split
