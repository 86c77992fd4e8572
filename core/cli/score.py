"""`python -m core score`: anomaly scores (higher = more anomalous) for every sample of a user's file.

Scoring runs in batches sized by `core.method.activations.scoring_batch_size` under ``MAESI_SCORE_MEMORY`` (1 GiB
by default); a model that needs more than that for a single sample is refused before any file is read. Names of
files are escaped (control and bidi characters) when printed, and a name starting like a spreadsheet formula is
written as text (a leading single quote)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from core.cli import args as arg_types


def build_parser() -> argparse.ArgumentParser:
    s = argparse.ArgumentParser(
        prog="python -m core score", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Anomaly scores (higher = more anomalous) for every sample of a .npy or .csv file, an image, a "
                    "folder of images or a .zip of images.")
    s.add_argument("--checkpoint", required=True, help="checkpoint path (x, x.safetensors or x.json)")
    s.add_argument("--input", required=True, help=".npy, .csv (one row per sample), .png/.jpg, a folder or a .zip")
    s.add_argument("--output", default=None, help="write a CSV (name, score, label) here instead of printing it")
    s.add_argument("--score", choices=["feature", "l2", "latent_norm"], default=None,
                   help="default: the model's own score (which its threshold belongs to); feature = the paper's "
                        "D_recon feature distance; l2 = reconstruction error; latent_norm = ||E(x)||")
    s.add_argument("--device", type=arg_types.device, default="auto", help="auto, cpu, cuda or mps")
    return s


def main(argv: list[str]) -> int:
    from core.data.messages import printable
    from core.data.readers import read_samples
    from core.data.tables import scores_csv
    from core.estimator import MirroredAE

    args = build_parser().parse_args(argv)
    if args.output and Path(args.output).is_dir():
        raise ValueError(f"--output names a CSV file, not a folder: {printable(args.output)}")
    source = Path(args.input)
    if not source.exists():
        raise FileNotFoundError(f"{printable(args.input)}: no such file or folder")
    model = MirroredAE.load(args.checkpoint, device=args.device)
    feature_names = getattr(model, "feature_names_in_", None)
    X, names, problems = read_samples(source, model.input_shape_, reading_range(model),
                                      None if feature_names is None else list(feature_names))
    for p in problems:  # names are users' bytes: escaped, so a name cannot drive the terminal
        print(f"{'warning' if p.level == 'warning' else 'skipped'}: {printable(p)}", file=sys.stderr)
    if not len(X):
        raise ValueError(f"{printable(args.input)}: no sample could be read")
    scores = model.decision_function(X, score=args.score)  # batches under the scoring memory ceiling
    own = args.score in (None, model.score_kind)
    labels = (scores > model.threshold_).astype(int) if own else None  # the threshold belongs to the model's score
    if args.output:
        from core.checkpoints.store import atomic_write_bytes

        atomic_write_bytes(Path(args.output), scores_csv(names, scores, labels).encode())
        print(f"wrote {len(scores)} scores to {printable(args.output)}")
    else:
        sys.stdout.write(scores_csv([printable(n) for n in names], scores, labels))
    return 1 if any(p.level == "error" for p in problems) else 0


def reading_range(model):
    """What `read_samples` checks values against: the pixel range of an image model, the training range of a
    min-max tabular model (other scalings: no range, so no out-of-range warning)."""
    if model.config_.input_range is not None:
        return tuple(model.config_.input_range)
    if model.scaler_.kind == "minmax":
        return np.asarray(model.scaler_.low), np.asarray(model.scaler_.high)
    return None
