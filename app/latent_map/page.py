"""Latent map: the test latents of the no / 2-point / 3-point models side by side (the paper's Fig. 2)."""
import functools
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd
import streamlit as st

from app.latent_map import keys, panels, projector, scatter_component
from app.shared import analysis, caches, display, figures, keys as shared_keys, sidebar
from app.shared.labels import interpolation_label

ss = st.session_state
SEPARATION_HELP = ("**k-NN AUC**: AUC of the mean distance of each test latent to its {k} nearest TRAIN latents. "
                   "**silhouette**: of the normal / anomaly labelling in latent space (higher = better separated). "
                   "**model AUC**: of the model's own anomaly score (the D_recon feature distance, Section 5.2) on "
                   "the test set.")
HOW_IT_IS_COMPUTED = (
    "* **k-NN AUC**: a k-nearest-neighbour detector in latent space: the anomaly score of a test sample is the "
    "mean distance of E(x) to its k nearest latents of the *training* set (normal data only); the AUC of that "
    "score on the test labels. It measures how far anomalies fall from the normal latents, independently of "
    "the decoder and critic.\n"
    "* **silhouette**: scikit-learn's silhouette of the normal/anomaly labelling of the test latents (Euclidean, "
    "in the full latent space, not the 2-D map): near 0 = mixed, higher = separated.\n"
    "* The projection is computed once per model, method and sample, then cached; t-SNE is openTSNE, UMAP is "
    "umap-learn, both seeded.")


@dataclass
class MapSettings:
    method: str
    colour_by: str
    max_n: Optional[int]  # None: the whole test set
    k: int
    zoom: bool


def map_settings(ctx) -> MapSettings:
    """The row of controls above the maps."""
    c1, c2, c3, c4 = st.columns([2, 2, 2, 1.2])
    method = c1.radio("Projection", analysis.PROJECTIONS, horizontal=True, key=keys.METHOD,
                      help="PCA is instant and exact; t-SNE (openTSNE) and UMAP take a few seconds per model the "
                           "first time, then come from the cache.")
    labelled = bool(caches.split_for(ctx.entries[0]).y_test.any())
    colours = ["anomaly", "class", "score"] if labelled else ["score", "class"]  # no labels: nothing to tell apart
    if ss.get(keys.COLOUR) not in colours:
        ss[keys.COLOUR] = colours[0]
    colour_by = c2.radio("Colour", colours, horizontal=True, key=keys.COLOUR,
                         format_func={"anomaly": "normal vs anomaly", "class": "by class",
                                      "score": "anomaly score"}.get,
                         help=None if labelled else "This test set holds no labelled anomaly: the colours show the "
                                                    "model's anomaly score.")
    n_test = len(caches.split_for(ctx.entries[0]).X_test)
    sizes = [n for n in (250, 500, 1000, 2000, 4000) if n < n_test] + [n_test]
    if ss.get(keys.SAMPLE_SIZE) not in sizes:  # another dataset's sample size
        ss[keys.SAMPLE_SIZE] = min(1000, n_test) if min(1000, n_test) in sizes else sizes[-1]
    max_n = n_test if len(sizes) == 1 else c3.select_slider(
        "Test samples shown", sizes, key=keys.SAMPLE_SIZE,
        help="A seeded sample of the test set (anomalies keep their share).")
    k = int(c4.number_input("k of k-NN", 1, 50, 5, key=keys.K, help="Neighbours of the k-NN distance score."))
    zoom = c4.toggle("zoom to the bulk", key=keys.ZOOM, help="Axes on the 1-99% quantiles: a few far outliers "
                     "otherwise squash the map; they then fall outside the view.")
    return MapSettings(method, colour_by, None if max_n >= n_test else int(max_n), k, zoom)


