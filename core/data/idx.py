"""MNIST and Fashion-MNIST: the idx file format (gzip-compressed).

idx layout (big-endian): two zero bytes, a type byte (0x08 = uint8), a byte with the
number of dimensions, one uint32 per dimension, then the values row-major. Image files are
(N, 28, 28) (16-byte header), label files (N,) (8-byte header). The header is checked
against the file size, so a truncated or corrupt file fails with an error naming it
instead of a reshape error (or silently short data) later.

Parsing both MNIST files takes well under a second, so nothing here is cached.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

from core.data.dataset import DataFileError, Dataset

__all__ = ["read_idx", "load_idx_dataset", "IDX_FILES", "MNIST_CLASSES", "FASHION_CLASSES"]

# Relative names inside mnist/ and fashion_mnist/ (the official file names).
IDX_FILES = {
    "X_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "X_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}
MNIST_CLASSES = [str(i) for i in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read an idx(.gz) file of uint8 values with `ndim` dimensions (1 labels, 3 images)."""
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            data = f.read()
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DataFileError(path, f"cannot decompress ({e})") from e
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataFileError(path, f"only {len(data)} bytes, shorter than the {header}-byte idx header")
    if data[0:2] != b"\0\0" or data[2] != 0x08 or data[3] != ndim:
        magic = int.from_bytes(data[:4], "big")
        raise DataFileError(path, f"bad idx magic number {magic} (0x{magic:08x}); expected "
                                  f"{0x0800 + ndim} for a {ndim}-d uint8 idx file")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected = int(np.prod(dims, dtype=np.int64))
    if len(data) - header != expected:
        raise DataFileError(path, f"header announces shape {dims} = {expected:,} bytes of data, "
                                  f"but the file holds {len(data) - header:,}")
    # bytearray -> a writable array without a second copy
    return np.frombuffer(bytearray(data), dtype=np.uint8, offset=header).reshape(dims)


def load_idx_dataset(folder: Path, name: str, description: str, class_names: list[str]) -> Dataset:
    """Load the four idx files in `folder` as an image Dataset, (N, 1, 28, 28) uint8."""
    arrays = {}
    for key, fname in IDX_FILES.items():
        a = read_idx(folder / fname, 3 if key.startswith("X") else 1)
        arrays[key] = a[:, None, :, :] if key.startswith("X") else a.astype(np.int64)
    for part in ("train", "test"):
        X, y = arrays[f"X_{part}"], arrays[f"y_{part}"]
        if len(X) != len(y):
            raise DataFileError(folder / IDX_FILES[f"y_{part}"],
                                f"{len(y)} labels for {len(X)} images in {IDX_FILES[f'X_{part}']}")
        if len(y) and y.max() >= len(class_names):
            raise DataFileError(folder / IDX_FILES[f"y_{part}"], f"label {y.max()} out of range 0..{len(class_names) - 1}")
    return Dataset(name=name, kind="image", description=description, class_names=list(class_names),
                   input_range=(0, 255), source=tuple(str(folder / f) for f in IDX_FILES.values()), **arrays)
