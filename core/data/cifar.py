"""CIFAR-10 from any of the three forms a data dir may hold.

1. ``cifar10/cifar-10-binary.tar.gz``: the canonical "binary version" from
   https://www.cs.toronto.edu/~kriz/cifar.html (what `download` fetches). Read straight from
   the archive (nothing is extracted): ``data_batch_1.bin`` ... ``data_batch_5.bin`` and
   ``test_batch.bin``, each a run of 3073-byte records = 1 label byte + 3072 pixel bytes
   (1024 red, 1024 green, 1024 blue, row-major), i.e. already CHW. We deliberately do not
   support the "python version": it is pickled, and unpickling runs arbitrary code.
   The same files already extracted (``cifar10/cifar-10-batches-bin/``) also work.
2. ``cifar10/cifar10_jpeg_yoongikim.npz``: the project's full copy made of lossy JPEGs
   (PSNR about 30 dB against the originals; see shared/data/README.md). Training images are
   in the original order; the TEST SET IS GROUPED BY CLASS (1000 airplanes, then 1000
   automobiles, ...), so never take a prefix of it as a "random" subset. Decoding 60,000
   JPEGs takes several seconds, so the decoded arrays are cached (see `paths.cached_arrays`).
3. ``cifar10/cifar10_exact_subset.npz``: exact pixels of training images 0-3999 and test
   images 0-999 (the ``cifar10_exact`` dataset); useful for tests and for measuring the JPEG
   loss, too small for the paper's experiments.

All loaders return uint8 (N, 3, 32, 32) with values 0..255.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from core.data.dataset import DataFileError, Dataset
from core.data.paths import cached_arrays

__all__ = ["CIFAR10_CLASSES", "load_binary", "load_jpeg_npz", "decode_jpeg_npz", "load_exact_subset"]

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]
_RECORD = 1 + 3 * 32 * 32
_BATCHES = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]


def _parse_records(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    if len(data) % _RECORD:
        raise DataFileError(where, f"{len(data):,} bytes is not a whole number of {_RECORD}-byte records")
    rec = np.frombuffer(data, dtype=np.uint8).reshape(-1, _RECORD)
    y = rec[:, 0].astype(np.int64)
    if len(y) and y.max() > 9:
        raise DataFileError(where, f"label {y.max()} out of range 0..9")
    return rec[:, 1:].reshape(-1, 3, 32, 32).copy(), y


def _read_batches(source: Path) -> dict[str, bytes]:
    """The six batch files' bytes from the .tar.gz (matched by base name) or a folder."""
    found: dict[str, bytes] = {}
    if source.is_dir():
        for name in _BATCHES:
            p = source / name
            if p.is_file():
                found[name] = p.read_bytes()
    else:
        try:
            with tarfile.open(source, "r:*") as tar:
                for member in tar:
                    base = member.name.rsplit("/", 1)[-1]
                    if member.isfile() and base in _BATCHES and base not in found:
                        found[base] = tar.extractfile(member).read()
        except (tarfile.TarError, EOFError, zlib.error, OSError) as e:
            raise DataFileError(source, f"cannot read the archive ({e})") from e
    missing = [n for n in _BATCHES if n not in found]
    if missing:
        raise DataFileError(source, "missing " + ", ".join(missing))
    return found


def load_binary(source: Path) -> Dataset:
    """CIFAR-10 from the canonical binary archive (or its extracted folder); exact pixels."""
    source = Path(source)

    def build() -> dict[str, np.ndarray]:
        raw = _read_batches(source)
        parts = [_parse_records(raw[n], f"{source}:{n}") for n in _BATCHES]
        train, test = parts[:5], parts[5]
        return {"X_train": np.concatenate([p[0] for p in train]), "y_train": np.concatenate([p[1] for p in train]),
                "X_test": test[0], "y_test": test[1]}

    files = [source] if source.is_file() else [source / n for n in _BATCHES]
    arrays = cached_arrays("cifar10-binary", files, build)
    return Dataset(name="cifar10", kind="image",
                   description="CIFAR-10, exact pixels from the official binary archive; original train/test order.",
                   class_names=list(CIFAR10_CLASSES), input_range=(0, 255), source=(str(source),), **arrays)


def decode_jpeg_npz(path: Path, split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Decode `split` ("train" or "test") of the JPEG archive npz: (N, 3, 32, 32) uint8, labels.

    `limit` decodes only the first `limit` images (tests; remember the test split is grouped
    by class). Pillow's decoder is used; other decoders may differ by 1 in a few pixels.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            jpeg, offsets, y = z[f"{split}_jpeg"], z[f"{split}_offsets"], z[f"y_{split}"]
    except (KeyError, ValueError, OSError, zlib.error, EOFError, zipfile.BadZipFile) as e:
        raise DataFileError(path, f"cannot read the {split} arrays ({e})") from e
    n = len(y)
    if len(offsets) != n + 1 or offsets[0] != 0 or offsets[-1] != len(jpeg) or np.any(np.diff(offsets) <= 0):
        raise DataFileError(path, f"{split}_offsets do not describe {n} images in {len(jpeg):,} bytes")
    if limit is not None:
        n = min(n, int(limit))
    blob = jpeg.tobytes()
    X = np.empty((n, 32, 32, 3), dtype=np.uint8)
    for i in range(n):
        try:
            with Image.open(io.BytesIO(blob[offsets[i]:offsets[i + 1]])) as im:
                X[i] = np.asarray(im.convert("RGB"))
        except Exception as e:  # PIL raises several types for broken images
            raise DataFileError(path, f"{split} image {i} is not a decodable 32x32 JPEG ({e})") from e
    return X.transpose(0, 3, 1, 2).copy(), y[:n].astype(np.int64)


def load_jpeg_npz(path: Path) -> Dataset:
    """Full CIFAR-10 from the JPEG archive (lossy; test set grouped by class); cached."""
    path = Path(path)

    def build() -> dict[str, np.ndarray]:
        X_train, y_train = decode_jpeg_npz(path, "train")
        X_test, y_test = decode_jpeg_npz(path, "test")
        return {"X_train": X_train, "y_train": y_train, "X_test": X_test, "y_test": y_test}

    arrays = cached_arrays("cifar10-jpeg", [path], build)
    return Dataset(name="cifar10", kind="image",
                   description=("CIFAR-10 from lossy JPEG copies (PSNR ~30 dB); training set in the original "
                                "order, test set grouped by class."),
                   class_names=list(CIFAR10_CLASSES), input_range=(0, 255), source=(str(path),), **arrays)


def load_exact_subset(path: Path) -> Dataset:
    """The exact-pixel subset: training images 0-3999 and test images 0-999 (HWC stored)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except (KeyError, ValueError, OSError, zlib.error, EOFError, zipfile.BadZipFile) as e:
        raise DataFileError(path, f"cannot read the subset arrays ({e})") from e
    out = {}
    for part in ("train", "test"):
        x = arrays[f"x_{part}"]
        if x.dtype != np.uint8 or x.shape[1:] != (32, 32, 3) or len(x) != len(arrays[f"y_{part}"]):
            raise DataFileError(path, f"x_{part} has shape {x.shape} {x.dtype}, expected (N, 32, 32, 3) uint8")
        out[f"X_{part}"] = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
        out[f"y_{part}"] = arrays[f"y_{part}"].astype(np.int64)
    return Dataset(name="cifar10_exact", kind="image",
                   description="CIFAR-10 exact pixels, training images 0-3999 and test images 0-999 only.",
                   class_names=list(CIFAR10_CLASSES), input_range=(0, 255), source=(str(path),), **out)
