"""One reader for users' files, shared by the CLI and the app: ``read_samples``.

    X, names, problems = read_samples(["a.csv", "b.npy"], input_shape=(6,), input_range=(low, high))
    X, names, problems = read_samples("photos/", input_shape=(1, 8, 8), input_range=(0, 16))

Files are read one by one, so one bad file costs only itself: `problems` holds a `Problem` (file, reason,
level) for each file or row set left out ("error") and for each caveat about what was kept ("warning"); the
caller decides whether to score the good samples. Nothing here raises for a file's content.

* Sources: .csv (and .txt) tables, .npy arrays, images (PNG/JPEG/...), zips of images, folders of those
  (not recursive); paths, (name, bytes) pairs or uploaded file objects, alone or in a list.
* Names: "file.csv:3" for the third data row (1-based; a header row is not counted), "file.npy[0]" for an
  array's first sample (0-based, as NumPy counts), "file.png" or "archive.zip/member.png" for images. Names
  are made distinct: a second "a.png" (two uploads, or a zip holding the name twice) is "a.png#2", a third
  "a.png#3" (`core.data.messages.distinct`). Names are labels, kept as given; print them through
  `core.data.messages.printable` (control and bidi characters escaped).
* Only regular files are read: a FIFO, a device (such as /dev/zero, directly or through a link), a socket or a
  broken link is refused with its reason before it is opened, and listed by name when inside a folder.
* Values: rows holding NaN or infinities (or numbers beyond float32) are refused and listed. Values far
  outside the model's range are kept with a warning: for images, outside `input_range`; for tables, more than
  ``FAR_SPANS`` training spans beyond the training range when it is given, else beyond ``LARGE_VALUE`` in size.
* Caps: ``MAX_BATCH_VALUES`` (64 M values, 256 MB as float32) for one call; each file type's own caps
  (`core.data.archive`, `core.data.images`, `core.data.tables`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from core.data.archive import is_zip
from core.data.files import NotRegularFile, not_regular, open_regular
from core.data.images import IMAGE_EXTENSIONS, read_images
from core.data.messages import Problem, distinct, plain
from core.data.tables import TableError, read_csv_table, read_npy_array

__all__ = ["read_samples", "Problem", "MAX_BATCH_VALUES"]

MAX_BATCH_VALUES = 64_000_000
LARGE_VALUE = 1e6
FAR_SPANS = 10
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_MAGIC = {b"\x93NUMPY": ".npy", b"\x89PNG": ".png", b"\xff\xd8\xff": ".jpg", b"GIF8": ".gif", b"BM": ".bmp"}


def _listed(source: Any) -> list:
    single_pair = isinstance(source, tuple) and len(source) == 2 and isinstance(source[1], (bytes, bytearray))
    if single_pair or isinstance(source, (str, os.PathLike, bytes, bytearray)) or hasattr(source, "read"):
        return [source]
    return list(source)


def _named(item: Any, i: int) -> tuple[str, Any]:
    """(file name, Path or bytes) of one input."""
    if isinstance(item, (str, os.PathLike)):
        return Path(item).name, Path(item)
    if isinstance(item, (bytes, bytearray)):
        return f"input_{i}", bytes(item)
    if isinstance(item, tuple) and len(item) == 2:
        return Path(str(item[0])).name or f"input_{i}", bytes(item[1])
    if not (hasattr(item, "getvalue") or hasattr(item, "read")):
        raise TypeError(f"input {i}: expected a path, bytes, (name, bytes) or a file object, got {type(item).__name__}")
    name = getattr(item, "name", None)
    data = item.getvalue() if hasattr(item, "getvalue") else item.read()
    return (Path(name).name if isinstance(name, str) and name else f"input_{i}"), bytes(data)


def _folder(name: str, folder: Path) -> tuple[list[tuple[str, Path]], list[Problem]]:
    """A folder's regular files; its FIFOs, devices, sockets and broken links are listed, never opened."""
    items, problems = [], []
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    for p in entries:
        reason = not_regular(p)
        if reason is not None:
            problems.append(Problem(f"{name}/{p.name}", reason))
        elif p.is_file():
            items.append((p.name, p))
    if any(p.is_dir() for p in entries):
        problems.append(Problem(name, "subfolders are not read", "warning"))
    if not entries:
        problems.append(Problem(name, "an empty folder"))
    return items, problems


