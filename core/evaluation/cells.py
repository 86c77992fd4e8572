"""Cells of the reproduction grid, how one is measured, and their store.

A cell is (experiment, dataset, class, method, seed). A finished cell is one small JSON file under
``<cache>/<experiment>/<budget>/<dataset>/<class>/<method>/seed<k>.json`` (git-ignored), holding its metrics, its
timings, the training health of maesi rows and its key (`cell_key`: everything its result depends on besides the
code, stored under the record's historical field name "spec"): a cached cell is reused only while its key matches,
so an interrupted or repeated grid resumes where it stopped.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from core.checkpoints.store import atomic_write_bytes, json_default
from core.data.registry import get_spec
from core.evaluation.baselines import make_method
from core.evaluation.chosen import chosen_settings, variant_settings
from core.evaluation.experiments import Budget, Experiment, epochs_for, preset_for, resolve_budget
from core.evaluation.methods import CHOSEN, VARIANT, is_deep, is_maesi, l2_twin, parse_method
from core.evaluation.metrics import METRICS
from core.evaluation.peers import CAPPED_PEERS
from core.evaluation.protocols import DEVELOPMENT_IMAGE_SHARE, DEVELOPMENT_SEED, DEVELOPMENT_SHARE
from core.evaluation.runner import ProtocolRun

CACHE_VERSION = 3  # 2: maesi cells carry the training status and health; 3: splits outside the development partition
# The record field that holds a cell's key. Its name predates `cell_key`; renaming it would make every cached
# cell stale.
KEY_FIELD = "spec"


@dataclass(frozen=True)
class Cell:
    experiment: str
    dataset: str
    anomaly_class: str  # "" for tabular data
    method: str
    seed: int

    def path(self, cache: Path, label: str) -> Path:
        klass = self.anomaly_class if self.anomaly_class != "" else "all"
        safe = self.method.replace("/", "_")
        return cache / self.experiment / label / self.dataset / str(klass) / safe / f"seed{self.seed}.json"


def cell_key(cell: Cell, b: Budget, label: str) -> dict:
    """Everything the cell's result depends on besides the code: a cached cell is reused only if it matches."""
    base, settings = parse_method(cell.method)
    key = {"version": CACHE_VERSION, "budget": label, "protocol": get_spec(cell.dataset).protocol,
           "preset": preset_for(cell.dataset, b), "max_train": b.max_train,
           "development": [DEVELOPMENT_SEED, DEVELOPMENT_SHARE, DEVELOPMENT_IMAGE_SHARE]}
    if is_deep(cell.method):
        key["epochs"] = settings.get("epochs", epochs_for(cell.dataset, b))
    if base == "ocsvm":
        key["ocsvm_cap"] = b.ocsvm_cap
    if base in CAPPED_PEERS:
        key["pyod_cap"] = b.pyod_cap
    if settings.get(CHOSEN):
        key["chosen"] = chosen_settings(cell.dataset)  # a new choice invalidates the cell
    if settings.get(VARIANT):
        key["variant"] = variant_settings(cell.dataset)
    return key


def is_cached(record: dict | None, cell: Cell, b: Budget, label: str) -> bool:
    """Whether a stored record is the cell's result under the current budget definition (its key matches)."""
    return record is not None and record.get(KEY_FIELD) == cell_key(cell, b, label)


class DatasetCache:
    """Datasets loaded once per grid process."""

    def __init__(self, data_dir):
        self.data_dir = data_dir
        self._datasets: dict = {}

    def get(self, name: str):
        if name not in self._datasets:
            from core.data import load_dataset

            self._datasets[name] = load_dataset(name, data_dir=self.data_dir)
        return self._datasets[name]


