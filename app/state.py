"""Streamlit glue shared by every page: folders, caches, the checkpoint catalogue and the shared sidebar.

Caching policy: models and datasets are `st.cache_resource` (one object per server, never copied; the lab
only reads them); derived arrays (scores, latents, projections, separation figures) are `st.cache_data`
keyed by the checkpoint's path and modification time, so a retrained run under the same name is picked up.
The user's choices live in `st.session_state`: "dataset", "anomaly_class", "models" (checkpoint paths).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
import streamlit as st

from app import lab

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "checkpoints"
# Datasets offered in the sidebar (coil100 and cifar10_exact have no leave-one-out test split).
DATASET_CHOICES = ["digits", "mnist", "fashion_mnist", "cifar10", "thyroid", "arrhythmia", "kdd99"]
MAX_MODELS = 4
ALL = "all"  # the sidebar's anomaly class for tabular data (the dataset fixes its anomalies)


# ---------------------------------------------------------------- folders


def runs_dir() -> Path:
    """The user's runs folder: $MAESI_RUNS, else $XDG_DATA_HOME/maesi/runs, else ~/.local/share/maesi/runs."""
    env = os.environ.get("MAESI_RUNS", "")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / "maesi" / "runs"


def data_dir() -> Optional[str]:
    """$MAESI_DATA (None: core's default, the per-user data folder)."""
    return os.environ.get("MAESI_DATA") or None


def data_dir_text() -> str:
    from core.data import resolve_data_dir

    return f"{resolve_data_dir(data_dir())}" + ("" if data_dir() else " (set MAESI_DATA to change it)")


# ---------------------------------------------------------------- catalogue of checkpoints


def _folder_signature(folder: Path) -> tuple:
    if not folder.is_dir():
        return ()
    return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size)
                        for p in folder.iterdir() if p.suffix in (".safetensors", ".json")))


@st.cache_data(show_spinner=False, max_entries=32)
def _entries(folder: str, signature: tuple, source: str) -> list[dict]:
    from core.manifest import MANIFEST, load_manifest, scan_folder

    del signature  # only part of the cache key
    f = Path(folder)
    entries = load_manifest(f) if (f / MANIFEST).exists() else []
    listed = {Path(e["path"]).resolve() for e in entries}
    # Checkpoints written after the manifest (a batch still training) are listed from their sidecars.
    entries += [e for e in scan_folder(f) if Path(e["path"]).resolve() not in listed]
    out = []
    for e in entries:
        if not Path(e["path"]).exists():
            continue
        e = dict(e, source=source, path=str(Path(e["path"]).resolve()))
        out.append(e)
    return out


def catalogue() -> list[dict]:
    """Every checkpoint the lab knows: the shipped ones (manifest, plus any not yet in it) and the user's runs."""
    out = []
    for folder, source in ((SHIPPED, "shipped"), (runs_dir(), "yours")):
        try:
            out += _entries(str(folder), _folder_signature(folder), source)
        except Exception as e:  # noqa: BLE001: a broken manifest must not take the app down
            st.warning(f"Could not read the checkpoints in {folder}: {e}")
    return out


def entry_label(e: dict) -> str:
    metric = e.get("metrics", {})
    auc = metric.get("auc")
    return (f"{lab.interpolation_label(e['interpolation'])} · {e['name']}"
            + (f" · AUC {auc:.3f}" if isinstance(auc, (int, float)) else "")
            + (" (yours)" if e.get("source") == "yours" else ""))


def entry_short(e: dict) -> str:
    """Compact label for the sidebar: name, AUC, and whether it is yours."""
    auc = (e.get("metrics") or {}).get("auc")
    return e["name"] + (f" · {auc:.3f}" if isinstance(auc, (int, float)) else "") + \
        (" · yours" if e.get("source") == "yours" else "")


def catalogue_frame(entries: list[dict]) -> pd.DataFrame:
    rows = []
    for e in entries:
        m = e.get("metrics") or {}
        rows.append({"name": e["name"], "source": e.get("source"), "dataset": e.get("dataset"),
                     "anomaly class": "all" if e.get("anomaly_class") is None else str(e.get("anomaly_class")),
                     "interpolation": str(e.get("interpolation")), "AUC": m.get("auc"), "AP": m.get("ap"),
                     "F1": m.get("f1"), "created": (e.get("created") or "").replace("T", " "),
                     "size (kB)": round((e.get("bytes") or 0) / 1024), "path": e["path"]})
    return pd.DataFrame(rows, columns=["name", "source", "dataset", "anomaly class", "interpolation", "AUC", "AP",
                                       "F1", "created", "size (kB)", "path"])