def _expand(source: Any) -> tuple[list[tuple[str, Any]], list[Problem]]:
    """Inputs as (name, Path or bytes), folders replaced by their files, non-regular files listed as problems."""
    items, problems = [], []
    for i, item in enumerate(_listed(source)):
        name, src = _named(item, i)
        reason = not_regular(src) if isinstance(src, Path) else None
        if reason is not None:
            problems.append(Problem(name, reason))
        elif isinstance(src, Path) and src.is_dir():
            found, why = _folder(name, src)
            items += found
            problems += why
        else:
            items.append((name, src))
    return items, problems


def _kind(name: str, src: Any) -> str:
    suffix = Path(name).suffix.lower()
    if suffix in (".csv", ".txt", ".npy", ".zip") or suffix in IMAGE_EXTENSIONS:
        return suffix if suffix in (".csv", ".txt", ".npy", ".zip") else ".image"
    if isinstance(src, Path):
        with open_regular(src) as f:
            head = f.read(8)
    else:
        head = src[:8]
    if is_zip(head):
        return ".zip"
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return ".npy" if kind == ".npy" else ".image"
    return "unknown"


def _numbers(idx: Sequence[int]) -> str:
    shown = ", ".join(str(i) for i in idx[:5])
    return shown + (f" and {len(idx) - 5} more" if len(idx) > 5 else "")


# ---------------------------------------------------------------- per file type

def _from_table(name, src, shape, feature_names):
    X, _, bad_rows, warnings = read_csv_table(src, feature_names if len(shape) == 1 else None)
    problems = [Problem(name, f"row(s) {_numbers([r + 1 for r in rows])}: {why}; left out") for rows, why in bad_rows]
    problems += [Problem(name, w, "warning") for w in warnings]
    keep = np.ones(len(X), bool)
    for rows, _ in bad_rows:
        keep[rows] = False
    width = int(np.prod(shape))
    if X.shape[1] != width:
        wanted = f"{shape[0]} features" if len(shape) == 1 else f"{width} values per row ({'x'.join(map(str, shape))})"
        raise TableError(f"has {X.shape[1]} column(s) but the model takes {wanted}")
    rows = np.flatnonzero(keep)
    X = X if keep.all() else X[rows]  # no copy of a clean table: it may be 300 MB
    return X.reshape(len(rows), *shape), [f"{name}:{r + 1}" for r in rows], problems, ("row", 1, rows)


def _from_array(name, src, shape):
    A = read_npy_array(src)
    if len(shape) == 1:
        A = A[None] if A.ndim == 1 and len(A) == shape[0] else A
        if A.ndim != 2 or A.shape[1] != shape[0]:
            raise TableError(f"expected an array of shape (samples, {shape[0]}), got {A.shape}")
    else:
        C, H, W = shape
        if A.shape == (C, H, W) or (C == 1 and A.shape == (H, W)):
            A = A.reshape(1, C, H, W)
        elif C == 1 and A.ndim == 3 and A.shape[1:] == (H, W):
            A = A[:, None]
        if A.ndim != 4 or A.shape[1:] != (C, H, W):
            raise TableError(f"expected images of shape (N, {C}, {H}, {W}), got {A.shape}")
    rows = np.arange(len(A))
    return A, [f"{name}[{i}]" for i in rows], [], ("index", 0, rows)


def _screen(name, X, names, where, input_range, image: bool):
    """Refuse samples with non-finite values (listed), warn about values far outside the model's range."""
    noun, base, rows = where  # rows: each sample's index in its file; base: 1 for CSV rows, 0 for arrays
    shown = rows + base
    X = np.asarray(X)  # in its own dtype: a float64 copy of a 256 MB float32 array would double it
    if X.dtype.kind == "f" and X.dtype.itemsize < 4:
        X = X.astype(np.float32)  # float16 cannot hold the limits it is compared with
    flat = X.reshape(len(X), -1)
    problems = []
    finite = np.isfinite(flat).all(axis=1)
    # comparisons only (boolean temporaries, 1/8 of the values' size): NaN compares False, so it is not "beyond"
    fits = finite & ~((flat > _FLOAT32_MAX) | (flat < -_FLOAT32_MAX)).any(axis=1) if flat.dtype.itemsize > 4 \
        and flat.dtype.kind == "f" else finite
    if not finite.all():
        problems.append(Problem(name, f"{noun}(s) {_numbers(shown[~finite].tolist())} hold "
                                      "NaN or infinite values; left out"))
    if not (fits | ~finite).all():
        problems.append(Problem(name, f"{noun}(s) {_numbers(shown[finite & ~fits].tolist())} hold numbers beyond "
                                      "32-bit floats; left out"))
    far = _far_rows(flat if fits.all() else flat[fits], input_range, image)
    if far.any():
        limit = (f"outside the model's input range [{float(input_range[0]):g}, {float(input_range[1]):g}]" if image
                 else f"far outside the training range (more than {FAR_SPANS} spans beyond it)"
                 if input_range is not None else f"larger than {LARGE_VALUE:g} in size")
        problems.append(Problem(name, f"{noun}(s) {_numbers(shown[fits][far].tolist())} hold values {limit}; scored, "
                                      "but their scores may mean little", "warning"))
    kept = (X if fits.all() else X[fits]).astype(np.float32)
    return kept, [n for n, ok in zip(names, fits) if ok], problems


