"""Your own data: a folder of images (anomalib's `Folder` layout) or a table (CSV or NPY), as a registry dataset.

    DIR/normal/*.png        the normal images: split into training and test images
    DIR/abnormal/*.png      any other subfolder (or those named): anomalies, used only for testing

A table's rows are samples; a label column, when named, marks anomalies (1 or "anomaly") and normals (0 or
"normal"), and its anomalies are used only for testing. Without labels every row is normal: the model still trains
and scores, but no metric can be measured.

The split (`core.evaluation.protocols.own_split`, the "own" protocol): a seeded share `normal_test_ratio` (default
0.2) of the normal samples, with every anomaly, is the test set; the other normals train. The seed is the run's
seed, so a source, its ratio and a seed name one split, and the checkpoint records all three (`record`) so that
the lab rebuilds the same split.

Choices, stated once:
* Images are read by `core.data.images` (its caps, its per-file reasons): unreadable files are listed and the rest
  used. Channels: 1 when every image is grey, else 3. Size: kept when every image is 28x28 (grey) or 32x32 (colour),
  else stretched to 28x28 (grey) or 32x32 (colour), with a note; `image_size` forces either.
* The preset follows the shape: the paper's MNIST network for 1x28x28 (and for 1x32x32 or 3x28x28, which
  --image-size/--channels can make), its CIFAR-10 network for 3x32x32, and for tables the tabular MLP nearest in
  width (Thyroid's up to 20 columns, KDD99's up to 150, Arrhythmia's beyond).
* A dataset is named `user.<folder or file stem>`; registering another source under a taken name replaces it.
"""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional


from core.data.dataset import Dataset
from core.data.user_readers import MIN_NORMAL_TRAIN, UserDataError, load_images, load_table

__all__ = ["UserDataSource", "UserDataError", "load_user_data", "USER_PREFIX", "MIN_NORMAL_TRAIN",
           "preset_for_shape", "presets_for_shape", "is_user_dataset", "discover", "OPTIONS_SUFFIX"]

USER_PREFIX = "user."
IMAGE_SIZES = (28, 32)
TABLE_SUFFIXES = (".csv", ".npy")
OPTIONS_SUFFIX = ".maesi.json"  # beside a dataset in a user-data folder: its options (normal_dir, label_column, ...)
MAX_OPTIONS_BYTES = 16 << 10


def is_user_dataset(name: str) -> bool:
    return isinstance(name, str) and name.startswith(USER_PREFIX)


