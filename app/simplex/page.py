"""Simplex explorer: decode sum_i w_i E(x_i) for m = 2 or 3 anchors (Eq. 3) and read D_inter's verdict, for one
model or for every selected model side by side (the ablation: none / 2-point / 3-point / ACAI). The panels are
`app/simplex/panels.py`; this page picks the models and the anchors."""
import numpy as np
import streamlit as st

from app.shared import caches, catalogue, display, keys as shared_keys, sidebar
from app.shared.labels import natural_key
from app.simplex import edges, keys, panels, readout_cache, state

ss = st.session_state
ANCHOR_SOURCES = ["random", "by class", "by index", "latent map selection"]


def choose_models(ctx, top) -> tuple[list[str], dict, bool]:
    """(the compared models' paths, every selected entry by path, whether all are compared side by side)."""
    paths = [e["path"] for e in ctx.entries]
    by_path = {e["path"]: e for e in ctx.entries}
    if ss.get(keys.MODEL) not in paths:  # prefer the richest simplex model of the selection
        ss[keys.MODEL] = max(paths, key=lambda p: by_path[p]["interpolation"]
                             if isinstance(by_path[p]["interpolation"], int) else 1)
    views = ["compare", "one"] if len(paths) > 1 else ["one"]
    view = top[0].radio("Show", views, key=keys.VIEW, horizontal=True,
                        format_func={"compare": f"all {len(paths)} models", "one": "one model"}.get,
                        help="All the sidebar's models side by side on the same anchors and weights, or one model "
                             "with the interpolant's place on its latent map.")
    if view == "compare":
        return paths, by_path, True
    chosen = top[1].selectbox("Model", paths, key=keys.MODEL,
                              format_func=lambda p: catalogue.entry_label(by_path[p])
                              + display.health_mark(by_path[p], after_entry_label=True))
    return [chosen], by_path, False


def _random_anchors(sp, m: int, only_normal: bool) -> list[int]:
    pool = np.flatnonzero(sp.y_test == 0) if only_normal else np.arange(len(sp.X_test))
    return [int(i) for i in np.random.default_rng(ss[keys.ANCHOR_SEED]).choice(pool, m, replace=False)]


def _anchors_by_class(ctx, sp, classes: np.ndarray, m: int) -> list[int]:
    """One anchor per chosen class (a class chosen twice gives two different samples), seeded."""
    names = sorted(set(classes.tolist()), key=natural_key)
    cols = st.columns(m + 1)
    if cols[-1].button("Other samples", key=keys.SHUFFLE_CLASS):
        ss[keys.ANCHOR_SEED] += 1
    perm = np.random.default_rng(ss[keys.ANCHOR_SEED]).permutation(len(sp.X_test))
    anchors, used = [], {}
    for i in range(m):
        if ss.get(keys.anchor_class(i)) not in names:  # first visit, or another dataset's classes
            ss[keys.anchor_class(i)] = "normal" if ctx.tabular else names[(i + 1) % len(names)]
        c = cols[i].selectbox(f"class of anchor {i + 1}", names, key=keys.anchor_class(i))
        members = [int(j) for j in perm if classes[j] == c]
        anchors.append(members[used.get(c, 0) % len(members)])
        used[c] = used.get(c, 0) + 1
    return anchors


def _anchors_by_index(sp, m: int) -> list[int]:
    n_test = len(sp.X_test)
    cols = st.columns(m)
    start = _random_anchors(sp, m, True)
    for i in range(m):
        if not 0 <= ss.get(keys.anchor_index(i), -1) < n_test:
            ss[keys.anchor_index(i)] = start[i]
    return [int(cols[i].number_input(f"test index of anchor {i + 1}", 0, n_test - 1, key=keys.anchor_index(i)))
            for i in range(m)]


def _anchors_from_the_map(ctx, sp, m: int) -> list[int]:
    picked = ss.get(shared_keys.MAP_SELECTION) or {}
    same = picked.get("dataset") == ctx.dataset and picked.get("anomaly_class") == ctx.anomaly_class
    if same and len(picked.get("indices", [])) >= m:
        st.caption(f"The first {m} of the {len(picked['indices'])} points selected on the Latent map page.")
        return [int(i) for i in picked["indices"][:m]]
    st.info(f"Select at least {m} points on the **Latent map** page (click one, shift-click the others) to use them "
            f"as anchors; random anchors meanwhile.")
    return _random_anchors(sp, m, True)


