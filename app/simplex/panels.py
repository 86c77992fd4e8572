"""The Simplex explorer's panels (Streamlit): the anchors, the interpolant of every compared model (a fragment:
a weight change reruns it alone, one decode per model), the whole simplex as heat maps and decoded mosaics, and
the strips along the edges. The page (`app/simplex/page.py`) picks the anchors and builds the `Scene`."""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from app.shared import analysis, caches, display, figures, images
from app.shared.labels import interpolation_label
# the explorer's own figures beside the shared ones
from app.simplex import figures as simplex_figures, keys, readout, readout_cache, state, weights

ss = st.session_state
HEAT_STEP = 0.05  # the heat maps' grid: 231 clickable cells
MOSAIC_PER_EDGE = 8  # decoded interpolants per edge of the mosaic (36 in all)
STRIP_STEPS = 9  # decodings along each edge
PREVIEW_DIVISIONS = 20  # the draggable simplex's preview grid: steps of 0.05, 231 points for m = 3, 21 for m = 2


@dataclass
class ModelView:
    """One compared model with the anchors' latents, encoded once per (model, anchors)."""
    entry: dict
    model: object
    Z: np.ndarray
    recon: np.ndarray

    @property
    def title(self) -> str:
        return interpolation_label(self.entry["interpolation"])


@dataclass
class Scene:
    m: int
    anchors: tuple  # test indices in the reference model's split
    X: np.ndarray  # the anchors' raw samples, shown to every model
    classes: list  # the anchors' class names
    scores: list  # the anchors' anomaly scores by the reference model
    input_range: tuple
    tabular: bool
    feature_names: Optional[list]
    ds: object = None  # the dataset (class names)
    views: list = field(default_factory=list)

    @property
    def labels(self) -> list[str]:
        return [f"anchor {i + 1}" for i in range(self.m)]


def model_header(view: ModelView, target=None) -> None:
    target = target or st
    badges = display.health_badges(view.entry)
    target.markdown(f"**{view.title}** {badges}  \n`{view.entry['name']}`")


def anchors_row(scene: Scene) -> None:
    """Each anchor: the test sample, then its reconstruction G(E(x)) by each model, labelled."""
    st.markdown("##### Anchors")
    cols = st.columns(scene.m)
    who = ", ".join(v.title for v in scene.views)
    for i, (col, j) in enumerate(zip(cols, scene.anchors)):
        with col:
            if scene.tabular:
                st.markdown(f"**anchor {i + 1}**: test #{j} ({scene.classes[i]}), score {scene.scores[i]:.3f}")
                continue
            row = [scene.X[i]] + [v.recon[i] for v in scene.views]
            display.show_png(images.image_grid([row], scene.input_range, cell=72),
                             caption=f"**anchor {i + 1}** · test #{j} · class {scene.classes[i]} · score "
                                     f"{scene.scores[i]:.3f}  \nleft: the sample; then its reconstruction "
                                     f"G(E(x)) by {who}")


def drag_data(scene: Scene) -> tuple[dict, Optional[dict]]:
    """The data of the draggable simplex (the anchors' labels and thumbnails) and of its previews (per compared
    model, its decodes on the preview grid as PNG data URLs, computed once per server, model and anchors; None for
    tables). Neither holds the weights: the previews' element stays identical while only the weights change."""
    drag = {"labels": scene.labels, "thumbs": None}
    if scene.tabular:
        return drag, None
    drag["thumbs"] = [images.png_data_url(images.upscale(images.to_uint8_image(x, scene.input_range), 48))
                      for x in scene.X]
    W = weights.preview_grid(scene.m, PREVIEW_DIVISIONS)
    ident = repr((scene.m, scene.anchors, [v.entry["path"] for v in scene.views]))
    previews = {"grid_id": hashlib.sha1(ident.encode()).hexdigest()[:16], "n": PREVIEW_DIVISIONS,
                "grid": np.rint(W * PREVIEW_DIVISIONS).astype(int).tolist(),
                "models": [{"title": v.title,
                            "tiles": readout_cache.preview_tiles(v.entry, scene.X, W, scene.input_range)}
                           for v in scene.views]}
    return drag, previews


def _decoded_image(scene: Scene, x: np.ndarray, key: str, size: int, caption: str) -> None:
    with st.container(key=key):
        display.show_png(images.upscale(images.to_uint8_image(x, scene.input_range), size), caption=caption)


