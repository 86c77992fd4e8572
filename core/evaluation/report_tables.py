"""The measured tables of a report: one table per metric (method x column, mean ± sd over seeds, with the paper's
figures under the matching rows and each maesi row's training-health verdicts), and the per-column health table.

Rows come from the tidy CSV (`tidy_csv.COLUMNS`); a row with metric "health" holds a maesi cell's verdict."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.evaluation import paper_results
from core.evaluation.methods import ABLATIONS, BASELINES, SANITY_ROWS, is_maesi, is_papers_method, is_twin, parse_method
from core.evaluation.metrics import health_counts, mean_std

METRIC_NAMES = {"f1": "F1", "precision": "Precision", "recall": "Recall", "auc": "ROC AUC", "ap": "Average precision"}
DIGITS = 4


def class_sort(k: str):
    return (0, int(k)) if k.isdigit() else (2, k) if k == "mean" else (1, k)


def method_rank(m: str):
    """3-point rows first (the paper setting, the authors' profile, the chosen setting, other variants), each
    followed by its L2 twin; then the ablations, the peers, our baselines and the sanity rows."""
    base, settings = parse_method(m)
    own = {k: v for k, v in settings.items() if k != "score"}
    twin = settings.get("score") == "l2"
    variant = (0 if not own else 1 if own == {"profile": "authors"} else 2 if own.get("chosen") else 3,
               "@".join(p for p in m.split("@")[1:] if not p.startswith("score=")))
    if base == "maesi-3pt":
        return (0, variant, twin)
    if base in ABLATIONS:
        return (1, ABLATIONS.index(base), variant, twin)
    if base in BASELINES:
        return (2, BASELINES.index(base), "")
    return (3, m)


@dataclass
class Measured:
    """The measured rows of a report, indexed for the tables."""

    rows: list
    datasets: list
    cols: list = field(default_factory=list)  # (dataset, class), with a "mean" column after multi-class datasets
    vals: dict = field(default_factory=dict)  # (method, dataset, class, metric) -> {seed: value}
    health: dict = field(default_factory=dict)  # (method, dataset, class) -> {seed: verdict}
    pvals: dict = field(default_factory=dict)  # (our method name, dataset, class, metric) -> published value
    methods: list = field(default_factory=list)
    paper_methods: list = field(default_factory=list)

    @classmethod
    def build(cls, rows: list[dict], default_datasets) -> "Measured":
        measured = [r for r in rows if not r["method"].startswith("paper:")]
        paper = [r for r in rows if r["method"].startswith("paper:")]
        present = {r["dataset"] for r in measured}
        datasets = list(dict.fromkeys([d for d in default_datasets if d in present or any(
            r["dataset"] == d for r in rows)] + sorted(present - set(default_datasets))))
        m = cls(rows, datasets)
        m.cols = sorted({(r["dataset"], r["anomaly_class"]) for r in measured + paper if r["anomaly_class"] != "mean"},
                        key=lambda c: (datasets.index(c[0]) if c[0] in datasets else 99, class_sort(c[1])))
        for d in datasets:
            if len([c for c in m.cols if c[0] == d]) > 1:
                last = max(i for i, c in enumerate(m.cols) if c[0] == d)
                m.cols.insert(last + 1, (d, "mean"))
        for r in measured:
            if r["metric"] == "health":
                m.health.setdefault((r["method"], r["dataset"], r["anomaly_class"]), {})[r["seed"]] = r["value"]
            else:
                m.vals.setdefault((r["method"], r["dataset"], r["anomaly_class"], r["metric"]), {})[r["seed"]] = \
                    float(r["value"])
        m.pvals = {(r["method"][len("paper:"):], r["dataset"], r["anomaly_class"], r["metric"]): r["value"]
                   for r in paper}
        m.methods = sorted({r["method"] for r in measured}, key=method_rank)
        m.paper_methods = list(dict.fromkeys(r["method"][len("paper:"):] for r in paper))
        return m

    def classes(self, dataset: str) -> list:
        return [k for d, k in self.cols if d == dataset and k != "mean"]

    def classes_run(self, method: str, dataset: str, metric: str) -> list:
        return [k for k in self.classes(dataset) if self.stat(method, (dataset, k), metric)[2]]

    def stat(self, method: str, col: tuple, metric: str, classes=None) -> tuple[float, float, int]:
        """(mean, sd, n seeds) of a cell; for a "mean" column, the classes (all, or `classes`) averaged per seed
        first."""
        d, k = col
        if k != "mean":
            return mean_std(self.vals.get((method, d, k, metric), {}).values())
        per_class = [self.vals.get((method, d, kk, metric), {})
                     for kk in (self.classes(d) if classes is None else classes)]
        seeds = set.intersection(*[set(p) for p in per_class]) if per_class else set()
        return mean_std([np.mean([p[s] for p in per_class]) for s in seeds])

    def verdicts(self, method: str, dataset: str | None = None, klass: str | None = None) -> list:
        """The health verdicts of a method's cells (report.health_rows gives an L2 twin its row's verdicts on the
        cells where the twin was scored)."""
        return [v for (mm, d, k), seeds in self.health.items() if mm == method and dataset in (None, d)
                and klass in (None, k) for v in seeds.values()]

    def strongest_peer(self, col: tuple, metric: str, classes=None) -> tuple[str, float] | None:
        """The best non-maesi, non-sanity row of a column (a library peer or a classical baseline)."""
        best = None
        for method in self.methods:
            if is_maesi(method) or parse_method(method)[0] in SANITY_ROWS:
                continue
            mu, _, n = self.stat(method, col, metric, classes)
            if n and (best is None or mu > best[1]):
                best = (method, mu)
        return best


def health_text(verdicts: list) -> str:
    return health_counts(verdicts) if verdicts else ""


def pm(mu: float, sd: float, n: int) -> str:
    if n == 0:
        return "—"
    return f"{mu:.{DIGITS}f}" if n == 1 else f"{mu:.{DIGITS}f} ± {sd:.{DIGITS}f}"


def col_name(m: Measured, c: tuple) -> str:
    d, k = c
    if len(m.datasets) == 1:
        return "mean" if k == "mean" else (k or d)
    return f"{d} {k}".strip()


def metric_table(m: Measured, experiment: str, metric: str) -> list[str]:
    """One metric's table: measured rows (mean ± sd, seeds, health) with the paper's figures under them."""
    has_paper = any(k[3] == metric for k in m.pvals)
    if not any(k[3] == metric for k in m.vals) and not has_paper:
        return []
    out = ["", f"## {METRIC_NAMES[metric]}", "",
           "| method | seeds | health | " + " | ".join(col_name(m, c) for c in m.cols) + " |",
           "|---|---|---|" + "---|" * len(m.cols)]
    for method in m.methods:
        cells = [m.stat(method, c, metric) for c in m.cols]
        ns = {col_name(m, c): n for c, (_, _, n) in zip(m.cols, cells) if c[1] != "mean" and n}
        seeds = (str(next(iter(set(ns.values())))) if len(set(ns.values())) == 1
                 else ", ".join(f"{k}: {v}" for k, v in ns.items())) if ns else "0"
        health = row_health(m, method)
        label = method if not is_maesi(method) or is_papers_method(method) else f"{method} (not the paper's method)"
        out.append(f"| {label} | {seeds} | {health} | " + " | ".join(pm(*c) for c in cells) + " |")
        if method in m.paper_methods and any(k[0] == method and k[3] == metric for k in m.pvals):
            out.append(f"| *paper: {paper_label(experiment, method)}* | | | "
                       + " | ".join(paper_cell(m, experiment, method, c, metric) for c in m.cols) + " |")
    for method in [p for p in m.paper_methods if p not in m.methods]:
        if any(k[0] == method and k[3] == metric for k in m.pvals):
            out.append(f"| *paper: {paper_label(experiment, method)}* | | | "
                       + " | ".join(paper_cell(m, experiment, method, c, metric) for c in m.cols) + " |")
    return out


def row_health(m: Measured, method: str) -> str:
    """A maesi row's verdicts over seeds: pooled for one dataset, per dataset otherwise."""
    if not is_maesi(method):
        return ""
    if len(m.datasets) == 1:
        return health_text(m.verdicts(method)) or "not recorded"
    parts = [f"{d}: {health_text(m.verdicts(method, d))}" for d in m.datasets if m.verdicts(method, d)]
    return "; ".join(parts) or "not recorded"


