"""`python -m core score`: anomaly scores (higher = more anomalous) for every sample of a user's file."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from . import args as A


def build_parser() -> argparse.ArgumentParser:
    s = argparse.ArgumentParser(
        prog="python -m core score", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Anomaly scores (higher = more anomalous) for every sample of a .npy or .csv file, an image, a "
                    "folder of images or a .zip of images.")
    s.add_argument("--checkpoint", required=True, help="checkpoint path (x, x.safetensors or x.json)")
    s.add_argument("--input", required=True, help=".npy, .csv (one row per sample), .png/.jpg, a folder or a .zip")
    s.add_argument("--output", default=None, help="write a CSV (name, score, label) here instead of printing it")
    s.add_argument("--score", choices=["feature", "l2", "latent_norm"], default="feature",
                   help="feature = the paper's D_recon feature distance; l2 = reconstruction error; latent_norm = ||E(x)||")
    s.add_argument("--device", type=A.device, default="auto", help="auto, cpu, cuda or mps")
    return s


def main(argv: list[str]) -> int:
    from ..model import MirroredAE

    args = build_parser().parse_args(argv)
    if args.output and Path(args.output).is_dir():
        raise ValueError(f"--output names a CSV file, not a folder: {args.output}")
    model = MirroredAE.load(args.checkpoint, device=args.device)
    X, names = read_input(Path(args.input), model)
    scores = model.decision_function(X, score=args.score)
    labels = (scores > model.threshold_).astype(int) if args.score == "feature" else None
    text = scores_csv(names, scores, labels)
    if args.output:
        from ..checkpoint import atomic_write_bytes

        atomic_write_bytes(Path(args.output), text.encode())
        print(f"wrote {len(scores)} scores to {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def scores_csv(names, scores, labels) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "score", "label"])
    for i, (n, s) in enumerate(zip(names, scores)):
        w.writerow([n, f"{s:.6g}", "" if labels is None else int(labels[i])])
    return buf.getvalue()


def read_input(path: Path, model) -> tuple[np.ndarray, list[str]]:
    """Samples from a user's file, checked against the model's input."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        X = np.load(path, allow_pickle=False)
    elif suffix == ".csv":
        import pandas as pd

        df = pd.read_csv(path, header=None)
        first = df.iloc[0] if len(df) else None
        if first is not None and not all(_is_number(v) for v in first):
            df = pd.read_csv(path)  # the first row is a header
        X = df.to_numpy(dtype=np.float64)
    else:
        from ..data.images import images_from_files

        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        c, h, w = model.input_shape_
        lo, hi = model.config_.input_range
        X, names = images_from_files(files, size=(h, w), channels=c, input_range=(lo, hi))
        return X, list(names)
    return X, [str(i) for i in range(len(X))]


def _is_number(v) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False
