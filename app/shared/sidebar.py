"""The sidebar every page shares: dataset, the protocol's class and the compared models; returns the page's
context. The user's choices live in `st.session_state` under `keys.DATASET`, `keys.ANOMALY_CLASS` and
`keys.MODELS` (checkpoint paths)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import streamlit as st

from app.shared import caches, keys
from app.shared.catalogue import catalogue, data_dir, data_dir_text, entry_short, matching, default_models

MAX_MODELS = 4
ALL = "all"  # the sidebar's class for tabular data (the dataset fixes its anomalies)


CLASS_HELP = {
    "leave_one_out": "Leave-one-out protocol: the model is trained on the other classes; this class is the anomaly "
                     "at test time.",
    "one_class": "One-class protocol (the paper's Table 5): the model is trained on 80% of this class; the test set "
                 "is the other 20% plus as many images of the other classes, which are the anomalies.",
    "tabular": "Tabular data: the dataset gives its anomalies; a seeded 50/50 split.",
    "own": "Your data: its labels (or abnormal folders) give the anomalies; a seeded share of the normals is "
           "held out for testing.",
}


def dataset_choices() -> list[str]:
    """The registry's lab datasets, then the user datasets: those in the user-data folders and those the
    catalogue's checkpoints were trained on (declared from their sidecars' `data_source`)."""
    from core.data.registry import lab_datasets

    caches.declare_user_datasets(catalogue())
    return lab_datasets(data_dir())


@dataclass
class Context:
    dataset: str
    anomaly_class: object  # int for images, None for tables
    entries: list = field(default_factory=list)  # the selected checkpoints' catalogue entries
    catalogue: list = field(default_factory=list)
    ds: object = None
    ds_error: Optional[str] = None

    @property
    def tabular(self) -> bool:
        from core.data.registry import get_spec

        return get_spec(self.dataset).kind == "tabular"

    def require_data(self) -> bool:
        """Shows a clear message and returns False when the dataset's files are missing."""
        if self.ds is None:
            from core.data.user_data import is_user_dataset

            if is_user_dataset(self.dataset):
                st.warning(f"**The {self.dataset} data cannot be read here.** It is your own dataset: its file or "
                           "folder was moved, deleted or changed so that it no longer loads (the details say why). "
                           "Add it again under *Your data* on the Models page.")
            else:
                st.warning(f"**The {self.dataset} data is not available here.** Only the bundled digits work without "
                           f"a data dir; point the environment variable `MAESI_DATA` at a folder holding the "
                           f"datasets and restart the app.")
            with st.expander("Details"):
                from app.shared.guard import without_paths

                st.code(without_paths(self.ds_error or ""), language=None)
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


def use_checkpoint(entry: dict) -> None:
    """Button callback (runs before the rerun, so it may set the sidebar's widgets): select a checkpoint."""
    ss = st.session_state
    if entry.get("dataset") not in dataset_choices():
        ss[keys.FLASH] = (f"{entry['name']} has no known dataset ({entry.get('dataset')!r}); it cannot be used in "
                          "the lab.")
        return
    ss[keys.DATASET] = entry["dataset"]
    ss[keys.ANOMALY_CLASS] = ALL if entry.get("anomaly_class") is None else entry["anomaly_class"]
    ss[keys.MODELS_FOR] = (entry["dataset"], entry.get("anomaly_class"))
    current = [p for p in ss.get(keys.MODELS, []) if p != entry["path"]]
    ss[keys.MODELS] = [entry["path"]] + current[: MAX_MODELS - 1]
    ss[keys.FLASH] = f"Loaded {entry['name']} into the lab."


def use_with_comparison(entry: dict) -> None:
    """Button callback: select a checkpoint (as `use_checkpoint`) and, beside it, the shipped no / 2-point /
    3-point models of its dataset and class, so that one's own run is compared with them rather than alone."""
    use_checkpoint(entry)
    if st.session_state.get(keys.DATASET) != entry.get("dataset"):
        return  # refused: use_checkpoint said why
    shipped = [e for e in matching(catalogue(), entry["dataset"], entry.get("anomaly_class"))
               if e.get("source") == "shipped"]
    comparison = [p for p in default_models(shipped) if p != entry["path"]]
    st.session_state[keys.MODELS] = ([entry["path"]] + comparison)[:MAX_MODELS]