def _narrow(fig: go.Figure) -> go.Figure:
    """A figure for a model's narrow column: untitled (the column's header names the model), the legend under
    the plot, where it cannot cover anything."""
    fig.update_layout(title=dict(text=""))
    return simplex_figures.legend_below(fig, rows=2)


def _feature_bars(scene: Scene, x: np.ndarray, key: str, narrow: bool = False) -> None:
    series = {f"anchor {i + 1}": scene.X[i] for i in range(scene.m)}
    series["interpolant"] = x
    names = scene.feature_names or [f"f{i}" for i in range(len(x))]
    fig = figures.feature_bars(names, series, "Decoded feature vector")
    display.show_figure(_narrow(fig) if narrow else fig, key=key,
                        csv=pd.DataFrame({"feature": names, **{k: np.ravel(v) for k, v in series.items()}}),
                        csv_name="interpolant.csv")


def _readout_numbers(view: ModelView, result: dict, w: np.ndarray) -> None:
    """The interpolant's anomaly score against the threshold, and D_inter per anchor against 1 − wᵢ."""
    score = float(result["score"][0])
    st.metric("anomaly score of the interpolant", f"{score:.3f}",
              delta=f"{score - view.model.threshold_:+.3f} vs threshold {view.model.threshold_:.3f}",
              delta_color="inverse", help="The model's score (D_recon feature distance); above the threshold "
                                          "(10% contamination on the training data) counts as an anomaly.")
    if result["d_inter"] is None:
        st.caption("D_inter: — (no simplex critic: trained without simplex interpolation)")
        return
    d = result["d_inter"][:, 0]
    # a static table: it draws in a fraction of an interactive dataframe's time, and this reruns per release
    st.table(pd.DataFrame({"ideal 1 − wᵢ": [f"{v:.3f}" for v in 1 - w], "D_inter(xᵢ, x̂)": [f"{v:.3f}" for v in d]},
                          index=pd.Index([f"anchor {i + 1}" for i in range(len(w))])))
    st.caption(f"Σ wᵢ D_inter² = {float(result['realism'][0]):.3f} (0 = the critic finds the interpolant "
               f"realistic; training drives it there)")


def _field_choice() -> str:
    return st.radio("Heat map of", list(readout.FIELDS), key=keys.FIELD, horizontal=False,
                    format_func=lambda f: readout.FIELDS[f][0],
                    help="\n\n".join(f"**{label}**: {text}" for label, text in readout.FIELDS.values()))


def whole_simplex_chart(scene: Scene, view: ModelView, w: Optional[np.ndarray], field_name: str, name: str,
                        height: int = 300) -> None:
    """The model's field over the whole simplex (m = 3: ternary heat map; m = 2: the segment's profile), the
    current weights marked (unless w is None); a click on a cell or point sets the weights."""
    key = state.pick_key(name)
    if scene.m == 3:
        grid = weights.barycentric_grid(HEAT_STEP)
        res = readout_cache.simplex_field(view.entry, scene.X, grid, keep_decoded=False)
        values = readout.field_values(res, field_name)
        label = readout.FIELDS[field_name][0]
        fig = simplex_figures.ternary_heatmap(
            grid, values, w, labels=scene.labels, colour_title=label if values is not None else "",
            flagged=res["score"] > view.model.threshold_, step=HEAT_STEP, height=height,
            extra_hover={"anomaly score": res["score"], "Σ wᵢ D_inter²": res["realism"]},
            title="" if values is not None else "— (no simplex critic)")
    else:
        W = weights.line_weights(21)
        res = readout_cache.simplex_field(view.entry, scene.X, W, keep_decoded=False)
        fig = simplex_figures.segment_profile(W, res["score"], view.model.threshold_, w, res["realism"],
                                              height=height)
    display.show_figure(fig, key=key, **state.pick_args(key))


