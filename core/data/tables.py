"""Tables from user files (.csv, .npy) as numbers, and the scores written back as a properly quoted CSV.

Choices, stated once:

* CSV header detection: the first row is a header when it has a word where the second row has a number (or,
  in a one-row file, any word). A first row that is all numbers (or empty cells) is data, never dropped; a
  first row whose words sit in text columns is data too. A header and no rows is "no data rows".
* A column whose cells are all text is named in the message and refuses the file (unless the caller's
  feature names select other columns); stray text cells refuse only their rows, which are listed.
* ``.npy`` files are checked from their header (dtype, shape, declared bytes against the file) before a byte
  of data is read: a header claiming 238 GiB costs nothing, pickles are never loaded (``allow_pickle`` stays
  off and object dtypes are refused), text, complex, date and record dtypes are refused by name.
* Caps: ``MAX_TABLE_BYTES`` (256 MiB) per CSV file and per array's data: the KDD99 test split, the largest
  here, is about 120 MB as float32.
"""
from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from core.data.messages import plain

__all__ = ["TableError", "read_csv_table", "read_npy_array", "scores_csv", "MAX_TABLE_BYTES"]

MAX_TABLE_BYTES = 256 << 20
_REFUSED_KINDS = {"U": "text", "S": "bytes/text", "c": "complex numbers", "M": "dates", "m": "time spans",
                  "V": "raw records", "O": "Python objects (never loaded: a pickle can run code)"}


class TableError(ValueError):
    """The file as a whole cannot be read as a table; the one-line message says why (without the file name)."""


def _size_of(source) -> int:
    return len(source) if isinstance(source, (bytes, bytearray, memoryview)) else os.stat(source).st_size


def _text_of(source) -> str:
    data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else Path(source).read_bytes()
    if b"\x00" in data[:4096]:
        raise TableError("not a text CSV file (it holds binary data)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TableError("not a text CSV file (not UTF-8)") from None


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _first_records(text: str, n: int = 2) -> list[list[str]]:
    """The first `n` non-blank records (csv-module parsing: quoted commas and newlines stay in one cell)."""
    records = []
    try:
        for row in csv.reader(io.StringIO(text)):
            if any(c.strip() for c in row):
                records.append(row)
                if len(records) == n:
                    break
    except csv.Error as e:
        raise TableError(f"not a readable CSV file ({plain(e)})") from None
    return records


def _has_header(first: list[str], second: list[str] | None) -> bool:
    """A header has a word where the data has a number. Without a second row, any word makes it one."""
    words = [j for j, c in enumerate(first) if c.strip() and not _is_number(c)]
    if second is None:
        return bool(words)
    return any(j >= len(second) or not second[j].strip() or _is_number(second[j]) for j in words)


def read_csv_table(source, feature_names: Sequence[str] | None = None
                   ) -> tuple[np.ndarray, list[str] | None, list[tuple[list[int], str]], list[str]]:
    """(X float64 (rows, columns), column names or None, [(bad 0-based rows, reason)], [warnings]).
    Rows holding text where a number belongs are left out of X (listed instead). TableError for a file that
    cannot be read at all. `feature_names`: with a header holding all of them, those columns in that order."""
    import pandas as pd

    if _size_of(source) > MAX_TABLE_BYTES:
        raise TableError(f"{_size_of(source):,} bytes; the cap per table is {MAX_TABLE_BYTES:,}")
    text = _text_of(source)
    records = _first_records(text)
    if not records:
        raise TableError("an empty file (no data rows)")
    has_header = _has_header(records[0], records[1] if len(records) > 1 else None)
    try:
        df = pd.read_csv(io.StringIO(text), header=0 if has_header else None, skip_blank_lines=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, csv.Error) as e:
        raise TableError(f"not a readable CSV file ({plain(e)})") from None
    if len(df) == 0:
        raise TableError("has a header row but no data rows" if has_header else "no data rows")
    columns = [str(c) for c in df.columns] if has_header else None
    warnings = []
    if columns and feature_names is not None and set(feature_names) <= set(columns) and \
            list(feature_names) != columns:
        extra = [c for c in columns if c not in set(feature_names)]
        df, columns = df[list(feature_names)].copy(), list(feature_names)
        if extra:
            warnings.append(f"column(s) {', '.join(repr(c) for c in extra[:5])} are not features of the model; ignored")
    elif columns and feature_names is not None and list(feature_names) != columns:
        missing = [c for c in feature_names if c not in set(columns)]
        warnings.append(f"the header lacks {len(missing)} of the model's feature names (e.g. "
                        f"{', '.join(repr(c) for c in missing[:3])}): columns are taken in the file's order")
    return (*_numbers(df, columns), warnings)


def _numbers(df, columns):
    """The frame as float64, with text columns refused by name and stray text cells refused by row."""
    import pandas as pd

    bad_rows: list[tuple[list[int], str]] = []
    text_columns, bad = [], np.zeros(len(df), bool)
    for j, col in enumerate(df.columns):
        if pd.api.types.is_numeric_dtype(df[col]):
            continue
        values = df[col]
        numbers = pd.to_numeric(values, errors="coerce")
        text_cells = numbers.isna().to_numpy() & values.notna().to_numpy()
        if text_cells.all() or (text_cells.mean() > 0.5):
            text_columns.append(repr(columns[j]) if columns else f"{j + 1}")
        bad |= text_cells
        df[col] = numbers
    if text_columns:
        raise TableError(f"column(s) {', '.join(text_columns[:5])} hold text, not numbers")
    if bad.any():
        bad_rows.append((np.flatnonzero(bad).tolist(), "text where a number belongs"))
    X = df.to_numpy(dtype=np.float64)
    return X, columns, bad_rows


def read_npy_array(source) -> np.ndarray:
    """A .npy file's numeric array, checked from its header before its data is read; TableError otherwise."""
    f = io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray, memoryview)) else open(source, "rb")
    try:
        return _read_npy(f, _size_of(source))
    finally:
        f.close()