def clean_stem(text: str) -> str:
    """The part of a user dataset's name after `user.`: letters, digits, '_' and '-' ("" when none is left)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")[:48]


def _stem_name(path: Path) -> str:
    stem = path.stem if path.is_file() or path.suffix.lower() in TABLE_SUFFIXES + (".zip",) else path.name
    return USER_PREFIX + (clean_stem(stem) or "data")


@dataclass(frozen=True)
class UserDataSource:
    """Where a user's dataset lives and how to read it; `record()` is what a checkpoint keeps of it."""

    kind: str                        # "folder" (a folder or a zip of folders) or "table" (a .csv or .npy file)
    path: str                        # absolute path
    normal_dir: str = "normal"
    abnormal_dirs: Optional[tuple] = None  # None: every other subfolder that holds images
    label_column: Optional[str] = None     # a column name (CSV) or index (NPY, e.g. "-1")
    image_size: Optional[int] = None       # 28 or 32; None: from the data
    channels: Optional[int] = None         # 1 or 3; None: from the data
    normal_test_ratio: float = 0.2
    name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("folder", "table"):
            raise UserDataError(f"a dataset source is a 'folder' or a 'table', not {self.kind!r}")
        if not 0.0 < float(self.normal_test_ratio) < 1.0:
            raise UserDataError(f"the normal test ratio must lie strictly between 0 and 1, got {self.normal_test_ratio}")
        if self.image_size is not None and self.image_size not in IMAGE_SIZES:
            raise UserDataError(f"the image size must be one of {list(IMAGE_SIZES)}, got {self.image_size}")
        if self.channels is not None and self.channels not in (1, 3):
            raise UserDataError(f"channels must be 1 or 3, got {self.channels}")
        if self.abnormal_dirs is not None:  # one name (e.g. from a .maesi.json) is one folder, not its letters
            dirs = (self.abnormal_dirs,) if isinstance(self.abnormal_dirs, str) else self.abnormal_dirs
            object.__setattr__(self, "abnormal_dirs", tuple(str(d) for d in dirs))
        object.__setattr__(self, "path", str(Path(self.path).expanduser().absolute()))
        if not self.name:
            object.__setattr__(self, "name", _stem_name(Path(self.path)))
        elif not (is_user_dataset(self.name) and re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", self.name)):
            raise UserDataError(f"a user dataset's name starts with {USER_PREFIX!r} and holds letters, digits, "
                                f"'_', '.' and '-' (64 at most), got {self.name!r}")

    @classmethod
    def for_path(cls, path, **options) -> "UserDataSource":
        """A folder or zip is a folder source; a .csv or .npy file a table source."""
        p = Path(path)
        kind = "table" if p.suffix.lower() in TABLE_SUFFIXES else "folder"
        return cls(kind, str(p), **options)

    @classmethod
    def from_record(cls, record: dict) -> "UserDataSource":
        known = {k: record[k] for k in ("kind", "path", "normal_dir", "abnormal_dirs", "label_column", "image_size",
                                        "channels", "normal_test_ratio", "name") if k in record}
        return cls(**known)

    def cli_args(self) -> list[str]:
        """The `python -m core train` flags that declare this source (the defaults left out)."""
        args = ["--folder" if self.kind == "folder" else "--table", self.path]
        for flag, value, default in (("--normal-dir", self.normal_dir, "normal"),
                                     ("--label-column", self.label_column, None),
                                     ("--image-size", self.image_size, None), ("--channels", self.channels, None),
                                     ("--normal-test-ratio", self.normal_test_ratio, 0.2)):
            if value != default and not (self.kind == "table" and flag == "--normal-dir"):
                args += [flag, str(value)]
        return args + (["--abnormal-dir", *self.abnormal_dirs] if self.abnormal_dirs else [])

    def options(self) -> dict:
        return asdict(self)

    def record(self, ds: Optional[Dataset] = None) -> dict:
        """The options, plus (given the loaded dataset) the counts and the sha256 of the file list."""
        out = self.options()
        if ds is not None:
            out.update(_provenance(ds))
        return out


def _options_beside(entry: Path) -> dict:
    """The options file beside a dataset (e.g. digits.csv.maesi.json), or {} (unreadable ones are ignored)."""
    side = entry.with_name(entry.name + OPTIONS_SUFFIX)
    try:
        if side.is_file() and side.stat().st_size <= MAX_OPTIONS_BYTES:
            options = json.loads(side.read_text())
            return {k: v for k, v in options.items() if k in ("normal_dir", "abnormal_dirs", "label_column",
                                                               "image_size", "channels", "normal_test_ratio")} \
                if isinstance(options, dict) else {}
    except (OSError, ValueError):
        pass
    return {}


def user_data_folders(data_dir=None) -> list[Path]:
    """$MAESI_DATA/user/ (datasets a user put there) and the lab's upload store."""
    from core.data.paths import resolve_data_dir, user_data_store

    return [resolve_data_dir(data_dir) / "user", user_data_store()]


def discover(data_dir=None) -> list[UserDataSource]:
    """The datasets in the user-data folders: each folder (holding class folders), zip, .csv or .npy file, with
    the options of its `<entry>.maesi.json` if there is one. Entries that cannot be declared are left out."""
    found: dict[str, UserDataSource] = {}
    for folder in user_data_folders(data_dir):
        try:
            entries = sorted(folder.iterdir()) if folder.is_dir() else []
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.name.endswith(OPTIONS_SUFFIX):
                continue
            is_folder = entry.is_dir() or entry.suffix.lower() == ".zip"
            if not (is_folder or entry.suffix.lower() in TABLE_SUFFIXES) or not (entry.is_dir() or entry.is_file()):
                continue
            try:
                source = UserDataSource.for_path(entry, **_options_beside(entry))
            except (UserDataError, TypeError):
                continue
            found.setdefault(source.name, source)
    return list(found.values())


def _provenance(ds: Dataset) -> dict:
    names = "\n".join(sorted(ds.source)).encode()
    if ds.kind == "image":
        counts = {"normal": int(len(ds.X_train)), "anomalies": int(len(ds.X_test))}
    else:
        counts = {"normal": int((ds.y == 0).sum()), "anomalies": int((ds.y == 1).sum())}
    return {"counts": counts, "files_sha256": hashlib.sha256(names).hexdigest()}


# The presets of each image shape the loader makes, the default first: the paper's MNIST (DCGAN-like) network takes
# 28 or 32 pixels and 1 or 3 channels, its CIFAR-10 ResNet sides divisible by 8. The MLPs are core.method.config's
# (named here: the data layer sits below the method's); tests/test_user_data.py checks both against PRESETS.
IMAGE_PRESETS = {(1, 28, 28): ["mnist", "mnist_small"], (3, 32, 32): ["cifar10", "cifar10_small"],
                 (3, 28, 28): ["mnist", "mnist_small"],
                 (1, 32, 32): ["mnist", "mnist_small", "cifar10", "cifar10_small"]}
TABLE_PRESETS = ["thyroid", "kdd99", "arrhythmia"]


def preset_for_shape(shape: tuple) -> str:
    """The preset a user dataset of this sample shape trains with by default (the rule of the module docstring)."""
    if len(shape) == 1:
        return "thyroid" if shape[0] <= 20 else "kdd99" if shape[0] <= 150 else "arrhythmia"
    if tuple(shape) not in IMAGE_PRESETS:
        raise UserDataError(f"no preset takes images of shape {'x'.join(map(str, shape))}; use 1 or 3 channels of "
                            "28x28 or 32x32")
    return IMAGE_PRESETS[tuple(shape)][0]


def presets_for_shape(shape: tuple) -> list[str]:
    """The presets that take images of this shape (the default first); every tabular preset for tables."""
    return list(TABLE_PRESETS) if len(shape) == 1 else list(IMAGE_PRESETS.get(tuple(shape), []))


def load_user_data(source: UserDataSource) -> tuple[Dataset, list[str]]:
    """(the dataset, notes for the user: resizing, skipped files). UserDataError names what makes it unusable."""
    path = Path(source.path)
    if not path.exists():
        raise UserDataError(f"{source.name}: {path.name} is not there any more (it was at {path.parent})")
    if source.kind == "table":
        return load_table(source, path)
    return load_images(source, path)
