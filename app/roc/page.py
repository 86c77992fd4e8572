"""ROC and ablation: the chosen models against baselines, per-class AUC beside the paper, thresholds, Fig. 4."""
import numpy as np
import pandas as pd
import streamlit as st

from app.roc import baselines, figures as roc_figures, keys, tables  # the page's own modules beside the shared ones
from app.shared import analysis, caches, catalogue, display, figures, images, sidebar
from app.shared.labels import INTERPOLATION_COLOURS, interpolation_label

SCORE_KINDS = {"feature": "D_recon features (paper)", "l2": "L2 reconstruction", "latent_norm": "‖E(x)‖"}
MAX_BASELINE_TRAIN = 5000
DIGITS_NOTE = ("The 8x8 digits are not in the paper (they are the app's bundled stand-in); the nearest published "
               "figures are Table 3's MNIST AUCs (3-point model: 0.974 to 0.998 per class, mean 0.979).")


def _curve(name: str, y: np.ndarray, scores: np.ndarray, **style) -> tuple[dict, list[dict]]:
    """(the ROC curve for the figure, its points for the CSV)."""
    from core.evaluation import metrics

    fpr, tpr, _ = metrics.roc(y, scores)
    curve = {"name": name, "fpr": fpr, "tpr": tpr, "auc": metrics.auc(y, scores), **style}
    return curve, [{"curve": name, "fpr": f, "tpr": t} for f, t in zip(fpr, tpr)]


# ------------------------------------------------------------------ ROC

def roc_section(ctx) -> None:
    """The models' ROC curves (with the chosen score) and the chosen baselines', on the first model's test set."""
    from core.evaluation.methods import BASELINES

    c1, c2 = st.columns([1, 2])
    score_kind = c1.radio("Anomaly score of the models", list(SCORE_KINDS), horizontal=True, key=keys.SCORE,
                          format_func=SCORE_KINDS.get,
                          help="feature = ‖f(x,x) − f(x,G(E(x)))‖₁ with f the penultimate layer of D_recon "
                               "(Section 5.2).")
    names = baselines.options(BASELINES)
    chosen_baselines = c2.multiselect(
        "Baselines", names, default=[n for n in baselines.DEFAULT if n in names], key=keys.BASELINES,
        format_func=baselines.label,
        help=f"Fitted on the same training split (at most {MAX_BASELINE_TRAIN} samples, seeded) and scored on the "
             "same test set. The One-class SVM and the deep ones (the autoencoders, Deep SVDD) take a while the "
             "first time.")
    if not caches.split_for(ctx.entries[0]).y_test.any():
        st.info(f"**No ROC curve for {ctx.dataset}:** its test set holds no labelled anomaly (a table without a "
                "label column, or a folder without abnormal images), so there is nothing to rank against. The "
                "score histogram below shows where the held-out normals fall against the threshold.")
        return
    curves, rows = [], []
    for e in ctx.entries:
        name = f"{interpolation_label(e['interpolation'])} · {e['name']}{display.health_mark(e)}"
        curve, points = _curve(name, caches.split_for(e).y_test, caches.test_scores(e, score_kind),
                               color=INTERPOLATION_COLOURS.get(e["interpolation"]))
        curves.append(curve)
        rows += points
    y_test = caches.split_for(ctx.entries[0]).y_test
    seed = caches.model_seed(ctx.entries[0]["path"])
    for b in chosen_baselines:
        try:
            scores = caches.baseline_scores(b, ctx.dataset, ctx.anomaly_class, seed, catalogue.data_dir(),
                                            MAX_BASELINE_TRAIN)
        except Exception as err:  # noqa: BLE001
            st.warning(f"{baselines.label(b)} failed: {err}")
            continue
        curve, points = _curve(baselines.label(b), y_test, scores, dash="dash", color=baselines.colour(b, names))
        curves.append(curve)
        rows += points
    display.show_figure(roc_figures.roc_figure(curves), key=keys.ROC_CHART, csv=pd.DataFrame(rows),
                        csv_name=f"roc-{ctx.dataset}.csv")


# ------------------------------------------------------------------ per-class AUC beside the paper

