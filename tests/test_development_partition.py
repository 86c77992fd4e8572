"""The development partition (core.evaluation.protocols.development_split): fixed once per dataset, disjoint from
every reported test split, and the only rows the validation seeds draw from. Datasets of ../shared/data are
checked when present (skipped with the reason otherwise); the embedded digits always."""
from pathlib import Path

import numpy as np
import pytest

from core.data import load_dataset
from core.data.registry import DATASETS, get_spec
from core.evaluation.protocols import (VALIDATION_SEEDS, _rows, development_split, split_for, tabular_split)

REPORTED_SEEDS = range(5)


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"  # as tests/conftest.py finds it


def _loaded(name):
    """The dataset from ../shared/data (the embedded digits need none); skipped with the reason when absent."""
    try:
        return load_dataset(name, data_dir=SHARED_DATA if SHARED_DATA.is_dir() else None)
    except Exception as e:  # noqa: BLE001: a dataset whose files are not here
        pytest.skip(f"{name}: {str(e).splitlines()[0]}")


def _classes(name):
    spec = get_spec(name)
    return [None] if spec.one_split else list(spec.classes)


@pytest.mark.parametrize("name", sorted(n for n in DATASETS if get_spec(n).protocol != "own"))
def test_no_reported_test_row_is_a_development_row(name):
    ds = _loaded(name)
    dev = development_split(name, ds=ds)
    assert len(dev) > 0 and len(np.unique(dev.index)) == len(dev.index)
    if ds.kind == "image":
        assert dev.source == "train" and dev.index.max() < len(ds.y_train)  # never an official test image
    seeds = REPORTED_SEEDS if get_spec(name).protocol != "leave_one_out" else [0]  # its splits ignore the seed
    for klass in _classes(name):
        for seed in seeds:
            split = split_for(name, klass, seed, ds=ds)
            assert split.test_index is not None and len(split.test_index) == len(split.y_test)
            assert not np.intersect1d(split.test_index, dev.index).size, (name, klass, seed)
            X, _ = _rows(ds)
            probe = np.linspace(0, len(split.test_index) - 1, 5).astype(int)  # the indices name the rows
            assert np.array_equal(X[split.test_index[probe]], split.X_test[probe])


@pytest.mark.parametrize("name", sorted(n for n in DATASETS if get_spec(n).protocol != "own"))
def test_validation_seeds_draw_only_development_rows_and_train_apart_from_their_test(name):
    ds = _loaded(name)
    dev = development_split(name, ds=ds)
    klass = _classes(name)[0]
    for seed in VALIDATION_SEEDS[:2]:
        split = split_for(name, klass, seed, ds=ds)
        assert np.isin(split.test_index, dev.index).all()
        assert not np.intersect1d(split.train_index, split.test_index).size
        assert split.y_test.any() and "development" in split.description
        if get_spec(name).protocol != "leave_one_out":  # leave-one-out trains on the rest of the training split
            assert np.isin(split.train_index, dev.index).all()


def test_the_partition_is_fixed_and_stratified():
    ds = load_dataset("digits")
    a, b = development_split("digits", ds=ds), development_split("digits")
    assert np.array_equal(a.index, b.index)
    shares = [np.isin(np.flatnonzero(ds.y_train == c), a.index).mean() for c in np.unique(ds.y_train)]
    assert all(abs(s - a.share) < 0.02 for s in shares)


def test_a_tabular_partition_sets_aside_its_share_of_normals_and_of_anomalies():
    from core.data.dataset import Dataset

    rng = np.random.default_rng(0)
    y = (rng.random(1000) < 0.1).astype(int)
    ds = Dataset(name="toy", kind="tabular", description="toy", X=rng.normal(size=(1000, 3)).astype(np.float32), y=y,
                 feature_names=["a", "b", "c"], anomaly_fraction=float(y.mean()))
    from core.evaluation.protocols import development_rows

    dev = development_rows(ds, "tabular")
    for label in (0, 1):
        assert np.isin(np.flatnonzero(y == label), dev.index).mean() == pytest.approx(dev.share, abs=0.01)
    rest = np.setdiff1d(np.arange(1000), dev.index)
    split = tabular_split(ds, 0, rest)
    assert not np.intersect1d(split.test_index, dev.index).size
    assert not y[split.train_index].any()


def test_a_pooled_protocol_draws_its_reported_splits_outside_the_partition():
    """COIL-100's protocol (its files are rarely present) on a small image set of 20 categories x 20 views."""
    from core.data.dataset import Dataset
    from core.evaluation.protocols import PROTOCOLS, development_rows

    y = np.repeat(np.arange(20), 20)
    X = np.arange(len(y) * 3 * 128 * 128, dtype=np.int64).reshape(len(y), 3, 128, 128) % 251
    ds = Dataset(name="toy", kind="image", description="toy", X_train=X.astype(np.uint8), y_train=y,
                 X_test=X[:0].astype(np.uint8), y_test=y[:0], class_names=[str(c) for c in range(20)],
                 input_range=(0, 255))
    dev = development_rows(ds, "coil")
    for seed in REPORTED_SEEDS:
        split = PROTOCOLS["coil"](ds, "config2", seed, dev, False)
        assert not np.intersect1d(split.test_index, dev.index).size
        assert not np.intersect1d(split.train_index, dev.index).size
    inside = PROTOCOLS["coil"](ds, "config1", 100, dev, True)
    assert np.isin(inside.test_index, dev.index).all() and np.isin(inside.train_index, dev.index).all()
