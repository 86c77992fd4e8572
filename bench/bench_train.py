"""Training-step cost of this project's `Trainer.step` against a plain implementation of the same step on the same
networks (bench/reference_step.py: separate E/G passes for the critic and the E/G updates, one D_inter call per
anchor, E(x) recomputed at every critic update, as the authors' code does).

    python bench/bench_train.py [--preset digits] [--interpolation 3] [--steps 5] [--rounds 9]

Both run in this process, interleaved round by round from the same weights, on one thread. Times are the process's
CPU time (not wall time), so that other processes loading the machine change them less; the figure to compare
across machines is the ratio, the median of the rounds' plain / ours. "ours, torch kernels" is the trainer with
core.training.kernels switched off, to show what the thin-convolution kernels add to the ratio.

"FLOPs plain/ours" counts the floating-point operations of one step of each (torch's FLOP formulas for matrix
products and convolutions, forward and backward, the penalty's double backward included): the time ratio that
removing work alone would give if both ran at the same speed per FLOP. The rest of a time ratio comes from faster
kernels (core.training.kernels).
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils._pytree import tree_map  # noqa: E402
from torch.utils.flop_counter import flop_registry  # noqa: E402

from bench.reference_step import ReferenceStep  # noqa: E402
from core.method.config import make_config, parse_interpolation  # noqa: E402
from core.method.networks import build_networks  # noqa: E402
from core.training.trainer import Trainer  # noqa: E402

SHAPES = {"digits": (1, 8, 8), "mnist_small": (1, 28, 28), "mnist": (1, 28, 28), "cifar10": (3, 32, 32),
          "thyroid": (6,), "arrhythmia": (274,), "kdd99": (118,)}
VARIANTS = {"gp (paper profile)": dict(profile="paper"),
            "hinge-sn (paper profile)": dict(profile="paper", lipschitz="hinge-sn"),
            "authors profile (hinge-sn, 5 critic steps)": dict(profile="authors")}


def cpu_ms(fn, steps: int) -> float:
    t = time.process_time()
    for _ in range(steps):
        fn()
    return (time.process_time() - t) / steps * 1e3


def contenders(preset: str, interpolation, overrides: dict, batch_size) -> tuple[dict, torch.Tensor]:
    cfg = make_config(preset, interpolation=interpolation, batch_size=batch_size, **overrides)
    shape = SHAPES[preset]
    torch.manual_seed(0)
    nets = build_networks(cfg, shape)
    x = torch.rand((cfg.batch_size,) + shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
    steps = {"plain": ReferenceStep(copy.deepcopy(nets), cfg).step,
             "ours": Trainer(copy.deepcopy(nets), cfg, torch.device("cpu")).step,
             "ours, torch kernels": Trainer(copy.deepcopy(nets), cfg, torch.device("cpu"), cpu_kernels=False).step}
    return steps, x


def _shape(value):
    return value.shape if isinstance(value, torch.Tensor) else value


class FlopCount(TorchDispatchMode):
    """FLOPs of the aten ops run inside the block, by torch's own formulas. (torch's FlopCounterMode also tracks
    modules with hooks that refuse the gradient penalty's autograd.grad, so the count is taken at the dispatcher.)"""

    def __init__(self):
        super().__init__()
        self.flops = 0
        self.ops = 0  # aten calls: on a GPU, about one kernel launch each

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        self.ops += 1
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.flops += formula(*tree_map(_shape, args), **tree_map(_shape, kwargs), out_val=tree_map(_shape, out))
        return out


def step_flops(step, x: torch.Tensor) -> int:
    with FlopCount() as count:
        step(x)
    return count.flops


def measure(steps: dict, x: torch.Tensor, n: int, rounds: int) -> dict:
    for fn in steps.values():  # warm-up: oneDNN primitives, allocator
        fn(x)
    names = list(steps)
    times: dict = {k: [] for k in names}
    for r in range(rounds):
        for k in names[r % len(names):] + names[:r % len(names)]:
            times[k].append(cpu_ms(lambda: steps[k](x), n))
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="digits", choices=sorted(SHAPES))
    p.add_argument("--interpolation", type=parse_interpolation, default=3, help="0 (none), m >= 2 (m-point simplex) or acai")
    p.add_argument("--steps", type=int, default=None, help="steps per round (default: 10 for digits, else 2)")
    p.add_argument("--rounds", type=int, default=9)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS), metavar="VARIANT")
    args = p.parse_args()
    torch.set_num_threads(1)
    n = args.steps or (10 if args.preset == "digits" else 2)
    cfg = make_config(args.preset)
    print(f"preset {args.preset}, batch {args.batch_size or cfg.batch_size}, interpolation {args.interpolation}, "
          f"1 thread, cpu; CPU ms per step, medians of {args.rounds} interleaved rounds of {n} steps")
    print(f"{'variant':36s} {'plain':>8s} {'ours':>8s} {'ratio':>6s} {'ours, torch kernels':>20s} {'ratio':>6s} "
          f"{'FLOPs plain/ours':>17s}")
    for name in args.variants:
        steps, x = contenders(args.preset, args.interpolation, VARIANTS[name], args.batch_size)
        t = measure(steps, x, n, args.rounds)
        flop_ratio = step_flops(steps["plain"], x) / step_flops(steps["ours"], x)
        med = {k: statistics.median(v) for k, v in t.items()}
        ratio = {k: statistics.median(a / b for a, b in zip(t["plain"], t[k])) for k in t}
        print(f"{name:36s} {med['plain']:8.2f} {med['ours']:8.2f} {ratio['ours']:6.2f} "
              f"{med['ours, torch kernels']:20.2f} {ratio['ours, torch kernels']:6.2f} {flop_ratio:17.2f}", flush=True)


if __name__ == "__main__":
    main()