def show_per_class(ctx, table: pd.DataFrame, paper_mean: pd.DataFrame, shipped: list[dict]) -> None:
    """The table with the mean first, a warning for unhealthy checkpoints, its CSV, and the bars beside it."""
    shown = tables.shown_table(table)  # the mean first, and the table as tall as its rows
    left, right = st.columns([1, 1.3])
    styled = shown.style.apply(
        lambda row: ["font-weight: bold; background-color: #eef3fa" if row["class"].startswith(tables.MEAN)
                     else ""] * len(row), axis=1)
    # the figures are text now: aligned as numbers still; the class column wide enough for "mean (class 2)"
    columns = {c: st.column_config.TextColumn(c, alignment="right") for c in shown.columns if c != "class"}
    columns["class"] = st.column_config.TextColumn("class", width=max(60, 8 * int(shown["class"].str.len().max()) + 24))
    left.dataframe(styled, hide_index=True, height=38 + 35 * len(shown), key=keys.AUC_TABLE, column_config=columns)
    left.caption("The first row is the mean. Columns: the interpolation of our shipped checkpoints (none, 2-point, "
                 "3-point), then the paper's published figures; — = no figure. "
                 + tables.means_note(table, paper_mean))
    marks = {e["name"]: display.health_mark(e, load_model=False) for e in shipped}  # 30 checkpoints: none loaded
    unhealthy = [f"`{name}`{mark}" for name, mark in marks.items() if mark]
    if unhealthy:
        left.warning("Read these with care: " + ", ".join(unhealthy) + ".", icon=":material/warning:")
    left.download_button("Download table (CSV)", table.to_csv(index=False).encode(),
                         file_name=f"auc-per-class-{ctx.dataset}.csv", mime="text/csv", key=keys.AUC_TABLE_CSV)
    # bars: AUC for images; F1 for tables (the paper's Table 2 reports precision/recall/F1 there)
    value_cols = [c for c in table.columns if c != "class" and (("F1" in c) == ctx.tabular)]
    with right:
        display.show_figure(roc_figures.auc_bars(table[~tables.is_mean(table)], value_cols,
                                                 "F1" if ctx.tabular else "AUC"), key=keys.AUC_BARS)


def per_class_section(ctx) -> None:
    st.subheader("Per-class results of the shipped checkpoints")
    shipped = [e for e in ctx.catalogue if e.get("dataset") == ctx.dataset and e.get("source") == "shipped"]
    table, paper_mean = tables.ours_per_class(shipped, ctx.tabular), pd.DataFrame()
    paper = tables.paper_per_class(ctx.dataset, ctx.tabular)
    if paper is not None:
        paper_table, paper_mean = paper
        table = paper_table if table.empty else table.merge(paper_table, on="class", how="outer")
    if table.empty:
        st.info(f"No shipped checkpoint for {ctx.dataset}.")
    else:
        show_per_class(ctx, tables.with_means(table, paper_mean), paper_mean, shipped)
    if paper is None and ctx.dataset == "digits":
        st.caption(DIGITS_NOTE)


# ------------------------------------------------------------------ scores and threshold

def threshold_section(ctx):
    """One model's precision, recall and F1 at a threshold slider, and its score histogram; returns (model,
    split, test scores) of that model for the gallery below."""
    st.subheader("Scores and threshold")
    by_path = {e["path"]: e for e in ctx.entries}
    tcol = st.columns([2, 3])
    path = tcol[0].selectbox("Model", list(by_path), key=keys.THRESHOLD_MODEL,
                             format_func=lambda p: catalogue.entry_label(by_path[p])
                             + display.health_mark(by_path[p], after_entry_label=True))
    entry = by_path[path]
    model = caches.model(path)
    sp = caches.split_for(entry)
    scores = caches.test_scores(entry)
    lo, hi = float(np.min(scores)), float(np.max(scores))
    default = float(np.clip(model.threshold_, lo, hi))
    thr = tcol[1].slider("Threshold (flag scores above it)", lo, hi, default, step=(hi - lo) / 400 or 1e-6,
                         key=keys.threshold(entry["name"]), format="%.3f",
                         help="Starts at the model's threshold: the 90th percentile of its training scores "
                              "(contamination 10%, PyOD's default; your own data: the contamination it was trained with).")
    res = analysis.threshold_table(sp.y_test, scores, thr)
    mc = st.columns(4)
    if sp.y_test.any():
        mc[0].metric("precision", f"{res['precision']:.3f}")
        mc[1].metric("recall", f"{res['recall']:.3f}")
        mc[2].metric("F1", f"{res['f1']:.3f}")
    else:
        mc[0].caption("No labelled anomaly: precision, recall and F1 are not defined; every flagged sample is a "
                      "held-out normal.")
    mc[3].metric("flagged", f"{res['flagged']} / {res['n']}")
    st.session_state[keys.THRESHOLD_RESULT] = res
    display.show_figure(roc_figures.score_histogram(scores, sp.y_test, thr), key=keys.HISTOGRAM,
                        csv=pd.DataFrame({"test_index": np.arange(len(scores)), "score": scores, "anomaly": sp.y_test}),
                        csv_name=f"scores-{entry['name']}.csv")
    return model, sp, scores


