"""`python -m core reproduce`: run a grid of the paper's experiments and write measured tables.

    python -m core reproduce --experiment tabular --budget quick --seeds 1
    python -m core reproduce --experiment tabular --budget paper --seeds 5
    python -m core reproduce --experiment mnist --budget quick --methods maesi-3pt pca iforest

A grid is experiment x dataset x class x method x seed (core/evaluation/grid.py). Every invocation rebuilds, from
ALL cached cells of that experiment and budget, ``<out>/<experiment>.csv`` (tidy rows plus the paper's figures),
``.json`` (how the cells were made) and ``.md`` (the tables); several invocations with different
--methods/--seeds/--datasets build one table.
"""
from __future__ import annotations

import argparse
import shlex
import sys

from core.evaluation.methods import ABLATIONS, BASELINES
from core.evaluation.experiments import BUDGETS, EXPERIMENTS
from core.cli import args as arg_types


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m core reproduce", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a reproduction grid (dataset x class x method x seed) of the paper's experiments, "
                    "caching each finished cell, and write <out>/<experiment>.csv (tidy), .json (run record) and "
                    ".md (tables with the paper's figures).",
        epilog="Methods: " + ", ".join(ABLATIONS + BASELINES) + ". A maesi-* name may carry settings, e.g. "
               "maesi-3pt@lr=2e-3@epochs=300 (see core/evaluation/baselines.py for the keys).\n"
               "Budgets: paper = the preset's epochs and all training data; quick = documented reductions (KDD99: "
               "20k rows, 30 epochs; MNIST/F-MNIST: mnist_small preset, 5k images, 6 epochs; CIFAR-10: 5k images, "
               "5 epochs; digits 20 epochs; thyroid/arrhythmia as paper); smoke = 1 epoch on 256 samples (tests).")
    p.add_argument("--experiment", required=True, choices=sorted(EXPERIMENTS),
                   help="which table: " + ", ".join(f"{k} ({v.title.split(':')[0]})" for k, v in EXPERIMENTS.items()))
    p.add_argument("--budget", default="quick", choices=sorted(BUDGETS),
                   help="paper = the preset's epochs and all training data; quick = CPU-sized reductions; "
                        "smoke = tests only")
    p.add_argument("--seeds", type=arg_types.positive_int, default=1, help="seeds 0..N-1 per cell (or see --seed-list)")
    p.add_argument("--seed-list", type=arg_types.nonnegative_int, nargs="+", default=None,
                   help="explicit seeds (overrides --seeds); settings are chosen on 100-104, reported on 0-4")
    p.add_argument("--methods", nargs="+", default=None,
                   help="table rows to run (default: maesi-3pt in both profiles, PyOD's peers, ocsvm, pca, ae-l2 and "
                        "mean-distance; ablation: the 8 Fig. 5 variants)")
    p.add_argument("--datasets", nargs="+", default=None,
                   help="restrict to / choose datasets (default: the experiment's; for ablation, any dataset)")
    p.add_argument("--classes", nargs="+", default=None,
                   help="restrict image experiments to these classes (anomaly class; normal class for "
                        "fashion_mnist; config1..3 for coil100)")
    p.add_argument("--epochs", type=arg_types.positive_int, default=None,
                   help="override the budget's epochs (deep models)")
    p.add_argument("--max-train", type=arg_types.positive_int, default=None,
                   help="override the budget's cap on training samples (a seeded subset)")
    p.add_argument("--preset", default=None, help="override the dataset's preset (see core.method.config.PRESETS)")
    p.add_argument("--device", type=arg_types.device, default="auto",
                   help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps; checked on this machine. With "
                        "--executor ray, auto lets each worker take its own GPU (cells then ask Ray for one GPU "
                        "whenever the cluster has GPUs)")
    p.add_argument("--threads", type=arg_types.threads, default=1,
                   help="torch CPU threads (1 is fastest for these small networks and lets runs share a machine)")
    p.add_argument("--data-dir", default=None, help="dataset folder (default: $MAESI_DATA, then a per-user folder)")
    p.add_argument("--out", default="results", help="output folder for the tables; the cache is <out>/cache")
    p.add_argument("--rerun-failed", action="store_true", help="run again the cells that failed before")
    p.add_argument("--render-only", action="store_true", help="rebuild the CSV, JSON and tables from the cache only")
    p.add_argument("--dry-run", action="store_true", help="list the grid's cells (cached or not) and exit")
    p.add_argument("--choose", action="store_true",
                   help="after the grid, choose each dataset's best maesi-3pt variant (healthy on most seeds) and write "
                        "<out>/chosen.json; only with the validation seeds 100-104 (see core/evaluation/validation.py)")
    p.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local: cells one after another in this process; ray: each cell a Ray task, on a Ray "
                        "started on this machine or on the cluster of --address (pip install -r requirements-ray.txt)")
    p.add_argument("--address", default=None,
                   help="with --executor ray: the Ray cluster to join (host:port, or auto for the one `ray start` "
                        "runs here); without it a Ray is started on this machine")
    p.add_argument("--note", action="append", default=[],
                   help="a line for the Notes section of the table (repeatable; kept with this invocation)")
    return p


def main(argv: list[str]) -> int:
    from core.method.config import PRESETS
    from core.evaluation.grid import GridOptions, run_grid

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.address and args.executor != "ray":
        parser.error("--address needs --executor ray")
    if args.executor == "ray" and not args.dry_run and not args.render_only:
        from core.evaluation.executors import RayNotInstalled, import_ray

        try:
            import_ray()  # a one-line error now, before any planning, when Ray is not installed
        except RayNotInstalled as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    if args.preset is not None and args.preset not in PRESETS:
        raise ValueError(f"unknown preset {args.preset!r}; choose one of {sorted(PRESETS)}")
    opts = GridOptions(
        experiment=args.experiment, budget=args.budget,
        seeds=args.seed_list if args.seed_list is not None else list(range(args.seeds)),
        methods=args.methods, datasets=args.datasets, classes=args.classes,
        overrides={"epochs": args.epochs, "max_train": args.max_train, "preset": args.preset},
        device=args.device, threads=args.threads, data_dir=args.data_dir, out=args.out,
        rerun_failed=args.rerun_failed, render_only=args.render_only, dry_run=args.dry_run, notes=args.note,
        choose=args.choose, executor=args.executor, address=args.address,
        command="python -m core reproduce " + shlex.join(argv))
    return run_grid(opts)
