"""Simplex explorer: decode sum_i w_i E(x_i) for m = 2 or 3 anchors (Eq. 3) and read D_inter's verdict."""
import functools
import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app import analysis, caches, catalogue, display, figures, images, sidebar, simplex_weights

ss = st.session_state
ctx = sidebar.context()
st.title("Simplex explorer")
st.caption("Pick m anchors, move the weights on the simplex and watch the decoded interpolant G(Σ wᵢ E(xᵢ)) "
           "(Eq. 3). D_inter(xᵢ, x̂) is the critic's estimate of 1 − wᵢ: training pushes it to 0 for realistic "
           "interpolants. The anchors are encoded once; each weight change decodes one latent.")
if not ctx.require_data() or not ctx.require_models():
    st.stop()

paths = [e["path"] for e in ctx.entries]
by_path = {e["path"]: e for e in ctx.entries}
if ss.get("sx_model") not in paths:  # prefer the richest simplex model of the selection
    ss["sx_model"] = max(paths, key=lambda p: by_path[p]["interpolation"]
                         if isinstance(by_path[p]["interpolation"], int) else 1)
top = st.columns([3, 1.2, 3.5])
path = top[0].selectbox("Model", paths, key="sx_model", format_func=lambda p: catalogue.entry_label(by_path[p]))
entry = by_path[path]
model = caches.model(path)
sp = caches.split_for(entry)
classes = caches.class_names_of(ctx.ds, sp)
n_test = len(sp.X_test)
m = top[1].radio("Anchors m", [2, 3], index=1, horizontal=True, key="sx_m")
source = top[2].radio("Choose anchors", ["random", "by class", "by index", "latent map selection"],
                      horizontal=True, key="sx_source")
ss.setdefault("sx_seed", 0)


def _pick_random(only_normal: bool) -> list[int]:
    pool = np.flatnonzero(sp.y_test == 0) if only_normal else np.arange(n_test)
    return [int(i) for i in np.random.default_rng(ss["sx_seed"]).choice(pool, m, replace=False)]


if source == "random":
    a, b = st.columns([1, 4])
    if a.button("New random anchors", key="sx_shuffle"):
        ss["sx_seed"] += 1
    only_normal = b.checkbox("normal samples only", value=True, key="sx_only_normal")
    anchors = _pick_random(only_normal)
elif source == "by class":
    names = sorted(set(classes.tolist()), key=figures._natural)
    cols = st.columns(m + 1)
    if cols[-1].button("Other samples", key="sx_shuffle_class"):
        ss["sx_seed"] += 1
    perm = np.random.default_rng(ss["sx_seed"]).permutation(n_test)
    anchors, used = [], {}
    for i in range(m):
        if ss.get(f"sx_class{i}") not in names:  # first visit, or another dataset's classes
            ss[f"sx_class{i}"] = "normal" if ctx.tabular else names[(i + 1) % len(names)]
        c = cols[i].selectbox(f"class of anchor {i + 1}", names, key=f"sx_class{i}")
        members = [int(j) for j in perm if classes[j] == c]
        anchors.append(members[used.get(c, 0) % len(members)])
        used[c] = used.get(c, 0) + 1
elif source == "by index":
    cols = st.columns(m)
    start = _pick_random(True)
    for i in range(m):
        if not 0 <= ss.get(f"sx_idx{i}", -1) < n_test:
            ss[f"sx_idx{i}"] = start[i]
    anchors = [int(cols[i].number_input(f"test index of anchor {i + 1}", 0, n_test - 1, key=f"sx_idx{i}"))
               for i in range(m)]
else:
    picked = ss.get("map_selected") or {}
    same = picked.get("dataset") == ctx.dataset and picked.get("anomaly_class") == ctx.anomaly_class
    if same and len(picked.get("indices", [])) >= m:
        anchors = [int(i) for i in picked["indices"][:m]]
        st.caption(f"The first {m} of the {len(picked['indices'])} points selected on the Latent map page.")
    else:
        st.info(f"Select at least {m} points on the **Latent map** page (click with shift, or lasso) to use them "
                f"as anchors; random anchors meanwhile.")
        anchors = _pick_random(True)