def choose_anchors(ctx, sp, classes: np.ndarray, m: int, source: str) -> tuple:
    """The anchors' test indices in the reference model's split, from the chosen source."""
    ss.setdefault(keys.ANCHOR_SEED, 0)
    if source == "random":
        a, b = st.columns([1, 4])
        if a.button("New random anchors", key=keys.SHUFFLE):
            ss[keys.ANCHOR_SEED] += 1
        only_normal = b.checkbox("normal samples only", value=True, key=keys.ONLY_NORMAL)
        return tuple(_random_anchors(sp, m, only_normal))
    if source == "by class":
        return tuple(_anchors_by_class(ctx, sp, classes, m))
    if source == "by index":
        return tuple(_anchors_by_index(sp, m))
    return tuple(_anchors_from_the_map(ctx, sp, m))


def build_scene(ctx, chosen: list[str], by_path: dict, sp, classes: np.ndarray, anchors: tuple) -> panels.Scene:
    """The anchors and every compared model that loads, each with the anchors encoded once."""
    reference = by_path[chosen[0]]
    X_anchors = sp.X_test[list(anchors)]
    ref_scores = caches.test_scores(reference)
    scene = panels.Scene(
        m=len(anchors), anchors=anchors, X=X_anchors, classes=[classes[j] for j in anchors],
        scores=[ref_scores[j] for j in anchors],
        input_range=caches.model(reference["path"]).config_.input_range if not ctx.tabular else None,
        tabular=ctx.tabular, feature_names=(ctx.ds.feature_names if ctx.tabular else None), ds=ctx.ds)
    for p in chosen:
        try:
            model = caches.model(p)
        except Exception as err:  # noqa: BLE001: a damaged checkpoint is named, the others still compared
            st.error(f"{by_path[p]['name']}: {err}")
            continue
        Z, recon = readout_cache.encoded_anchors(by_path[p], X_anchors)  # once per (model, anchors)
        scene.views.append(panels.ModelView(by_path[p], model, Z, recon))
    return scene


def main() -> None:
    ctx = sidebar.context()
    st.title("Simplex explorer")
    st.caption("Pick m anchors, move the weights on the simplex and watch the decoded interpolant G(Σ wᵢ E(xᵢ)) "
               "(Eq. 3). D_inter(xᵢ, x̂) is the critic's estimate of 1 − wᵢ: training pushes it to 0 for realistic "
               "interpolants. The anchors are encoded once per model; each weight change decodes one latent per "
               "model.")
    if not ctx.require_data() or not ctx.require_models():
        st.stop()
    top = st.columns([1.5, 2.6, 1.1, 3.6])
    chosen, by_path, compare = choose_models(ctx, top)
    sp = caches.split_for(by_path[chosen[0]])  # the anchors are test samples of the first model's split
    classes = caches.class_names_of(ctx.ds, sp)
    m = top[2].radio("Anchors m", [2, 3], index=1, horizontal=True, key=keys.ANCHOR_COUNT)
    source = top[3].radio("Choose anchors", ANCHOR_SOURCES, horizontal=True, key=keys.ANCHOR_SOURCE)
    scene = build_scene(ctx, chosen, by_path, sp, classes, choose_anchors(ctx, sp, classes, m, source))
    if not scene.views:
        st.stop()
    state.init(m)
    panels.anchors_row(scene)
    panels.interpolant_fragment(scene, compare)
    # the fragment's columns: the weights, then one per model (kept below, so each model's pictures line up)
    widths = [1.15] + [3.85 / len(scene.views)] * len(scene.views) if compare else [1.2, 1.6]
    views_below(scene, compare, widths, ctx.tabular)


def views_below(scene: panels.Scene, compare: bool, widths: list, tabular: bool) -> None:
    """The whole simplex (side by side; one model's is beside its weights), the decoded mosaic (m = 3, images),
    the edges as strips and in motion (images), one tab each: only the open tab runs, so a page change and a new
    set of anchors draw one view, not four."""
    labels = [label for label, shown in ((keys.TAB_WHOLE, compare), (keys.TAB_MOSAIC, scene.m == 3 and not tabular),
                                         (keys.TAB_EDGES, True), (keys.TAB_MOTION, not tabular)) if shown]
    for label, tab in display.lazy_tabs(labels, keys.TAB, keys.KEPT_ACROSS_TABS).items():
        if not tab.open:
            continue
        with tab:
            if label == keys.TAB_WHOLE:
                panels.heat_maps(scene, widths)
            elif label == keys.TAB_MOSAIC:
                panels.mosaics(scene, widths)
            elif label == keys.TAB_EDGES:
                panels.edge_strips(scene, widths)
            else:
                edges.edge_animation(scene)


main()