def sidebar() -> Context:
    """The sidebar every page shares: dataset, anomaly class and models. Returns the page's context."""
    cat = catalogue()
    ddir = data_dir()
    ss = st.session_state
    if keys.DATASET not in ss:  # a new session: a link may preselect ?dataset=thyroid or ?dataset=digits&class=3
        qp = st.query_params
        ss[keys.DATASET] = qp.get(keys.QUERY_DATASET, "digits")
        if qp.get(keys.QUERY_CLASS, "").isdigit():
            ss[keys.ANOMALY_CLASS] = int(qp[keys.QUERY_CLASS])
    if ss.get(keys.DATASET) not in dataset_choices():
        ss[keys.DATASET] = "digits"
    sb = st.sidebar
    sb.markdown("### maesi lab")

    def ds_label(name):
        n = sum(1 for e in cat if e.get("dataset") == name)
        present = caches.dataset_present(name, ddir)
        return f"{name}" + ("" if present else " (no data)") + (f" · {n} models" if n else "")

    name = sb.selectbox("Dataset", dataset_choices(), key=keys.DATASET, format_func=ds_label)
    ds, err = caches.dataset(name) if caches.dataset_present(name, ddir) else (None, _missing_message(name, ddir))

    from core.data.registry import get_spec

    spec = get_spec(name)
    classes = [ALL] if spec.one_split else spec.classes  # tabular and own data: the anomalies are given
    with_models = [k for k in classes
                   if any(e.get("dataset") == name and e.get("anomaly_class") == (None if k == ALL else k)
                          for e in cat)]
    new_dataset = ss.get(keys.CLASS_FOR) != name
    ss[keys.CLASS_FOR] = name
    if ss.get(keys.ANOMALY_CLASS, "unset") not in classes or (new_dataset and with_models
                                                              and ss[keys.ANOMALY_CLASS] not in with_models):
        ss[keys.ANOMALY_CLASS] = (with_models or classes)[0]  # a class that has checkpoints, when one has
    role = spec.class_role or "anomaly class"
    klass = sb.selectbox(role.capitalize(), classes, key=keys.ANOMALY_CLASS, format_func=lambda k: class_label(ds, k),
                         help=CLASS_HELP.get(spec.protocol, ""), disabled=classes == [ALL])
    klass = None if klass == ALL else klass

    cands = matching(cat, name, klass)
    paths = [e["path"] for e in cands]
    if (ss.get(keys.MODELS_FOR) != (name, klass) or any(p not in paths for p in ss.get(keys.MODELS, []))
            or (paths and not ss.get(keys.MODELS))):  # e.g. the first run of a dataset that had none
        keep = [p for p in ss.get(keys.MODELS, []) if p in paths] if ss.get(keys.MODELS_FOR) == (name, klass) else []
        ss[keys.MODELS] = keep or default_models(cands)
        ss[keys.MODELS_FOR] = (name, klass)
    by_path = {e["path"]: e for e in cands}
    chosen = sb.multiselect("Models", paths, key=keys.MODELS, format_func=lambda p: entry_short(by_path[p]),
                            max_selections=MAX_MODELS, placeholder="no checkpoint for this choice",
                            help="The no / 2-point / 3-point interpolation checkpoints of this dataset and class "
                                 "(shipped, and your own runs).")
    sb.caption(f"Data: {data_dir_text()}.  \nYour runs: the server's runs folder (MAESI_RUNS).")
    return Context(dataset=name, anomaly_class=klass, entries=[by_path[p] for p in chosen], catalogue=cat, ds=ds,
                   ds_error=err)


def _missing_message(name: str, ddir) -> str:
    try:
        from core.data import load_dataset

        load_dataset(name, data_dir=ddir)
    except Exception as e:  # noqa: BLE001
        return str(e)
    return f"{name}: not found"


def context() -> Context:
    """The context the entry script built for this run (pages call this)."""
    ctx = st.session_state.get(keys.CONTEXT)
    return ctx if ctx is not None else sidebar()
