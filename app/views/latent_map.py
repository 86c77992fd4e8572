"""Latent map: the test latents of the no / 2-point / 3-point models side by side (the paper's Fig. 2)."""
import functools

import pandas as pd
import streamlit as st

from app import analysis, caches, display, figures, latent_panels, sidebar

ctx = sidebar.context()
st.title("Latent map")
st.caption("2-D projections of the test set's latent codes E(x), one panel per model, as in the paper's Fig. 2: "
           "simplex interpolation should pull the normal latents together and push the anomalies out. "
           "Red = normal, blue = anomaly (the paper's colours). Click or lasso points to see the samples.")
if not ctx.require_data() or not ctx.require_models():
    st.stop()

c1, c2, c3, c4 = st.columns([2, 2, 2, 1.2])
method = c1.radio("Projection", analysis.PROJECTIONS, horizontal=True, key="map_method",
                  help="PCA is instant and exact; t-SNE (openTSNE) and UMAP take a few seconds per model the "
                       "first time, then come from the cache.")
colour_by = c2.radio("Colour", ["anomaly", "class"], horizontal=True, key="map_colour",
                     format_func={"anomaly": "normal vs anomaly", "class": "by class"}.get)
n_test = len(caches.split_for(ctx.entries[0]).X_test)
sizes = [n for n in (250, 500, 1000, 2000, 4000) if n < n_test] + [n_test]
if st.session_state.get("map_n") not in sizes:  # another dataset's sample size
    st.session_state["map_n"] = min(1000, n_test) if min(1000, n_test) in sizes else sizes[-1]
max_n = n_test if len(sizes) == 1 else c3.select_slider(
    "Test samples shown", sizes, key="map_n",
    help="A seeded sample of the test set (anomalies keep their share).")
k = int(c4.number_input("k of k-NN", 1, 50, 5, key="map_k", help="Neighbours of the k-NN distance score."))
zoom = c4.toggle("zoom to the bulk", key="map_zoom", help="Axes on the 1-99% quantiles: a few far outliers "
                 "otherwise squash the map; they then fall outside the view.")
max_n = None if max_n >= n_test else int(max_n)

ss = st.session_state
here = {"dataset": ctx.dataset, "anomaly_class": ctx.anomaly_class}


def _on_select(key: str) -> None:
    """The latest selection on any map (click, box or lasso) becomes the lab's selection."""
    points = ((ss.get(key) or {}).get("selection") or {}).get("points") or []
    ss["map_selected"] = dict(here, indices=[int(figures.point_customdata(p)[0]) for p in points
                                             if p.get("customdata") is not None])


picked = ss.get("map_selected") or {}
selected = [int(j) for j in picked.get("indices", [])] if {k: picked.get(k) for k in here} == here else []
# the maps side by side, the sample inspector beside them (a projector's layout)
cols = st.columns([3] * len(ctx.entries) + [2.6])
panels = []
for i, (col, entry) in enumerate(zip(cols, ctx.entries)):
    with col:
        try:
            model = caches.model(entry["path"])
        except Exception as e:  # noqa: BLE001
            st.error(f"{entry['name']}: {e}")
            continue
        sp = caches.split_for(entry)
        idx, _ = caches.latents(entry, "test", max_n)
        proj = caches.projection(entry, method, max_n)
        scores = caches.test_scores(entry)
        sep = caches.separation(entry, max_n, k=k)
        classes = caches.class_names_of(ctx.ds, sp)
        panels.append(latent_panels.MapPanel(entry, model, sp, scores, classes))
        st.markdown(f"**{figures.interpolation_label(entry['interpolation'])}** {display.health_badges(entry)}  \n"
                    f"`{entry['name']}`")
        auc = (entry.get("metrics") or {}).get("auc")
        # one line, not three st.metric: four maps and the inspector leave ~200 px per model
        st.markdown(f"k-NN AUC **{sep['knn_auc']:.3f}** · silhouette **{sep['silhouette']:.3f}** · model AUC **"
                    + ("–" if auc is None else f"{auc:.3f}") + "**",
                    help=f"**k-NN AUC**: AUC of the mean distance of each test latent to its {k} nearest TRAIN "
                         "latents. **silhouette**: of the normal / anomaly labelling in latent space (higher = "
                         "better separated). **model AUC**: of the model's own anomaly score (the D_recon feature "
                         "distance, Section 5.2) on the test set.")
        ss[f"map_separation-{i}"] = {"knn_auc": sep["knn_auc"], "silhouette": sep["silhouette"], "model_auc": auc}
        pos = {int(j): r for r, j in enumerate(idx)}
        rows = [pos[j] for j in selected if j in pos]
        rings = [{"xy": proj["xy"][rows], "name": "selected", "symbol": "circle-open", "color": "black",
                  "size": 13}] if rows else None
        fig = figures.latent_figure(proj["xy"], sp.y_test[idx], classes[idx], scores[idx], idx, colour_by,
                                    height=470, zoom=zoom, extra_points=rings,
                                    axis_titles=figures.axis_titles(proj))
        frame = pd.DataFrame({"x": proj["xy"][:, 0], "y": proj["xy"][:, 1], "test_index": idx,
                              "class": classes[idx], "anomaly": sp.y_test[idx], "score": scores[idx]})
        key = f"map-{i}-{entry['name']}"
        display.show_figure(fig, key=key, csv=frame, csv_name=f"latent-map-{entry['name']}-{method}.csv",
                            on_select=functools.partial(_on_select, key), selection_mode=("points", "box", "lasso"))

if panels:
    with cols[-1]:
        latent_panels.inspector(panels, selected, ctx.tabular, ctx.ds.feature_names if ctx.tabular else None)
if selected and panels:
    latent_panels.thumbnails(panels, selected, ctx.tabular)
    st.caption("Use them as anchors on the **Simplex explorer** page (anchor source: latent map selection). "
               "Double-click a map to clear the selection.")
latent_panels.timeline_section(ctx.entries)
with st.expander("How the separation figures are computed"):
    st.markdown(
        "* **k-NN AUC**: a k-nearest-neighbour detector in latent space: the anomaly score of a test sample is the "
        "mean distance of E(x) to its k nearest latents of the *training* set (normal data only); the AUC of that "
        "score on the test labels. It measures how far anomalies fall from the normal latents, independently of "
        "the decoder and critic.\n"
        "* **silhouette**: scikit-learn's silhouette of the normal/anomaly labelling of the test latents (Euclidean, "
        "in the full latent space, not the 2-D map): near 0 = mixed, higher = separated.\n"
        "* The projection is computed once per model, method and sample, then cached; t-SNE is openTSNE, UMAP is "
        "umap-learn, both seeded.")
