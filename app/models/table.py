"""The Models page's table and badges (pure: no Streamlit): one row per checkpoint with its training status,
its health verdict (core.training.health) and its metrics as text, so that a missing value reads "—", never "None"."""
from __future__ import annotations

import math

import pandas as pd

from app.shared.labels import interpolation_label

MISSING = "—"
# plain words: "⏹" and the like are emoji, an empty box on a system without an emoji font
STATUS_MARKS = {"completed": "completed", "stopped": "stopped early", "interrupted": "interrupted",
                "diverged": "diverged"}
HEALTH_MARKS = {"ok": "✔ ok", "collapsed": "⚠ collapsed", "untrained": "⚠ untrained", "diverged": "✖ diverged"}
HEALTH_HELP = {
    "ok": "E and G learned: the reconstructions beat predicting the mean and vary with the input.",
    "collapsed": "G(E(x)) is no better than predicting the training mean, or barely varies across inputs: the "
                 "anomaly score measures little.",
    "untrained": "E and G barely moved from their initialisation: the AUC is decided by the random start.",
    "diverged": "A loss became NaN or infinite; the last good weights were kept.",
    None: "This checkpoint predates the training-health record (core.training.health); retrain it to get one.",
}
MAX_ROWS_SHOWN = 20  # the table grows with its rows up to this many, then scrolls
ROW_PX, HEADER_PX = 35, 38  # Streamlit's data grid: each row's height, and the header's with the borders
COLUMNS = ["name", "source", "dataset", "class", "interpolation", "status", "health", "AUC", "AP", "F1", "created",
           "size (kB)"]


def fmt_metric(value) -> str:
    """A metric with 3 decimals, or "—" when it is missing or not a finite number."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return f"{value:.3f}" if ok else MISSING


def status_mark(entry: dict) -> str:
    status = entry.get("status") or "completed"
    return STATUS_MARKS.get(status, str(status))


def health_verdict(entry: dict):
    health = entry.get("health")
    verdict = health.get("verdict") if isinstance(health, dict) else None
    return verdict if isinstance(verdict, str) else None


def health_mark(verdict) -> str:
    """The badge of a verdict: "✔ ok", "⚠ collapsed", ... or "– not recorded"."""
    return HEALTH_MARKS.get(verdict, "– not recorded" if verdict is None else f"⚠ {verdict}")


def models_frame(entries: list[dict]) -> pd.DataFrame:
    rows = []
    for e in entries:
        m = e.get("metrics") if isinstance(e.get("metrics"), dict) else {}
        klass = e.get("anomaly_class")
        rows.append({"name": e["name"], "source": e.get("source"), "dataset": e.get("dataset"),
                     "class": "all" if klass is None else str(klass),
                     "interpolation": interpolation_label(e.get("interpolation")), "status": status_mark(e),
                     "health": health_mark(health_verdict(e)), "AUC": fmt_metric(m.get("auc")),
                     "AP": fmt_metric(m.get("ap")), "F1": fmt_metric(m.get("f1")),
                     "created": str(e.get("created") or "").replace("T", " "),
                     "size (kB)": round((e.get("bytes") or 0) / 1024)})
    return pd.DataFrame(rows, columns=COLUMNS)


def table_height(n_rows: int) -> int:
    """Pixels that show every row of the table, up to MAX_ROWS_SHOWN (Streamlit's default box shows ten)."""
    return HEADER_PX + ROW_PX * max(1, min(n_rows, MAX_ROWS_SHOWN))


def name_width(names) -> int:
    """Pixels of the name column that show the longest name whole (about 8 px a character, at least 100)."""
    return max(100, 8 * max((len(str(n)) for n in names), default=0) + 24)


def selected_epoch_text(selected_epoch) -> str:
    """"selected epoch 12", counted from 1 as the charts' epoch axis (the sidecar counts from 0), or a plain
    sentence when the run recorded none (stopped before model selection began, or older than the record)."""
    if isinstance(selected_epoch, int) and not isinstance(selected_epoch, bool):
        return f"selected epoch {selected_epoch + 1}"
    return "no selected epoch recorded"


def scopes(dataset: str, anomaly_class) -> list[str]:
    """The table's filters, the current dataset's first (the default)."""
    this_class = f"{dataset}, class {anomaly_class}" if anomaly_class is not None else None
    return [f"{dataset}"] + ([this_class] if this_class else []) + ["all datasets", "your runs"]


def in_scope(entry: dict, scope: str, dataset: str, anomaly_class) -> bool:
    if scope == "all datasets":
        return True
    if scope == "your runs":
        return entry.get("source") == "yours"
    if entry.get("dataset") != dataset:
        return False
    return scope == dataset or entry.get("anomaly_class") == anomaly_class


def pick_label(entry: dict) -> str:
    """A checkpoint's label in the page's pickers (unique: your runs say so)."""
    return entry["name"] + ("" if entry.get("source") == "shipped" else " (yours)")
