"""The Models page's "Your data" section: bring a dataset (a zip of class folders, a CSV or NPY table, or a folder
under $MAESI_DATA/user/), check that it loads, and train it with the form below; it then appears in the sidebar's
dataset list and every page works on it. The data layer is `core.data.user_data`; uploads are stored in its upload
store (`core.data.paths.user_data_store`) only after they load, with their options beside them."""
from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from app.models import keys
from app.shared import display, keys as shared_keys
from app.shared.guard import user_text

ss = st.session_state
SUFFIXES = (".zip", ".csv", ".npy")


class NotAdded(ValueError):
    """An upload that is not stored; the message is one line for the user."""


def store_upload(filename: str, data: bytes, name: str = "", options: dict | None = None):
    """Store an uploaded dataset in the upload store if it loads under `options` (normal_dir or label_column,
    normal_test_ratio), with the options beside it; returns (its UserDataSource, the loaded Dataset, notes).
    NotAdded (nothing stored) for a wrong kind of file, a taken name, or data that does not load."""
    from core.data.paths import user_data_store
    from core.data.registry import register_user_data
    from core.checkpoints.durable import atomic_write_bytes
    from core.data.user_data import OPTIONS_SUFFIX, USER_PREFIX, UserDataSource, clean_stem, load_user_data

    suffix = Path(filename).suffix.lower()
    stem = clean_stem(name or Path(filename).stem)
    if suffix not in SUFFIXES or not stem:
        raise NotAdded(f"{filename}: a dataset is a .zip of class folders, a .csv or an .npy file.")
    store = user_data_store()
    target = store / f"{stem}{suffix}"
    taken = [p.name for p in store.glob(f"{stem}.*") if not p.name.endswith(OPTIONS_SUFFIX)] if store.is_dir() else []
    if taken:
        raise NotAdded(f"A dataset named {stem} exists already ({taken[0]}); choose another name.")
    table = suffix != ".zip"
    options = dict(options or {})
    options = {k: v for k, v in options.items() if k in (("label_column",) if table else ("normal_dir",))
               + ("normal_test_ratio",) and v not in (None, "")}
    try:
        store.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, data)
        source = UserDataSource("table" if table else "folder", str(target), name=USER_PREFIX + stem, **options)
        ds, notes = load_user_data(source)
    except Exception as e:  # noqa: BLE001: UserDataError, TableError, ArchiveError, OSError: one line, nothing kept
        target.unlink(missing_ok=True)
        raise NotAdded(f"**{filename} was not added.** {user_text(e)}") from None
    atomic_write_bytes(target.with_name(target.name + OPTIONS_SUFFIX), json.dumps(options).encode())
    register_user_data(source)
    return source, ds, notes


def add_upload() -> None:
    """Button callback (before the rerun, so it may select the new dataset in the sidebar and the form)."""
    ss.pop(keys.OWN_ERROR, None)
    upload = ss.get(keys.OWN_UPLOAD)
    if upload is None:
        ss[keys.OWN_ERROR] = "Choose a file first: a .zip of class folders, a .csv or an .npy table."
        return
    options = dict(label_column=ss.get(keys.OWN_LABEL), normal_dir=ss.get(keys.OWN_NORMAL),
                   normal_test_ratio=float(ss.get(keys.OWN_RATIO, 0.2)))
    try:
        source, ds, notes = store_upload(upload.name, upload.getvalue(), ss.get(keys.OWN_NAME) or "", options)
    except NotAdded as e:
        ss[keys.OWN_ERROR] = str(e)
        return
    ss[shared_keys.DATASET] = source.name
    ss[keys.TRAIN_DATASET] = source.name
    display.request_tab(keys.TAB, keys.TABS[1])  # what a new dataset needs next: a model
    ss[shared_keys.FLASH] = f"Added {source.name}: {ds.description}." + (f" {' '.join(notes)}" if notes else "")


def _known() -> list:
    from core.data.registry import get_spec
    from core.data.user_data import is_user_dataset
    from app.shared.sidebar import dataset_choices

    return [get_spec(n) for n in dataset_choices() if is_user_dataset(n)]


def your_data_section(ctx) -> None:
    st.caption("A zip of image folders (`normal/` for the normal images, any other folder beside it for "
               "anomalies, used only for testing), or a CSV / NPY table whose label column marks anomalies "
               "(1 or `anomaly`) and normals (0 or `normal`); without labels every row is normal and the pages show "
               "scores instead of metrics. A seeded share of the normals is held out for testing. Folders placed "
               "under `$MAESI_DATA/user/` on the server appear here too.")
    known = _known()
    if known:
        st.markdown("\n".join(f"- **{s.name}** · {s.description}" + (" · *the sidebar's dataset*"
                                                                    if s.name == ctx.dataset else "")
                              for s in known))
    if ss.get(keys.OWN_ERROR):
        st.error(ss[keys.OWN_ERROR])
    with st.container(border=True):
        up = st.file_uploader("A dataset: .zip of class folders, .csv or .npy", type=[s[1:] for s in SUFFIXES],
                              key=keys.OWN_UPLOAD)
        c1, c2, c3, c4 = st.columns(4)
        c1.text_input("Name", key=keys.OWN_NAME, placeholder=Path(up.name).stem if up else "from the file name",
                      help="The dataset is called user.NAME in the lab.")
        is_table = up is not None and not up.name.lower().endswith(".zip")
        c2.text_input("Normal folder", "normal", key=keys.OWN_NORMAL, disabled=is_table,
                      help="The folder of normal images inside the zip.")
        c3.text_input("Label column", key=keys.OWN_LABEL, disabled=up is not None and not is_table,
                      placeholder="none: every row is normal",
                      help="A CSV header name, or an .npy column index such as -1.")
        c4.number_input("Normal test ratio", 0.05, 0.9, 0.2, 0.05, key=keys.OWN_RATIO,
                        help="Share of the normal samples held out for testing (seeded by the training seed).")
        st.button("Add the dataset", key=keys.OWN_ADD, on_click=add_upload, disabled=up is None,
                  help="Checks that it loads, stores it on the server and selects it in the sidebar and the form.")
