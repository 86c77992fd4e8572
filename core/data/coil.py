"""COIL-100 (Columbia Object Image Library): 100 objects x 72 views, 128x128 RGB PNGs.

Expected in the data dir as the folder of the official archive, ``coil-100/obj{N}__{angle}.png``
(N = 1..100, angle = 0, 5, ..., 355), or as the archive itself, ``coil-100.zip`` (read
without extracting). The class of ``obj{N}`` is N - 1; class names are "obj1" ... "obj100".
Other files in the folder (the archive ships a Perl script) are ignored.

COIL has no official train/test split: the paper's COIL protocol (after GPND/OCGAN) draws
its own inlier categories and outliers for every trial. So ALL images are returned in
``X_train``/``y_train`` (sorted by object, then angle) and ``X_test``/``y_test`` are empty.

Decoding 7,200 PNGs takes a while, so the decoded arrays are cached per user.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from core.data.dataset import DataFileError, Dataset
from core.data.paths import cached_arrays

__all__ = ["load_coil100", "COIL_FOLDER", "COIL_ZIP"]

COIL_FOLDER = "coil-100/"
COIL_ZIP = "coil-100.zip"
_NAME = re.compile(r"obj(\d+)__(\d+)\.png", re.IGNORECASE)


def _decode(data: bytes, where: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB")).transpose(2, 0, 1)
    except Exception as e:
        raise DataFileError(where, f"not a readable image ({e})") from e


def _entries(source: Path) -> list[tuple[int, int, str]]:
    """(object, angle, member or file name) for every obj*__*.png, sorted."""
    if source.is_dir():
        names = [p.name for p in source.iterdir() if p.is_file()]
    else:
        try:
            with zipfile.ZipFile(source) as zf:
                names = [n for n in zf.namelist() if not n.endswith("/") and "__MACOSX" not in n]
        except (zipfile.BadZipFile, OSError) as e:
            raise DataFileError(source, f"cannot read the zip archive ({e})") from e
    out = []
    for n in names:
        m = _NAME.fullmatch(n.rsplit("/", 1)[-1])
        if m and int(m.group(1)) >= 1:
            out.append((int(m.group(1)), int(m.group(2)), n))
    if not out:
        raise DataFileError(source, "contains no obj{N}__{angle}.png images")
    return sorted(out)


def load_coil100(source: Path) -> Dataset:
    """COIL-100 from its folder or zip; every image in X_train, empty test split."""
    source = Path(source)
    entries = _entries(source)

    def build() -> dict[str, np.ndarray]:
        zf = None if source.is_dir() else zipfile.ZipFile(source)
        try:
            X = None
            for i, (_, _, n) in enumerate(entries):
                where = str(source / n) if zf is None else f"{source}:{n}"
                im = _decode((source / n).read_bytes() if zf is None else zf.read(n), where)
                if X is None:  # preallocate: the full set is 354 MB, so avoid a list + np.stack copy
                    X = np.empty((len(entries),) + im.shape, dtype=np.uint8)
                elif im.shape != X.shape[1:]:
                    raise DataFileError(where, f"image is {im.shape[2]}x{im.shape[1]}, the others "
                                               f"{X.shape[3]}x{X.shape[2]}; COIL-100 images are all 128x128")
                X[i] = im
        finally:
            if zf is not None:
                zf.close()
        return {"X": X, "y": np.array([obj - 1 for obj, _, _ in entries], dtype=np.int64)}

    sources = [source / n for _, _, n in entries] if source.is_dir() else [source]
    a = cached_arrays("coil100", sources, build)
    X, y = a["X"], a["y"]
    n_classes = max(100, int(y.max()) + 1)
    return Dataset(name="coil100", kind="image",
                   description=("COIL-100, 100 objects x 72 views; all images in the train split (the COIL "
                                "protocol draws its own inlier/outlier splits)."),
                   X_train=X, y_train=y, X_test=np.zeros((0,) + X.shape[1:], np.uint8),
                   y_test=np.zeros(0, np.int64), class_names=[f"obj{i + 1}" for i in range(n_classes)],
                   input_range=(0, 255), source=(str(source),))