def matching(entries: list[dict], dataset: str, anomaly_class) -> list[dict]:
    from core.manifest import find

    found = find(entries, dataset, anomaly_class)
    order = {0: 0, 2: 1, 3: 2, "acai": 3}
    return sorted(found, key=lambda e: (e.get("source") != "shipped", order.get(e["interpolation"], 9), e["name"]))


# ---------------------------------------------------------------- cached resources


def _mtime(path: str) -> int:
    try:
        return Path(path).stat().st_mtime_ns
    except OSError:
        return 0


@st.cache_resource(show_spinner=False, max_entries=24)
def _load_model(path: str, mtime: int):
    from core import MirroredAE

    del mtime
    return MirroredAE.load(path, device="auto")


def model(path: str):
    """The fitted model of a checkpoint (cached per server); raises core.checkpoint.CheckpointError."""
    return _load_model(path, _mtime(path))


@st.cache_resource(show_spinner="Loading the dataset…", max_entries=4)
def _dataset(name: str, ddir: Optional[str]):
    from core.data import load_dataset

    return load_dataset(name, data_dir=ddir)


def dataset(name: str):
    """(Dataset or None, error message or None): a missing data dir gives a message, never a crash."""
    try:
        return _dataset(name, data_dir()), None
    except Exception as e:  # noqa: BLE001: DatasetNotFoundError, DataFileError, ...
        return None, str(e)


@st.cache_data(show_spinner=False, ttl=30)
def dataset_present(name: str, ddir: Optional[str]) -> bool:
    from core.data import DATASETS

    spec = DATASETS.get(name)
    return spec is not None and (not spec.needs_data_dir or spec.is_present(ddir))


@st.cache_resource(show_spinner=False, max_entries=16)
def _split(name: str, anomaly_class, seed: int, ddir: Optional[str]):
    from core.evaluation.protocols import leave_one_out, tabular_split

    ds = _dataset(name, ddir)
    return tabular_split(ds, seed=seed) if ds.kind == "tabular" else leave_one_out(ds, anomaly_class)


def split_for(entry: dict):
    """The protocol split a checkpoint was trained and evaluated on (the tabular split depends on its seed)."""
    seed = int(model(entry["path"]).get_params().get("seed", 0) or 0)
    return _split(entry["dataset"], entry.get("anomaly_class"), seed, data_dir())


def class_names_of(ds, split) -> np.ndarray:
    """Per test sample: its class name (images) or "normal"/"anomaly" (tables)."""
    if split.test_classes is not None and ds is not None and ds.class_names is not None:
        names = np.asarray(ds.class_names)
        return names[split.test_classes]
    return np.where(np.asarray(split.y_test) == 1, "anomaly", "normal")


# ---------------------------------------------------------------- cached derived arrays


@st.cache_data(show_spinner="Scoring the test set…", max_entries=64)
def _test_scores(path: str, mtime: int, score: str = "feature") -> np.ndarray:
    entry = {"path": path, **_meta_bits(path)}
    return model(path).decision_function(split_for(entry).X_test, score=score)


def test_scores(entry: dict, score: str = "feature") -> np.ndarray:
    return _test_scores(entry["path"], _mtime(entry["path"]), score)


def _meta_bits(path: str) -> dict:
    m = model(path).meta_
    return {"dataset": m.get("dataset"), "anomaly_class": m.get("anomaly_class")}


