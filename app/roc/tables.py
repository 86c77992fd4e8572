"""The ROC page's per-class table (pure: no Streamlit): our shipped checkpoints' AUC (tables: and F1) per class
beside the paper's published figures (`core.evaluation.paper_results`), with a mean row that compares like with
like, and the table as shown (figures as text to 3 decimals, a missing one as a dash, never "None")."""
from __future__ import annotations

import numpy as np
import pandas as pd

SHORT = {0: "none", 2: "2-point", 3: "3-point", "acai": "ACAI"}  # interpolation, as the table's columns
PAPER_METHODS = {"paper:maesi-3pt": "3-point", "paper:maesi-2pt": "2-point", "paper:iforest": "IForest"}
PAPER_METRICS = {"auc": "AUC", "f1": "F1", "precision": "P", "recall": "R"}
MISSING = "—"
MEAN = "mean"


def column_order(col: str) -> tuple:
    """Ablation order: no interpolation, 2-point, 3-point, ACAI; ours before the paper's; AUC before F1."""
    rank = next((i for i, w in enumerate(("none", "2-point", "3-point", "ACAI", "IForest")) if w in col), 9)
    metric = next((i for i, w in enumerate(("AUC", "P ", "R ", "F1")) if w in col), 0)
    return (col.startswith("paper"), metric, rank, col)


def ours_per_class(shipped: list[dict], tabular: bool) -> pd.DataFrame:
    """One row per class, one AUC column per interpolation of the shipped checkpoints (tables: AUC and F1)."""
    if not shipped:
        return pd.DataFrame()
    df = pd.DataFrame([{"class": "all" if e.get("anomaly_class") is None else e.get("anomaly_class"),
                        "column": SHORT.get(e["interpolation"], str(e["interpolation"])),
                        "auc": (e.get("metrics") or {}).get("auc"), "f1": (e.get("metrics") or {}).get("f1")}
                       for e in shipped])
    table = df.pivot_table(index="class", columns="column", values="auc", aggfunc="first", dropna=False)
    table = table[sorted(table.columns, key=column_order)].reset_index()
    if tabular:
        f1 = df.pivot_table(index="class", columns="column", values="f1", aggfunc="first")
        f1.columns = [f"F1 {c}" for c in f1.columns]
        table.columns = ["class"] + [f"AUC {c}" for c in table.columns[1:]]
        table = table.join(f1, on="class")
    return table


def paper_per_class(dataset: str, tabular: bool):
    """(per-class table, printed mean) of the paper's figures for this dataset, or None when it prints none.
    Images: the AUC; tables: Table 2's precision, recall and F1 of the 3-point model, the F1 of the others."""
    from core.data.registry import get_spec
    from core.evaluation import paper_results

    experiment = get_spec(dataset).experiment
    rows = pd.DataFrame(paper_results.paper_rows(experiment)) if experiment else pd.DataFrame()
    if not rows.empty:
        rows = rows[rows["dataset"] == dataset]
    if rows.empty:
        return None
    keep = rows[rows["method"].isin(list(PAPER_METHODS))]
    wanted = (keep["metric"] == "auc") | ((keep["metric"] == "f1") | (keep["method"] == "paper:maesi-3pt")
                                          & keep["metric"].isin(["precision", "recall"]))
    keep = keep[wanted]
    keep = keep.assign(column="paper " + (keep["metric"].map(PAPER_METRICS) + " " if tabular else "")
                       + keep["method"].map(PAPER_METHODS))
    keep = keep.assign(**{"class": keep["anomaly_class"].map(lambda c: "all" if c == "" else c)})
    table = keep.pivot_table(index="class", columns="column", values="value", aggfunc="first",
                             dropna=False).reset_index()  # a figure the paper does not print stays empty
    table["class"] = table["class"].map(lambda c: int(c) if str(c).isdigit() else c)
    printed_mean = table[table["class"] == MEAN].drop(columns=["class"])  # the paper's printed averages
    return table[table["class"] != MEAN], printed_mean


def compared_classes(table: pd.DataFrame) -> list:
    """The classes that hold one of our figures: the only ones a mean of ours speaks for."""
    ours = [c for c in table.columns if c != "class" and not c.startswith("paper")]
    if not ours:
        return list(table["class"])
    return list(table.loc[table[ours].notna().any(axis=1), "class"])


def mean_label(classes: list, all_classes: list) -> str:
    """"mean" over every class of the table, else "mean (class 2)", "mean (classes 2, 5)"."""
    if len(classes) == len(all_classes):
        return MEAN
    return f"{MEAN} (class{'es' if len(classes) > 1 else ''} {', '.join(str(c) for c in classes)})"


def with_means(table: pd.DataFrame, paper_mean: pd.DataFrame) -> pd.DataFrame:
    """The table sorted by class, its columns in ablation order, and (with several classes) a mean row over the
    classes we have figures for, ours and the paper's alike: our class-2-only figure beside the paper's ten-class
    average compared two different things. The paper's printed average stands only where we have every class
    (it differs from the mean of its own rounded per-class figures)."""
    table = table.sort_values("class", key=lambda s: s.map(lambda c: (0, c) if isinstance(c, (int, np.integer))
                                                            else (1, 0))).reset_index(drop=True)
    table = table[["class"] + sorted([c for c in table.columns if c != "class"], key=column_order)]
    if len(table) > 1:
        classes = compared_classes(table)
        subset = table[table["class"].isin(classes)]
        means = subset.drop(columns=["class"]).mean(numeric_only=True).to_dict()
        if len(classes) == len(table):
            for col in [c for c in table.columns if c.startswith("paper")]:
                means[col] = paper_mean[col].iloc[0] if col in paper_mean and len(paper_mean) else np.nan
        table = pd.concat([table, pd.DataFrame([{"class": mean_label(classes, list(table["class"])), **means}])],
                          ignore_index=True)
    table["class"] = table["class"].astype(str)
    return table


def means_note(table: pd.DataFrame, paper_mean: pd.DataFrame) -> str:
    """Which classes the mean row averages, and the paper's printed average when the row leaves it out."""
    label = next((c for c in table["class"] if c.startswith(MEAN)), None)
    if label is None:
        return ""
    if label == MEAN:
        has_paper = any(c.startswith("paper") for c in table.columns)
        return "Means: ours over every class shown" + (", the paper's as printed." if has_paper else ".")
    printed = ", ".join(f"{c} {paper_mean[c].iloc[0]:.3f}" for c in paper_mean.columns
                        if len(paper_mean) and pd.notna(paper_mean[c].iloc[0]))
    over = label.removeprefix(f"{MEAN} (").removesuffix(")")
    return (f"Means over {over} only, ours and the paper's alike: the classes we have checkpoints for"
            + (f" (the paper's printed averages over all its classes: {printed})." if printed else "."))


def is_mean(table: pd.DataFrame) -> pd.Series:
    return table["class"].str.startswith(MEAN)


def shown_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table as the page shows it: the mean row first (a mean below a scroll is a mean nobody sees), every
    figure as text to 3 decimals and a missing one as a dash (Streamlit's grid writes an empty number as "None",
    whatever the Styler's na_rep says)."""
    shown = pd.concat([table[is_mean(table)], table[~is_mean(table)]], ignore_index=True)
    for col in [c for c in shown.columns if c != "class"]:
        shown[col] = [MISSING if pd.isna(v) else f"{v:.3f}" for v in shown[col]]
    return shown
