"""The reproduction grid's driver: plan the cells of an experiment, run the ones not cached, record the invocation
and rebuild the experiment's report. `python -m core reproduce` (core/cli/reproduce.py) is its command line.

Cells run through an executor: "local" runs them one after another in this process. The driver alone writes the
cell store and the report, whichever executor ran the cells, so runs stay resumable and their numbers identical.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

from core.evaluation.cells import (KEY_FIELD, Cell, DatasetCache, cell_key, collect_rows, device_description, is_cached,
                                   measure, read_record, versions, write_record)
from core.evaluation.chosen import VALIDATION_SEEDS
from core.evaluation.executors import run_ray
from core.evaluation.experiments import (EXPERIMENTS, Budget, Experiment, budget_label, classes_of, datasets_allowed,
                                         resolve_budget)
from core.evaluation.methods import parse_method
from core.evaluation.report import write_tables
from core.evaluation.validation import write_chosen


@dataclass
class GridOptions:
    experiment: str
    budget: str = "quick"
    seeds: list = field(default_factory=lambda: [0])
    methods: Optional[list] = None
    datasets: Optional[list] = None
    classes: Optional[list] = None
    overrides: dict = field(default_factory=dict)  # epochs, max_train, preset
    device: str = "auto"
    threads: int = 1
    data_dir: Optional[str] = None
    out: str = "results"
    rerun_failed: bool = False
    render_only: bool = False
    dry_run: bool = False
    notes: list = field(default_factory=list)
    choose: bool = False  # after the grid, choose settings per dataset (validation seeds only; validation.py)
    executor: str = "local"
    address: Optional[str] = None  # a Ray cluster to join (executor "ray")
    command: str = ""


def plan(exp: Experiment, opts: GridOptions) -> list[Cell]:
    """Every cell of the experiment the options ask for (datasets x classes x methods x seeds)."""
    if opts.choose and not set(opts.seeds) <= set(VALIDATION_SEEDS):
        raise ValueError(f"--choose picks settings on the validation seeds {list(VALIDATION_SEEDS)} only, never on "
                         f"the reported ones; got seeds {opts.seeds}")
    datasets = opts.datasets or list(exp.datasets)
    unknown = [d for d in datasets if d not in datasets_allowed(exp)]
    if unknown:
        raise ValueError(f"experiment {exp.name} covers {list(exp.datasets)}, not {unknown}")
    methods = opts.methods or list(exp.methods)
    for m in methods:
        parse_method(m)
    return [Cell(exp.name, d, str(k), m, int(s))
            for d in datasets for k in classes_of(d, opts.classes) for m in methods for s in opts.seeds]


def run_local(todo: list[tuple[Cell, Budget]], opts: GridOptions) -> Iterator[tuple[Cell, dict]]:
    """Run cells one after another in this process; yields (cell, measured record or {"error": ...})."""
    datasets = DatasetCache(opts.data_dir)
    for d in dict.fromkeys(c.dataset for c, _ in todo):
        datasets.get(d)  # fail fast, before any training, when a dataset's files are missing
    for cell, b in todo:
        yield cell, measure(cell, b, datasets, opts.device)


EXECUTORS: dict[str, Callable] = {"local": run_local, "ray": run_ray}


def run_grid(opts: GridOptions) -> int:
    """Run the cells not cached, record the invocation and rebuild the report; the exit status: 0, 1 when a cell
    failed, 130 when interrupted."""
    import torch

    torch.set_num_threads(max(1, opts.threads))
    exp = EXPERIMENTS[opts.experiment]
    label = budget_label(opts.budget, opts.overrides)
    out = Path(opts.out)
    cache = out / "cache"
    cells = [] if opts.render_only else plan(exp, opts)
    todo, cached = split_cached(cells, opts, cache, label)
    if opts.dry_run:
        print_plan(cells, todo, cached)
        return 0
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    t0 = time.perf_counter()
    dev, vers = device_description(opts.device), versions()
    ran, failed, interrupted = run_cells(exp, todo, opts, cache, label, dev, vers)
    wall = time.perf_counter() - t0
    if not opts.render_only:
        record_invocation(cache / exp.name / label, {
            "command": opts.command, "started": started, "wall_s": round(wall, 1), "cells_run": ran + failed,
            "cells_cached": cached, "device": dev, "versions": vers, "interrupted": interrupted,
            "notes": opts.notes, "executor": opts.executor})
    csv_path, md_path = write_tables(exp, cache, label, out, opts.budget, opts.overrides)
    print(f"wrote {csv_path} and {md_path} ({ran} cells run, {failed} failed, {cached} cached, {wall / 60:.1f} min)")
    if opts.choose and not interrupted:
        records = [r for r in collect_rows(exp, cache, label, opts.budget, opts.overrides)[1]
                   if not opts.datasets or r["dataset"] in opts.datasets]
        metric = "f1" if exp.name == "tabular" else "auc"
        print(f"wrote {write_chosen(records, metric, opts.command, out)}")
    return 130 if interrupted else (1 if failed else 0)


def split_cached(cells: list[Cell], opts: GridOptions, cache: Path, label: str) -> tuple[list, int]:
    """([(cell, budget)] still to run, how many are cached): a cell runs again when its record is missing, stale
    (its key no longer matches) or, with --rerun-failed, an error."""
    todo, cached = [], 0
    for cell in cells:
        b = resolve_budget(opts.budget, cell.dataset, opts.overrides)
        rec = read_record(cell.path(cache, label))
        if is_cached(rec, cell, b, label) and not (rec.get("error") and opts.rerun_failed):
            cached += 1
        else:
            todo.append((cell, b))
    return todo, cached


def print_plan(cells: list[Cell], todo: list, cached: int) -> None:
    pending = {c for c, _ in todo}
    for cell in cells:
        print(f"{'run ' if cell in pending else 'cached'} {cell.dataset} class={cell.anomaly_class or '-'} "
              f"{cell.method} seed={cell.seed}")
    print(f"{len(todo)} to run, {cached} cached")


def run_cells(exp: Experiment, todo: list, opts: GridOptions, cache: Path, label: str, dev: str,
              vers: dict) -> tuple[int, int, bool]:
    """Run `todo` through the chosen executor and store each cell as it finishes: (ran, failed, interrupted). An
    interrupt stops the grid with the finished cells stored."""
    from tqdm.auto import tqdm

    ran = failed = 0
    interrupted = False
    bar = tqdm(total=len(todo), unit="cell", desc=exp.name, dynamic_ncols=True, disable=not todo)
    keys = {cell: cell_key(cell, b, label) for cell, b in todo}
    try:
        for cell, measured in EXECUTORS[opts.executor](todo, opts) if todo else ():
            rec = {**asdict(cell), KEY_FIELD: keys[cell], "budget": label, "device": measured.pop("device", dev),
                   "versions": vers, "command": opts.command, **measured,
                   "finished_at": time.strftime("%Y-%m-%d %H:%M:%S")}
            write_record(cell.path(cache, label), rec)
            failed += bool(rec.get("error"))
            ran += not rec.get("error")
            bar.update(1)
            bar.write(f"{cell.dataset} {cell.anomaly_class or '-'} {cell.method} seed {cell.seed}: {_summary(rec)} "
                      f"({rec['seconds']:.0f}s)")
    except KeyboardInterrupt:
        interrupted = True
        print("interrupted: finished cells are cached; writing the tables of what is done", file=sys.stderr)
    finally:
        bar.close()
    return ran, failed, interrupted


def record_invocation(folder: Path, invocation: dict) -> None:
    """Append one line to the budget's invocations.jsonl: the report's list of commands is read from it."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "invocations.jsonl", "a") as f:
        f.write(json.dumps(invocation) + "\n")


def _summary(rec: dict) -> str:
    if rec.get("error"):
        return f"FAILED {rec['error']}"
    text = " ".join(f"{k} {rec['metrics'][k]:.4f}" for k in ("auc", "f1"))
    verdict = (rec.get("health") or {}).get("verdict")
    return text + (f" health {verdict}" if verdict else "")
