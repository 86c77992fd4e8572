"""Simplex explorer: decode sum_i w_i E(x_i) for m = 2 or 3 anchors (Eq. 3) and read D_inter's verdict, for one
model or for every selected model side by side (the ablation: none / 2-point / 3-point / ACAI). The panels are
`app/simplex_panels.py`; this page picks the models and the anchors."""
import numpy as np
import streamlit as st

from app import caches, catalogue, display, simplex_panels, simplex_state, sidebar

ss = st.session_state
ctx = sidebar.context()
st.title("Simplex explorer")
st.caption("Pick m anchors, move the weights on the simplex and watch the decoded interpolant G(Σ wᵢ E(xᵢ)) "
           "(Eq. 3). D_inter(xᵢ, x̂) is the critic's estimate of 1 − wᵢ: training pushes it to 0 for realistic "
           "interpolants. The anchors are encoded once per model; each weight change decodes one latent per model.")
if not ctx.require_data() or not ctx.require_models():
    st.stop()

paths = [e["path"] for e in ctx.entries]
by_path = {e["path"]: e for e in ctx.entries}
if ss.get("sx_model") not in paths:  # prefer the richest simplex model of the selection
    ss["sx_model"] = max(paths, key=lambda p: by_path[p]["interpolation"]
                         if isinstance(by_path[p]["interpolation"], int) else 1)
top = st.columns([1.5, 2.6, 1.1, 3.6])
views = ["compare", "one"] if len(paths) > 1 else ["one"]
view = top[0].radio("Show", views, key="sx_view", horizontal=True,
                    format_func={"compare": f"all {len(paths)} models", "one": "one model"}.get,
                    help="All the sidebar's models side by side on the same anchors and weights, or one model "
                         "with the interpolant's place on its latent map.")
compare = view == "compare"
if compare:
    chosen = paths
else:
    chosen = [top[1].selectbox("Model", paths, key="sx_model",
                               format_func=lambda p: catalogue.entry_label(by_path[p])
                                                     + display.health_mark(by_path[p], after_entry_label=True))]
reference = by_path[chosen[0]]  # the anchors are test samples of this model's split
sp = caches.split_for(reference)
classes = caches.class_names_of(ctx.ds, sp)
n_test = len(sp.X_test)
m = top[2].radio("Anchors m", [2, 3], index=1, horizontal=True, key="sx_m")
source = top[3].radio("Choose anchors", ["random", "by class", "by index", "latent map selection"],
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
    from app.figures import _natural

    names = sorted(set(classes.tolist()), key=_natural)
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

X_anchors = sp.X_test[list(anchors)]
ref_scores = caches.test_scores(reference)
scene = simplex_panels.Scene(
    m=m, anchors=anchors, X=X_anchors, classes=[classes[j] for j in anchors], scores=[ref_scores[j] for j in anchors],
    input_range=caches.model(reference["path"]).config_.input_range if not ctx.tabular else None, tabular=ctx.tabular,
    feature_names=(ctx.ds.feature_names if ctx.tabular else None), ds=ctx.ds)
for p in chosen:
    try:
        model = caches.model(p)
    except Exception as err:  # noqa: BLE001: a damaged checkpoint is named, the others still compared
        st.error(f"{by_path[p]['name']}: {err}")
        continue
    Z, recon = caches.samples_latents(by_path[p], X_anchors)  # once per (model, anchors)
    scene.views.append(simplex_panels.ModelView(by_path[p], model, Z, recon))
if not scene.views:
    st.stop()
simplex_state.init(m)

simplex_panels.anchors_row(scene)
simplex_panels.interpolant_fragment(scene, compare)

# the fragment's columns: the weights, then one per model (kept below, so each model's pictures line up)
widths = [1.15] + [3.85 / len(scene.views)] * len(scene.views) if compare else [1.2, 1.6]
if m == 3 and not ctx.tabular:
    st.markdown("##### The whole simplex, decoded")
    simplex_panels.mosaics(scene, widths)
st.markdown("##### Along the edges between two anchors")
simplex_panels.edge_strips(scene, widths)
