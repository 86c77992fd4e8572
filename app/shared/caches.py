"""Heavy results that several pages share, computed once per server (Streamlit's caches are process-wide):
models and datasets as shared resources, derived arrays (scores, latents, projections, separation figures) as data
keyed by the checkpoint's path and modification time, so a retrained run under the same name is picked up. Pages
call the public functions; nothing here re-implements the method's maths (that is `core`). A cache built on one
page's logic lives in that page's package (`app/simplex/readout_cache.py`, the timeline layout in
`app/latent_map/panels.py`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np
import streamlit as st

from app.shared import analysis
from app.shared.catalogue import data_dir


def mtime(path: str) -> int:
    try:
        return Path(path).stat().st_mtime_ns
    except OSError:
        return 0


@st.cache_resource(show_spinner=False, max_entries=24)
def _load_model(path: str, mtime_ns: int):
    from core import MirroredAE

    del mtime_ns
    return MirroredAE.load(path, device="auto")


def model(path: str):
    """The fitted model of a checkpoint (cached per server); raises core.checkpoints.store.CheckpointError."""
    return _load_model(path, mtime(path))


def declare_user_datasets(entries: list[dict]) -> None:
    """Declare the user datasets that checkpoints were trained on (their sidecars' `data_source`), so that the
    lab rebuilds their splits; one whose record does not declare is left out (its checkpoint then has no data)."""
    from core.data.registry import get_spec, register_user_data
    from core.data.user_data import UserDataSource, UserDataError

    for e in entries:
        record = e.get("data_source")
        if not isinstance(record, dict):
            continue
        try:
            source = UserDataSource.from_record(record)
            try:
                if get_spec(source.name).user_source is not None:
                    continue  # found in a user-data folder (or declared already): that one wins
            except ValueError:
                pass
            register_user_data(source)
        except (UserDataError, TypeError, ValueError):
            continue


def _data_key(name: str) -> tuple:
    """What a cached dataset depends on besides its name: a user dataset's options and its file's mtime."""
    from core.data.registry import get_spec

    try:
        source = get_spec(name).user_source
    except ValueError:
        return ()
    if source is None:
        return ()
    try:
        stamp = os.stat(source.path).st_mtime_ns
    except OSError:
        stamp = -1
    return tuple(sorted((k, str(v)) for k, v in source.options().items())) + (stamp,)


@st.cache_resource(show_spinner="Loading the dataset…", max_entries=4)
def _load(name: str, ddir: Optional[str], key: tuple):
    from core.data import load_dataset

    del key  # only part of the cache key
    return load_dataset(name, data_dir=ddir)


def _dataset(name: str, ddir: Optional[str]):
    return _load(name, ddir, _data_key(name))


def dataset(name: str):
    """(Dataset or None, error message or None): a missing data dir gives a message, never a crash."""
    try:
        return _dataset(name, data_dir()), None
    except Exception as e:  # noqa: BLE001: DatasetNotFoundError, DataFileError, ...
        return None, str(e)


@st.cache_data(show_spinner=False, ttl=30)
def _present(name: str, ddir: Optional[str], key: tuple) -> bool:
    from core.data.registry import get_spec

    del key
    try:
        spec = get_spec(name)
    except ValueError:
        return False
    if spec.user_source is not None:
        return os.path.exists(spec.user_source.path)
    return not spec.needs_data_dir or spec.is_present(ddir)


def dataset_present(name: str, ddir: Optional[str]) -> bool:
    return _present(name, ddir, _data_key(name))


@st.cache_resource(show_spinner=False, max_entries=16)
def _split_of(name: str, klass, seed: int, ddir: Optional[str], key: tuple):
    from core.evaluation import protocols

    del key
    return protocols.split_for(name, klass, seed, ds=_dataset(name, ddir))


def _split(name: str, klass, seed: int, ddir: Optional[str]):
    return _split_of(name, klass, seed, ddir, _data_key(name))


def split(dataset_name: str, klass, seed: int = 0):
    """The protocol split of a dataset, class and seed (core.evaluation.protocols.split_for), cached."""
    return _split(dataset_name, klass, seed, data_dir())


def model_seed(path: str) -> int:
    return int(model(path).get_params().get("seed", 0) or 0)


def entry_of(path: str) -> dict:
    """The dataset and class a checkpoint was trained on, from its sidecar."""
    m = model(path).meta_
    return {"path": path, "dataset": m.get("dataset"), "anomaly_class": m.get("anomaly_class")}


def split_for(entry: dict):
    """The protocol split a checkpoint was trained and evaluated on (the split may depend on its seed)."""
    return split(entry["dataset"], entry.get("anomaly_class"), model_seed(entry["path"]))


def class_names_of(ds, sp) -> np.ndarray:
    """Per test sample: its class name (images) or "normal"/"anomaly" (tables)."""
    if sp.test_classes is not None and ds is not None and ds.class_names is not None:
        names = np.asarray(ds.class_names)
        return names[sp.test_classes]
    return np.where(np.asarray(sp.y_test) == 1, "anomaly", "normal")


@st.cache_data(show_spinner="Scoring the test set…", max_entries=64)
def _test_scores(path: str, mtime_ns: int, score: Optional[str] = None) -> np.ndarray:
    return model(path).decision_function(split_for(entry_of(path)).X_test, score=score)


def test_scores(entry: dict, score: Optional[str] = None) -> np.ndarray:
    """The test-set scores of a checkpoint; `score` None = the model's own (the one its threshold belongs to)."""
    return _test_scores(entry["path"], mtime(entry["path"]), score)


@st.cache_data(show_spinner="Encoding…", max_entries=64)
def _latents(path: str, mtime_ns: int, part: str, max_n: Optional[int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    from core.data.subsets import seeded_indices

    sp = split_for(entry_of(path))
    X = sp.X_test if part == "test" else sp.X_train
    idx = seeded_indices(len(X), max_n, seed, stratify=sp.y_test if part == "test" else None)
    return idx, model(path).encode(X[idx])


def latents(entry: dict, part: str = "test", max_n: Optional[int] = 1000, seed: int = 0):
    """(indices into the split's part, latents) of at most max_n samples (seeded, anomalies keep their share)."""
    return _latents(entry["path"], mtime(entry["path"]), part, max_n, seed)


@st.cache_data(show_spinner=False, max_entries=64)
def _projection(path: str, mtime_ns: int, method: str, max_n: Optional[int], seed: int) -> dict:
    from app.shared import projection_store  # t-SNE / UMAP maps on disk across restarts, with a progress bar

    _, Z = _latents(path, mtime_ns, "test", max_n, seed)
    return projection_store.project_with_progress(path, Z, method, max_n, seed)


def projection(entry: dict, method: str = "PCA", max_n: Optional[int] = 1000, seed: int = 0) -> dict:
    """2-D map of the test latents, computed once per (model, method, sample)."""
    return _projection(entry["path"], mtime(entry["path"]), method, max_n, seed)


@st.cache_data(show_spinner="Measuring the separation…", max_entries=64)
def _separation(path: str, mtime_ns: int, max_n: Optional[int], seed: int, k: int) -> dict:
    idx, Z_test = _latents(path, mtime_ns, "test", max_n, seed)
    _, Z_train = _latents(path, mtime_ns, "train", 3000, seed)
    sp = split_for(entry_of(path))
    return analysis.separation(Z_train, Z_test, sp.y_test[idx], k)


def separation(entry: dict, max_n: Optional[int] = 1000, seed: int = 0, k: int = 5) -> dict:
    return _separation(entry["path"], mtime(entry["path"]), max_n, seed, k)


@st.cache_data(show_spinner=False, max_entries=256)
def _neighbours(path: str, mtime_ns: int, max_n: Optional[int], seed: int, j: int, k: int):
    idx, Z = _latents(path, mtime_ns, "test", max_n, seed)
    return analysis.nearest_latents(Z, idx, j, k)


def latent_neighbours(entry: dict, j: int, max_n: Optional[int] = 1000, seed: int = 0, k: int = 8):
    """(test indices, distances) of the k nearest neighbours of test sample j among the map's latents (Euclidean
    on E(x), not on the 2-D projection), nearest first; cached per model, sample, point and k."""
    return _neighbours(entry["path"], mtime(entry["path"]), max_n, seed, int(j), int(k))


@st.cache_data(show_spinner="Fitting the baseline…", max_entries=64)
def baseline_scores(name: str, dataset_name: str, klass, seed: int, ddir, max_train: int = 5000) -> np.ndarray:
    """Test scores of a baseline of core.evaluation.baselines, fitted on (at most `max_train` of) the training
    split through the shared runner."""
    from core.data.registry import get_spec
    from core.evaluation.baselines import make_method
    from core.evaluation.runner import ProtocolRun

    ds = _dataset(dataset_name, ddir)
    run = ProtocolRun.prepare(dataset_name, klass, seed, max_train=max_train, ds=ds)
    est = make_method(name, preset=get_spec(dataset_name).preset_for(ds), input_range=ds.input_range, seed=seed,
                      device="cpu", ocsvm_cap=2000, contamination=run.contamination)
    return np.asarray(est.fit(run.X_train).decision_function(run.split.X_test), dtype=np.float64)


@st.cache_data(show_spinner=False, max_entries=32)
def _timeline(path: str, timeline_mtime_ns: int):
    from core.training.timeline import TimelineError, load_timeline

    del timeline_mtime_ns  # only part of the cache key
    try:
        return load_timeline(path)
    except TimelineError:
        return None


def timeline(entry: dict):
    """(epochs (T,), latents (T, n, d), test indices (n,)) of the run's training timeline (`core.training.timeline`,
    saved by the lab's training jobs), or None when the run has none or it is unreadable. The indices point into
    the test set of the run's split (`split_for(entry)`); cached per server and timeline file."""
    from core.training.timeline import timeline_path

    return _timeline(entry["path"], mtime(str(timeline_path(entry["path"]))))
