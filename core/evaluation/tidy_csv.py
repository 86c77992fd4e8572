"""The tidy CSV of a report: one row per (dataset, class, method, seed, metric) with its value. The grid writes it,
the report renders from it, and a validation search's committed log is one."""
from __future__ import annotations

import csv
import io
from pathlib import Path

from core.checkpoints.store import atomic_write_bytes

COLUMNS = ["dataset", "anomaly_class", "method", "seed", "metric", "value"]


def write_csv(path: Path, rows: list[dict]) -> None:
    """Atomically; values rounded to 6 decimals (a text value, such as a health verdict, as it is)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        v = r["value"]
        w.writerow({**r, "value": "" if v is None else (repr(round(float(v), 6)) if not isinstance(v, str) else v)})
    atomic_write_bytes(path, buf.getvalue().encode())


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