@st.cache_data(show_spinner="Encoding…", max_entries=64)
def _latents(path: str, mtime: int, part: str, max_n: Optional[int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    sp = split_for({"path": path, **_meta_bits(path)})
    X = sp.X_test if part == "test" else sp.X_train
    idx = lab.subsample(len(X), max_n, seed, stratify=sp.y_test if part == "test" else None)
    return idx, model(path).encode(X[idx])


def latents(entry: dict, part: str = "test", max_n: Optional[int] = 1000, seed: int = 0):
    """(indices into the split's part, latents) of at most max_n samples (seeded, anomalies keep their share)."""
    return _latents(entry["path"], _mtime(entry["path"]), part, max_n, seed)


@st.cache_data(show_spinner="Projecting the latents…", max_entries=64)
def _projection(path: str, mtime: int, method: str, max_n: Optional[int], seed: int) -> dict:
    _, Z = _latents(path, mtime, "test", max_n, seed)
    return lab.project(Z, method, seed)


def projection(entry: dict, method: str = "PCA", max_n: Optional[int] = 1000, seed: int = 0) -> dict:
    """2-D map of the test latents, computed once per (model, method, sample)."""
    return _projection(entry["path"], _mtime(entry["path"]), method, max_n, seed)


@st.cache_data(show_spinner="Measuring the separation…", max_entries=64)
def _separation(path: str, mtime: int, max_n: Optional[int], seed: int, k: int) -> dict:
    idx, Z_test = _latents(path, mtime, "test", max_n, seed)
    _, Z_train = _latents(path, mtime, "train", 3000, seed)
    sp = split_for({"path": path, **_meta_bits(path)})
    return lab.separation(Z_train, Z_test, sp.y_test[idx], k)


def separation(entry: dict, max_n: Optional[int] = 1000, seed: int = 0, k: int = 5) -> dict:
    return _separation(entry["path"], _mtime(entry["path"]), max_n, seed, k)


# ---------------------------------------------------------------- the shared sidebar


@dataclass
class Context:
    dataset: str
    anomaly_class: object  # int for images, None for tables
    entries: list = field(default_factory=list)  # the selected checkpoints' catalogue entries
    candidates: list = field(default_factory=list)  # all checkpoints of this dataset and class
    catalogue: list = field(default_factory=list)
    ds: object = None
    ds_error: Optional[str] = None

    @property
    def tabular(self) -> bool:
        from core.data import DATASETS

        return DATASETS[self.dataset].kind == "tabular"

    def require_data(self) -> bool:
        """Shows a clear message and returns False when the dataset's files are missing."""
        if self.ds is None:
            st.warning(f"**The {self.dataset} data is not available here.** Only the bundled digits work without "
                       f"a data dir; point the environment variable `MAESI_DATA` at a folder holding the datasets "
                       f"and restart the app.")
            with st.expander("Details"):
                st.code(self.ds_error or "", language=None)
            return False
        return True

    def require_models(self) -> bool:
        if not self.entries:
            st.info(f"No model is selected for {self.dataset}"
                    + ("" if self.anomaly_class is None else f", anomaly class {self.anomaly_class}")
                    + ". Pick one in the sidebar, or train one on the **Models** page.")
            return False
        return True


def class_label(ds, k) -> str:
    if k is None or k == ALL:
        return "all (fixed by the dataset)"
    if ds is not None and ds.class_names is not None and 0 <= int(k) < len(ds.class_names):
        name = ds.class_names[int(k)]
        return str(k) if name == str(k) else f"{k} · {name}"
    return str(k)


def default_models(cands: list[dict]) -> list[str]:
    """One shipped checkpoint per interpolation 0 / 2 / 3 (Fig. 2's three panels), else the first few."""
    picked, seen = [], set()
    for e in cands:
        if e["interpolation"] in (0, 2, 3) and e["interpolation"] not in seen:
            picked.append(e["path"])
            seen.add(e["interpolation"])
    return picked or [e["path"] for e in cands[:3]]


def use_checkpoint(entry: dict) -> None:
    """Button callback (runs before the rerun, so it may set the sidebar's widgets): select a checkpoint."""
    if entry.get("dataset") not in DATASET_CHOICES:
        st.session_state["flash"] = f"{entry['name']} has no known dataset ({entry.get('dataset')!r}); it cannot be used in the lab."
        return
    st.session_state["dataset"] = entry["dataset"]
    st.session_state["anomaly_class"] = ALL if entry.get("anomaly_class") is None else entry["anomaly_class"]
    st.session_state["_models_for"] = (entry["dataset"], entry.get("anomaly_class"))
    current = [p for p in st.session_state.get("models", []) if p != entry["path"]]
    st.session_state["models"] = [entry["path"]] + current[: MAX_MODELS - 1]
    st.session_state["flash"] = f"Loaded {entry['name']} into the lab."


def sidebar() -> Context:
    """The sidebar every page shares: dataset, anomaly class and models. Returns the page's context."""
    cat = catalogue()
    ddir = data_dir()
    ss = st.session_state
    if "dataset" not in ss:  # a new session: a link may preselect ?dataset=thyroid or ?dataset=digits&class=3
        qp = st.query_params
        ss["dataset"] = qp.get("dataset", "digits")
        if qp.get("class", "").isdigit():
            ss["anomaly_class"] = int(qp["class"])
    if ss.get("dataset") not in DATASET_CHOICES:
        ss["dataset"] = "digits"
    sb = st.sidebar
    sb.markdown("### maesi lab")

    def ds_label(name):
        n = sum(1 for e in cat if e.get("dataset") == name)
        present = dataset_present(name, ddir)
        return f"{name}" + ("" if present else " (no data)") + (f" · {n} models" if n else "")

    name = sb.selectbox("Dataset", DATASET_CHOICES, key="dataset", format_func=ds_label)
    ds, err = dataset(name) if dataset_present(name, ddir) else (None, _missing_message(name, ddir))

    from core.data import DATASETS

    if DATASETS[name].kind == "tabular":
        classes = [ALL]  # the anomalies are given by the dataset
    else:
        known = {e.get("anomaly_class") for e in cat if e.get("dataset") == name} - {None}
        classes = list(range(len(ds.class_names))) if ds is not None else sorted(known) or list(range(10))
    with_models = [k for k in classes
                   if any(e.get("dataset") == name and e.get("anomaly_class") == (None if k == ALL else k) for e in cat)]
    new_dataset = ss.get("_class_for") != name
    ss["_class_for"] = name
    if ss.get("anomaly_class", "unset") not in classes or (new_dataset and with_models
                                                           and ss["anomaly_class"] not in with_models):
        ss["anomaly_class"] = (with_models or classes)[0]  # a class that has checkpoints, when one has
    klass = sb.selectbox("Anomaly class", classes, key="anomaly_class", format_func=lambda k: class_label(ds, k),
                         help="Leave-one-out protocol: the model is trained on the other classes; this class is the "
                              "anomaly at test time.", disabled=classes == [ALL])
    klass = None if klass == ALL else klass

    cands = matching(cat, name, klass)
    paths = [e["path"] for e in cands]
    if ss.get("_models_for") != (name, klass) or any(p not in paths for p in ss.get("models", [])):
        keep = [p for p in ss.get("models", []) if p in paths] if ss.get("_models_for") == (name, klass) else []
        ss["models"] = keep or default_models(cands)
        ss["_models_for"] = (name, klass)
    by_path = {e["path"]: e for e in cands}
    chosen = sb.multiselect("Models", paths, key="models", format_func=lambda p: entry_short(by_path[p]),
                            max_selections=MAX_MODELS, placeholder="no checkpoint for this choice",
                            help="The no / 2-point / 3-point interpolation checkpoints of this dataset and class "
                                 "(shipped, and your own runs).")
    sb.caption(f"Data dir: `{data_dir_text()}`  \nYour runs: `{runs_dir()}`")
    return Context(dataset=name, anomaly_class=klass, entries=[by_path[p] for p in chosen], candidates=cands,
                   catalogue=cat, ds=ds, ds_error=err)


def _missing_message(name: str, ddir) -> str:
    try:
        from core.data import load_dataset

        load_dataset(name, data_dir=ddir)
    except Exception as e:  # noqa: BLE001
        return str(e)
    return f"{name}: not found"


def context() -> Context:
    """The context the entry script built for this run (pages call this)."""
    ctx = st.session_state.get("_ctx")
    return ctx if ctx is not None else sidebar()


# ---------------------------------------------------------------- small display helpers


def show_figure(fig, key: str, csv: Optional[pd.DataFrame] = None, csv_name: str = "data.csv", **kw):
    """A plotly figure (its modebar downloads a PNG) with, when given, a CSV download of its data."""
    config = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "filename": key, "scale": 2}}
    out = st.plotly_chart(fig, key=key, config=config, **kw)
    if csv is not None:
        st.download_button("Download data (CSV)", csv.to_csv(index=False).encode(), file_name=csv_name,
                           mime="text/csv", key=f"{key}-csv")
    return out


def show_png(img: np.ndarray, caption: Optional[str] = None, target=None, width: Optional[int] = None):
    """A uint8 image at its own pixel size (never stretched to a long caption), as lossless PNG."""
    target = target or st
    target.image(lab.png_bytes(img), width=int(width or img.shape[1]), output_format="PNG")
    if caption:  # as a caption of its own: an image caption would be squeezed to the image's width
        target.caption(caption)


def flash() -> None:
    msg = st.session_state.pop("flash", None)
    if msg:
        st.toast(msg)
