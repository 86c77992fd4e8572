"""ROC and ablation: the chosen models against baselines, per-class AUC beside the paper, thresholds, Fig. 4."""
import numpy as np
import pandas as pd
import streamlit as st

from app.roc import figures as roc_figures, keys  # the page's own figures beside the shared ones
from app.shared import analysis, caches, catalogue, display, figures, images, sidebar
from app.shared.labels import INTERPOLATION_COLOURS, interpolation_label

SHORT = {0: "none", 2: "2-point", 3: "3-point", "acai": "ACAI"}  # interpolation, as the table's columns
SCORE_KINDS = {"feature": "D_recon features (paper)", "l2": "L2 reconstruction", "latent_norm": "‖E(x)‖"}
BASELINE_LABELS = {"iforest": "Isolation Forest", "pca": "PCA reconstruction", "ocsvm": "One-class SVM",
                   "ae-l2": "L2 autoencoder"}
MAX_BASELINE_TRAIN = 5000
PAPER_METHODS = {"paper:maesi-3pt": "3-point", "paper:maesi-2pt": "2-point", "paper:iforest": "IForest"}
PAPER_METRICS = {"auc": "AUC", "f1": "F1", "precision": "P", "recall": "R"}
DIGITS_NOTE = ("The 8x8 digits are not in the paper (they are the app's bundled stand-in); the nearest published "
               "figures are Table 3's MNIST AUCs (3-point model: 0.974 to 0.998 per class, mean 0.979).")


def _column_order(col: str) -> tuple:
    """Ablation order: no interpolation, 2-point, 3-point, ACAI; ours before the paper's; AUC before F1."""
    rank = next((i for i, w in enumerate(("none", "2-point", "3-point", "ACAI", "IForest")) if w in col), 9)
    metric = next((i for i, w in enumerate(("AUC", "P ", "R ", "F1")) if w in col), 0)
    return (col.startswith("paper"), metric, rank, col)


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
    names = list(BASELINES)
    chosen_baselines = c2.multiselect(
        "Baselines", names, default=[n for n in ("iforest", "pca") if n in names], key=keys.BASELINES,
        format_func=lambda n: BASELINE_LABELS.get(n, n),
        help=f"Fitted on the same training split (at most {MAX_BASELINE_TRAIN} samples, seeded) and scored on the "
             "same test set. The One-class SVM and the L2 autoencoder take a while the first time.")
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
            st.warning(f"{BASELINE_LABELS.get(b, b)} failed: {err}")
            continue
        curve, points = _curve(BASELINE_LABELS.get(b, b), y_test, scores, dash="dash")
        curves.append(curve)
        rows += points
    display.show_figure(roc_figures.roc_figure(curves), key=keys.ROC_CHART, csv=pd.DataFrame(rows),
                        csv_name=f"roc-{ctx.dataset}.csv")


# ------------------------------------------------------------------ per-class AUC beside the paper

def ours_per_class(ctx, shipped: list[dict]) -> pd.DataFrame:
    """One row per class, one AUC column per interpolation of the shipped checkpoints (tables: AUC and F1)."""
    if not shipped:
        return pd.DataFrame()
    df = pd.DataFrame([{"class": "all" if e.get("anomaly_class") is None else e.get("anomaly_class"),
                        "column": SHORT.get(e["interpolation"], str(e["interpolation"])),
                        "auc": (e.get("metrics") or {}).get("auc"), "f1": (e.get("metrics") or {}).get("f1")}
                       for e in shipped])
    table = df.pivot_table(index="class", columns="column", values="auc", aggfunc="first", dropna=False)
    table = table[sorted(table.columns, key=_column_order)].reset_index()
    if ctx.tabular:
        f1 = df.pivot_table(index="class", columns="column", values="f1", aggfunc="first")
        f1.columns = [f"F1 {c}" for c in f1.columns]
        table.columns = ["class"] + [f"AUC {c}" for c in table.columns[1:]]
        table = table.join(f1, on="class")
    return table


