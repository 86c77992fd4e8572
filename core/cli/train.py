"""`python -m core train`: train a model under a dataset's protocol, print its test metrics and training health,
and save a checkpoint."""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from core.method.config import DEFAULT_PROFILE, PRESETS, PROFILES
from core.data.registry import DATASETS
from core.training.trainer import Callback
from core.cli import args as arg_types


class TqdmCallback(Callback):
    """A progress bar over training steps with the latest losses."""

    def __init__(self, every: int = 10):
        self.every, self.bar = every, None

    def on_train_begin(self, total_steps, epochs):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total_steps, unit="step", desc="training", dynamic_ncols=True, mininterval=0.5)

    def on_step(self, info):
        self.bar.update(1)
        if info.step % self.every == 0 and info.losses:
            keys = ("critic", "eg", "d_inter")
            self.bar.set_postfix({k: f"{info.losses[k]:.3f}" for k in keys if k in info.losses}, refresh=False)

    def on_epoch(self, info):
        self.bar.set_description(f"epoch {info.epoch + 1}/{info.epochs}")
        if info.epoch + 1 == info.epochs or self.bar.n >= self.bar.total:
            self.bar.close()


def _interpolation(value: str):
    from core.method.config import parse_interpolation

    try:
        return parse_interpolation(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    t = argparse.ArgumentParser(
        prog="python -m core train", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Train on the normal data of a dataset's protocol split (leave-one-out for MNIST, CIFAR-10 and "
                    "digits, the one-class protocol for Fashion-MNIST, the 50/50 split for tabular data), print the "
                    "test metrics and the training-health verdict, and save a checkpoint.")
    _add_data_flags(t)
    t.add_argument("--anomaly-class", "--class", dest="klass", default=None,
                   help="the protocol's class: the left-out anomaly class (leave-one-out), the normal class "
                        "(Fashion-MNIST's one-class protocol) or configN (COIL-100); default the first")
    t.add_argument("--interpolation", type=_interpolation, default=3,
                   help="0 = none, 2 or 3 (or any m >= 2) = m-point simplex interpolation, acai = Berthelot et al.")
    t.add_argument("--profile", choices=list(PROFILES), default=None,
                   help="paper = the paper's text; authors = what the authors' public code does (5 critic steps on "
                        "the same batch, hinge + spectral norm, real-pair term, cyclic anchors, Xavier init); "
                        f"default {DEFAULT_PROFILE}")
    t.add_argument("--preset", choices=sorted(PRESETS), default=None,
                   help="architecture and hyper-parameters (default: the dataset's own preset, from the paper's tables)")
    t.add_argument("--epochs", type=arg_types.positive_int, default=None,
                   help="training epochs (default: the preset's)")
    t.add_argument("--lam", type=arg_types.nonnegative_float, default=None,
                   help="weight lambda of the interpolation loss (default: preset's)")
    t.add_argument("--batch-size", type=arg_types.positive_int, default=None, help="batch size (default: the preset's)")
    t.add_argument("--lr", type=arg_types.learning_rate, default=None,
                   help="one learning rate for every optimiser (default: preset's)")
    t.add_argument("--critic-steps", "--tfd", dest="critic_steps", type=arg_types.positive_int, default=None,
                   help="critic steps on the same batch before each encoder/generator step (default: the profile's; "
                        "--tfd is its former name)")
    t.add_argument("--lipschitz", choices=["gp", "hinge-sn"], default=None,
                   help="how D_recon is kept Lipschitz: WGAN gradient penalty or hinge loss with spectral norm")
    t.add_argument("--alpha-sampler", choices=["authors", "dirichlet"], default=None,
                   help="simplex weights: the authors' scheme or uniform on the simplex")
    t.add_argument("--scaling", choices=["minmax", "zscore", "none"], default=None,
                   help="tabular features, fitted on the training normals (not in the paper; default: the preset's)")
    t.add_argument("--recon-weight", type=arg_types.nonnegative_float, default=None,
                   help="add W * ||x - G(E(x))||^2 to the E/G loss: a stabiliser NOT in the paper (default 0)")
    t.add_argument("--score", choices=["feature", "l2", "latent_norm"], default="feature",
                   help="the model's anomaly score and threshold: feature = the paper's D_recon feature distance; "
                        "l2 = reconstruction error (not the paper's); latent_norm = ||E(x)||")
    t.add_argument("--no-latent-reg", action="store_true", help="drop the latent regulariser R(E)")
    t.add_argument("--max-train", type=arg_types.positive_int, default=None,
                   help="use at most this many training samples (a seeded subset; for quick CPU runs)")
    t.add_argument("--seed", type=arg_types.nonnegative_int, default=0,
                   help="random seed (data split, initialisation, sampling)")
    t.add_argument("--device", type=arg_types.device, default="auto",
                   help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps")
    t.add_argument("--bf16", action="store_true", help="bfloat16 autocast on CUDA")
    t.add_argument("--compile", action="store_true",
                   help="torch.compile the networks that support it (E, G, D_inter; D_recon without the gradient "
                        "penalty and spectral norm): for long GPU runs, the first steps pay the compilation")
    t.add_argument("--channels-last", action="store_true",
                   help="NHWC memory layout for image presets on CUDA (faster convolutions with --bf16)")
    t.add_argument("--threads", type=arg_types.threads, default=None, help="torch CPU threads of this process "
                   "(default: torch's); use 1 when other processes load the CPU (small ops slow down many times over)")
    t.add_argument("--data-dir", default=None, help="dataset folder (default: $MAESI_DATA, then a per-user folder)")
    t.add_argument("--out", default=None, help="checkpoint path (default: runs/<dataset>-c<class>-m<interp>-s<seed>)")
    t.add_argument("--overwrite", action="store_true",
                   help="replace the run already at --out (without it an existing run is never overwritten)")
    t.add_argument("--half", action="store_true", help="store the weights in float16 (half the size)")
    return t


def _add_data_flags(t: argparse.ArgumentParser) -> None:
    """--dataset, or your own data (--folder, --table) with the flags that read and split it."""
    data = t.add_mutually_exclusive_group(required=True)
    data.add_argument("--dataset", choices=list(DATASETS), help="a registry dataset to train on")
    data.add_argument("--folder", metavar="DIR",
                      help="your images: DIR/<normal-dir>/ holds the normal ones, other folders beside it (or those "
                           "named by --abnormal-dir) anomalies used only for testing; a zip of such folders works too")
    data.add_argument("--table", metavar="FILE", help="your table: a .csv (with a header) or .npy file of rows; "
                      "--label-column marks the anomalies, used only for testing")
    own = t.add_argument_group("your own data (--folder, --table); the split: a seeded --normal-test-ratio of the "
                               "normal samples plus every anomaly is the test set, the other normals train")
    own.add_argument("--normal-dir", default="normal", metavar="NAME", help="the folder of normal images")
    own.add_argument("--abnormal-dir", nargs="+", action="extend", default=None, metavar="NAME",
                     help="the folders of anomalies (default: every other folder beside the normal one)")
    own.add_argument("--image-size", type=int, choices=[28, 32], default=None,
                     help="stretch the images to this size (default: kept when all are 28x28 grey or 32x32 colour, "
                          "else 28 for grey and 32 for colour images)")
    own.add_argument("--channels", type=int, choices=[1, 3], default=None,
                     help="1 = grey, 3 = RGB (default: 1 when every image is grey)")
    own.add_argument("--label-column", default=None, metavar="COL",
                     help="the column holding 0/'normal' and 1/'anomaly' (a CSV header name, or an .npy column "
                          "index such as -1); without it every row is normal and no metric is measured")
    own.add_argument("--normal-test-ratio", type=arg_types.open_unit_float, default=0.2,
                     help="share of the normal samples held out for testing (seeded by --seed)")
    own.add_argument("--contamination", type=arg_types.open_unit_float, default=None,
                     help="share of training scores above the threshold that predict() uses (default: PyOD's 0.1, "
                          "for every dataset)")


def main(argv: list[str]) -> int:
    from core.training.health import describe
    from core.estimator import MirroredAE
    from core.evaluation.runner import ProtocolRun
    from core.training.trainer import TrainingDiverged
    from core.data.registry import get_spec

    args = build_parser().parse_args(argv)
    user_ds = _register_own_data(args)
    spec = get_spec(args.dataset)
    if args.preset and (PRESETS[args.preset].arch.family == "mlp") != (spec.kind == "tabular"):
        raise ValueError(f"preset {args.preset!r} is for {'tabular' if spec.kind == 'image' else 'image'} data; "
                         f"{args.dataset} is {spec.kind}")
    if args.scaling and spec.kind != "tabular":
        raise ValueError("--scaling applies to tabular data; image presets map their pixel range to [-1, 1]")
    out = _check_out(args.out, args.overwrite)
    _own_threads(args.threads)
    run = ProtocolRun.prepare(args.dataset, args.klass, seed=args.seed, data_dir=args.data_dir,
                              max_train=args.max_train, ds=user_ds)
    preset_range = PRESETS[args.preset or run.preset].input_range
    if preset_range is not None and tuple(preset_range) != run.input_range:
        raise ValueError(f"preset {args.preset!r} takes pixel values in {list(preset_range)}, but {args.dataset} "
                         f"holds them in {list(run.input_range)}; use {args.dataset}'s own preset {run.preset!r}")
    model = MirroredAE(preset=args.preset or run.preset, interpolation=args.interpolation, profile=args.profile,
                       lam=args.lam, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                       critic_steps=args.critic_steps,
                       lipschitz=args.lipschitz, alpha_sampler=args.alpha_sampler, scaling=args.scaling,
                       recon_weight=args.recon_weight, score_kind=args.score, latent_reg=not args.no_latent_reg,
                       contamination=args.contamination or run.contamination, device=args.device, bf16=args.bf16,
                       seed=args.seed, threads=args.threads, compile=args.compile, channels_last=args.channels_last)
    cfg = model.make_config()
    klass = "all" if run.klass is None else run.klass
    out = out or _check_out(f"runs/{args.dataset}-c{klass}-m{args.interpolation}-s{args.seed}", args.overwrite)
    _check_writable(out, _checkpoint_bytes(cfg, run.X_train.shape[1:], args.half))
    command = "python -m core train " + shlex.join(argv)
    print(f"{run.describe()}; preset {cfg.preset}, profile {cfg.profile}, interpolation {cfg.interpolation}, "
          f"{cfg.epochs} epochs", flush=True)
    for note in model.departures():
        print(f"  not the paper's setting: {note}")
    try:
        outcome = run.fit_and_evaluate(model, callbacks=[TqdmCallback()])
    except TrainingDiverged as e:
        print(f"error: {e} It diverged before finishing its first epoch, so nothing was saved.", file=sys.stderr)
        return 1
    path = run.save(model, out, outcome, command=command, half=args.half)
    m = outcome["metrics"]
    shown = ("auc", "ap", "precision", "recall", "f1") if run.tabular or spec.protocol == "own" else ("auc", "ap")
    status = "" if outcome["status"] == "completed" else f" (training {outcome['status']})"
    timing = f"  [selected epoch {model.selected_epoch_}, {model.train_seconds_:.1f}s]{status}"
    if m:
        print(f"test {' '.join(f'{k.upper()} {m[k]:.4f}' for k in shown)}{timing}")
    else:
        print(f"no labelled anomalies in the test set, so no metric{timing}")
        print(_score_distribution(model, run))
    print(describe(model.health_))
    print(f"saved {path}")
    return 1 if outcome["status"] == "diverged" else 0


def _register_own_data(args):
    """--folder / --table: declare the user's dataset, load it once (its notes printed) and name it in
    args.dataset; None for a registry dataset."""
    from core.data.registry import register_user_data
    from core.data.user_data import UserDataSource, load_user_data

    given = args.folder or args.table
    if given is None:
        for flag in ("abnormal_dir", "image_size", "channels", "label_column"):
            if getattr(args, flag) is not None:
                raise ValueError(f"--{flag.replace('_', '-')} applies to --folder or --table data")
        if args.normal_dir != "normal" or args.normal_test_ratio != 0.2:  # else silently ignored
            raise ValueError("--normal-dir and --normal-test-ratio apply to --folder or --table data; a registry "
                             "dataset's split is its protocol's")
        return None
    path = Path(given)
    if not path.exists():
        raise ValueError(f"--{'folder' if args.folder else 'table'} {given}: no such file or folder")
    if args.folder and not (path.is_dir() or path.suffix.lower() == ".zip"):
        raise ValueError(f"--folder {given}: not a folder or a .zip of folders (a table goes with --table)")
    if args.table and path.suffix.lower() not in (".csv", ".npy"):
        raise ValueError(f"--table {given}: a table is a .csv or .npy file")
    if args.folder and args.label_column is not None:
        raise ValueError("--label-column applies to --table data; a folder's anomalies are its abnormal folders")
    if args.table and (args.abnormal_dir or args.image_size or args.channels or args.normal_dir != "normal"):
        raise ValueError("--normal-dir, --abnormal-dir, --image-size and --channels apply to --folder data")
    options = dict(normal_dir=args.normal_dir, abnormal_dirs=args.abnormal_dir, image_size=args.image_size,
                   channels=args.channels) if args.folder else dict(label_column=args.label_column)
    source = UserDataSource("folder" if args.folder else "table", str(path),
                            normal_test_ratio=args.normal_test_ratio, **options)
    register_user_data(source)
    ds, notes = load_user_data(source)
    for note in notes:
        print(f"  note: {note}")
    args.dataset = source.name
    return ds


def _score_distribution(model, run) -> str:
    """Without labels: where the held-out normals' scores sit, and how many the threshold flags."""
    import numpy as np

    scores = np.asarray(model.decision_function(run.split.X_test), float)
    q = np.quantile(scores, [0.0, 0.05, 0.5, 0.95, 1.0])
    flagged = int(np.sum(scores > model.threshold_))
    return (f"held-out normal scores: min {q[0]:.4g}, 5% {q[1]:.4g}, median {q[2]:.4g}, 95% {q[3]:.4g}, "
            f"max {q[4]:.4g}; the threshold {model.threshold_:.4g} (contamination {model.contamination:g} of the "
            f"training scores) flags {flagged} of {len(scores)}")


def _own_threads(threads) -> None:
    """The process's owner sets torch's thread count (process-wide); the library leaves it alone."""
    if threads:
        import torch

        torch.set_num_threads(threads)


def _check_out(out, overwrite: bool = False):
    """The checkpoint path, checked before any training (a bad name must not cost a finished run): a usable
    run name, not a folder, and replacing nothing but a checkpoint, and an existing run only with --overwrite."""
    from core.checkpoints.store import check_run_name, checkpoint_paths, is_checkpoint_file

    if out is None:
        return None
    path = Path(out)
    if path.is_dir() or str(out).endswith(("/", "\\")):
        raise ValueError(f"--out names a checkpoint path (e.g. runs/mymodel), not a folder: {out}")
    weights = check_run_name(path)
    existing = [p for p in checkpoint_paths(weights) if p.exists() or p.is_symlink()]
    for p in existing:
        if not p.is_file() or not is_checkpoint_file(p):
            raise ValueError(f"--out {out} would replace {p.name}, which is not a maesi checkpoint's file; "
                             "choose another --out")
    if existing and not overwrite:
        raise ValueError(f"--out {out}: a run of that name exists already; pass --overwrite to replace it, or "
                         "choose another --out")
    return weights


def _checkpoint_bytes(cfg, input_shape, half: bool) -> int:
    """About what the checkpoint will take on disk (weights plus a sidecar's history), 0 when unknown."""
    from core.checkpoints.sidecar import network_budget

    try:
        parameters = network_budget(cfg, list(input_shape)).parameters
    except (TypeError, ValueError):
        return 0
    return parameters * (2 if half else 4) + (1 << 20)


def _check_writable(weights: Path, needed_bytes: int) -> None:
    """Create, write and remove a probe file where the checkpoint will go, and compare the free space with its
    size, so that a read-only folder or a full disk is an error now, not the loss of a finished training."""
    import os
    import shutil
    import tempfile

    folder = weights.parent
    while not folder.exists() and folder != folder.parent:  # the folders save() will create
        folder = folder.parent
    try:
        if not folder.is_dir():
            raise NotADirectoryError(20, "a file is in the way of its folder")
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".maesi-write-probe-", suffix=".tmp")
        try:
            os.write(fd, b"\0" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
        free = shutil.disk_usage(folder).free
    except OSError as e:
        raise ValueError(f"cannot write the checkpoint --out {weights.name[: -len('.safetensors')]} there "
                         f"({e.strerror or type(e).__name__}); nothing was trained") from None
    if free < needed_bytes:
        raise ValueError(f"the disk of --out {weights.name[: -len('.safetensors')]} has {free:,} bytes free; the "
                         f"checkpoint needs about {needed_bytes:,}; nothing was trained")