def health_table(m: Measured) -> list[str]:
    """Per column (dataset and class) and maesi row: the verdicts over seeds."""
    rows = [method for method in m.methods if is_maesi(method) and not is_twin(method)]
    if not rows or not m.health:
        return []
    cols = [c for c in m.cols if c[1] != "mean"]
    out = ["", "## Training health", "",
           "Verdicts of `core.training.health` on the training data at the selected epoch (`ok`, `untrained`: E and G "
           "barely moved, `collapsed`: reconstruction no better than the training mean or no spread, `diverged`), "
           "counted over seeds. A row that is not `ok` did not learn what the method needs, whatever its score.", "",
           "| method | " + " | ".join(col_name(m, c) for c in cols) + " |", "|---|" + "---|" * len(cols)]
    for method in rows:
        out.append(f"| {method} | " + " | ".join(health_text(m.verdicts(method, d, k)) or "—" for d, k in cols)
                   + " |")
    return out


def paper_label(experiment: str, name: str) -> str:
    return paper_results.PRINTED_NAME.get(experiment, {}).get(name, name)


def paper_cell(m: Measured, experiment: str, method: str, c: tuple, metric: str) -> str:
    key = (method, c[0], c[1], metric)
    if key not in m.pvals:
        return ""
    v = m.pvals[key]
    return "missing in the paper" if v in ("", None) else paper_results.format_value(experiment, v)
