"""The dataset layer (core.data): loaders, errors, data-dir resolution, cache, downloads, CLI,
and the upload helper.

Tests that need the real data (../shared/data) take the `shared_data` fixture and are skipped
with a reason when it is absent. Everything written goes to tmp_path: the cache is redirected
with MAESI_CACHE for the whole module, and downloads only ever talk to a local server on
127.0.0.1.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import re
import shutil
import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data import (DATASETS, DataFileError, Dataset, DatasetNotFoundError, cache_dir, load_dataset,
                       resolve_data_dir)
from core.data import cifar, kdd
from core.data.idx import read_idx
from core.data.paths import cached_arrays


# every cache write of the module goes to a temporary folder (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("isolated_cache")


# --- registry and the Dataset record -------------------------------------------------------

def test_registry_lists_the_papers_datasets():
    assert set(DATASETS) == {"digits", "mnist", "fashion_mnist", "cifar10", "cifar10_exact", "coil100",
                             "kdd99", "arrhythmia", "thyroid"}
    for spec in DATASETS.values():
        assert spec.kind in ("image", "tabular") and spec.description and callable(spec.loader)
        assert isinstance(spec.files, tuple)


def test_dataset_record_checks_its_contract():
    with pytest.raises(ValueError, match="uint8"):
        Dataset(name="x", kind="image", description="", X_train=np.zeros((2, 1, 4, 4), np.float32),
                y_train=np.zeros(2, np.int64), X_test=np.zeros((0, 1, 4, 4), np.uint8),
                y_test=np.zeros(0, np.int64), class_names=["a"], input_range=(0, 255))
    ds = Dataset(name="t", kind="tabular", description="", X=np.zeros((4, 2), np.float32),
                 y=np.array([0, 0, 0, 1]), feature_names=["a", "b"])
    assert ds.anomaly_fraction == 0.25 and ds.n_classes == 2 and ds.X_train is None
    assert len(repr(ds)) < 120


# --- digits (no data dir) ------------------------------------------------------------------

def test_digits_needs_no_data_dir_and_is_a_seeded_stratified_split(tmp_path):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    ds = load_dataset("digits", data_dir=tmp_path / "does-not-exist")
    assert ds.X_train.shape == (1257, 1, 8, 8) and ds.X_test.shape == (540, 1, 8, 8)
    assert ds.X_train.dtype == np.uint8 and ds.y_train.dtype == np.int64
    assert ds.input_range == (0, 16) and ds.X_train.max() == 16 and ds.class_names == [str(i) for i in range(10)]
    total = np.bincount(ds.y_train, minlength=10) + np.bincount(ds.y_test, minlength=10)
    assert np.all(np.abs(np.bincount(ds.y_test, minlength=10) - 0.3 * total) <= 1)  # stratified
    again = load_dataset("digits")
    assert np.array_equal(ds.X_train, again.X_train) and np.array_equal(ds.y_test, again.y_test)
    b = load_digits()
    _, X_test, _, y_test = train_test_split(b.images, b.target, test_size=0.3, stratify=b.target, random_state=0)
    assert np.array_equal(ds.X_test[:, 0], X_test.astype(np.uint8)) and np.array_equal(ds.y_test, y_test)


# --- real datasets ---------------------------------------------------------------------------

def test_mnist(shared_data):
    ds = load_dataset("mnist", shared_data)
    assert ds.X_train.shape == (60000, 1, 28, 28) and ds.X_test.shape == (10000, 1, 28, 28)
    assert ds.X_train.dtype == np.uint8 and ds.y_train.dtype == np.int64 and ds.input_range == (0, 255)
    assert np.bincount(ds.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(ds.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert ds.X_train.mean() == pytest.approx(33.32, abs=0.01)
    assert ds.X_train.flags.writeable


def test_fashion_mnist(shared_data):
    ds = load_dataset("fashion_mnist", shared_data)
    assert ds.X_train.shape == (60000, 1, 28, 28) and ds.X_test.shape == (10000, 1, 28, 28)
    assert np.bincount(ds.y_train).tolist() == [6000] * 10 and np.bincount(ds.y_test).tolist() == [1000] * 10
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot" and ds.n_classes == 10


def test_cifar10_exact_subset(shared_data):
    ds = load_dataset("cifar10_exact", shared_data)
    assert ds.X_train.shape == (4000, 3, 32, 32) and ds.X_test.shape == (1000, 3, 32, 32)
    assert ds.X_train.dtype == np.uint8 and ds.X_train.flags.c_contiguous
    assert np.bincount(ds.y_train).tolist() == [396, 366, 420, 384, 422, 393, 414, 385, 407, 413]
    assert np.bincount(ds.y_test).tolist() == [103, 89, 100, 103, 90, 86, 112, 102, 106, 109]
    # first row of training image 0, red channel, as printed from the official binaries (README)
    assert ds.X_train[0, 0, 0, :12].tolist() == [59, 43, 50, 68, 98, 119, 139, 145, 149, 149, 131, 125]
    assert ds.class_names[0] == "airplane" and ds.class_names[-1] == "truck"


def test_cifar10_jpeg_decoder_on_a_slice(shared_data):
    """The JPEG copy is aligned with the exact pixels (MAE ~5.8 per README), in CHW order."""
    path = shared_data / "cifar10" / "cifar10_jpeg_yoongikim.npz"
    X, y = cifar.decode_jpeg_npz(path, "train", limit=300)
    exact = load_dataset("cifar10_exact", shared_data)
    assert X.shape == (300, 3, 32, 32) and X.dtype == np.uint8
    assert np.array_equal(y, exact.y_train[:300])
    assert 3 < np.abs(X.astype(int) - exact.X_train[:300]).mean() < 10
    _, y_test = cifar.decode_jpeg_npz(path, "test", limit=5)
    assert y_test.tolist() == [0] * 5  # the test split is grouped by class


@pytest.mark.skipif(not os.environ.get("MAESI_SLOW_TESTS"), reason="decodes all 60k JPEGs (~6 s + 185 MB "
                    "cache); set MAESI_SLOW_TESTS=1 to run")
def test_cifar10_full_jpeg_decode_matches_readme(shared_data):
    ds = load_dataset("cifar10", shared_data)
    sha = lambda a: hashlib.sha256(np.ascontiguousarray(a.transpose(0, 2, 3, 1)).tobytes()).hexdigest()
    assert sha(ds.X_train) == "5aaf8a2cf2e577ff4dbb15e4f368840fab5aca1812bcc69682005f8dc661d466"
    assert sha(ds.X_test) == "5a6aa8185204d80b65d3dfb540696dadd5f10d185ded226a96665d3e0fc6259f"


def _write_cifar_binary(folder: Path, X: np.ndarray, y: np.ndarray, per_batch: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    records = np.concatenate([y.astype(np.uint8)[:, None], X.reshape(len(X), -1)], axis=1)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for i, name in enumerate(names):
        (folder / name).write_bytes(records[i * per_batch:(i + 1) * per_batch].tobytes())


def test_cifar10_from_the_canonical_binary_archive(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (60, 3, 32, 32), dtype=np.uint8)
    y = rng.integers(0, 10, 60)
    _write_cifar_binary(tmp_path / "build" / "cifar-10-batches-bin", X, y, per_batch=10)
    (tmp_path / "data" / "cifar10").mkdir(parents=True)
    with tarfile.open(tmp_path / "data" / "cifar10" / "cifar-10-binary.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "build" / "cifar-10-batches-bin", arcname="cifar-10-batches-bin")
    ds = load_dataset("cifar10", tmp_path / "data")
    assert np.array_equal(ds.X_train, X[:50]) and np.array_equal(ds.y_train, y[:50])
    assert np.array_equal(ds.X_test, X[50:]) and ds.y_test.dtype == np.int64
    # the extracted folder works too, and a truncated batch is reported by name
    shutil.move(tmp_path / "build" / "cifar-10-batches-bin", tmp_path / "extracted" / "cifar10" / "cifar-10-batches-bin")
    assert np.array_equal(load_dataset("cifar10", tmp_path / "extracted").X_test, X[50:])
    batch = tmp_path / "extracted" / "cifar10" / "cifar-10-batches-bin" / "test_batch.bin"
    batch.write_bytes(batch.read_bytes()[:-100])
    with pytest.raises(DataFileError, match="test_batch.bin"):
        load_dataset("cifar10", tmp_path / "extracted")


def test_kdd99(shared_data):
    ds = load_dataset("kdd99", shared_data)
    assert ds.kind == "tabular" and ds.X.dtype == np.float32 and ds.y.dtype == np.int64
    assert ds.X.shape == (494021, kdd.KDD99_WIDTH) and kdd.KDD99_WIDTH == 38 + 3 + 66 + 11 == 118
    assert "**118**" in kdd.__doc__ and "121" in kdd.__doc__  # the width the docstring states
    assert int(ds.y.sum()) == 97278 and ds.anomaly_fraction == pytest.approx(97278 / 494021)
    names = ds.feature_names
    assert len(names) == 118 and names[0] == "duration" and names[38] == "protocol_type=icmp"
    counts = ds.X[:, [names.index(f"protocol_type={p}") for p in ("icmp", "tcp", "udp")]].sum(0)
    assert counts.tolist() == [283602, 190065, 20354]
    for prefix, n in (("protocol_type=", 3), ("service=", 66), ("flag=", 11)):
        cols = [i for i, f in enumerate(names) if f.startswith(prefix)]
        assert len(cols) == n and np.all(ds.X[:, cols].sum(1) == 1)
    assert ds.X[:, :38].max() > 1  # raw, not scaled
    assert list(cache_dir().glob("kdd99-*.npz")), "the parsed file is cached under MAESI_CACHE"
    again = load_dataset("kdd99", shared_data)  # from the cache
    assert np.array_equal(again.X, ds.X) and np.array_equal(again.y, ds.y)
    alad = kdd.load_kdd99(shared_data, alad_encoding=True)
    assert alad.X.shape == (494021, kdd.KDD99_ALAD_WIDTH) == (494021, 121)


@pytest.mark.parametrize("name, shape, anomalies", [("thyroid", (3772, 6), 93), ("arrhythmia", (452, 274), 66)])
def test_odds(shared_data, name, shape, anomalies):
    ds = load_dataset(name, shared_data)
    assert ds.X.shape == shape and ds.X.dtype == np.float32 and ds.y.dtype == np.int64
    assert int(ds.y.sum()) == anomalies and ds.anomaly_fraction == pytest.approx(anomalies / shape[0])
    assert ds.X_train is None and ds.class_names is None and DATASETS[name].sample_shape == shape[1:]


# --- corrupt files and missing data ----------------------------------------------------------

def _idx_bytes(dims, payload: bytes) -> bytes:
    return bytes([0, 0, 8, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + payload


def test_idx_corrupt_or_truncated_files_name_the_file(tmp_path):
    good = tmp_path / "good-idx1-ubyte.gz"
    good.write_bytes(gzip.compress(_idx_bytes([5], bytes(range(5)))))
    assert read_idx(good, 1).tolist() == [0, 1, 2, 3, 4]
    short = tmp_path / "short-idx3-ubyte.gz"
    short.write_bytes(gzip.compress(_idx_bytes([3, 28, 28], bytes(2 * 784))))
    with pytest.raises(DataFileError, match=r"short-idx3-ubyte\.gz.*header announces"):
        read_idx(short, 3)
    cut = tmp_path / "cut-idx1-ubyte.gz"
    cut.write_bytes(good.read_bytes()[:-12])
    with pytest.raises(DataFileError, match=r"cut-idx1-ubyte\.gz.*decompress"):
        read_idx(cut, 1)
    magic = tmp_path / "magic-idx1-ubyte.gz"
    magic.write_bytes(gzip.compress(b"\x00\x00\x08\x03" + bytes(20)))
    with pytest.raises(DataFileError, match=r"magic-idx1-ubyte\.gz.*magic"):
        read_idx(magic, 1)
    # through the loader: a dataset folder with a truncated image file
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    for stem, dims in (("train-images-idx3-ubyte", [2, 28, 28]), ("t10k-images-idx3-ubyte", [2, 28, 28]),
                       ("train-labels-idx1-ubyte", [2]), ("t10k-labels-idx1-ubyte", [2])):
        (folder / f"{stem}.gz").write_bytes(gzip.compress(_idx_bytes(dims, bytes(int(np.prod(dims))))))
    assert load_dataset("mnist", tmp_path / "data").X_train.shape == (2, 1, 28, 28)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_bytes([2, 28, 28], bytes(784))))
    with pytest.raises(DataFileError, match="t10k-images-idx3-ubyte.gz"):
        load_dataset("mnist", tmp_path / "data")


def test_not_found_error_names_dataset_folder_files_and_fixes(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("mnist", tmp_path)
    e = info.value
    assert isinstance(e, FileNotFoundError) and e.dataset == "mnist" and e.folder == tmp_path
    msg = str(e)
    for part in ("'mnist'", str(tmp_path), "mnist/train-images-idx3-ubyte.gz", "--data-dir", "MAESI_DATA",
                 "python -m core data download mnist"):
        assert part in msg
    coil = str(pytest.raises(DatasetNotFoundError, load_dataset, "coil100", tmp_path).value)
    assert "coil-100/obj1__0.png" in coil and "coil-100.zip" in coil
    exact = str(pytest.raises(DatasetNotFoundError, load_dataset, "cifar10_exact", tmp_path).value)
    assert "no public download" in exact
    with pytest.raises(ValueError, match="unknown dataset 'nope'"):
        load_dataset("nope")


# --- data dir and cache -------------------------------------------------------------------

def test_data_dir_resolution_order(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv("MAESI_DATA", raising=False)
    assert resolve_data_dir() == tmp_path / "home" / ".local" / "share" / "maesi" / "data"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert resolve_data_dir() == tmp_path / "xdg" / "maesi" / "data"
    monkeypatch.setenv("MAESI_DATA", str(tmp_path / "env"))
    assert resolve_data_dir() == tmp_path / "env"
    assert resolve_data_dir(tmp_path / "flag") == tmp_path / "flag"
    assert resolve_data_dir(str(tmp_path / "flag")) == tmp_path / "flag"


def test_cache_dir_and_cached_arrays(monkeypatch, tmp_path):
    monkeypatch.setenv("MAESI_CACHE", str(tmp_path / "cache"))
    assert cache_dir() == tmp_path / "cache"
    monkeypatch.delenv("MAESI_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "maesi"
    monkeypatch.setenv("MAESI_CACHE", str(tmp_path / "cache"))

    source = tmp_path / "source.bin"
    source.write_bytes(b"v1")
    calls = []

    def build():
        calls.append(1)
        return {"a": np.arange(3), "names": np.array(["x", "yz"])}

    first = cached_arrays("unit", [source], build)
    second = cached_arrays("unit", [source], build)
    assert len(calls) == 1 and np.array_equal(second["a"], first["a"]) and second["names"].tolist() == ["x", "yz"]
    entries = list((tmp_path / "cache").iterdir())
    assert len(entries) == 1 and re.fullmatch(r"unit-[0-9a-f]{20}\.npz", entries[0].name)  # no temp files left
    source.write_bytes(b"v2, changed")  # new size/mtime: rebuilt, old entry replaced
    cached_arrays("unit", [source], build)
    assert len(calls) == 2 and len(list((tmp_path / "cache").iterdir())) == 1
    (tmp_path / "not-a-dir").write_text("")
    monkeypatch.setenv("MAESI_CACHE", str(tmp_path / "not-a-dir" / "cache"))
    with pytest.warns(RuntimeWarning, match="could not write cache"):
        assert cached_arrays("unit", [source], build)["a"].tolist() == [0, 1, 2]


# --- COIL-100 -----------------------------------------------------------------------------------

def _png(color, size=(8, 8)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def test_coil100_folder_and_zip(tmp_path):
    files = {"obj10__0.png": (10, 0, 0), "obj1__5.png": (1, 5, 0), "obj1__0.png": (1, 0, 0), "obj2__355.png": (2, 0, 0)}
    folder = tmp_path / "data" / "coil-100"
    folder.mkdir(parents=True)
    for name, color in files.items():
        (folder / name).write_bytes(_png(color))
    (folder / "convertGroupppm2png.pl").write_text("# not an image")
    ds = load_dataset("coil100", tmp_path / "data")
    assert ds.X_train.shape == (4, 3, 8, 8) and ds.X_train.dtype == np.uint8
    assert ds.y_train.tolist() == [0, 0, 1, 9]  # sorted by object number, then angle
    assert ds.X_train[:, 0, 0, 0].tolist() == [1, 1, 2, 10] and ds.X_train[:, 1, 0, 0].tolist() == [0, 5, 0, 0]
    assert ds.X_test.shape == (0, 3, 8, 8) and ds.y_test.shape == (0,) and ds.n_classes == 100
    (tmp_path / "zipped").mkdir()
    with zipfile.ZipFile(tmp_path / "zipped" / "coil-100.zip", "w") as zf:
        for name, color in files.items():
            zf.writestr(f"coil-100/{name}", _png(color))
    assert np.array_equal(load_dataset("coil100", tmp_path / "zipped").X_train, ds.X_train)
    (folder / "obj3__0.png").write_bytes(_png((3, 0, 0), size=(9, 9)))
    with pytest.raises(DataFileError, match="obj3__0.png"):
        load_dataset("coil100", tmp_path / "data")
