"""ROC and ablation: the chosen models against baselines, per-class AUC beside the paper, thresholds, Fig. 4."""
import numpy as np
import pandas as pd
import streamlit as st

from app import analysis, caches, catalogue, display, figures, images, sidebar

ctx = sidebar.context()
st.title("ROC and ablation")
st.caption("The models of the sidebar on the test set of the protocol (leave-one-out for images, the 50/50 split "
           "for tables), beside classical baselines and the paper's published figures.")
if not ctx.require_data() or not ctx.require_models():
    st.stop()

from core.data.registry import get_spec  # noqa: E402
from core.evaluation import paper_results as paper  # noqa: E402
from core.evaluation.baselines import BASELINES  # noqa: E402
from core.evaluation.metrics import auc as auc_of, roc  # noqa: E402




SHORT = {0: "none", 2: "2-point", 3: "3-point", "acai": "ACAI"}  # interpolation, as the table's columns


def _column_order(col: str) -> tuple:
    """Ablation order: no interpolation, 2-point, 3-point, ACAI; ours before the paper's; AUC before F1."""
    rank = next((i for i, w in enumerate(("none", "2-point", "3-point", "ACAI", "IForest")) if w in col), 9)
    metric = next((i for i, w in enumerate(("AUC", "P ", "R ", "F1")) if w in col), 0)
    return (col.startswith("paper"), metric, rank, col)


BASELINE_LABELS = {"iforest": "Isolation Forest", "pca": "PCA reconstruction", "ocsvm": "One-class SVM",
                   "ae-l2": "L2 autoencoder"}
MAX_BASELINE_TRAIN = 5000


# ------------------------------------------------------------------ ROC
c1, c2 = st.columns([1, 2])
score_kind = c1.radio("Anomaly score of the models", ["feature", "l2", "latent_norm"], horizontal=True,
                      key="roc_score", format_func={"feature": "D_recon features (paper)", "l2": "L2 reconstruction",
                                                    "latent_norm": "‖E(x)‖"}.get,
                      help="feature = ‖f(x,x) − f(x,G(E(x)))‖₁ with f the penultimate layer of D_recon (Section 5.2).")
names = list(BASELINES)
if True:  # one indentation level kept for a small diff
    chosen_baselines = c2.multiselect(
        "Baselines", names, default=[n for n in ("iforest", "pca") if n in names], key="roc_baselines",
        format_func=lambda n: BASELINE_LABELS.get(n, n),
        help=f"Fitted on the same training split (at most {MAX_BASELINE_TRAIN} samples, seeded) and scored on the "
             "same test set. The One-class SVM and the L2 autoencoder take a while the first time.")

curves, rows = [], []
sp0 = caches.split_for(ctx.entries[0])
for e in ctx.entries:
    sp = caches.split_for(e)
    s = caches.test_scores(e, score_kind)
    fpr, tpr, _ = roc(sp.y_test, s)
    a = auc_of(sp.y_test, s)
    name = f"{figures.interpolation_label(e['interpolation'])} · {e['name']}{display.health_mark(e)}"
    curves.append({"name": name, "fpr": fpr, "tpr": tpr, "auc": a,
                   "color": figures.INTERP_COLOURS.get(e["interpolation"])})
    rows += [{"curve": name, "fpr": f, "tpr": t} for f, t in zip(fpr, tpr)]
seed0 = int(caches.model(ctx.entries[0]["path"]).get_params().get("seed", 0) or 0)
for b in chosen_baselines:
    try:
        s = caches.baseline_scores(b, ctx.dataset, ctx.anomaly_class, seed0, catalogue.data_dir(), MAX_BASELINE_TRAIN)
    except Exception as err:  # noqa: BLE001
        st.warning(f"{BASELINE_LABELS.get(b, b)} failed: {err}")
        continue
    fpr, tpr, _ = roc(sp0.y_test, s)
    name = BASELINE_LABELS.get(b, b)
    curves.append({"name": name, "fpr": fpr, "tpr": tpr, "auc": auc_of(sp0.y_test, s), "dash": "dash"})
    rows += [{"curve": name, "fpr": f, "tpr": t} for f, t in zip(fpr, tpr)]
display.show_figure(figures.roc_figure(curves), key="roc", csv=pd.DataFrame(rows), csv_name=f"roc-{ctx.dataset}.csv")