def _read_npy(f, size: int) -> np.ndarray:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
    except ValueError:
        raise TableError("not a .npy file (no NumPy header)") from None
    readers = {(1, 0): fmt.read_array_header_1_0, (2, 0): fmt.read_array_header_2_0}
    if version not in readers:
        raise TableError(f"a .npy version {version[0]}.{version[1]} file; this lab reads versions 1.0 and 2.0")
    try:
        shape, fortran, dtype = readers[version](f, max_header_size=10_000)
    except (ValueError, SyntaxError, TypeError) as e:
        raise TableError(f"a .npy file with a corrupt header ({plain(e)})") from None
    if dtype.names is not None or dtype.subdtype is not None:
        raise TableError("holds structured records, not plain numbers")
    if dtype.kind in _REFUSED_KINDS or dtype.hasobject:
        raise TableError(f"holds {_REFUSED_KINDS.get(dtype.kind, 'Python objects')}, not real numbers")
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    if nbytes > MAX_TABLE_BYTES:
        raise TableError(f"its header claims shape {tuple(shape)} ({nbytes / (1 << 30):,.1f} GiB); the cap is "
                         f"{MAX_TABLE_BYTES >> 20} MiB")
    if nbytes > size - f.tell():
        raise TableError(f"truncated: its header claims {nbytes:,} bytes of data, the file holds {size - f.tell():,}")
    if count == 0:
        raise TableError(f"holds no samples (shape {tuple(shape)})")
    if len(shape) == 0:
        raise TableError("holds a single number, not samples")
    data = np.frombuffer(f.read(nbytes), dtype=dtype, count=count)
    return data.reshape(shape, order="F" if fortran else "C")


def scores_csv(names: Iterable[str], scores: Iterable[float], labels: Iterable | None = None) -> str:
    """A "name,score,label" CSV (csv-module quoting: names with commas, quotes or newlines stay one field).
    Scores as %.6g; labels empty when None."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "score", "label"])
    labels = [] if labels is None else list(labels)
    for i, (name, score) in enumerate(zip(names, scores)):
        label = labels[i] if i < len(labels) else None
        writer.writerow([str(name), f"{float(score):.6g}", "" if label is None else int(label)])
    return out.getvalue()
