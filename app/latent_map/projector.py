"""The Latent map's projector panels (Streamlit): each model's map as the projector component
(`scatter_component`: hover shows the sample, click / shift-click select), the selection handed to the Simplex
explorer in the order the user picks, and the clicked point's nearest neighbours in each model's latent space."""
from __future__ import annotations

from typing import Optional

import streamlit as st

from app.latent_map import keys, scatter_component
from app.shared import caches, display, images, keys as shared_keys

ss = st.session_state
MAX_ANCHORS = 3


@st.cache_data(show_spinner="Preparing the thumbnails…", max_entries=16)
def _samples(path: str, mtime_ns: int, max_n: Optional[int], store: str, tabular: bool, names) -> dict:
    del mtime_ns  # only part of the cache key
    entry = caches.entry_of(path)
    idx, _ = caches.latents(entry, "test", max_n)
    X = caches.split_for(entry).X_test[idx]
    rng = None if tabular else caches.model(path).config_.input_range
    return scatter_component.store_data(store, X, tabular, rng, names)


def mount_samples(entry: dict, max_n: Optional[int], tabular: bool, names, mounted: set) -> str:
    """The samples of a map's points, mounted once per run and split (maps of one split share them; `mounted`:
    the stores this run mounted already); returns the store's name for the map's data."""
    store = f"{entry['dataset']}-{entry.get('anomaly_class')}-{caches.model_seed(entry['path'])}-{max_n}"
    if store in mounted:
        return store
    mounted.add(store)
    data = _samples(entry["path"], caches.mtime(entry["path"]), max_n, store, tabular,
                    tuple(names) if names is not None else None)
    scatter_component.mount_store(data, key=keys.samples_store(store))
    return store


def on_pick(chart: str, here: dict) -> None:
    """A click or shift-click on a map: its selection (in picking order) becomes the lab's selection, the clicked
    point the inspected one."""
    sent = scatter_component.sent_selection(ss.get(chart) or {})
    if sent is None:
        return
    indices, focus = sent
    ss[shared_keys.MAP_SELECTION] = dict(here, indices=indices)
    if focus is not None and focus in indices:
        ss[keys.INSPECTED] = focus


def _hand_over() -> None:
    picked = dict(ss.get(shared_keys.MAP_SELECTION) or {})
    anchors = [int(j) for j in ss.get(keys.ANCHORS) or []]
    rest = [int(j) for j in picked.get("indices", []) if int(j) not in anchors]
    # the Simplex explorer takes the first m of the selection: the anchors first, in the user's order
    ss[shared_keys.MAP_SELECTION] = dict(picked, indices=anchors + rest)
    ss[shared_keys.FLASH] = ("Anchors " + " → ".join(f"#{j}" for j in anchors) + " handed to the Simplex explorer "
                             "(anchor source: latent map selection).")


def anchors_panel(selected: list[int]) -> list[int]:
    """Which selected points become the Simplex explorer's anchors, in order, and the button that hands them over."""
    default, current = selected[:MAX_ANCHORS], ss.get(keys.ANCHORS)
    if current is None or current == ss.get(keys.ANCHORS_DEFAULT):  # not chosen by the user: follow the selection
        ss[keys.ANCHORS] = default
    elif any(j not in selected for j in current):
        ss[keys.ANCHORS] = [j for j in current if j in selected] or default
    ss[keys.ANCHORS_DEFAULT] = default
    left, right = st.columns([3, 1])
    anchors = left.multiselect(
        "Anchors for the Simplex explorer, in order", selected, key=keys.ANCHORS, max_selections=MAX_ANCHORS,
        format_func=lambda j: f"#{j}", help="The selected points in the order you picked them (shift-click adds "
        "one); the explorer takes the first 2 or 3 as anchors 1, 2, 3.")
    right.button("Use as anchors", key=keys.HAND_OVER, on_click=_hand_over, disabled=len(anchors) < 2,
                 help="Hands these points, in this order, to the Simplex explorer (its anchor source *latent map "
                      "selection*).")
    return [int(j) for j in anchors]


def neighbours_panel(i: int, panel, j: int, max_n: Optional[int], tabular: bool) -> list[int]:
    """The k nearest neighbours of test sample j in this model's latent space (Euclidean on E(x)), with thumbnails."""
    near, dist = caches.latent_neighbours(panel.entry, j, max_n, k=keys.NEIGHBOURS_K)
    with st.container(key=keys.neighbours(i)):
        st.markdown(f"**{len(near)} nearest to #{j}** in E(x) · `{panel.entry['name']}`")
        if not len(near):
            st.caption(f"#{j} is not among this map's points.")
            return []
        if not tabular:
            X = panel.split.X_test[near]
            display.show_png(images.image_grid([list(X)], panel.model.config_.input_range, cell=36))
        st.caption(" · ".join(f"#{n} ({panel.classes[n]}, {d:.2f})" for n, d in zip(near, dist)))
    return [int(n) for n in near]


def neighbours_row(map_panels: list, j: int, max_n: Optional[int], tabular: bool) -> None:
    st.markdown(f"##### Nearest neighbours of #{j}", help="The 8 test samples (among those on the maps) whose "
                "latent codes E(x) lie nearest to the clicked sample's, Euclidean in each model's full latent "
                "space (not on the 2-D map); in brackets: class and distance.")
    cols = st.columns([3] * len(map_panels) + [2.6])  # under the maps they belong to
    for i, (col, panel) in enumerate(zip(cols, map_panels)):
        with col:
            neighbours_panel(i, panel, j, max_n, tabular)


def inspected(selected: list[int]) -> Optional[int]:
    """The clicked (inspected) sample among the selection."""
    if not selected:
        return None
    j = ss.get(keys.INSPECTED)
    return int(j) if j in selected else selected[0]


def clear_stale_inspected(selected: list[int]) -> None:
    if keys.INSPECTED in ss and ss[keys.INSPECTED] not in selected:
        del ss[keys.INSPECTED]

