"""Training-step cost of the method against a plain L2 autoencoder with the same E and G, in one process.

    python bench/bench_train.py [--preset digits] [--steps 200]

Prints milliseconds per step and the ratio to the reference (the L2 autoencoder step), for each interpolation
and Lipschitz variant. A ratio, not a time, is the figure to compare across machines.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.config import make_config  # noqa: E402
from core.networks import build_networks  # noqa: E402
from core.train import Trainer  # noqa: E402

SHAPES = {"digits": (1, 8, 8), "mnist_small": (1, 28, 28), "mnist": (1, 28, 28), "cifar10": (3, 32, 32),
          "thyroid": (6,), "arrhythmia": (274,), "kdd99": (118,)}


def time_steps(fn, steps: int) -> float:
    for _ in range(5):
        fn()
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - t) / steps * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="digits", choices=sorted(SHAPES))
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=None)
    args = p.parse_args()
    torch.manual_seed(0)
    shape = SHAPES[args.preset]
    bs = args.batch_size or make_config(args.preset).batch_size
    x = torch.rand((bs,) + shape) * 2 - 1

    cfg = make_config(args.preset, interpolation=0)
    nets = build_networks(cfg, shape)
    opt = torch.optim.Adam(list(nets.encoder.parameters()) + list(nets.generator.parameters()), lr=1e-4)

    def l2_step():
        loss = ((nets.generator(nets.encoder(x)) - x) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    ref = time_steps(l2_step, args.steps)
    print(f"preset {args.preset}, batch {bs}, {torch.get_num_threads()} threads, device cpu")
    print(f"{'variant':32s} {'ms/step':>8s} {'x L2-AE':>8s}")
    print(f"{'reference: L2 autoencoder':32s} {ref:8.2f} {1.0:8.2f}")
    for interp in (0, 2, 3, "acai"):
        for lip in ("gp", "hinge-sn"):
            trainer = Trainer(build_networks(make_config(args.preset, interpolation=interp, lipschitz=lip), shape),
                              make_config(args.preset, interpolation=interp, lipschitz=lip), torch.device("cpu"))
            ms = time_steps(lambda: trainer.step(x, eg_update=True), args.steps)
            print(f"{f'interpolation {interp}, {lip}':32s} {ms:8.2f} {ms / ref:8.2f}")


if __name__ == "__main__":
    main()