@st.fragment
def interpolant_fragment(scene: Scene, compare: bool) -> None:
    """Everything a weight change touches; reruns alone, so each model pays one decode, one score and one
    critic pass for the new weights (the anchors' latents and the heat maps come from the caches)."""
    t0 = time.perf_counter()
    w = state.current()
    results = [readout.readout(v.model, scene.X, v.Z, w) for v in scene.views]
    ss[keys.READOUTS] = {v.entry["path"]: {"decoded": r["decoded"][0], "score": float(r["score"][0]),
                                           "d_inter": None if r["d_inter"] is None else r["d_inter"][:, 0]}
                         for v, r in zip(scene.views, results)}
    caption = "w = (" + ", ".join(f"{v:.2f}" for v in w) + ")"
    if compare:
        left, right = st.columns([1.15, 3.85])
        cols = right.columns(len(scene.views))
        headers = [col.empty() for col in cols]  # in place above the images, filled after them
        for i, (col, v, r) in enumerate(zip(cols, scene.views, results)):
            with col:  # the decoded images first, every model's before any text: what a release waits for
                if scene.tabular:
                    _feature_bars(scene, r["decoded"][0], key=keys.bars(i), narrow=True)
                else:
                    _decoded_image(scene, r["decoded"][0], keys.decoded(i), 160, caption)
        ss[keys.FRAGMENT_MS] = (time.perf_counter() - t0) * 1000
        for header, col, v, r in zip(headers, cols, scene.views, results):
            model_header(v, target=header)
            with col:
                _readout_numbers(v, r, w)
        with left:
            st.markdown("##### Weights")
            state.weight_controls(scene.m, scene.labels, *drag_data(scene))
        return
    view, r = scene.views[0], results[0]
    left, mid, right = st.columns([1.2, 1.25, 1.6])
    with mid:
        st.markdown("##### Decoded interpolant")
        if scene.tabular:
            _feature_bars(scene, r["decoded"][0], key=keys.BARS)
        else:
            _decoded_image(scene, r["decoded"][0], keys.DECODED, 224, caption)
        ss[keys.FRAGMENT_MS] = (time.perf_counter() - t0) * 1000
        _readout_numbers(view, r, w)
    with left:
        st.markdown("##### Weights")
        state.weight_controls(scene.m, scene.labels, *drag_data(scene))
        field_name = _field_choice() if scene.m == 3 else "score"
        whole_simplex_chart(scene, view, w, field_name, keys.TERNARY, height=320)
        st.caption(("Click a cell of the triangle" if scene.m == 3 else "Click a point") + " to set the weights; "
                   "the star marks them.")
    with right:
        _interpolant_on_the_map(scene, view, w)


def heat_maps(scene: Scene, widths: list) -> None:
    """Side by side: each compared model's field over the whole simplex (a click on a cell or point sets the
    weights). Outside the interpolant's fragment, so a weight change does not redraw them: with several models
    they cost most of a release's round trip. So they mark no current weights: the draggable simplex shows them."""
    cols = st.columns(widths)
    with cols[0]:
        field_name = _field_choice() if scene.m == 3 else "score"
        st.caption(readout.FIELDS[field_name][1] + " Click a cell to set the weights; the draggable simplex above "
                   "shows the current ones." if scene.m == 3 else
                   "The anomaly score along the segment (and Σ wᵢ D_inter² for a model with a simplex critic); "
                   "dashed: the model's threshold. Click a point to set the weights.")
    for i, (col, v) in enumerate(zip(cols[len(cols) - len(scene.views):], scene.views)):
        with col:
            whole_simplex_chart(scene, v, None, field_name, keys.heat_map(i), height=290)


def _interpolant_on_the_map(scene: Scene, view: ModelView, w: np.ndarray) -> None:
    st.markdown("##### Where the interpolant falls")
    entry = view.entry
    proj = caches.projection(entry, "PCA", 1000)
    map_idx, _ = caches.latents(entry, "test", 1000)
    sp = caches.split_for(entry)
    scores = caches.test_scores(entry)
    classes = caches.class_names_of(scene.ds, sp)
    pts = analysis.pca_place(proj, np.vstack([view.Z, weights.mix_latents(view.Z, w)]))
    m = scene.m
    fig = figures.latent_figure(proj["xy"], sp.y_test[map_idx], classes[map_idx], scores[map_idx], map_idx,
                                "anomaly", height=420, axis_titles=figures.axis_titles(proj), extra_points=[
                                    {"xy": pts[:m], "name": "anchors", "symbol": "diamond", "color": "black",
                                     "text": [str(i + 1) for i in range(m)], "size": 12},
                                    {"xy": pts[m:], "name": "interpolant", "symbol": "star", "color": "#ffbf00",
                                     "size": 18}])
    fig.add_trace(go.Scatter(x=np.r_[pts[:m, 0], pts[0, 0]], y=np.r_[pts[:m, 1], pts[0, 1]], mode="lines",
                             line=dict(color="black", width=1, dash="dot"), hoverinfo="skip", showlegend=False))
    display.show_figure(fig, key=keys.MAP)
    st.caption("PCA of the test latents: a linear map, so the interpolant's latent is placed exactly "
               "(a t-SNE or UMAP position would only be approximate).")


