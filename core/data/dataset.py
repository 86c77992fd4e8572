"""The `Dataset` record every loader returns, and the errors the data layer raises.

One record type for images and tables keeps the rest of maesi (training, evaluation, the
app) free of per-dataset special cases: it asks `ds.kind` and reads the matching fields.
Arrays hold RAW values (pixels as stored, unscaled table features): scaling belongs to the
model/protocol, which must fit it on the training split only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

__all__ = ["Dataset", "DatasetNotFoundError", "DataFileError", "DownloadError"]


@dataclass(frozen=True, repr=False, eq=False)
class Dataset:
    """A loaded dataset.

    Image datasets (``kind == "image"``) fill ``X_train``/``y_train``/``X_test``/``y_test``
    (uint8, shape (N, C, H, W), CHW order; labels int64 class ids), ``class_names`` and
    ``input_range`` (the range raw pixel values live in, e.g. (0, 255)); the model maps that
    range to [-1, 1] itself.

    Tabular datasets (``kind == "tabular"``) fill ``X`` (float32 (N, F), raw features),
    ``y`` (int64 (N,), 1 = anomaly, 0 = normal), ``feature_names`` and ``anomaly_fraction``
    (the fraction of anomalies, which the top-k% protocol assumes known). The protocol makes
    its own train/test split, so there is none here.

    Fields that do not apply to the kind are None. The record is frozen (fields cannot be
    reassigned); the arrays themselves are ordinary writable numpy arrays, fresh per load.
    """

    name: str
    kind: Literal["image", "tabular"]
    description: str
    # image datasets
    X_train: np.ndarray | None = None
    y_train: np.ndarray | None = None
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    class_names: list[str] | None = None
    input_range: tuple[float, float] | None = None
    # tabular datasets
    X: np.ndarray | None = None
    y: np.ndarray | None = None
    feature_names: list[str] | None = None
    anomaly_fraction: float | None = None
    # where the data came from (file paths), for logs and reports
    source: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        # Check the contract once here, so a loader bug fails at load time, not deep in training.
        if self.kind == "image":
            for part in ("train", "test"):
                X, y = getattr(self, f"X_{part}"), getattr(self, f"y_{part}")
                if X is None or y is None:
                    raise ValueError(f"{self.name}: image dataset needs X_{part} and y_{part}")
                if X.dtype != np.uint8 or X.ndim != 4:
                    raise ValueError(f"{self.name}: X_{part} must be uint8 (N, C, H, W), got {X.dtype} {X.shape}")
                if y.dtype != np.int64 or y.shape != (len(X),):
                    raise ValueError(f"{self.name}: y_{part} must be int64 ({len(X)},), got {y.dtype} {y.shape}")
            if self.class_names is None or self.input_range is None:
                raise ValueError(f"{self.name}: image dataset needs class_names and input_range")
        elif self.kind == "tabular":
            if self.X is None or self.y is None or self.feature_names is None:
                raise ValueError(f"{self.name}: tabular dataset needs X, y and feature_names")
            if self.X.dtype != np.float32 or self.X.ndim != 2:
                raise ValueError(f"{self.name}: X must be float32 (N, F), got {self.X.dtype} {self.X.shape}")
            if self.y.dtype != np.int64 or self.y.shape != (len(self.X),):
                raise ValueError(f"{self.name}: y must be int64 ({len(self.X)},), got {self.y.dtype} {self.y.shape}")
            if len(self.feature_names) != self.X.shape[1]:
                raise ValueError(f"{self.name}: {len(self.feature_names)} feature names for {self.X.shape[1]} columns")
            if self.anomaly_fraction is None:
                object.__setattr__(self, "anomaly_fraction", float(self.y.mean()) if len(self.y) else 0.0)
        else:
            raise ValueError(f"{self.name}: kind must be 'image' or 'tabular', not {self.kind!r}")

    @property
    def n_classes(self) -> int:
        """Number of classes: the image classes, or 2 (normal/anomaly) for tables."""
        return len(self.class_names) if self.kind == "image" else 2

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """Shape of one input: (C, H, W) for images, (F,) for tables."""
        return tuple(self.X_train.shape[1:]) if self.kind == "image" else (self.X.shape[1],)

    def __repr__(self) -> str:
        if self.kind == "image":
            return (f"Dataset({self.name!r}, image {self.sample_shape}, train={len(self.X_train)}, "
                    f"test={len(self.X_test)}, classes={self.n_classes}, range={self.input_range})")
        return (f"Dataset({self.name!r}, tabular, n={len(self.X)}, features={self.X.shape[1]}, "
                f"anomalies={int(self.y.sum())} ({self.anomaly_fraction:.2%}))")


class DatasetNotFoundError(FileNotFoundError):
    """The files of a dataset are not in the data directory.

    The message names the dataset, the folder searched (and why that folder), the missing
    files, and the two ways out: point maesi at another folder, or download.
    """

    def __init__(self, name: str, folder: Path | str, missing: Sequence[str], *,
                 origin: str = "", hint: str = "", downloadable: bool = True) -> None:
        self.dataset, self.folder, self.missing = name, Path(folder), list(missing)
        lines = [f"Dataset {name!r} not found in {self.folder}" + (f" ({origin})." if origin else ".")]
        if self.missing:
            lines.append("Missing: " + ", ".join(self.missing))
        if hint:
            lines.append(hint)
        lines.append("To fix it, either:")
        lines.append(f"  - point maesi at a folder that has these files: pass --data-dir DIR, or set "
                     f"MAESI_DATA=DIR (DIR/{self.missing[0] if self.missing else '...'} etc.), or copy them into "
                     f"{self.folder}")
        if downloadable:
            lines.append(f"  - or download them (needs internet): python -m core data download {name}")
        else:
            lines.append(f"  - (there is no public download for {name!r}; copy the files by hand)")
        super().__init__("\n".join(lines))

    def __str__(self) -> str:  # FileNotFoundError's default str() adds errno noise
        return self.args[0]


class DataFileError(ValueError):
    """A data file exists but is truncated, corrupt or not in the expected format.

    The message always names the file, so the user knows what to re-download or replace.
    """

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = Path(path)
        super().__init__(f"{self.path}: {problem}. The file looks truncated or corrupt: "
                         f"replace it (or delete it and run `python -m core data download`), and check "
                         f"it with `python -m core data verify`.")


class DownloadError(OSError):
    """A download failed: unreachable host, HTTP error, or a checksum mismatch."""