# ------------------------------------------------------------------ reconstructions (Fig. 4)

def _pick(scores: np.ndarray, mask: np.ndarray, how: str, n_show: int, reverse: bool) -> np.ndarray:
    """n_show of the masked samples: seeded at random, or the lowest scores first (highest with `reverse`)."""
    idx = np.flatnonzero(mask)
    if how == "random":
        return np.sort(np.random.default_rng(0).choice(idx, min(n_show, len(idx)), replace=False))
    order = idx[np.argsort(scores[idx])]
    order = order[::-1] if reverse else order
    return order[:n_show]


def gallery_section(ctx, model, sp, scores: np.ndarray) -> None:
    st.subheader("Reconstructions of normal and anomalous samples (Fig. 4)")
    g = st.columns([1, 2])
    n_show = g[0].slider("Samples per side", 3, 12, 8, key=keys.GALLERY_SIZE)
    how = g[1].radio("Which samples", ["random", "most typical", "most surprising"], horizontal=True,
                     key=keys.GALLERY_CHOICE,
                     help="most typical = lowest scores among normals and highest among anomalies; most surprising "
                          "= the opposite (the model's mistakes).")
    norm_idx = _pick(scores, sp.y_test == 0, how, n_show, reverse=how == "most surprising")
    anom_idx = _pick(scores, sp.y_test == 1, how, n_show, reverse=how != "most surprising")
    if ctx.tabular:
        names = ctx.ds.feature_names or [f"f{i}" for i in range(sp.X_test.shape[1])]
        pick = int(st.selectbox("Sample", np.r_[norm_idx, anom_idx], key=keys.GALLERY_SAMPLE,
                                format_func=lambda j: f"#{j} ({'anomaly' if sp.y_test[j] else 'normal'}, "
                                                      f"score {scores[j]:.3f})"))
        rec = model.reconstruct(sp.X_test[[pick]])[0]
        display.show_figure(figures.feature_bars(names, {"input": sp.X_test[pick], "reconstruction": rec},
                                                 f"Test sample #{pick}: input and reconstruction"),
                            key=keys.GALLERY_BARS)
        return
    input_range = model.config_.input_range
    for col, idx, title in zip(st.columns(2), (norm_idx, anom_idx), ("normal", "anomaly")):
        X = sp.X_test[idx]
        display.show_png(images.image_grid([list(X), list(model.reconstruct(X))], input_range, cell=64), target=col,
                         caption=f"{title}: inputs (top) and reconstructions (bottom); scores "
                                 + ", ".join(f"{scores[j]:.3f}" for j in idx))


def main() -> None:
    ctx = sidebar.context()
    st.title("ROC and ablation")
    st.caption("The models of the sidebar on the test set of the protocol (leave-one-out for images, the 50/50 "
               "split for tables), beside classical baselines and the paper's published figures.")
    if not ctx.require_data() or not ctx.require_models():
        st.stop()
    roc_tab, per_class_tab, threshold_tab = display.lazy_tabs(
        (keys.TAB_ROC, keys.TAB_PER_CLASS, keys.TAB_THRESHOLD), keys.TAB, keys.KEPT_ACROSS_TABS).values()
    if roc_tab.open:
        with roc_tab:
            roc_section(ctx)
    if per_class_tab.open:
        with per_class_tab:
            per_class_section(ctx)
    if threshold_tab.open:
        with threshold_tab:
            model, sp, scores = threshold_section(ctx)
            gallery_section(ctx, model, sp, scores)



main()
