"""Users' files for the Score page (pure: no Streamlit), read by `core.data.readers.read_samples`, the reader the
CLI's `python -m core score` uses: one bad file costs only itself, each is listed with its reason (a `Problem`),
values outside the model's range are scored with a warning.

Pictures (PNG/JPEG/..., zips of them) and arrays (.npy, .csv) are read in two calls only so that the optional
colour inversion of 1-channel models touches the pictures, never the arrays, which must already be in range.

Names are users' bytes: shown escaped (`shown`: control and bidi characters), written to CSV as text (a name
starting like a formula gets a leading single quote), told apart when repeated ("a.png#2"). Scoring runs in
batches under the scoring memory ceiling (`MirroredAE.decision_function`, ``MAESI_SCORE_MEMORY``).
"""
from __future__ import annotations

import io
import zipfile
from typing import Optional, Sequence

import numpy as np

from app.shared import images
from core.data.messages import Problem, distinct, printable

ARRAY_SUFFIXES = (".npy", ".csv", ".txt")
TABLE_SUFFIXES = (".csv", ".txt")
# What the uploader lets through, for image and tabular models alike: a file of the other kind then gets a line
# saying so (the readers' reasons), where a narrower list got only the uploader's bare red "!"
UPLOAD_TYPES = ["png", "jpg", "jpeg", "zip", "npy", "csv"]
MAX_LISTED = 50  # problems listed in plain view; the rest are counted (and all are in the CSV download)


def split_uploads(files: Sequence) -> tuple[list, list]:
    """(arrays, pictures) among uploaded files, by their names' suffixes."""
    arrays = [f for f in files if str(getattr(f, "name", "")).lower().endswith(ARRAY_SUFFIXES)]
    return arrays, [f for f in files if f not in arrays]


def invert_light_backgrounds(X: np.ndarray, input_range, mode: str) -> tuple[np.ndarray, int]:
    """Invert images drawn dark-on-light ("invert": all; "auto": those whose border is mostly light, since the
    training digits are light strokes on a dark background); returns (X, number inverted)."""
    if mode == "as is" or not len(X):
        return X, 0
    lo, hi = float(input_range[0]), float(input_range[1])
    border = np.concatenate([X[:, :, 0, :], X[:, :, -1, :], X[:, :, :, 0], X[:, :, :, -1]], axis=2)
    flip = border.mean(axis=(1, 2)) > (lo + hi) / 2 if mode == "auto" else np.ones(len(X), bool)
    X = X.copy()
    X[flip] = hi + lo - X[flip]
    return X, int(flip.sum())


def read_uploads(files: Sequence, model, feature_names: Optional[Sequence[str]] = None, polarity: str = "as is"):
    """(X, names, problems, inverted) of uploaded files for `model` through `read_samples`."""
    from core.cli.score import reading_range
    from core.data.readers import read_samples

    shape, rng = tuple(model.input_shape_), reading_range(model)
    image_model = len(shape) == 3
    arrays, pictures = split_uploads(files) if image_model else (list(files), [])
    problems = []
    if image_model:
        arrays, problems = tables_refused(arrays, shape)
    parts, names, inverted = [], [], 0
    for group, is_picture in ((arrays, False), (pictures, True)):
        if not group:
            continue
        X, n, p = read_samples(group, shape, rng, None if image_model else feature_names)
        if is_picture:
            X, inverted = invert_light_backgrounds(X, rng, polarity)
        parts.append(X)
        names += n
        problems += p
    X = np.concatenate(parts) if parts else np.zeros((0, *shape), np.float32)
    return X, distinct(names), problems, inverted


def tables_refused(arrays: Sequence, shape: tuple) -> tuple[list, list]:
    """(the arrays an image model may read, a Problem for each table among them): the page offers images and .npy
    arrays to an image model, and a CSV row read as a flattened image is a guess no user means."""
    C, H, W = shape
    tables = [f for f in arrays if str(getattr(f, "name", "")).lower().endswith(TABLE_SUFFIXES)]
    refused = [Problem(str(getattr(f, "name", "")), f"a table, but this model takes images: {C}-channel {H}×{W} "
                                                    "pictures (PNG/JPEG, or a zip of them) or an .npy array of shape "
                                                    f"(N, {C}, {H}, {W})") for f in tables]
    return [f for f in arrays if f not in tables], refused


def shown(text) -> str:
    """A user's name for a Markdown line: control and bidi characters escaped, no backtick to end a code span."""
    return printable(text).replace("`", "'")


def problem_list(problems: Sequence, level: str) -> str:
    """Markdown bullet list of one level's problems ("error" or "warning"), at most MAX_LISTED items."""
    chosen = [p for p in problems if p.level == level]
    lines = [f"- `{shown(p.file)}`: {shown(p.reason)}" for p in chosen[:MAX_LISTED]]
    if len(chosen) > MAX_LISTED:
        lines.append(f"- … and {len(chosen) - MAX_LISTED} more (see the problems CSV)")
    return "\n".join(lines)


def problems_csv(problems: Sequence) -> bytes:
    from core.data.tables import csv_text

    return csv_text(["file", "level", "reason"], ([p.file, p.level, p.reason] for p in problems)).encode()


def example_files(X_test: np.ndarray, y_test: np.ndarray, input_range, image_model: bool,
                  feature_names: Optional[Sequence[str]] = None, per_label: int = 6) -> tuple[bytes, str, str]:
    """A few test samples (half normal, half anomalous) to try the page with: (bytes, file name, mime), a zip of
    PNGs for image models, a CSV for tabular ones."""
    import pandas as pd

    rng = np.random.default_rng(0)
    pick = np.r_[rng.choice(np.flatnonzero(y_test == 0), per_label, replace=False),
                 rng.choice(np.flatnonzero(y_test == 1), min(per_label, int((y_test == 1).sum())), replace=False)]
    if image_model:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for j in pick:
                tag = "anomaly" if y_test[j] else "normal"
                zf.writestr(f"test{j:05d}-{tag}.png", images.png_bytes(images.to_uint8_image(X_test[j], input_range)))
        return buf.getvalue(), "maesi-examples.zip", "application/zip"
    frame = pd.DataFrame(X_test[pick], columns=list(feature_names) if feature_names else None)
    # Without names no header row: a numeric header ("0,1,2") would be read back as a row of data.
    return frame.to_csv(index=False, header=bool(feature_names)).encode(), "maesi-examples.csv", "text/csv"
