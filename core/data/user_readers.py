"""The readers of `core.data.user_data`: a user's image folders (or a zip of them) and tables (CSV or NPY) as a
`Dataset`, every unusable file listed with its reason and every unusable dataset refused in one line
(`UserDataError`). A `source` is a `core.data.user_data.UserDataSource` (read by its attributes)."""
from __future__ import annotations

import csv
import io
import math
from collections import Counter
from pathlib import Path

import numpy as np

from core.data.dataset import Dataset

__all__ = ["UserDataError", "MIN_NORMAL_TRAIN", "load_images", "load_table"]

MIN_NORMAL_TRAIN = 16  # fewer normal training samples than this cannot fit a batch statistic worth the name
NORMAL_LABELS, ANOMALY_LABELS = {"0", "0.0", "normal"}, {"1", "1.0", "anomaly"}


class UserDataError(ValueError):
    """A dataset the user brought that cannot be used; the message is one line naming the problem."""


# ------------------------------------------------------------------ images


def _group_members(source, path: Path) -> tuple[dict[str, list], list[str]]:
    """{folder name: [(name, bytes)]} of the images under each subfolder, and problems as 'name: reason'."""
    from core.data.images import IMAGE_EXTENSIONS, image_files
    from core.data.files import not_regular

    problems: list[str] = []
    if path.is_dir():
        items, root = [], path
        for sub in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for f in sorted(sub.rglob("*")):
                if f.is_dir() or f.name.startswith("."):
                    continue
                if f.suffix.lower() not in IMAGE_EXTENSIONS:
                    problems.append(f"{f.relative_to(root).as_posix()}: not an image file ({f.suffix or 'no suffix'})")
                elif (why := not_regular(f)) is not None:
                    problems.append(f"{f.relative_to(root).as_posix()}: {why}")
                else:
                    items.append((f.relative_to(root).as_posix(), f))  # "/" as in a zip, on any OS
        pairs, bad = [], []
        for name, f in items:  # one at a time, under the per-file cap, each under its name in the folder
            got, why = image_files([f])
            pairs += [(name, data) for _, data in got]
            bad += [f"{name}: {p.reason}" for p in why]
    else:
        pairs, bad = image_files([path], max_files=200_000)
        pairs = [(n.split("/", 1)[1] if "/" in n else n, b) for n, b in pairs]  # drop the archive's own name
    problems += [str(p) for p in bad]
    # The class folders sit at the depth of the normal folder (a zip may hold them inside one top folder).
    depth = next((parts.index(source.normal_dir) for parts in (Path(n).parts for n, _ in pairs)
                  if source.normal_dir in parts[:-1]), None)
    if depth is None:
        raise UserDataError(f"{source.name}: no folder named {source.normal_dir!r} holds images (the normal "
                            "images go in DIR/normal/, anomalies in other folders beside it)")
    wanted = None if source.abnormal_dirs is None else set(source.abnormal_dirs) | {source.normal_dir}
    groups: dict[str, list] = {}
    for name, data in pairs:
        parts = Path(name).parts
        folder = parts[depth] if len(parts) > depth + 1 else None
        if folder is None or (wanted is not None and folder not in wanted):
            problems.append(f"{name}: not inside the {source.normal_dir!r} folder or an abnormal one; not used")
            continue
        groups.setdefault(folder, []).append((name, data))
    return groups, problems


def _target(source, pairs: list) -> tuple[int, int, list[str]]:
    """(channels, size, notes) from the images' own modes and sizes, unless the source fixes them."""
    from PIL import Image

    modes, sizes = Counter(), Counter()
    for _, data in pairs:
        try:
            with Image.open(io.BytesIO(data)) as im:
                modes[im.mode] += 1
                sizes[im.size] += 1
        except Exception:  # noqa: BLE001: decode_image gives the reason later
            continue
    grey = all(m in ("1", "L", "LA", "I;16", "I;16B", "I;16L", "I;16N") for m in modes)
    channels = source.channels or (1 if grey else 3)
    size = source.image_size or (28 if channels == 1 else 32)
    notes = []
    if set(sizes) - {(size, size)}:
        shown = ", ".join(f"{w}x{h} ({n})" for (w, h), n in sizes.most_common(3))
        notes.append(f"images resized to {size}x{size} (found {shown}{', ...' if len(sizes) > 3 else ''})")
    return channels, size, notes


