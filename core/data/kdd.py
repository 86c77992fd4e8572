"""KDD Cup 1999, "10 percent" file, in the DAGMM/ALAD anomaly-detection protocol.

Files: ``kddcup99/kddcup.data_10_percent.gz`` (494,021 connections, 41 features + label,
no header) and ``kddcup99/kddcup.names`` (the feature names and which ones are symbolic).

Labels. In this protocol the ``normal.`` traffic (97,278 rows, 19.69 %) is the ANOMALY class
(y = 1) and the attacks (mostly smurf/neptune floods, 80 %) are the normal class (y = 0),
because normal traffic is the minority in this file. The paper follows this (its "20 % of
KDDCUP99 samples are anomalous").

Features. The three text columns ``protocol_type``, ``service`` and ``flag`` are one-hot
encoded with the categories found in the file, sorted (Python string order, so upper case
first: deterministic). The other 38 columns are kept as numbers. That includes the four 0/1
columns the names file calls "symbolic" (``land``, ``logged_in``, ``is_host_login``,
``is_guest_login``), which are already binary. Column order: the 38 numeric columns in file
order, then the one-hot blocks protocol_type=..., service=..., flag=... . Values are RAW
(counts, byte totals, rates): min-max scaling is fitted later on the training split only.

Width: 38 + 3 protocols + 66 services + 11 flags = **118** columns. These are the category
counts of the 10 % file (counted from the data, checked by the tests). The paper's
architecture table reads 121 inputs. That number is not from the full data set's category
lists: the full training set has at least 70 services (NSL-KDD's training file, drawn
from it, has 70), which would give at least 38 + 3 + 70 + 11 = 122. It is what the ALAD code (Zenati et al., whose KDD setup the paper
follows) produces from this same 10 % file. That code also one-hot encodes the four binary
columns, over the values present: land 2 + logged_in 2 + is_host_login 1 (always 0 here) +
is_guest_login 2 = 7 columns in place of 4. That gives 34 + 80 + 7 = 121. The extra columns
carry no information (x next to 1 - x, and one constant). ``load_kdd99(...,
alad_encoding=True)`` returns that 121-column variant if a model wants to match the table
exactly. ``load_dataset("kdd99")`` returns the 118-column encoding.

Parsing takes a couple of seconds with pandas; the parsed arrays are cached per user (see
`paths.cached_arrays`), so later loads take about half a second.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from core.data.dataset import DataFileError, Dataset
from core.data.paths import cached_arrays, resolve_data_dir

__all__ = ["read_names", "parse_kdd99", "encode_kdd99", "load_kdd99", "KDD_DATA", "KDD_NAMES",
           "ONE_HOT_COLUMNS", "BINARY_COLUMNS", "KDD99_WIDTH", "KDD99_ALAD_WIDTH"]

KDD_DATA = "kddcup99/kddcup.data_10_percent.gz"
KDD_NAMES = "kddcup99/kddcup.names"
ONE_HOT_COLUMNS = ("protocol_type", "service", "flag")
BINARY_COLUMNS = ("land", "logged_in", "is_host_login", "is_guest_login")  # one-hot only in the ALAD variant
KDD99_WIDTH = 118        # 38 numeric + 3 + 66 + 11, see the module docstring
KDD99_ALAD_WIDTH = 121   # 34 numeric + 3 + 66 + 11 + 2 + 2 + 1 + 2
_CACHE_VERSION = 1


def read_names(path: Path) -> list[str]:
    """The 41 feature names, in column order, from ``kddcup.names``.

    Format: a first line listing the attack labels, then one ``name: continuous.`` or
    ``name: symbolic.`` line per feature.
    """
    path = Path(path)
    names = []
    for line in path.read_text(encoding="ascii", errors="replace").splitlines()[1:]:
        if ":" in line:
            name, kind = (s.strip() for s in line.split(":", 1))
            if kind.rstrip(".") not in ("continuous", "symbolic"):
                raise DataFileError(path, f"unexpected feature type in line {line!r}")
            names.append(name)
    missing = [c for c in ONE_HOT_COLUMNS + BINARY_COLUMNS if c not in names]
    if len(names) != 41 or missing:
        raise DataFileError(path, f"expected 41 feature lines including {', '.join(ONE_HOT_COLUMNS)}; "
                                  f"found {len(names)}" + (f", missing {missing}" if missing else ""))
    return names


def parse_kdd99(data_path: Path, names: list[str]) -> dict[str, np.ndarray]:
    """Parse the KDD file into compact arrays (what the cache stores).

    Returns ``numeric`` float32 (N, 38) in file order, ``codes`` int16 (N, 3) indexing the
    sorted categories ``cats_protocol_type``/``cats_service``/``cats_flag``, and ``y`` int8
    (1 = ``normal.``). One-hot expansion happens in memory in `encode_kdd99`; caching the
    compact form keeps the cache entry at ~80 MB instead of ~240 MB.
    """
    import pandas as pd  # imported here: pandas is slow to import and only needed for KDD

    data_path = Path(data_path)
    dtypes = {n: (str if n in ONE_HOT_COLUMNS else np.float64) for n in names}
    dtypes["label"] = str
    try:
        df = pd.read_csv(data_path, header=None, names=names + ["label"], dtype=dtypes,
                         compression="gzip" if data_path.suffix == ".gz" else None, engine="c")
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataFileError(data_path, f"cannot decompress ({e})") from e
    except (ValueError, pd.errors.ParserError) as e:
        raise DataFileError(data_path, f"not the expected 42-field CSV ({e})") from e
    isna = df.isna().to_numpy()
    if isna.any():
        bad = int(np.flatnonzero(isna.any(axis=1))[0])
        raise DataFileError(data_path, f"line {bad + 1} has fewer than 42 fields or an empty value")
    out = {"numeric": df[[n for n in names if n not in ONE_HOT_COLUMNS]].to_numpy(dtype=np.float32),
           "y": (df["label"].to_numpy() == "normal.").astype(np.int8)}
    codes = []
    for col in ONE_HOT_COLUMNS:
        cats = sorted(df[col].unique())
        codes.append(pd.Categorical(df[col], categories=cats).codes.astype(np.int16))
        out[f"cats_{col}"] = np.array(cats, dtype=str)
    out["codes"] = np.stack(codes, axis=1)
    return out


def _one_hot(codes: np.ndarray, n: int) -> np.ndarray:
    block = np.zeros((len(codes), n), dtype=np.float32)
    block[np.arange(len(codes)), codes] = 1.0
    return block


def encode_kdd99(parsed: dict[str, np.ndarray], names: list[str], *, alad_encoding: bool = False
                 ) -> tuple[np.ndarray, list[str]]:
    """X (float32) and feature names from `parse_kdd99`'s arrays (see the module docstring)."""
    numeric_names = [n for n in names if n not in ONE_HOT_COLUMNS]
    keep = [i for i, n in enumerate(numeric_names) if not (alad_encoding and n in BINARY_COLUMNS)]
    blocks = [parsed["numeric"][:, keep]]
    feature_names = [numeric_names[i] for i in keep]
    for j, col in enumerate(ONE_HOT_COLUMNS):
        cats = [str(c) for c in parsed[f"cats_{col}"]]
        blocks.append(_one_hot(parsed["codes"][:, j], len(cats)))
        feature_names += [f"{col}={c}" for c in cats]
    if alad_encoding:  # the 0/1 columns too, over the values present (ALAD's pd.get_dummies)
        for col in BINARY_COLUMNS:
            values = parsed["numeric"][:, numeric_names.index(col)]
            cats, codes = np.unique(values, return_inverse=True)
            blocks.append(_one_hot(codes, len(cats)))
            feature_names += [f"{col}={int(c)}" for c in cats]
    return np.concatenate(blocks, axis=1), feature_names


def load_kdd99(data_dir: str | Path | None = None, *, alad_encoding: bool = False) -> Dataset:
    """KDD Cup 99 10 % as a tabular Dataset (118 columns, or 121 with `alad_encoding`).

    The parsed file is cached per user; the one-hot expansion is redone on each load (fast).
    """
    root = resolve_data_dir(data_dir)
    data_path, names_path = root / KDD_DATA, root / KDD_NAMES
    names = read_names(names_path)
    parsed = cached_arrays("kdd99", [data_path, names_path], lambda: parse_kdd99(data_path, names),
                           version=_CACHE_VERSION)
    X, feature_names = encode_kdd99(parsed, names, alad_encoding=alad_encoding)
    return Dataset(name="kdd99", kind="tabular",
                   description=(f"KDD Cup 99 10% ({len(X):,} connections, {X.shape[1]} features after one-hot); "
                                "'normal.' traffic is the anomaly class (DAGMM/ALAD protocol)."),
                   X=X, y=parsed["y"].astype(np.int64), feature_names=feature_names,
                   source=(str(data_path), str(names_path)))