anchors = tuple(anchors)


Z_anchors, recon_anchors = caches.anchor_latents(entry, anchors)
X_anchors = sp.X_test[list(anchors)]
scores = caches.test_scores(entry)
rng_in = model.config_.input_range

# weights: exact values in ss["sx_weights"], sliders are a view of them
if ss.get("_sx_m") != m or len(ss.get("sx_weights", [])) != m:
    ss["sx_weights"] = np.full(m, 1.0 / m)
    ss["_sx_m"] = m
    for i in range(m):
        ss[f"sx_w{i}"] = float(ss["sx_weights"][i])
for i in range(m):
    ss.setdefault(f"sx_w{i}", float(ss["sx_weights"][i]))


def _set_weights(w) -> None:
    ss["sx_weights"] = simplex_weights.normalise(w)
    for i in range(len(ss["sx_weights"])):
        ss[f"sx_w{i}"] = float(ss["sx_weights"][i])


def _on_slider(i: int) -> None:
    _set_weights(simplex_weights.rebalance(ss["sx_weights"], i, ss[f"sx_w{i}"]))
    ss["sx_tern_rev"] = ss.get("sx_tern_rev", 0) + 1  # a fresh triangle: its old selection no longer holds


def _on_ternary(key: str) -> None:
    w = simplex_weights.weights_from_selection(ss.get(key))
    if w is not None:
        _set_weights(w)


st.markdown("##### Anchors", help="Each anchor: the test sample (left) and its reconstruction G(E(x)) (right).")
acols = st.columns(m)
for i, (col, j) in enumerate(zip(acols, anchors)):
    with col:
        if ctx.tabular:
            st.markdown(f"**anchor {i + 1}**: test #{j} ({classes[j]}), score {scores[j]:.4g}")
        else:
            display.show_png(images.image_grid([[X_anchors[i], recon_anchors[i]]], rng_in, cell=96),
                           caption=f"anchor {i + 1} · test #{j} · class {classes[j]} · score {scores[j]:.3g}")

proj = caches.projection(entry, "PCA", 1000)
map_idx, _ = caches.latents(entry, "test", 1000)


