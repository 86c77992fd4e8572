"""Command line: `python -m core {train,score,data,reproduce} ...`; `python -m core CMD --help` explains every flag."""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np

from .config import PRESETS
from .train import Callback

DATASET_NAMES = ["digits", "mnist", "fashion_mnist", "cifar10", "cifar10_exact", "kdd99", "arrhythmia", "thyroid"]


class TqdmCallback(Callback):
    """A progress bar over training steps with the latest losses."""

    def __init__(self, every: int = 10):
        self.every, self.bar = every, None

    def on_train_begin(self, total_steps, epochs):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total_steps, unit="step", desc="training", dynamic_ncols=True, mininterval=0.5)

    def on_step(self, info):
        self.bar.update(1)
        if info.step % self.every == 0:
            keys = ("critic", "eg", "d_inter")
            self.bar.set_postfix({k: f"{info.losses[k]:.3f}" for k in keys if k in info.losses}, refresh=False)

    def on_epoch(self, info):
        self.bar.set_description(f"epoch {info.epoch + 1}/{info.epochs}")
        if info.epoch + 1 == info.epochs or self.bar.n >= self.bar.total:
            self.bar.close()


def _interpolation(value: str):
    from .config import parse_interpolation

    try:
        return parse_interpolation(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m core", description=(
        "maesi: mirrored adversarial autoencoders with m-point simplex interpolation for anomaly detection."))
    sub = p.add_subparsers(dest="command", required=True, metavar="{train,score,data,reproduce}")

    t = sub.add_parser("train", help="train a model under the paper's protocol and print its test metrics",
                       description="Train on the normal data of a dataset's protocol split (leave-one-out for images, "
                                   "the 50/50 split for tabular data), print the test metrics and save a checkpoint.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--dataset", required=True, choices=DATASET_NAMES, help="dataset to train on")
    t.add_argument("--anomaly-class", type=int, default=None,
                   help="image datasets: the left-out class that plays the anomaly (default 0)")
    t.add_argument("--interpolation", type=_interpolation, default=3,
                   help="0 = none, 2 or 3 (or any m >= 2) = m-point simplex interpolation, acai = Berthelot et al.")
    t.add_argument("--preset", choices=sorted(PRESETS), default=None,
                   help="architecture and hyper-parameters (default: the dataset's own preset, from the paper's tables)")
    t.add_argument("--epochs", type=int, default=None, help="training epochs (default: the preset's)")
    t.add_argument("--lam", type=float, default=None, help="weight lambda of the interpolation loss (default: preset's)")
    t.add_argument("--batch-size", type=int, default=None, help="batch size (default: the preset's)")
    t.add_argument("--lr", type=float, default=None, help="one learning rate for every optimiser (default: preset's)")
    t.add_argument("--tfd", type=int, default=None, help="critic steps per encoder/generator step (default: preset's)")
    t.add_argument("--lipschitz", choices=["gp", "hinge-sn"], default=None,
                   help="how D_recon is kept Lipschitz: WGAN gradient penalty or hinge loss with spectral norm")
    t.add_argument("--alpha-sampler", choices=["authors", "dirichlet"], default=None,
                   help="simplex weights: the authors' scheme or uniform on the simplex")
    t.add_argument("--no-latent-reg", action="store_true", help="drop the latent regulariser R(E)")
    t.add_argument("--max-train", type=int, default=None,
                   help="use at most this many training samples (a seeded subset; for quick CPU runs)")
    t.add_argument("--seed", type=int, default=0, help="random seed (data split, initialisation, sampling)")
    t.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps")
    t.add_argument("--bf16", action="store_true", help="bfloat16 autocast on CUDA")
    t.add_argument("--threads", type=int, default=None,
                   help="CPU threads for training (default: torch's). Use 1 when other processes load the CPU: "
                        "small multi-threaded ops then slow down many times over")
    t.add_argument("--data-dir", default=None, help="dataset folder (default: $MAESI_DATA, then a per-user folder)")
    t.add_argument("--out", default=None, help="checkpoint path (default: runs/<dataset>-c<class>-m<interp>-s<seed>)")
    t.add_argument("--half", action="store_true", help="store the weights in float16 (half the size)")

    s = sub.add_parser("score", help="score a file with a trained checkpoint",
                       description="Anomaly scores (higher = more anomalous) for every sample of a .npy or .csv file, "
                                   "an image, a folder of images or a .zip of images.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    s.add_argument("--checkpoint", required=True, help="checkpoint path (x, x.safetensors or x.json)")
    s.add_argument("--input", required=True, help=".npy, .csv (one row per sample), .png/.jpg, a folder or a .zip")
    s.add_argument("--output", default=None, help="write a CSV (name, score, label) here instead of printing it")
    s.add_argument("--score", choices=["feature", "l2", "latent_norm"], default="feature",
                   help="feature = the paper's D_recon feature distance; l2 = reconstruction error; latent_norm = ||E(x)||")
    s.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")

    sub.add_parser("data", help="list, download and verify datasets (python -m core data --help)", add_help=False)
    sub.add_parser("reproduce", help="run a reproduction grid of the paper (python -m core reproduce --help)",
                   add_help=False)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "data":
        from .data.cli import main as data_main

        return data_main(argv[1:])
    if argv and argv[0] == "reproduce":
        from .evaluation.reproduce import main as reproduce_main

        return reproduce_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            return cmd_train(args, argv)
        return cmd_score(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def cmd_train(args, argv) -> int:
    from .evaluation.runner import ProtocolRun
    from .train import TrainingDiverged

    run = ProtocolRun(args.dataset, args.anomaly_class, data_dir=args.data_dir, preset=args.preset,
                      max_train=args.max_train, seed=args.seed, command="python -m core " + shlex.join(argv),
                      interpolation=args.interpolation, lam=args.lam, epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, tfd=args.tfd, lipschitz=args.lipschitz,
                      alpha_sampler=args.alpha_sampler, latent_reg=not args.no_latent_reg, device=args.device,
                      bf16=args.bf16, threads=args.threads)
    klass = "all" if run.anomaly_class is None else run.anomaly_class
    out = Path(args.out or f"runs/{args.dataset}-c{klass}-m{args.interpolation}-s{args.seed}")
    print(run.describe(), flush=True)
    try:
        run.fit(callbacks=[TqdmCallback()])
    except TrainingDiverged as e:
        path = run.save(out, half=args.half)
        print(f"error: {e}\nthe last good weights are saved at {path}", file=sys.stderr)
        return 1
    metrics = run.evaluate()
    path = run.save(out, half=args.half)
    model = run.model
    status = "" if model.training_status_ == "completed" else f" (training {model.training_status_})"
    print(f"test {' '.join(f'{k.upper()} {v:.4f}' for k, v in metrics.items())}"
          f"  [selected epoch {model.selected_epoch_}, {model.train_seconds_:.1f}s]{status}")
    print(f"saved {path}")
    return 0


def read_input(path: Path, model) -> tuple[np.ndarray, list[str]]:
    """Samples from a user's file, checked against the model's input."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        X = np.load(path, allow_pickle=False)
    elif suffix == ".csv":
        import pandas as pd

        df = pd.read_csv(path)
        if not all(np.issubdtype(t, np.number) for t in df.dtypes):
            df = pd.read_csv(path, header=None)  # no header row
        X = df.to_numpy(dtype=np.float64)
    else:
        from .data.images import images_from_files

        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        c, h, w = model.input_shape_
        lo, hi = model.config_.input_range
        X, names = images_from_files(files, size=(h, w), channels=c, input_range=(lo, hi))
        return X, list(names)
    return X, [str(i) for i in range(len(X))]


def cmd_score(args) -> int:
    from .model import MirroredAE

    model = MirroredAE.load(args.checkpoint, device=args.device)
    X, names = read_input(Path(args.input), model)
    scores = model.decision_function(X, score=args.score)
    labels = (scores > model.threshold_).astype(int) if args.score == "feature" else None
    lines = ["name,score,label"] + [f"{n},{s:.6g},{'' if labels is None else labels[i]}"
                                    for i, (n, s) in enumerate(zip(names, scores))]
    if args.output:
        from .checkpoint import atomic_write_bytes

        atomic_write_bytes(Path(args.output), ("\n".join(lines) + "\n").encode())
        print(f"wrote {len(scores)} scores to {args.output}")
    else:
        print("\n".join(lines))
    return 0