def load_images(source, path: Path) -> tuple[Dataset, list[str]]:
    from core.data.images import decode_image

    groups, problems = _group_members(source, path)
    normal = groups.get(source.normal_dir, [])
    abnormal_names = sorted(g for g in groups if g != source.normal_dir) if source.abnormal_dirs is None \
        else [d for d in source.abnormal_dirs if d in groups]
    missing = [d for d in (source.abnormal_dirs or ()) if d not in groups]
    if missing:
        problems.append(f"abnormal folder(s) {', '.join(map(repr, missing))} hold no readable image")
    channels, size, notes = _target(source, normal + [p for g in abnormal_names for p in groups[g]])
    arrays: dict[str, list] = {}
    used: list[str] = []
    for folder in [source.normal_dir, *abnormal_names]:
        for name, data in groups.get(folder, []):
            try:
                arrays.setdefault(folder, []).append(decode_image(name, data, (size, size), channels))
                used.append(name)
            except ValueError as e:
                problems.append(str(e))
    n_normal = len(arrays.get(source.normal_dir, []))
    needed = math.ceil(MIN_NORMAL_TRAIN / (1.0 - source.normal_test_ratio)) + 1
    if n_normal < needed:
        found = f"found {n_normal}" + (f" (and {len(problems)} unreadable or unused files)" if problems else "")
        raise UserDataError(f"{source.name}: too few normal images in {source.normal_dir!r}: {found}; at least "
                            f"{needed} are needed ({MIN_NORMAL_TRAIN} to train at a test ratio of "
                            f"{source.normal_test_ratio:g})")

    def stack(folder):
        a = arrays.get(folder, [])
        return np.stack(a).astype(np.uint8) if a else np.zeros((0, channels, size, size), np.uint8)

    X_test = np.concatenate([stack(f) for f in abnormal_names]) if abnormal_names \
        else np.zeros((0, channels, size, size), np.uint8)
    y_test = np.concatenate([np.full(len(arrays.get(f, [])), i + 1, np.int64) for i, f in enumerate(abnormal_names)]) \
        if abnormal_names else np.zeros(0, np.int64)
    if problems:
        notes.append(f"{len(problems)} file(s) not used: " + "; ".join(problems[:5])
                     + ("; ..." if len(problems) > 5 else ""))
    description = (f"your images {Path(source.path).name}: {n_normal} normal, {len(X_test)} abnormal "
                   f"({', '.join(abnormal_names) or 'none'}), {channels}x{size}x{size}")
    ds = Dataset(source.name, "image", description, X_train=stack(source.normal_dir),
                 y_train=np.zeros(n_normal, np.int64), X_test=X_test, y_test=y_test,
                 class_names=[source.normal_dir, *abnormal_names], input_range=(0, 255), source=tuple(used))
    return ds, notes


# ------------------------------------------------------------------ tables


def _labels(values: list[str], column: str, name: str) -> np.ndarray:
    clean = [v.strip().lower() for v in values]
    other = sorted({v for v in clean if v not in NORMAL_LABELS | ANOMALY_LABELS})
    if other:
        shown = ", ".join(repr(v) for v in other[:5]) + (", ..." if len(other) > 5 else "")
        raise UserDataError(f"{name}: the label column {column!r} holds {shown}; labels must be 0 or 'normal', "
                            "1 or 'anomaly'")
    return np.array([v in ANOMALY_LABELS for v in clean], np.int64)


def _csv_columns(path: Path) -> list[str]:
    from core.data.files import open_regular

    with open_regular(path) as f:
        first = f.readline(1 << 20).decode("utf-8", "replace")
    return [c.strip() for c in next(csv.reader([first]), [])]


