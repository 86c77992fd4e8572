"""What a reproduction budget costs in work, counted on the CPU before renting a GPU for it: FLOPs and aten calls
per training step (torch's own formulas at the dispatcher, as in bench_train.py), steps per class from the
protocol's real training split, and their totals over the experiment's classes.

    python bench/step_cost.py --experiment mnist --budget paper --data-dir "$MAESI_DATA"

It prints counts, not times. Two floors for a GPU follow from them: the FLOPs at the card's dense peak, and the
aten calls at a few microseconds of launch each (the steps of these small networks are short, so the launches
can dominate). Both are printed with the figures assumed, which you can change; neither is a measurement
(bench/gpu_check.py measures images per second on a GPU).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.bench_train import FlopCount, SHAPES  # noqa: E402
from core.method.config import make_config  # noqa: E402
from core.evaluation.experiments import EXPERIMENTS, epochs_for, preset_for, resolve_budget  # noqa: E402
from core.evaluation.protocols import split_for  # noqa: E402
from core.data import load_dataset  # noqa: E402
from core.data.registry import get_spec  # noqa: E402
from core.method.networks import build_networks  # noqa: E402
from core.training.trainer import Trainer  # noqa: E402


def step_counts(preset: str, profile: str) -> tuple[int, int, int]:
    """(FLOPs, aten calls, batch size) of one training step of `preset` (after a warm-up step)."""
    cfg = make_config(preset, profile=profile, interpolation=3)
    shape = SHAPES[preset]
    torch.manual_seed(0)
    trainer = Trainer(build_networks(cfg, shape), cfg, torch.device("cpu"), cpu_kernels=False)
    x = torch.rand((cfg.batch_size,) + shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
    trainer.step(x)
    with FlopCount() as count:
        trainer.step(x)
    return count.flops, count.ops, cfg.batch_size


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--experiment", default="mnist", choices=sorted(EXPERIMENTS))
    p.add_argument("--budget", default="paper")
    p.add_argument("--profile", default="paper", choices=("paper", "authors"))
    p.add_argument("--data-dir", default=None)
    p.add_argument("--peak-tflops", type=float, default=989.0,
                   help="dense peak assumed for the FLOP floor (H200 bf16: 989; fp32 without TF32: 67)")
    p.add_argument("--launch-us", type=float, default=5.0, help="microseconds assumed per aten call")
    args = p.parse_args()
    torch.set_num_threads(1)
    exp = EXPERIMENTS[args.experiment]
    total_flops = total_ops = total_steps = 0
    for dataset in exp.datasets:
        spec = get_spec(dataset)
        budget = resolve_budget(args.budget, dataset, {})
        preset, epochs = preset_for(dataset, budget), epochs_for(dataset, budget)
        if preset not in SHAPES:
            print(f"{dataset}: preset {preset} has no input shape here; skipped")
            continue
        flops, ops, batch = step_counts(preset, args.profile)
        ds = load_dataset(dataset, data_dir=args.data_dir)
        for klass in spec.classes:
            n = len(split_for(dataset, klass, 0, ds=ds).X_train)
            n = min(n, budget.max_train) if budget.max_train else n
            steps = epochs * (n // min(batch, n))
            total_flops, total_ops, total_steps = total_flops + flops * steps, total_ops + ops * steps, \
                total_steps + steps
        print(f"{dataset}: preset {preset} ({args.profile} profile), {epochs} epochs, batch {batch}: "
              f"{flops / 1e9:.2f} GFLOP and {ops} aten calls per step; {len(spec.classes)} class(es)")
    flop_floor = total_flops / (args.peak_tflops * 1e12)
    launch_floor = total_ops * args.launch_us * 1e-6
    print(f"total: {total_steps} steps, {total_flops / 1e15:.2f} PFLOP, {total_ops / 1e6:.1f} M aten calls")
    print(f"floors on a GPU (assumed, not measured): FLOPs at {args.peak_tflops:g} TFLOP/s {flop_floor / 60:.1f} min; "
          f"aten calls at {args.launch_us:g} us each {launch_floor / 60:.1f} min")


if __name__ == "__main__":
    main()