@st.fragment
def interpolant_panel() -> None:
    """Everything a weight change touches; reruns alone (a fragment) so nothing cached is recomputed."""
    t0 = time.perf_counter()
    left, mid, right = st.columns([1.15, 1.25, 1.6])
    # The decoded image first (its column is a container, so the page layout is unchanged): a weight change
    # costs one decode and one small PNG before anything else is drawn.
    w = ss["sx_weights"]
    x = model.decode(simplex_weights.mix_latents(Z_anchors, w))  # (1, ...) in raw units
    ss["simplex_decoded"] = x[0]
    ss["simplex_weights"] = np.array(w)
    with mid:
        st.markdown("##### Decoded interpolant")
        if ctx.tabular:
            series = {f"anchor {i + 1}": X_anchors[i] for i in range(m)}
            series["interpolant"] = x[0]
            names = ctx.ds.feature_names or [f"f{i}" for i in range(x.shape[1])]
            display.show_figure(figures.feature_bars(names, series, "Decoded feature vector"), key="sx_bars",
                              csv=pd.DataFrame({"feature": names, **{k: np.ravel(v) for k, v in series.items()}}),
                              csv_name="interpolant.csv")
        else:
            with st.container(key="sx_decoded"):
                display.show_png(images.upscale(images.to_uint8_image(x[0], rng_in), 224),
                               caption="w = (" + ", ".join(f"{v:.2f}" for v in w) + ")")
        ss["simplex_ms"] = (time.perf_counter() - t0) * 1000
    with left:
        st.markdown("##### Weights")
        for i in range(m):
            st.slider(f"w{i + 1} · anchor {i + 1}", 0.0, 1.0, step=0.01, key=f"sx_w{i}", format="%.2f",
                      on_change=_on_slider, args=(i,))
        if m == 3:
            tkey = f"sx_ternary-{ss.get('sx_tern_rev', 0)}"
            display.show_figure(figures.ternary_figure(w, ("anchor 1", "anchor 2", "anchor 3")),
                              key=tkey, on_select=functools.partial(_on_ternary, tkey), selection_mode="points")
            st.caption("Click a point of the triangle to set all three weights.")
    with mid:
        score = float(model.decision_function(x)[0])
        st.metric("anomaly score of the interpolant", f"{score:.4g}",
                  delta=f"{score - model.threshold_:+.3g} vs threshold", delta_color="inverse",
                  help="The model's score (D_recon feature distance); above the threshold (10% contamination on "
                       "the training data) counts as an anomaly.")
        try:
            d = model.inter_critic(X_anchors, x)[:, 0]
            st.dataframe(pd.DataFrame({"anchor": [f"{i + 1}" for i in range(m)], "weight wᵢ": w,
                                       "ideal 1 − wᵢ": 1 - w, "D_inter(xᵢ, x̂)": d}).round(3), hide_index=True)
            st.caption("D_inter estimates how far the interpolant is from each anchor (1 − wᵢ for a faithful "
                       "mix); the encoder/decoder are trained to drive it to 0 (realistic interpolants).")
        except ValueError:
            st.caption("This model has no simplex critic D_inter (trained without simplex interpolation).")
    with right:
        st.markdown("##### Where the interpolant falls")
        pts = analysis.pca_place(proj, np.vstack([Z_anchors, simplex_weights.mix_latents(Z_anchors, w)]))
        fig = figures.latent_figure(proj["xy"], sp.y_test[map_idx], classes[map_idx], scores[map_idx], map_idx,
                                "anomaly", height=400, extra_points=[
                                    {"xy": pts[:m], "name": "anchors", "symbol": "diamond", "color": "black",
                                     "text": [str(i + 1) for i in range(m)], "size": 12},
                                    {"xy": pts[m:], "name": "interpolant", "symbol": "star", "color": "#ffbf00",
                                     "size": 18}])
        fig.add_trace(go.Scatter(x=np.r_[pts[:m, 0], pts[0, 0]], y=np.r_[pts[:m, 1], pts[0, 1]], mode="lines",
                                 line=dict(color="black", width=1, dash="dot"), hoverinfo="skip", showlegend=False))
        display.show_figure(fig, key="sx_map")
        st.caption("PCA of the test latents: a linear map, so the interpolant's latent is placed exactly "
                   "(a t-SNE or UMAP position would only be approximate).")


interpolant_panel()

st.markdown("##### Along the line between two anchors")
pairs = [(0, 1)] if m == 2 else [(0, 1), (0, 2), (1, 2)]
pair = st.radio("Pair", pairs, horizontal=True, key="sx_pair", format_func=lambda p: f"anchor {p[0] + 1} → {p[1] + 1}",
                label_visibility="collapsed") if m == 3 else pairs[0]
steps = 9
W = simplex_weights.line_weights(steps)
strip = model.decode(simplex_weights.mix_latents(Z_anchors[list(pair)], W))
if ctx.tabular:
    names = ctx.ds.feature_names or [f"f{i}" for i in range(strip.shape[1])]
    display.show_figure(figures.feature_paths(names, W[:, 1], strip, f"weight of anchor {pair[1] + 1}"), key="sx_strip",
                      csv=pd.DataFrame(strip, columns=names).assign(weight_second=W[:, 1]), csv_name="strip.csv")
else:
    display.show_png(images.image_grid([list(strip)], rng_in, cell=72),
                   caption="from anchor %d (left) to anchor %d (right), weights %s" % (
                 pair[0] + 1, pair[1] + 1, ", ".join(f"{t:.2f}" for t in W[:, 1])))