def run_cell(cell: Cell, b: Budget, datasets: DatasetCache, device: str) -> dict:
    """Train and evaluate one cell through the shared runner; returns the record's measured part."""
    ds = datasets.get(cell.dataset)
    # a row may train on fewer samples than the budget gives (its name then says so: "@max_train=20000")
    caps = [c for c in (b.max_train, parse_method(cell.method)[1].get("max_train")) if c]
    run = ProtocolRun.prepare(cell.dataset, cell.anomaly_class, cell.seed, max_train=min(caps) if caps else None,
                              ds=ds)
    wanted = parse_method(cell.method)[1] if is_maesi(cell.method) else {}
    for token, read in ((CHOSEN, chosen_settings), (VARIANT, variant_settings)):
        if wanted.get(token) and read(cell.dataset) is None:
            raise ValueError(f"no @{token} settings have been chosen for {cell.dataset} on its development "
                             "partition yet (results/validation/chosen.json)")
    est = make_method(cell.method, preset=preset_for(cell.dataset, b),
                      input_range=None if run.tabular else ds.input_range, seed=cell.seed, epochs=b.epochs,
                      device=device, ocsvm_cap=b.ocsvm_cap, pyod_cap=b.pyod_cap,
                      contamination=run.contamination, dataset=cell.dataset)
    # a maesi row also reports the same trained model scored by L2 reconstruction error (a sanity row)
    out = run.fit_and_evaluate(est, extra_scores=("l2",) if l2_twin(cell.method, cell.dataset) else ())
    if hasattr(est, "departures"):
        out["departures"] = est.departures()
    return out


def measure(cell: Cell, b: Budget, datasets: DatasetCache, device: str) -> dict:
    """One cell's measured record (every executor runs this); an exception is recorded, so one bad cell does not
    stop the grid."""
    t = time.perf_counter()
    try:
        rec = run_cell(cell, b, datasets, device)
    except (KeyboardInterrupt, FileNotFoundError):
        raise
    except Exception as e:  # noqa: BLE001: --rerun-failed retries
        rec = {"error": f"{type(e).__name__}: {e}"}
    if rec.get("status") == "interrupted":  # the trainer caught the interrupt: the cell is not finished
        raise KeyboardInterrupt
    rec["seconds"] = time.perf_counter() - t
    return rec


# ------------------------------------------------------------------ environment

def versions() -> dict:
    """The checkpoints' version record plus scikit-learn, which the baselines use."""
    import sklearn

    from core.checkpoints.store import versions as checkpoint_versions

    return dict(checkpoint_versions(), sklearn=sklearn.__version__)


def device_description(device: str) -> str:
    import os
    import platform

    import torch

    from core.estimator import resolve_device

    dev = resolve_device(device)
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    if dev.type == "cpu":
        return (f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, "
                f"torch threads {torch.get_num_threads()})")
    return str(dev)


# ------------------------------------------------------------------ the store

def read_record(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def write_record(path: Path, record: dict) -> None:
    atomic_write_bytes(path, json.dumps(record, indent=1, default=json_default).encode())


def collect_rows(exp: Experiment, cache: Path, label: str, budget: str | None = None,
                 overrides: dict | None = None) -> tuple[list[dict], list[dict]]:
    """(tidy rows, cell records) of every finished cell of the experiment and budget, sorted. With `budget`, cells
    whose recorded key no longer matches the current budget definition (stale cache) are left out."""
    root = cache / exp.name / label
    rows, records = [], []
    for path in sorted(root.glob("*/*/*/seed*.json")):
        rec = read_record(path)
        if rec is None:
            continue
        if budget is not None:
            cell = Cell(rec["experiment"], rec["dataset"], rec["anomaly_class"], rec["method"], rec["seed"])
            if not is_cached(rec, cell, resolve_budget(budget, cell.dataset, overrides), label):
                continue
        records.append(rec)
        if rec.get("error"):
            continue
        measured = [(rec["method"], rec["metrics"])]
        twin = l2_twin(rec["method"], rec["dataset"]) if rec.get("metrics_l2") else None
        if twin:
            measured.append((twin, rec["metrics_l2"]))
        for method, metrics in measured:
            for metric in METRICS:
                rows.append(dict(dataset=rec["dataset"], anomaly_class=rec["anomaly_class"], method=method,
                                 seed=str(rec["seed"]), metric=metric, value=metrics[metric]))

    def key(r):
        k = r["anomaly_class"]
        return (r["dataset"], (0, int(k)) if str(k).isdigit() else (1, str(k)), r["method"], int(r["seed"]),
                METRICS.index(r["metric"]))

    rows.sort(key=key)
    return rows, records
