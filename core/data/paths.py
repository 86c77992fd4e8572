"""Where data lives (the data dir) and where decoded copies are kept (the cache dir).

Data dir: the explicit argument (the CLI's ``--data-dir``) wins, then the environment
variable ``MAESI_DATA``, then a per-user folder (``$XDG_DATA_HOME/maesi/data``, default
``~/.local/share/maesi/data``). Its layout is that of the project's ``shared/data``:
``mnist/train-images-idx3-ubyte.gz``, ``odds/thyroid.mat``, ... The data dir may be
read-only; nothing but `download` ever writes into it.

Cache dir: ``MAESI_CACHE``, else ``$XDG_CACHE_HOME/maesi``, default ``~/.cache/maesi``.
It holds decoded arrays of slow-to-parse sources (the 60k CIFAR JPEGs, the 494k-line KDD
CSV) so the second load takes a fraction of a second. Entries are keyed by the source files'
name, size and mtime plus a format version, written atomically (temp file + os.replace) so
a crash or two concurrent processes never leave a half-written entry, and are always safe
to delete.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

__all__ = ["resolve_data_dir", "data_dir_origin", "cache_dir", "cached_arrays", "user_data_store"]


def _user_dir(xdg_var: str, default: str, *parts: str) -> Path:
    base = os.environ.get(xdg_var, "")
    # The XDG spec says relative values are invalid and must be ignored.
    root = Path(base) if base and os.path.isabs(base) else Path.home() / default
    return root.joinpath(*parts)


def data_dir_origin(data_dir: str | os.PathLike | None = None) -> tuple[Path, str]:
    """`resolve_data_dir` plus a few words on why that folder (for error messages)."""
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser().absolute(), "from --data-dir"
    env = os.environ.get("MAESI_DATA", "")
    if env:
        return Path(env).expanduser().absolute(), "from $MAESI_DATA"
    return _user_dir("XDG_DATA_HOME", ".local/share", "maesi", "data"), "the per-user default"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data directory: `data_dir` if given, else $MAESI_DATA, else the per-user folder.

    The folder need not exist (loading then reports which files are missing; downloading
    creates it).
    """
    return data_dir_origin(data_dir)[0]


def user_data_store() -> Path:
    """Where the lab keeps the datasets users upload: $MAESI_USER_DATA, else $XDG_DATA_HOME/maesi/user-data
    (the data dir itself may be read-only)."""
    env = os.environ.get("MAESI_USER_DATA", "")
    return Path(env).expanduser().absolute() if env else _user_dir("XDG_DATA_HOME", ".local/share", "maesi",
                                                                   "user-data")


def cache_dir() -> Path:
    """The cache folder: $MAESI_CACHE, else $XDG_CACHE_HOME/maesi, else ~/.cache/maesi."""
    env = os.environ.get("MAESI_CACHE", "")
    if env:
        return Path(env).expanduser().absolute()
    return _user_dir("XDG_CACHE_HOME", ".cache", "maesi")


def _cache_key(tag: str, sources: Sequence[Path], version: int) -> str:
    """Name, size and mtime of every source file (cheap, unlike hashing 56 MB each load)."""
    h = hashlib.sha256(f"{tag}|v{version}".encode())
    for p in sources:
        st = Path(p).stat()
        h.update(f"|{Path(p).name}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]


def cached_arrays(tag: str, sources: Sequence[Path], build: Callable[[], Mapping[str, np.ndarray]],
                  *, version: int = 1) -> dict[str, np.ndarray]:
    """Return ``build()``'s arrays, from the cache when an entry for these sources exists.

    `tag` names the entry family (e.g. ``"cifar10-jpeg"``); bump `version` when the
    decoding changes so old entries are not reused. Arrays must be plain (numbers or
    fixed-width unicode): entries are read with ``allow_pickle=False``. If the cache folder
    cannot be written (read-only home, full disk) this warns and returns the built arrays
    uncached rather than failing the load.
    """
    folder = cache_dir()
    path = folder / f"{tag}-{_cache_key(tag, sources, version)}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except Exception:  # a damaged entry is just rebuilt
            pass
    arrays = {k: np.asarray(v) for k, v in build().items()}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)  # uncompressed: loading is then just a read
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        # Drop superseded entries of the same family (sources changed or version bumped).
        for old in folder.glob(f"{tag}-*.npz"):
            if old != path and re.fullmatch(re.escape(tag) + r"-[0-9a-f]{20}\.npz", old.name):
                old.unlink(missing_ok=True)
    except OSError as e:
        warnings.warn(f"maesi: could not write cache {path} ({e}); set MAESI_CACHE to a writable "
                      f"folder to make the next load fast", RuntimeWarning, stacklevel=2)
    return arrays