def _label_values(path: Path, column: int) -> list[str]:
    from core.data.files import open_regular

    with open_regular(path) as f:
        rows = csv.reader(io.TextIOWrapper(f, encoding="utf-8", errors="replace", newline=""))
        next(rows, None)
        # the rows read_csv_table keeps: blank records (no non-blank cell) are skipped there, so here too
        return [row[column] if column < len(row) else "" for row in rows if any(c.strip() for c in row)]


def _read_table(source, path: Path) -> tuple[np.ndarray, np.ndarray, list[str], list[str]]:
    """(X, y, feature names, notes) of a CSV or NPY table."""
    from core.data.tables import TableError, read_csv_table, read_npy_array

    notes: list[str] = []
    try:
        if path.suffix.lower() == ".npy":
            A = read_npy_array(path)
            if A.ndim != 2:
                raise UserDataError(f"{source.name}: a table is a 2-d array (rows x columns), got shape {A.shape}")
            names = [f"x{j}" for j in range(A.shape[1])]
            y = np.zeros(len(A), np.int64)
            if source.label_column is not None:
                try:
                    j = int(source.label_column) % A.shape[1]
                except ValueError:
                    raise UserDataError(f"{source.name}: an .npy table's label column is a column index (e.g. -1), "
                                        f"got {source.label_column!r}") from None
                y = _labels([f"{v:g}" for v in A[:, j]], f"column {j}", source.name)
                A, names = np.delete(A, j, axis=1), [n for k, n in enumerate(names) if k != j]
            return A.astype(np.float64), y, names, notes
        columns = _csv_columns(path)
        features = None
        if source.label_column is not None:
            if source.label_column not in columns:
                raise UserDataError(f"{source.name}: no column {source.label_column!r} in the header (it has "
                                    f"{', '.join(map(repr, columns[:8]))}{', ...' if len(columns) > 8 else ''})")
            features = [c for c in columns if c != source.label_column]
        X, names, bad_rows, warnings = read_csv_table(path, feature_names=features)
        y = np.zeros(len(X), np.int64) if features is None \
            else _labels(_label_values(path, columns.index(source.label_column))[: len(X)], source.label_column,
                         source.name)
    except TableError as e:
        raise UserDataError(f"{source.name}: {e}") from None
    names = names or [f"x{j}" for j in range(X.shape[1])]
    return X, y, list(names), notes + [w for w in warnings if "not features of the model" not in w]


def load_table(source, path: Path) -> tuple[Dataset, list[str]]:
    X, y, names, notes = _read_table(source, path)
    finite = np.isfinite(X).all(axis=1)
    if not finite.all():
        notes.append(f"{int((~finite).sum())} row(s) with an empty, non-numeric or infinite cell left out "
                     f"(e.g. row {int(np.flatnonzero(~finite)[0]) + 1})")
        X, y = X[finite], y[finite]
    n_normal = int((y == 0).sum())
    needed = math.ceil(MIN_NORMAL_TRAIN / (1.0 - source.normal_test_ratio)) + 1
    if n_normal == 0:
        raise UserDataError(f"{source.name}: no normal rows (every row is labelled an anomaly)")
    if n_normal < needed:
        raise UserDataError(f"{source.name}: too few normal rows: found {n_normal}; at least {needed} are needed "
                            f"({MIN_NORMAL_TRAIN} to train at a test ratio of {source.normal_test_ratio:g})")
    if X.shape[1] == 0:
        raise UserDataError(f"{source.name}: no feature columns")
    labelled = f", {int(y.sum())} labelled anomalies" if source.label_column is not None else ", no labels"
    description = f"your table {path.name}: {len(X)} rows x {X.shape[1]} features{labelled}"
    ds = Dataset(source.name, "tabular", description, X=X.astype(np.float32), y=y, feature_names=names,
                 source=(path.name,))
    return ds, notes