# ------------------------------------------------------------------ per-class AUC beside the paper
st.subheader("Per-class results of the shipped checkpoints")
mine = [e for e in ctx.catalogue if e.get("dataset") == ctx.dataset and e.get("source") == "shipped"]
table = pd.DataFrame()
if mine:
    recs = [{"class": "all" if e.get("anomaly_class") is None else e.get("anomaly_class"),
             "column": SHORT.get(e["interpolation"], str(e["interpolation"])),
             "auc": (e.get("metrics") or {}).get("auc"), "f1": (e.get("metrics") or {}).get("f1")} for e in mine]
    df = pd.DataFrame(recs)
    table = df.pivot_table(index="class", columns="column", values="auc", aggfunc="first", dropna=False)
    table = table[sorted(table.columns, key=_column_order)].reset_index()
    if ctx.tabular:
        f1 = df.pivot_table(index="class", columns="column", values="f1", aggfunc="first")
        f1.columns = [f"F1 {c}" for c in f1.columns]
        table.columns = ["class"] + [f"AUC {c}" for c in table.columns[1:]]
        table = table.join(f1, on="class")
paper_note = None
paper_mean = pd.DataFrame()
if True:  # one indentation level kept for a small diff
    experiment = get_spec(ctx.dataset).experiment
    prow = pd.DataFrame(paper.paper_rows(experiment)) if experiment else pd.DataFrame()
    if not prow.empty:
        prow = prow[prow["dataset"] == ctx.dataset]
    if not prow.empty:
        keep = prow[prow["method"].isin(["paper:maesi-3pt", "paper:maesi-2pt", "paper:iforest"])]
        # images: the AUC; tables: Table 2's precision, recall and F1 of the 3-point model, the F1 of the others
        wanted = (keep["metric"] == "auc") | ((keep["metric"] == "f1") | (keep["method"] == "paper:maesi-3pt")
                                              & keep["metric"].isin(["precision", "recall"]))
        keep = keep[wanted]
        names = {"paper:maesi-3pt": "3-point", "paper:maesi-2pt": "2-point", "paper:iforest": "IForest"}
        short = {"auc": "AUC", "f1": "F1", "precision": "P", "recall": "R"}
        keep = keep.assign(column="paper " + (keep["metric"].map(short) + " " if ctx.tabular else "")
                           + keep["method"].map(names))
        keep = keep.assign(**{"class": keep["anomaly_class"].map(lambda c: "all" if c == "" else c)})
        pp = keep.pivot_table(index="class", columns="column", values="value", aggfunc="first",
                              dropna=False).reset_index()  # a figure the paper does not print stays empty
        pp["class"] = pp["class"].map(lambda c: int(c) if str(c).isdigit() else c)
        paper_mean = pp[pp["class"] == "mean"].drop(columns=["class"])  # the paper's printed averages
        pp = pp[pp["class"] != "mean"]
        table = pp if table.empty else table.merge(pp, on="class", how="outer")
    elif ctx.dataset == "digits":
        paper_note = ("The 8x8 digits are not in the paper (they are the app's bundled stand-in); the nearest "
                      "published figures are Table 3's MNIST AUCs (3-point model: 0.974 to 0.998 per class, "
                      "mean 0.979).")
if table.empty:
    st.info(f"No shipped checkpoint for {ctx.dataset}.")
else:
    table = table.sort_values("class", key=lambda s: s.map(lambda c: (0, c) if isinstance(c, (int, np.integer))
                                                            else (1, 0))).reset_index(drop=True)
    table = table[["class"] + sorted([c for c in table.columns if c != "class"], key=_column_order)]
    if len(table) > 1:  # ours: the mean over the classes that have a value; the paper's: its printed average
        means = table.drop(columns=["class"]).mean(numeric_only=True).to_dict()
        for col in [c for c in table.columns if c.startswith("paper")]:
            means[col] = paper_mean[col].iloc[0] if col in paper_mean and len(paper_mean) else np.nan
        table = pd.concat([table, pd.DataFrame([{"class": "mean", **means}])], ignore_index=True)
    table["class"] = table["class"].astype(str)
    # the mean first and the table as tall as its rows: a mean below a scroll is a mean nobody sees
    shown = pd.concat([table[table["class"] == "mean"], table[table["class"] != "mean"]], ignore_index=True)
    left, right = st.columns([1, 1.3])
    numeric = [c for c in shown.columns if c != "class"]
    styled = shown.style.format("{:.3f}", subset=numeric, na_rep="—").apply(
        lambda row: ["font-weight: bold; background-color: #eef3fa" if row["class"] == "mean" else ""] * len(row),
        axis=1)
    left.dataframe(styled, hide_index=True, height=38 + 35 * len(shown), key="auc_table")
    left.caption("The first row is the mean. Columns: the interpolation of our shipped checkpoints (none, 2-point, "
                 "3-point), then the paper's published figures. Means: ours over the classes shown, the paper's as "
                 "printed.")
    marks = {e["name"]: display.health_mark(e, load_model=False) for e in mine}  # 30 checkpoints: none loaded
    unhealthy = [f"`{name}`{mark}" for name, mark in marks.items() if mark]
    if unhealthy:
        left.warning("Read these with care: " + ", ".join(unhealthy) + ".", icon=":material/warning:")
    left.download_button("Download table (CSV)", table.to_csv(index=False).encode(),
                         file_name=f"auc-per-class-{ctx.dataset}.csv", mime="text/csv", key="auc-table-csv")
    # bars: AUC for images; F1 for tables (the paper's Table 2 reports precision/recall/F1 there)
    value_cols = [c for c in table.columns if c != "class" and (("F1" in c) == ctx.tabular)]
    with right:
        display.show_figure(figures.auc_bars(table[table["class"] != "mean"], value_cols, "F1" if ctx.tabular else "AUC"), key="auc_bars")