def paper_per_class(ctx):
    """(per-class table, printed mean) of the paper's figures for this dataset, or None when it prints none.
    Images: the AUC; tables: Table 2's precision, recall and F1 of the 3-point model, the F1 of the others."""
    from core.data.registry import get_spec
    from core.evaluation import paper_results

    experiment = get_spec(ctx.dataset).experiment
    rows = pd.DataFrame(paper_results.paper_rows(experiment)) if experiment else pd.DataFrame()
    if not rows.empty:
        rows = rows[rows["dataset"] == ctx.dataset]
    if rows.empty:
        return None
    keep = rows[rows["method"].isin(list(PAPER_METHODS))]
    wanted = (keep["metric"] == "auc") | ((keep["metric"] == "f1") | (keep["method"] == "paper:maesi-3pt")
                                          & keep["metric"].isin(["precision", "recall"]))
    keep = keep[wanted]
    keep = keep.assign(column="paper " + (keep["metric"].map(PAPER_METRICS) + " " if ctx.tabular else "")
                       + keep["method"].map(PAPER_METHODS))
    keep = keep.assign(**{"class": keep["anomaly_class"].map(lambda c: "all" if c == "" else c)})
    table = keep.pivot_table(index="class", columns="column", values="value", aggfunc="first",
                             dropna=False).reset_index()  # a figure the paper does not print stays empty
    table["class"] = table["class"].map(lambda c: int(c) if str(c).isdigit() else c)
    printed_mean = table[table["class"] == "mean"].drop(columns=["class"])  # the paper's printed averages
    return table[table["class"] != "mean"], printed_mean


def with_means(table: pd.DataFrame, paper_mean: pd.DataFrame) -> pd.DataFrame:
    """The table sorted by class, its columns in ablation order, and (with several classes) a "mean" row: ours
    over the classes that have a value, the paper's its printed average."""
    table = table.sort_values("class", key=lambda s: s.map(lambda c: (0, c) if isinstance(c, (int, np.integer))
                                                            else (1, 0))).reset_index(drop=True)
    table = table[["class"] + sorted([c for c in table.columns if c != "class"], key=_column_order)]
    if len(table) > 1:
        means = table.drop(columns=["class"]).mean(numeric_only=True).to_dict()
        for col in [c for c in table.columns if c.startswith("paper")]:
            means[col] = paper_mean[col].iloc[0] if col in paper_mean and len(paper_mean) else np.nan
        table = pd.concat([table, pd.DataFrame([{"class": "mean", **means}])], ignore_index=True)
    table["class"] = table["class"].astype(str)
    return table


def show_per_class(ctx, table: pd.DataFrame, shipped: list[dict]) -> None:
    """The table with the mean first, a warning for unhealthy checkpoints, its CSV, and the bars beside it."""
    # the mean first and the table as tall as its rows: a mean below a scroll is a mean nobody sees
    shown = pd.concat([table[table["class"] == "mean"], table[table["class"] != "mean"]], ignore_index=True)
    left, right = st.columns([1, 1.3])
    numeric = [c for c in shown.columns if c != "class"]
    styled = shown.style.format("{:.3f}", subset=numeric, na_rep="—").apply(
        lambda row: ["font-weight: bold; background-color: #eef3fa" if row["class"] == "mean" else ""] * len(row),
        axis=1)
    left.dataframe(styled, hide_index=True, height=38 + 35 * len(shown), key=keys.AUC_TABLE)
    left.caption("The first row is the mean. Columns: the interpolation of our shipped checkpoints (none, 2-point, "
                 "3-point), then the paper's published figures. Means: ours over the classes shown, the paper's as "
                 "printed.")
    marks = {e["name"]: display.health_mark(e, load_model=False) for e in shipped}  # 30 checkpoints: none loaded
    unhealthy = [f"`{name}`{mark}" for name, mark in marks.items() if mark]
    if unhealthy:
        left.warning("Read these with care: " + ", ".join(unhealthy) + ".", icon=":material/warning:")
    left.download_button("Download table (CSV)", table.to_csv(index=False).encode(),
                         file_name=f"auc-per-class-{ctx.dataset}.csv", mime="text/csv", key=keys.AUC_TABLE_CSV)
    # bars: AUC for images; F1 for tables (the paper's Table 2 reports precision/recall/F1 there)
    value_cols = [c for c in table.columns if c != "class" and (("F1" in c) == ctx.tabular)]
    with right:
        display.show_figure(roc_figures.auc_bars(table[table["class"] != "mean"], value_cols,
                                                 "F1" if ctx.tabular else "AUC"), key=keys.AUC_BARS)


def per_class_section(ctx) -> None:
    st.subheader("Per-class results of the shipped checkpoints")
    shipped = [e for e in ctx.catalogue if e.get("dataset") == ctx.dataset and e.get("source") == "shipped"]
    table, paper_mean = ours_per_class(ctx, shipped), pd.DataFrame()
    paper = paper_per_class(ctx)
    if paper is not None:
        paper_table, paper_mean = paper
        table = paper_table if table.empty else table.merge(paper_table, on="class", how="outer")
    if table.empty:
        st.info(f"No shipped checkpoint for {ctx.dataset}.")
    else:
        show_per_class(ctx, with_means(table, paper_mean), shipped)
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
    roc_section(ctx)
    per_class_section(ctx)
    model, sp, scores = threshold_section(ctx)
    gallery_section(ctx, model, sp, scores)


main()
