"""Data files: where each one comes from and how to check it is the right file.

Checksum policy (never make one up):

* ``sha256`` / ``md5`` / ``size`` describe one known-good byte string of the file: either
  the canonical download (when the source publishes it, e.g. CIFAR-10's MD5) or the
  project's reference copy described in ``shared/data/README.md``.
* ``content_md5`` / ``content_sha256`` describe the *uncompressed* content of a .gz file.
  They exist because the same data ships in different gzip wrappers (gzip headers carry a
  file name and a date): MNIST and Fashion-MNIST publish the MD5 of the raw idx files, so a
  .gz from any mirror can be checked against those.
* A file passes if ANY digest it has matches. With no digest at all, a file is checked by
  size only ("no published checksum; size only"), or not at all.

Hashing tens of MB costs a noticeable fraction of a second, so loading never verifies; only
`download` and `verify` (``python -m core data verify NAME``) do.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = ["FileSpec", "FileCheck", "check_file", "not_regular", "open_regular", "NotRegularFile"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileSpec:
    """One file (or folder, when `path` ends with "/") of a dataset, relative to the data dir."""

    path: str
    url: str | None = None          # canonical public source; None: there is none
    size: int | None = None         # bytes of the copy that sha256/md5 describe
    sha256: str | None = None
    md5: str | None = None
    content_md5: str | None = None  # of the gunzipped content
    content_sha256: str | None = None
    note: str = ""                  # where the checksums come from

    @property
    def is_dir(self) -> bool:
        return self.path.endswith("/")

    @property
    def has_checksum(self) -> bool:
        return any((self.sha256, self.md5, self.content_md5, self.content_sha256))

    def exists(self, data_dir: Path) -> bool:
        p = data_dir / self.path
        return p.is_dir() if self.is_dir else p.is_file()

    def describe_check(self) -> str:
        """How this file is verified, in words (for the CLI)."""
        ways = []
        if self.sha256:
            ways.append("sha256")
        if self.md5:
            ways.append("md5")
        if self.content_md5 or self.content_sha256:
            ways.append("md5/sha256 of the uncompressed content")
        if ways:
            return " or ".join(ways)
        return "no published checksum; size only" if self.size else "no published checksum; not verified"


Status = Literal["ok", "size-only", "unchecked", "mismatch", "missing"]


@dataclass(frozen=True)
class FileCheck:
    """Result of checking one file. `failed` is True for "mismatch" and "missing"."""

    path: Path
    status: Status
    detail: str

    @property
    def failed(self) -> bool:
        return self.status in ("mismatch", "missing")


def _digests(path: Path, *, gunzip: bool = False) -> tuple[str, str]:
    md5, sha = hashlib.md5(), hashlib.sha256()
    opener = gzip.open if gunzip else open
    with opener(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            md5.update(chunk)
            sha.update(chunk)
    return md5.hexdigest(), sha.hexdigest()


def check_file(spec: FileSpec, path: Path) -> FileCheck:
    """Check `path` against what `spec` knows about the file (see the module docstring)."""
    if spec.is_dir:
        if not path.is_dir():
            return FileCheck(path, "missing", "folder not found")
        return FileCheck(path, "unchecked", "folder; no published checksum for its files")
    if not path.is_file():
        return FileCheck(path, "missing", "file not found")
    size = path.stat().st_size
    problems = []
    if spec.sha256 or spec.md5:
        if spec.size is not None and size != spec.size:
            problems.append(f"size {size:,} bytes, expected {spec.size:,}")
        else:
            md5, sha = _digests(path)
            if spec.sha256 and sha == spec.sha256:
                return FileCheck(path, "ok", "sha256 matches")
            if spec.md5 and md5 == spec.md5:
                return FileCheck(path, "ok", "md5 matches (published)")
            problems.append(f"sha256 {sha}, expected {spec.sha256 or '-'} / md5 {md5}, expected {spec.md5 or '-'}")
    if spec.content_md5 or spec.content_sha256:
        try:
            md5, sha = _digests(path, gunzip=True)
        except (OSError, EOFError, zlib.error) as e:
            problems.append(f"cannot decompress: {e}")
        else:
            if spec.content_md5 and md5 == spec.content_md5:
                return FileCheck(path, "ok", "md5 of the uncompressed content matches (published)")
            if spec.content_sha256 and sha == spec.content_sha256:
                return FileCheck(path, "ok", "sha256 of the uncompressed content matches")
            problems.append(f"uncompressed content md5 {md5}, expected {spec.content_md5 or '-'}")
    if problems:
        return FileCheck(path, "mismatch", "; ".join(problems))
    if spec.size is not None:
        if size == spec.size:
            return FileCheck(path, "size-only", f"no published checksum; size only: {size:,} bytes as expected")
        return FileCheck(path, "mismatch", f"no published checksum; size {size:,} bytes, expected {spec.size:,}")
    return FileCheck(path, "unchecked", f"no published checksum; not verified ({size:,} bytes)")


# ---------------------------------------------------------------- users' files: regular files only

class NotRegularFile(OSError):
    """A user's path that is not a regular file (FIFO, device, socket, folder, broken link); str() is the reason."""


def not_regular(path) -> str | None:
    """Why `path` must not be opened as a user's file (a FIFO, device, socket, broken link), or None when it is
    a regular file. Checked with os.stat before any open: opening a FIFO blocks until a writer comes, and a device
    such as /dev/zero reports size 0 while yielding bytes forever, so neither is caught by a size cap."""
    import os
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a broken link" if os.path.islink(path) else "no such file or folder"
    except OSError as e:
        return f"cannot read the file ({e.strerror or type(e).__name__})"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    return f"{kind}, not a regular file; not read"


def open_regular(path):
    """`path` opened for binary reading, refused (OSError with the reason) unless it is a regular file. The check
    is repeated on the opened descriptor, opened non-blocking, so a file swapped for a FIFO in between cannot
    hang the reader either."""
    import os
    import stat

    reason = not_regular(path)
    if reason is None and Path(path).is_dir():
        reason = "a folder, not a file"
    if reason is not None:
        raise NotRegularFile(reason)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile("not a regular file; not read")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