if paper_note:
    st.caption(paper_note)

# ------------------------------------------------------------------ scores and threshold
st.subheader("Scores and threshold")
by_path = {e["path"]: e for e in ctx.entries}
tcol = st.columns([2, 3])
path = tcol[0].selectbox("Model", list(by_path), key="thr_model",
                        format_func=lambda p: catalogue.entry_label(by_path[p])
                        + display.health_mark(by_path[p], after_entry_label=True))
entry = by_path[path]
model = caches.model(path)
sp = caches.split_for(entry)
scores = caches.test_scores(entry)
lo, hi = float(np.min(scores)), float(np.max(scores))
default = float(np.clip(model.threshold_, lo, hi))
key = f"thr-{entry['name']}"
thr = tcol[1].slider("Threshold (flag scores above it)", lo, hi, default, step=(hi - lo) / 400 or 1e-6, key=key,
                     format="%.3f", help="Starts at the model's threshold: the 90th percentile of its training "
                                         "scores (contamination 10%; the known anomaly fraction for tables).")
res = analysis.threshold_table(sp.y_test, scores, thr)
mc = st.columns(4)
mc[0].metric("precision", f"{res['precision']:.3f}")
mc[1].metric("recall", f"{res['recall']:.3f}")
mc[2].metric("F1", f"{res['f1']:.3f}")
mc[3].metric("flagged", f"{res['flagged']} / {res['n']}")
st.session_state["thr_result"] = res
display.show_figure(figures.score_histogram(scores, sp.y_test, thr), key="hist",
                  csv=pd.DataFrame({"test_index": np.arange(len(scores)), "score": scores, "anomaly": sp.y_test}),
                  csv_name=f"scores-{entry['name']}.csv")

# ------------------------------------------------------------------ reconstructions (Fig. 4)
st.subheader("Reconstructions of normal and anomalous samples (Fig. 4)")
g = st.columns([1, 2])
n_show = g[0].slider("Samples per side", 3, 12, 8, key="gal_n")
how = g[1].radio("Which samples", ["random", "most typical", "most surprising"], horizontal=True, key="gal_how",
                 help="most typical = lowest scores among normals and highest among anomalies; most surprising = "
                      "the opposite (the model's mistakes).")


def _pick(mask: np.ndarray, reverse: bool) -> np.ndarray:
    idx = np.flatnonzero(mask)
    if how == "random":
        return np.sort(np.random.default_rng(0).choice(idx, min(n_show, len(idx)), replace=False))
    order = idx[np.argsort(scores[idx])]
    order = order[::-1] if reverse else order
    return order[:n_show]


norm_idx = _pick(sp.y_test == 0, how == "most surprising")
anom_idx = _pick(sp.y_test == 1, how != "most surprising")
if ctx.tabular:
    names = ctx.ds.feature_names or [f"f{i}" for i in range(sp.X_test.shape[1])]
    pick = int(st.selectbox("Sample", np.r_[norm_idx, anom_idx], key="gal_tab",
                            format_func=lambda j: f"#{j} ({'anomaly' if sp.y_test[j] else 'normal'}, "
                                                  f"score {scores[j]:.3f})"))
    rec = model.reconstruct(sp.X_test[[pick]])[0]
    display.show_figure(figures.feature_bars(names, {"input": sp.X_test[pick], "reconstruction": rec},
                                       f"Test sample #{pick}: input and reconstruction"), key="gal_bars")
else:
    rng_in = model.config_.input_range
    gl, gr = st.columns(2)
    for col, idx, title in ((gl, norm_idx, "normal"), (gr, anom_idx, "anomaly")):
        X = sp.X_test[idx]
        display.show_png(images.image_grid([list(X), list(model.reconstruct(X))], rng_in, cell=64), target=col,
                       caption=f"{title}: inputs (top) and reconstructions (bottom); scores "
                          + ", ".join(f"{scores[j]:.3f}" for j in idx))