def _far_rows(flat: np.ndarray, input_range, image: bool) -> np.ndarray:
    if input_range is None:
        return ((flat > LARGE_VALUE) | (flat < -LARGE_VALUE)).any(axis=1)
    low = np.broadcast_to(np.asarray(input_range[0], np.float64), flat.shape[1:])
    high = np.broadcast_to(np.asarray(input_range[1], np.float64), flat.shape[1:])
    if image:
        slack = 1e-6 * np.maximum(high - low, 1e-12)
        return ((flat < low - slack) | (flat > high + slack)).any(axis=1)
    span = np.maximum(high - low, 1e-12)
    return ((flat < low - FAR_SPANS * span) | (flat > high + FAR_SPANS * span)).any(axis=1)


# ---------------------------------------------------------------- entry point

def read_samples(source: Any, input_shape: Sequence[int], input_range: Optional[Sequence] = None,
                 feature_names: Optional[Sequence[str]] = None, *, max_files: int = 10_000
                 ) -> tuple[np.ndarray, list[str], list[Problem]]:
    """(X float32 of shape (n, *input_shape), one name per sample, problems) from users' files.

    `input_shape`: the model's (features,) or (channels, height, width). `input_range`: for images the model's
    raw (low, high) pixel range (images are mapped into it); for tables the training range, (low, high) as
    numbers or per-feature sequences (the model's min-max scaler), or None. `feature_names`: the model's
    columns, matched against a CSV header. See the module docstring for names, problems and caps."""
    shape = tuple(int(v) for v in input_shape)
    if len(shape) not in (1, 3) or min(shape) < 1:
        raise ValueError(f"input_shape must be (features,) or (channels, height, width), got {tuple(input_shape)}")
    image = len(shape) == 3
    if image and input_range is None:
        raise ValueError("an image model's input_range (low, high) is needed to read images")
    items, problems = _expand(source)
    parts, names, total, images_left = [], [], 0, max_files
    for name, src in items:
        try:
            X, labels, found, where = _read_one(name, src, shape, input_range, feature_names, images_left)
        except (TableError, NotRegularFile) as e:
            problems.append(Problem(name, str(e)))
            continue
        except OSError as e:
            problems.append(Problem(name, f"cannot read the file ({plain(e)})"))
            continue
        problems += found
        if X is None:
            continue
        if where is None:
            images_left -= len(X)
        else:
            X, labels, screened = _screen(name, X, labels, where, input_range, image)
            problems += screened
        room = max(0, (MAX_BATCH_VALUES - total) // max(1, int(np.prod(shape))))
        if len(X) > room:
            problems.append(Problem(name, f"over the batch cap of {MAX_BATCH_VALUES:,} values; "
                                          f"{len(X) - room} sample(s) left out"))
            X, labels = X[:room], labels[:room]
        total += X.size
        parts.append(np.asarray(X, np.float32))
        names += labels
    X = np.concatenate(parts) if len(parts) > 1 else parts[0] if parts else np.zeros((0, *shape), np.float32)
    return X, distinct(names), problems


def _read_one(name, src, shape, input_range, feature_names, images_left):
    """(X, names, problems, where) of one file; `where` is None for decoded images (no screening needed)."""
    kind = _kind(name, src)
    if kind in (".csv", ".txt"):
        return _from_table(name, src, shape, feature_names)
    if kind == ".npy":
        return _from_array(name, src, shape)
    if kind in (".zip", ".image"):
        if len(shape) != 3:
            raise TableError(f"an image or archive, but the model is tabular: it takes rows of {shape[0]} numbers "
                             "(.csv or .npy)")
        if images_left <= 0:
            raise TableError("over the batch's cap on images; not read")
        X, labels, found = read_images([(name, src)] if isinstance(src, bytes) else [src], shape[1:], shape[0],
                                       tuple(input_range), max_files=images_left)
        return (X if len(X) else None), labels, found, None
    raise TableError("not a supported file type (.csv, .npy, .zip or an image)")