def mosaics(scene: Scene, widths: list) -> None:
    """m = 3, images: each model's triangle of decoded interpolants (MOSAIC_PER_EDGE per edge), laid out as the
    heat map; a click on a tile sets the weights."""
    W = weights.triangle_weights(MOSAIC_PER_EDGE)
    cols = st.columns(widths)
    for i, (col, v) in enumerate(zip(cols[len(cols) - len(scene.views):], scene.views)):
        res = readout_cache.simplex_field(v.entry, scene.X, W)
        img, centres = images.triangle_mosaic(list(res["decoded"]), MOSAIC_PER_EDGE, scene.input_range, cell=40)
        key = state.pick_key(keys.mosaic(i))
        fig = simplex_figures.mosaic_figure(images.png_data_url(img), (img.shape[1], img.shape[0]), centres, W,
                                            res["score"], height=320, title=v.title if len(scene.views) > 1 else "")
        with col:
            display.show_figure(fig, key=key, **state.pick_args(key))
    cols[0].caption(f"Top: anchor 1; bottom left: anchor 2; bottom right: anchor 3; {MOSAIC_PER_EDGE} decoded "
                    "interpolants per edge. Click a tile to set the weights.")


def edge_strips(scene: Scene, widths: list) -> None:
    """Each model's decodings along every edge between two anchors (STRIP_STEPS from one end to the other)."""
    pairs = [(0, 1)] if scene.m == 2 else [(0, 1), (0, 2), (1, 2)]
    t = weights.line_weights(STRIP_STEPS)
    W = np.concatenate([_edge(scene.m, a, b, t) for a, b in pairs])
    if scene.tabular:
        pair = pairs[0] if scene.m == 2 else st.radio(
            "Edge", pairs, horizontal=True, key=keys.EDGE, format_func=lambda p: f"anchor {p[0] + 1} → {p[1] + 1}")
        k = pairs.index(pair)
        names = scene.feature_names or [f"f{j}" for j in range(scene.X.shape[1])]
        for i, (col, v) in enumerate(zip(st.columns(len(scene.views)), scene.views)):
            decoded = readout_cache.simplex_field(v.entry, scene.X, W)["decoded"]
            strip = decoded[k * STRIP_STEPS:(k + 1) * STRIP_STEPS]
            fig = simplex_figures.feature_paths(names, t[:, 1], strip, f"weight of anchor {pair[1] + 1}")
            with col:
                model_header(v)
                display.show_figure(_narrow(fig), key=keys.strip(i),
                                    csv=pd.DataFrame(strip, columns=names).assign(weight_second=t[:, 1]),
                                    csv_name=f"strip-{v.entry['name']}.csv")
        return
    cols = st.columns(widths)
    edges = ", ".join(f"anchor {a + 1} → {b + 1}" for a, b in pairs)
    cols[0].caption(f"Rows: {edges}; from the first anchor (left) to the second (right), weights of the second "
                    + ", ".join(f"{x:.2f}" for x in t[:, 1]) + ".")
    cell = 28 if len(scene.views) > 2 else 40  # nine tiles must fit the model's column
    for col, v in zip(cols[len(cols) - len(scene.views):], scene.views):
        decoded = readout_cache.simplex_field(v.entry, scene.X, W)["decoded"]
        rows = [list(decoded[k * STRIP_STEPS:(k + 1) * STRIP_STEPS]) for k in range(len(pairs))]
        display.show_png(images.image_grid(rows, scene.input_range, cell=cell), target=col,
                         caption=f"**{v.title}**" if len(scene.views) > 1 else None)


def _edge(m: int, a: int, b: int, t: np.ndarray) -> np.ndarray:
    """Weights (steps, m) from anchor a to anchor b, zero on the others."""
    W = np.zeros((len(t), m))
    W[:, a], W[:, b] = t[:, 0], t[:, 1]
    return W
