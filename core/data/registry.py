"""The dataset registry: one declaration per dataset, the only place a dataset is named.

A `DatasetSpec` holds everything maesi knows about a dataset without loading it: its files, sources, checksums and
loader, the preset it trains with, its evaluation protocol, the reproduction report (the paper's table) it belongs
to and its class names. The CLI's choices, the app's choices and the reproduction experiments are all derived from
`DATASETS`; adding a dataset means one entry here and one loader file.

`DATASETS` maps a name to a `DatasetSpec`. A spec lists one or more *layouts*: sets of
files in the data dir that the dataset can be loaded from, in order of preference (CIFAR-10,
for instance, loads from the official binary archive if present, else from the extracted
archive, else from the project's JPEG copy). `load_dataset` uses the first complete layout
and, if there is none, raises `DatasetNotFoundError` naming what the preferred layout lacks.
`download` fetches the first layout whose files all have a public URL.

Checksums: see `files.py` for the policy. Each value below says where it comes from; the
README meant is the project's ``shared/data/README.md``, which documents how every
reference copy was obtained and cross-checked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

from core.data import cifar, coil, idx, kdd, odds
from core.data.dataset import Dataset, DatasetNotFoundError
from core.data.digits import load_digits_dataset
from core.data.files import FileCheck, FileSpec, check_file
from core.data.paths import data_dir_origin

__all__ = ["DATASETS", "DatasetSpec", "Layout", "load_dataset", "verify", "register_user_data", "user_datasets"]


@dataclass(frozen=True)
class Layout:
    """A set of files a dataset loads from; `load(data_dir)` builds the Dataset."""

    label: str
    files: tuple[FileSpec, ...]
    load: Callable[[Path], Dataset]

    def missing(self, data_dir: Path) -> list[str]:
        return [f.path for f in self.files if not f.exists(data_dir)]


@dataclass(frozen=True)
class DatasetSpec:
    """Everything maesi knows about one dataset without loading it."""

    name: str
    kind: Literal["image", "tabular"]
    description: str
    sample_shape: tuple[int, ...]   # (C, H, W) or (F,), as the loader returns it
    layouts: tuple[Layout, ...]
    hint: str = ""                  # extra help for the "not found" message
    needs_data_dir: bool = True
    preset: str = ""                # the core.method.config preset it trains with by default
    protocol: str = ""              # core.evaluation.protocols.PROTOCOLS: leave_one_out | one_class | tabular | coil
    experiment: str = ""            # the reproduction report (the paper's table) it belongs to
    class_names: tuple[str, ...] = ()  # the protocol's classes; () for tabular data (the anomalies are given)
    in_lab: bool = True             # offered in the app's sidebar
    subset_of: str = ""             # a partial copy of another dataset (not in its report by default)
    user_source: object = None      # a user's dataset: its core.data.user_data.UserDataSource

    @property
    def one_split(self) -> bool:
        """The data gives its anomalies: no class to choose (tabular data, a user's own dataset)."""
        return self.protocol in ("tabular", "own")

    def preset_for(self, ds: Dataset) -> str:
        """The preset this dataset trains with by default (a user's dataset: from its loaded shape)."""
        if self.preset:
            return self.preset
        from core.data.user_data import preset_for_shape

        return preset_for_shape(ds.sample_shape)

    @property
    def classes(self) -> list:
        """The protocol's class choices: ints for class-based protocols, names for COIL's configurations, [None]
        for tabular data (one split per seed, no class)."""
        if self.one_split:
            return [None]
        if self.protocol == "coil":
            return list(self.class_names)
        return list(range(len(self.class_names)))

    @property
    def class_role(self) -> str:
        """What the protocol's class is: the anomaly (leave-one-out) or the normal class (one-class)."""
        return {"leave_one_out": "anomaly class", "one_class": "normal class", "coil": "configuration"}.get(
            self.protocol, "")

    @property
    def files(self) -> tuple[FileSpec, ...]:
        """The files `download` fetches (empty if there is nothing to download)."""
        layout = self.download_layout
        return layout.files if layout else ()

    @property
    def download_layout(self) -> Layout | None:
        for layout in self.layouts:
            if layout.files and all(f.url for f in layout.files):
                return layout
        return None

    def find_layout(self, data_dir: str | os.PathLike | None = None) -> Layout | None:
        """The first layout whose files are all in the data dir, or None."""
        root = data_dir_origin(data_dir)[0]
        return next((l for l in self.layouts if not l.missing(root)), None)

    def is_present(self, data_dir: str | os.PathLike | None = None) -> bool:
        return self.find_layout(data_dir) is not None

    def loader(self, data_dir: str | os.PathLike | None = None) -> Dataset:
        """Load from the first complete layout; DatasetNotFoundError if none is."""
        root, origin = data_dir_origin(data_dir)
        layout = self.find_layout(root)
        if layout is None:
            raise DatasetNotFoundError(self.name, root, self.layouts[0].missing(root), origin=origin,
                                       hint=self.hint, downloadable=self.download_layout is not None)
        return layout.load(root)


# --- file specs --------------------------------------------------------------------------

_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"  # PyTorch's mirror of LeCun's files
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"  # Zalando's official host
_KDD_URL = "http://kdd.ics.uci.edu/databases/kddcup99/"
_PYOD_RAW = "https://raw.githubusercontent.com/yzhao062/pyod/"
_CIFAR_BINARY_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
_COIL_URL = "http://www.cs.columbia.edu/CAVE/databases/SLAM_coil-20_coil-100/coil-100/coil-100.zip"

# MNIST and Fashion-MNIST: the mirrors' .gz wrappers differ from our reference copies (gzip
# headers), so what identifies the data is the MD5 of the uncompressed idx file, published
# by the datasets' authors/maintainers and quoted in the README. sha256/size are those of
# the README's reference copies (a fast path for them).
_IDX_NOTE = "content md5: published for the official idx files (README); sha256/size: the README's reference copy"
_MNIST = {  # file name: (size, sha256 of the reference .gz, md5 of the uncompressed idx)
    "train-images-idx3-ubyte.gz": (9719438, "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971",
                                   "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte.gz": (28881, "ec02e7948609e5754d47881c09b8afdd8dfa60600b9e5388c8c54a67069ec772",
                                   "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte.gz": (1648877, "167310007f03058885c7e95e6c0b19c20de5c7fd3031f4cbdadc9014a523d80b",
                                  "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte.gz": (4542, "fc607395669ec21321ea83e4b82c0544b7e8e63ff5b34337c06bc0a17cc0da3c",
                                  "27ae3e4e09519cfbb04c329615203637"),
}
_FASHION = {
    "train-images-idx3-ubyte.gz": (26421856, "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
                                   "f4a8712d7a061bf5bd6d2ca38dc4d50a"),
    "train-labels-idx1-ubyte.gz": (29491, "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
                                   "9018921c3c673c538a1fc5bad174d6f9"),
    "t10k-images-idx3-ubyte.gz": (4422079, "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
                                  "8181f5470baa50b63fa0f6fddb340f0a"),
    "t10k-labels-idx1-ubyte.gz": (5125, "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
                                  "15d484375f8d13e6eb1aabb0c3f46965"),
}


def _idx_files(folder: str, base_url: str, table: dict) -> tuple[FileSpec, ...]:
    return tuple(FileSpec(f"{folder}/{name}", url=base_url + name, size=size, sha256=sha, content_md5=md5,
                          note=_IDX_NOTE) for name, (size, sha, md5) in table.items())


_KDD_FILES = (
    FileSpec(kdd.KDD_DATA, url=_KDD_URL + "kddcup.data_10_percent.gz", size=2144893,
             sha256="7bfaa8cef1350f72842018c32893e2fa4539d57efbb22f998eb74ecefc3da3b4",
             md5="aef2e2f207a408ad7a36323a511f195f",
             # Not published upstream: the sha256 of the uncompressed CSV, computed by us from
             # the README's reference copy. It lets a copy whose gzip wrapper differs (another
             # mirror, re-compressed) still be checked.
             content_sha256="f8c8267ebcd9c0ed1fd7d6277fe5bfff8732e9b7db8e61b873542b2a534b6f9a",
             note="sha256/md5: the README's reference copy; content sha256: computed from that copy"),
    FileSpec(kdd.KDD_NAMES, url=_KDD_URL + "kddcup.names", size=1309,
             sha256="24ad45a4c5de85cd73bcc81cf4965a58bbf3e83b48c6e6d3b0284119e7d42efd",
             note="sha256: the README's reference copy"),
)

_ODDS_NOTE = "sha256: the README's reference copy, a byte-for-byte copy of the pyod file at that commit"
_THYROID = FileSpec("odds/thyroid.mat",
                    url=_PYOD_RAW + "ef6d5e8dc828615f498286c1d6a22cbd02fd4cd2/notebooks/data/thyroid.mat",
                    size=39704, sha256="49155d7861b977e90808faf68343ff67a67f63090c2744d514dbb67ac68e7e33",
                    note=_ODDS_NOTE)
_ARRHYTHMIA = FileSpec("odds/arrhythmia.mat",
                       url=_PYOD_RAW + "34f7996effac700a5166d882d5e94c6e6078fae3/notebooks/data/arrhythmia.mat",
                       size=105540, sha256="e4d47e499591ae31e5d7f0cd983367092353eac240f48e14c9b36457edb3460d",
                       note=_ODDS_NOTE)

# The MD5 printed on https://www.cs.toronto.edu/~kriz/cifar.html for the binary version.
# No size: the page gives only "162 MB", and a wrong size would fail a good file.
_CIFAR_BINARY = FileSpec("cifar10/cifar-10-binary.tar.gz", url=_CIFAR_BINARY_URL,
                         md5="c32a1d4ab5d03f1284b67883e8d87530", note="md5: published on the CIFAR-10 page")
_CIFAR_BATCHES = FileSpec("cifar10/cifar-10-batches-bin/", note="the extracted binary archive; not checksummed")
# The project's own re-packings: no public URL; checksums from the README.
_CIFAR_JPEG = FileSpec("cifar10/cifar10_jpeg_yoongikim.npz", size=55913637,
                       sha256="dd3c2e239e130129ab71367d1d3de8b62ecc4652c9e93f6283b11077e936e27f",
                       note="sha256: the README (project re-packing, no public download)")
_CIFAR_EXACT = FileSpec("cifar10/cifar10_exact_subset.npz", size=14171268,
                        sha256="b8d2fa71518cfd44927ebd3929a5a851729312141f94d4a351fd46a27c1bcdaa",
                        note="sha256: the README (project re-packing, no public download)")

# COIL-100: Columbia publishes no checksum for the archive.
_COIL_DIR = FileSpec(coil.COIL_FOLDER, note="folder of obj{N}__{angle}.png; no published checksum")
_COIL_ZIP = FileSpec(coil.COIL_ZIP, url=_COIL_URL, note="no published checksum")


# --- the registry ------------------------------------------------------------------------

def _spec(name, kind, description, sample_shape, *layouts, **fields) -> DatasetSpec:
    return DatasetSpec(name, kind, description, tuple(sample_shape), tuple(layouts), **fields)


_DIGIT_NAMES = tuple(str(i) for i in range(10))


DATASETS: dict[str, DatasetSpec] = {s.name: s for s in [
    _spec("digits", "image", "scikit-learn 8x8 digits (bundled, no download), stratified 70/30 split, seed 0",
          (1, 8, 8), Layout("bundled with scikit-learn", (), lambda root: load_digits_dataset()),
          needs_data_dir=False, preset="digits", protocol="leave_one_out", experiment="digits",
          class_names=_DIGIT_NAMES),
    _spec("mnist", "image", "MNIST handwritten digits, 60k train / 10k test, 28x28 grey", (1, 28, 28),
          Layout("idx files", _idx_files("mnist", _MNIST_URL, _MNIST),
                 lambda root: idx.load_idx_dataset(root / "mnist", "mnist", "MNIST, 60k train / 10k test.",
                                                   idx.MNIST_CLASSES)),
          preset="mnist", protocol="leave_one_out", experiment="mnist", class_names=tuple(idx.MNIST_CLASSES)),
    _spec("fashion_mnist", "image", "Fashion-MNIST clothing images, 60k train / 10k test, 28x28 grey", (1, 28, 28),
          Layout("idx files", _idx_files("fashion_mnist", _FASHION_URL, _FASHION),
                 lambda root: idx.load_idx_dataset(root / "fashion_mnist", "fashion_mnist",
                                                   "Fashion-MNIST, 60k train / 10k test.", idx.FASHION_CLASSES)),
          preset="fashion_mnist", protocol="one_class", experiment="fashion_mnist",
          class_names=tuple(idx.FASHION_CLASSES)),
    _spec("cifar10", "image", "CIFAR-10, 50k train / 10k test, 32x32 RGB (exact from the official archive, "
          "else the lossy JPEG copy whose test set is class-grouped)", (3, 32, 32),
          Layout("official binary archive", (_CIFAR_BINARY,), lambda root: cifar.load_binary(root / _CIFAR_BINARY.path)),
          Layout("extracted binary archive", (_CIFAR_BATCHES,), lambda root: cifar.load_binary(root / _CIFAR_BATCHES.path)),
          Layout("lossy JPEG copy", (_CIFAR_JPEG,), lambda root: cifar.load_jpeg_npz(root / _CIFAR_JPEG.path)),
          hint=(f"cifar10 also loads from {_CIFAR_BATCHES.path} (the extracted archive) or from "
                f"{_CIFAR_JPEG.path} (the project's JPEG copy)."),
          preset="cifar10", protocol="leave_one_out", experiment="cifar10", class_names=tuple(cifar.CIFAR10_CLASSES)),
    _spec("cifar10_exact", "image", "CIFAR-10 exact pixels, train images 0-3999 / test 0-999 only (tests, "
          "JPEG-loss checks)", (3, 32, 32),
          Layout("project subset", (_CIFAR_EXACT,), lambda root: cifar.load_exact_subset(root / _CIFAR_EXACT.path)),
          hint="This subset is a project re-packing (see shared/data/README.md); use cifar10 for the full data.",
          preset="cifar10", protocol="leave_one_out", experiment="cifar10", class_names=tuple(cifar.CIFAR10_CLASSES),
          in_lab=False, subset_of="cifar10"),
    _spec("coil100", "image", "COIL-100, 100 objects x 72 views, 128x128 RGB; all images in the train split",
          (3, 128, 128),
          Layout("image folder", (_COIL_DIR,), lambda root: coil.load_coil100(root / _COIL_DIR.path)),
          Layout("official zip", (_COIL_ZIP,), lambda root: coil.load_coil100(root / _COIL_ZIP.path)),
          hint=("Put the folder of the official COIL-100 archive (from https://www.cs.columbia.edu/CAVE/"
                "software/softlib/coil-100.php) at coil-100/ in the data dir, so that "
                "coil-100/obj1__0.png ... coil-100/obj100__355.png exist, or put the archive itself there "
                "as coil-100.zip."),
          preset="cifar10", protocol="coil", experiment="coil100", class_names=("config1", "config2", "config3"),
          in_lab=False),
    _spec("kdd99", "tabular", "KDD Cup 99 10%, 494,021 connections; 'normal.' = anomaly (DAGMM/ALAD protocol)",
          (kdd.KDD99_WIDTH,), Layout("CSV + names", _KDD_FILES, lambda root: kdd.load_kdd99(root)),
          preset="kdd99", protocol="tabular", experiment="tabular"),
    _spec("arrhythmia", "tabular", "ODDS Arrhythmia, 452 patients x 274 features, 66 anomalies", (274,),
          Layout("ODDS .mat", (_ARRHYTHMIA,), lambda root: odds.load_odds(
              root / _ARRHYTHMIA.path, "arrhythmia", "ODDS Arrhythmia (UCI); arrhythmia classes are anomalies.")),
          preset="arrhythmia", protocol="tabular", experiment="tabular"),
    _spec("thyroid", "tabular", "ODDS Thyroid, 3,772 patients x 6 features, 93 anomalies", (6,),
          Layout("ODDS .mat", (_THYROID,), lambda root: odds.load_odds(
              root / _THYROID.path, "thyroid", "ODDS Thyroid (UCI ann-thyroid); hyperfunction is the anomaly.")),
          preset="thyroid", protocol="tabular", experiment="tabular"),
]}


# --- users' own datasets (core.data.user_data): registered at run time, or found in the user-data folders -------

_USER_DATASETS: dict[str, DatasetSpec] = {}


def register_user_data(source) -> DatasetSpec:
    """Declare a user's dataset (a `core.data.user_data.UserDataSource`) under its name, `user.<stem>`; the
    CLI's --folder/--table, the lab's uploads and the sidecars of checkpoints trained on one come through here."""
    from core.data.user_data import load_user_data

    spec = DatasetSpec(source.name, "image" if source.kind == "folder" else "tabular",
                       f"your data: {Path(source.path).name}", (),
                       (Layout("your data", (), lambda root: load_user_data(source)[0]),),
                       needs_data_dir=False, protocol="own", class_names=("all",), user_source=source)
    _USER_DATASETS[source.name] = spec
    return spec


def user_datasets(data_dir: str | os.PathLike | None = None) -> list[str]:
    """The user datasets known in this process: registered ones, and those in the user-data folders
    (`core.data.user_data.discover`: $MAESI_DATA/user/ and the upload store)."""
    from core.data.user_data import discover

    for source in discover(data_dir):
        if source.name not in _USER_DATASETS or _USER_DATASETS[source.name].user_source != source:
            register_user_data(source)
    return sorted(_USER_DATASETS)


def lab_datasets(data_dir: str | os.PathLike | None = None) -> list[str]:
    """The datasets the app offers: the registry's, in its order, then the user datasets."""
    return [name for name, spec in DATASETS.items() if spec.in_lab] + user_datasets(data_dir)


def get_spec(name: str) -> DatasetSpec:
    """The spec of `name`, or a ValueError listing the known names."""
    if name in DATASETS:
        return DATASETS[name]
    from core.data.user_data import is_user_dataset

    if is_user_dataset(name) and (name in _USER_DATASETS or name in user_datasets()):
        return _USER_DATASETS[name]
    raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(DATASETS)}"
                     + (" (a user dataset is registered with --folder or --table)" if is_user_dataset(name) else ""))


def load_dataset(name: str, data_dir: str | os.PathLike | None = None) -> Dataset:
    """Load dataset `name` (a key of DATASETS) from the data dir (see `resolve_data_dir`).

    Raises DatasetNotFoundError if its files are not there, DataFileError if a file is
    corrupt or truncated. ``digits`` needs no data dir.
    """
    return get_spec(name).loader(data_dir)


def verify(name: str, data_dir: str | os.PathLike | None = None) -> list[FileCheck]:
    """Check the files `name` would load from against the known checksums (see files.py).

    Checks the first complete layout; if none is complete, reports the preferred layout's
    files (the missing ones as "missing"). Returns one FileCheck per file; any with
    ``failed`` True means the dataset should not be trusted.
    """
    spec = get_spec(name)
    root = data_dir_origin(data_dir)[0]
    layout = spec.find_layout(root) or spec.layouts[0]
    return [check_file(f, root / f.path) for f in layout.files]
