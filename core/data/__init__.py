"""maesi's dataset layer: load the paper's datasets as raw arrays, from a data dir.

    from core.data import load_dataset, DATASETS
    ds = load_dataset("mnist")             # data dir: --data-dir > $MAESI_DATA > per-user folder
    ds.X_train.shape                       # (60000, 1, 28, 28) uint8, raw 0..255
    load_dataset("kdd99").X.shape          # (494021, 118) float32, raw (unscaled)

Image datasets: digits (bundled, no files needed), mnist, fashion_mnist, cifar10,
cifar10_exact, coil100. Tabular: kdd99, arrhythmia, thyroid. See `registry.py` for every
dataset's files and sources, `python -m core data list` for what is present, and
`python -m core data download NAME` to fetch one.

Values are returned RAW: images in their stored range (`ds.input_range`), tables unscaled.
Scaling is the model's/protocol's job, fitted on training data only.
"""

from core.data.dataset import DataFileError, Dataset, DatasetNotFoundError, DownloadError
from core.data.download import download
from core.data.files import FileCheck, FileSpec
from core.data.paths import cache_dir, resolve_data_dir
from core.data.registry import DATASETS, DatasetSpec, load_dataset, verify

__all__ = [
    "load_dataset", "DATASETS", "Dataset", "DatasetSpec", "resolve_data_dir", "cache_dir",
    "DatasetNotFoundError", "DataFileError", "DownloadError", "download", "verify", "FileCheck", "FileSpec",
]