def model_map(ctx, i: int, entry: dict, settings: MapSettings, selected: list[int],
              stores: set) -> Optional[panels.MapPanel]:
    """One model's header, separation figures and projector map (the selection ringed); its panel for the
    inspector, or None when its checkpoint cannot be loaded."""
    try:
        model = caches.model(entry["path"])
    except Exception as e:  # noqa: BLE001
        st.error(f"{entry['name']}: {e}")
        return None
    sp = caches.split_for(entry)
    idx, _ = caches.latents(entry, "test", settings.max_n)
    proj = caches.projection(entry, settings.method, settings.max_n)
    scores = caches.test_scores(entry)
    sep = caches.separation(entry, settings.max_n, k=settings.k)
    classes = caches.class_names_of(ctx.ds, sp)
    st.markdown(f"**{interpolation_label(entry['interpolation'])}** {display.health_badges(entry)}  \n"
                f"`{entry['name']}`")
    auc = (entry.get("metrics") or {}).get("auc")
    # one line, not three st.metric: four maps and the inspector leave ~200 px per model
    if sp.y_test.any():
        st.markdown(f"k-NN AUC **{sep['knn_auc']:.3f}** · silhouette **{sep['silhouette']:.3f}** · model AUC **"
                    + ("–" if auc is None else f"{auc:.3f}") + "**", help=SEPARATION_HELP.format(k=settings.k))
    else:
        flagged = int(np.sum(scores > model.threshold_))
        st.markdown(f"no labelled anomaly, so no AUC · the threshold flags **{flagged}** of {len(scores)} held-out "
                    f"normals (contamination {model.contamination:g})")
    ss[keys.separation(i)] = {"knn_auc": sep["knn_auc"], "silhouette": sep["silhouette"], "model_auc": auc}
    chart = keys.map_chart(i, entry["name"])
    here = {"dataset": ctx.dataset, "anomaly_class": ctx.anomaly_class}
    store = projector.mount_samples(entry, settings.max_n, ctx.tabular,
                                    ctx.ds.feature_names if ctx.tabular else None, stores)
    data = scatter_component.map_data(proj["xy"], sp.y_test[idx], classes[idx], scores[idx], idx,
                                      settings.colour_by, settings.zoom, figures.axis_titles(proj), store, selected,
                                      projector.inspected(selected))
    scatter_component.mount(data, key=chart, on_change=functools.partial(projector.on_pick, chart, here))
    frame = pd.DataFrame({"x": proj["xy"][:, 0], "y": proj["xy"][:, 1], "test_index": idx,
                          "class": classes[idx], "anomaly": sp.y_test[idx], "score": scores[idx]})
    st.download_button("Download data (CSV)", frame.to_csv(index=False).encode(), mime="text/csv",
                       file_name=f"latent-map-{entry['name']}-{settings.method}.csv", key=f"{chart}-csv")
    return panels.MapPanel(entry, model, sp, scores, classes)


def current_selection(ctx) -> list[int]:
    """The test indices selected on a map, when they were selected on this dataset and class."""
    picked = ss.get(shared_keys.MAP_SELECTION) or {}
    same = picked.get("dataset") == ctx.dataset and picked.get("anomaly_class") == ctx.anomaly_class
    return [int(j) for j in picked.get("indices", [])] if same else []


def main() -> None:
    ctx = sidebar.context()
    st.title("Latent map")
    st.caption("2-D projections of the test set's latent codes E(x), one panel per model, as in the paper's Fig. 2: "
               "simplex interpolation should pull the normal latents together and push the anomalies out. "
               "Red = normal, blue = anomaly (the paper's colours). Hover a point to see its sample; click it to "
               "inspect it and list its nearest neighbours, shift-click to add points to the selection.")
    if not ctx.require_data() or not ctx.require_models():
        st.stop()
    settings = map_settings(ctx)
    selected = current_selection(ctx)
    projector.clear_stale_inspected(selected)
    # the maps side by side, the sample inspector beside them (a projector's layout)
    cols = st.columns([3] * len(ctx.entries) + [2.6])
    map_panels, stores = [], set()
    for i, (col, entry) in enumerate(zip(cols, ctx.entries)):
        with col:
            panel = model_map(ctx, i, entry, settings, selected, stores)
        if panel is not None:
            map_panels.append(panel)
    if map_panels:
        with cols[-1]:
            panels.inspector(map_panels, selected, ctx.tabular, ctx.ds.feature_names if ctx.tabular else None)
    if selected and map_panels:
        projector.neighbours_row(map_panels, projector.inspected(selected), settings.max_n, ctx.tabular)
        panels.thumbnails(map_panels, selected, ctx.tabular)
        projector.anchors_panel(selected)
    panels.timeline_section(ctx.entries)
    with st.expander("How the separation figures are computed"):
        st.markdown(HOW_IT_IS_COMPUTED)


main()
