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
* Caps, checked while streaming, before the memory is spent (parsing text costs far more than its bytes: a
  30 MB line of commas is 15 M Python strings, several GB):
  ``MAX_TABLE_BYTES`` (256 MiB) per CSV file and per array's data: the KDD99 test split, the largest here, is
  about 120 MB as float32; ``MAX_TABLE_CELLS`` (40 M, 320 MB as float64) per table or array;
  ``MAX_TABLE_COLUMNS`` (200,000: one 3x256x256 image per row, the largest input, and a few more) and
  ``MAX_LINE_BYTES`` (8 MiB) per CSV row, counted on the raw line before the csv module splits it into cells.
  A CSV is parsed in chunks of about 256 K cells, so its peak is the numbers themselves plus a few MB.
* Only regular files are opened (`core.data.files.open_regular`): a FIFO or a device is refused by name.
* Written CSVs: a text cell starting like a spreadsheet formula (``=``, ``+``, ``-``, ``@``, tab, CR) gets a
  leading single quote (OWASP's CSV-injection rule), so ``=HYPERLINK(...)`` as a file name stays text.
"""
from __future__ import annotations

import csv
import io
import itertools
import math
import os
from typing import BinaryIO, Iterable, Iterator, Sequence

import numpy as np

from core.data.files import NotRegularFile, open_regular
from core.data.messages import csv_safe, plain

__all__ = ["TableError", "read_csv_table", "read_npy_array", "scores_csv", "csv_text", "MAX_TABLE_BYTES", "MAX_TABLE_CELLS",
           "MAX_TABLE_COLUMNS", "MAX_LINE_BYTES"]

MAX_TABLE_BYTES = 256 << 20
MAX_TABLE_CELLS = 40_000_000
MAX_TABLE_COLUMNS = 200_000
MAX_LINE_BYTES = 8 << 20
_REFUSED_KINDS = {"U": "text", "S": "bytes/text", "c": "complex numbers", "M": "dates", "m": "time spans",
                  "V": "raw records", "O": "Python objects (never loaded: a pickle can run code)"}


class TableError(ValueError):
    """The file as a whole cannot be read as a table; the one-line message says why (without the file name)."""


def _size_of(source) -> int:
    return len(source) if isinstance(source, (bytes, bytearray, memoryview)) else os.stat(source).st_size


def _open_source(source) -> BinaryIO:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(source)
    try:
        return open_regular(source)
    except NotRegularFile as e:
        raise TableError(str(e)) from None


class _Lines:
    """The file's lines for the csv module, decoded, each record's bytes and commas counted before csv splits it
    into cells: a 30 MB line of commas would otherwise become 15 M Python strings (gigabytes) first."""

    def __init__(self, f: BinaryIO):
        self.f, self.record_bytes, self.record_commas, self.first = f, 0, 0, True

    def __iter__(self):
        return self

    def __next__(self) -> str:
        raw = self.f.readline(MAX_LINE_BYTES + 1)
        if not raw:
            raise StopIteration
        self.record_bytes += len(raw)
        self.record_commas += raw.count(b",")
        if self.record_bytes > MAX_LINE_BYTES:
            raise TableError(f"a row of more than {MAX_LINE_BYTES >> 20} MiB; the cap per row is "
                             f"{MAX_LINE_BYTES >> 20} MiB")
        if self.record_commas >= MAX_TABLE_COLUMNS:
            raise TableError(f"a row of more than {MAX_TABLE_COLUMNS:,} cells; the cap is {MAX_TABLE_COLUMNS:,} "
                             "columns")
        try:
            line = raw.decode("utf-8-sig" if self.first else "utf-8")
        except UnicodeDecodeError:
            raise TableError("not a text CSV file (not UTF-8)") from None
        self.first = False
        return line

    def end_record(self) -> None:
        self.record_bytes = self.record_commas = 0


def _records(f: BinaryIO) -> Iterator[list[str]]:
    """The non-blank records of a CSV stream, one at a time, under the per-row caps of `_Lines`."""
    lines = _Lines(f)
    reader = csv.reader(lines)
    try:
        for row in reader:
            lines.end_record()
            if any(c.strip() for c in row):
                yield row
    except csv.Error as e:
        raise TableError(f"not a readable CSV file ({plain(e)})") from None


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


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
    cannot be read at all. `feature_names`: with a header holding all of them, those columns in that order.
    Read as a stream under the caps (bytes, cells and columns) before the memory is spent."""
    size = _size_of(source) if isinstance(source, (bytes, bytearray, memoryview)) else None
    if size is not None and size > MAX_TABLE_BYTES:
        raise TableError(f"{size:,} bytes; the cap per table is {MAX_TABLE_BYTES:,}")
    with _open_source(source) as f:
        if size is None and os.fstat(f.fileno()).st_size > MAX_TABLE_BYTES:
            raise TableError(f"{os.fstat(f.fileno()).st_size:,} bytes; the cap per table is {MAX_TABLE_BYTES:,}")
        if b"\x00" in f.read(4096):
            raise TableError("not a text CSV file (it holds binary data)")
        f.seek(0)
        records = _records(f)
        first, second = next(records, None), next(records, None)
        if first is None:
            raise TableError("an empty file (no data rows)")
        has_header = _has_header(first, second)
        columns = [c.strip() for c in first] if has_header else None
        head = ([] if has_header else [first]) + ([] if second is None else [second])
        if not head:
            raise TableError("has a header row but no data rows")
        pick, warnings = _chosen_columns(columns, feature_names)
        width = len(first) if pick is None else len(pick)
        X, text_counts, bad_rows = _parse(itertools.chain(head, records), len(first), pick)
    return (*_refuse_text_columns(X, text_counts, bad_rows, columns if pick is None else
                                  [columns[j] for j in pick], width), warnings)


def _chosen_columns(columns, feature_names):
    """(indices of the model's columns in the header, or None for all in order, warnings)."""
    if not columns or feature_names is None or list(feature_names) == columns:
        return None, []
    if set(feature_names) <= set(columns):
        extra = [c for c in columns if c not in set(feature_names)]
        warn = [f"column(s) {', '.join(repr(c) for c in extra[:5])} are not features of the model; ignored"] if extra \
            else []
        return [columns.index(c) for c in feature_names], warn
    missing = [c for c in feature_names if c not in set(columns)]
    return None, [f"the header lacks {len(missing)} of the model's feature names (e.g. "
                  f"{', '.join(repr(c) for c in missing[:3])}): columns are taken in the file's order"]


_CHUNK_CELLS = 1 << 18  # cells parsed at once: a few MB of Python strings at a time, whatever the file holds


def _parse(rows: Iterable[list[str]], width: int, pick):
    """(X float64, text cells per column, [(bad rows, reason)]): rows parsed in chunks, counted against the cap."""
    parts, chunk, text_counts, ragged, texty = [], [], np.zeros(width if pick is None else len(pick), np.int64), [], []
    n = 0
    per_chunk = max(1, _CHUNK_CELLS // max(1, width))
    for row in rows:
        if len(row) != width:
            ragged.append(n)
            row = (row + [""] * width)[:width]
        chunk.append(row if pick is None else [row[j] for j in pick])
        n += 1
        if n * len(text_counts) > MAX_TABLE_CELLS:
            raise TableError(f"more than {MAX_TABLE_CELLS:,} cells ({n - 1:,} rows of {len(text_counts):,}); "
                             f"the cap per table is {MAX_TABLE_CELLS:,} cells")
        if len(chunk) == per_chunk:
            parts.append(_numbers(chunk, n - len(chunk), text_counts, texty))
            chunk = []
    if chunk:
        parts.append(_numbers(chunk, n - len(chunk), text_counts, texty))
    bad = []
    if ragged:
        bad.append((ragged, f"not {width} cells like the first row"))
    if texty:
        bad.append((sorted(set(texty) - set(ragged)), "text where a number belongs"))
    X = np.concatenate(parts) if len(parts) > 1 else parts[0]
    return X, text_counts, [b for b in bad if b[0]]


def _numbers(chunk: list[list[str]], offset: int, text_counts: np.ndarray, texty: list) -> np.ndarray:
    """One chunk as float64: empty cells are NaN (refused later, by row), text cells NaN and counted."""
    try:
        return np.array(chunk, dtype=np.float64)
    except ValueError:
        pass
    out = np.empty((len(chunk), len(text_counts)), np.float64)
    for i, row in enumerate(chunk):
        for j, cell in enumerate(row):
            try:
                out[i, j] = float(cell) if cell.strip() else np.nan
            except ValueError:
                out[i, j] = np.nan
                text_counts[j] += 1
                if not texty or texty[-1] != offset + i:
                    texty.append(offset + i)
    return out


def _refuse_text_columns(X, text_counts, bad_rows, columns, width):
    """A column mostly of text refuses the file, by name; stray text cells only their rows."""
    text_columns = [repr(columns[j]) if columns else f"{j + 1}" for j in np.flatnonzero(text_counts * 2 > len(X))]
    if text_columns:
        raise TableError(f"column(s) {', '.join(text_columns[:5])} hold text, not numbers")
    return X, columns, bad_rows


def read_npy_array(source) -> np.ndarray:
    """A .npy file's numeric array, checked from its header before its data is read; TableError otherwise."""
    with _open_source(source) as f:
        size = _size_of(source) if isinstance(source, (bytes, bytearray, memoryview)) else os.fstat(f.fileno()).st_size
        return _read_npy(f, size)


def _count_text(n: int) -> str:
    """An integer for a message, even one of 4,000 digits (whose str() Python refuses beyond 4,300)."""
    return f"{n:,}" if n < 10 ** 15 else f"about 10^{int(n.bit_length() * 0.30103)}"


def _shape_text(shape) -> str:
    return "(" + ", ".join(_count_text(d) if d >= 0 else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _check_npy_size(shape, dtype, size: int) -> int:
    """The header's claims against the caps and the file, in integers only (a huge shape must not overflow)."""
    if not all(type(d) is int for d in shape):
        raise TableError("a .npy file with a corrupt header (its shape holds something other than integers)")
    if any(d < 0 for d in shape):
        raise TableError(f"a .npy file with a corrupt header (negative dimension in shape {_shape_text(shape)})")
    count = math.prod(shape)
    nbytes = count * dtype.itemsize
    if nbytes > MAX_TABLE_BYTES:
        claimed = f"{nbytes / (1 << 30):,.1f} GiB" if nbytes < 10 ** 18 else f"{_count_text(nbytes)} bytes"
        raise TableError(f"its header claims shape {_shape_text(shape)} ({claimed}); the cap is "
                         f"{MAX_TABLE_BYTES >> 20} MiB")
    if count > MAX_TABLE_CELLS:
        raise TableError(f"its header claims shape {_shape_text(shape)} ({count:,} values); the cap is "
                         f"{MAX_TABLE_CELLS:,} values per array")
    return count


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
    except (ValueError, SyntaxError, TypeError, OverflowError, MemoryError, RecursionError) as e:
        raise TableError(f"a .npy file with a corrupt header ({plain(e)})") from None
    if dtype.names is not None or dtype.subdtype is not None:
        raise TableError("holds structured records, not plain numbers")
    if dtype.kind in _REFUSED_KINDS or dtype.hasobject:
        raise TableError(f"holds {_REFUSED_KINDS.get(dtype.kind, 'Python objects')}, not real numbers")
    count = _check_npy_size(shape, dtype, size)
    nbytes = count * dtype.itemsize
    if nbytes > size - f.tell():
        raise TableError(f"truncated: its header claims {nbytes:,} bytes of data, the file holds {size - f.tell():,}")
    if count == 0:
        raise TableError(f"holds no samples (shape {tuple(shape)})")
    if len(shape) == 0:
        raise TableError("holds a single number, not samples")
    data = np.frombuffer(f.read(nbytes), dtype=dtype, count=count)
    return data.reshape(shape, order="F" if fortran else "C")


def csv_text(header: Sequence[str], rows: Iterable[Sequence], text_columns: Sequence[int] | None = None) -> str:
    """Rows as CSV text, "\n"-terminated, the text cells (those of `text_columns`, default all) through `csv_safe`
    (a formula stays text; numbers such as a score of -1.5 are left alone). A row with a
    carriage return in a cell is written fully quoted: the csv module quotes only the terminator's characters,
    and a bare CR would split the row in a spreadsheet."""
    out = io.StringIO()
    minimal = csv.writer(out, lineterminator="\n")
    quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
    minimal.writerow(header)
    for row in rows:
        row = [csv_safe(c) if isinstance(c, str) and (text_columns is None or j in text_columns) else c
               for j, c in enumerate(row)]
        (quoted if any(isinstance(c, str) and "\r" in c for c in row) else minimal).writerow(row)
    return out.getvalue()


def scores_csv(names: Iterable[str], scores: Iterable[float], labels: Iterable | None = None) -> str:
    """A "name,score,label" CSV (csv-module quoting: names with commas, quotes or newlines stay one field; a name
    starting like a formula gets a leading single quote). Scores as %.6g; labels empty when None."""
    labels = [] if labels is None else list(labels)

    def rows():
        for i, (name, score) in enumerate(zip(names, scores)):
            label = labels[i] if i < len(labels) else None
            yield [str(name), f"{float(score):.6g}", "" if label is None else int(label)]

    return csv_text(["name", "score", "label"], rows(), text_columns=(0,))
