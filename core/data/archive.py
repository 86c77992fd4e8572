"""Zip archives of user files, read as streams under caps: ``read_zip_members``.

A zip's headers say how large each member is, but a 1 MB archive can hold a 1 GiB member of zeros (a "zip
bomb"), and headers can lie. So, before any member's bytes are held:

* the central directory (which `zipfile` parses whole on opening) is sized from the end record first;
* the entry count, each member's declared size and the declared total are checked against the caps;

and while streaming, the bytes actually produced are counted against the same caps (a lying header stops at
the cap, not at the end of memory). One member too large or corrupt is skipped with its reason; an archive
that is corrupt, or over the count or total caps, is refused as a whole. Nothing is ever written to disk, and
member names are only labels (names that climb out of the archive, like ``../x.png``, are skipped anyway;
a name held twice is told apart as ``name#2``; links, FIFOs and devices, by their Unix mode, are skipped).

Caps (``ZipLimits``; the defaults are for scoring images, which are small):

* members: 10,000 entries, as many images as one scoring batch takes;
* member_bytes: 32 MiB uncompressed per member, far above any PNG/JPEG of a 4096x4096 image a model here takes;
* total_bytes: 256 MiB uncompressed in all, so a batch costs at most that much memory before decoding;
* central directory: 4 MiB, what 10,000 entries with 300-character names need.
"""
from __future__ import annotations

import io
import os
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Iterable, Union

from core.data.files import open_regular
from core.data.messages import distinct, plain

__all__ = ["ArchiveError", "OTHER_TYPE", "ZipLimits", "is_zip", "read_zip_members"]

_CHUNK = 1 << 20
OTHER_TYPE = "not a file type read here"  # the reason of a member skipped for its suffix
_END_RECORD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_END_RECORD = b"PK\x06\x06"


class ArchiveError(ValueError):
    """The archive as a whole cannot be read (corrupt, or over a cap); the one-line message says why."""


@dataclass(frozen=True)
class ZipLimits:
    members: int = 10_000
    member_bytes: int = 32 << 20
    total_bytes: int = 256 << 20
    central_directory_bytes: int = 4 << 20


def is_zip(head: bytes) -> bool:
    """Whether a file starting with `head` is a zip archive (a local header, or the end record of an empty one)."""
    return head[:4] in (b"PK\x03\x04", _END_RECORD)


def _mib(n: int) -> str:
    return f"{n / (1 << 20):,.0f} MiB" if n >= 1 << 20 else f"{n:,} bytes"


def _directory_extent(f: BinaryIO) -> tuple[int, int]:
    """(entries, central directory bytes) from the end record(s), read without parsing the directory."""
    size = f.seek(0, os.SEEK_END)
    tail_start = max(0, size - (22 + 0xFFFF))
    f.seek(tail_start)
    tail = f.read()
    at = tail.rfind(_END_RECORD)
    if at < 0 or len(tail) - at < 22:
        raise ArchiveError("not a readable zip archive (corrupt or truncated: no end record)")
    entries, directory_bytes = struct.unpack("<HL", tail[at + 10: at + 16])
    locator = at - 20
    if (entries == 0xFFFF or directory_bytes == 0xFFFFFFFF) and locator >= 0 and \
            tail[locator: locator + 4] == _ZIP64_LOCATOR:
        (record_at,) = struct.unpack("<Q", tail[locator + 8: locator + 16])
        f.seek(record_at)
        record = f.read(56)
        if len(record) < 56 or record[:4] != _ZIP64_END_RECORD:
            raise ArchiveError("not a readable zip archive (corrupt or truncated: a broken zip64 end record)")
        entries, directory_bytes = struct.unpack("<QQ", record[32:48])
    return entries, directory_bytes


def _unsafe(member: str) -> bool:
    parts = PurePosixPath(member.replace("\\", "/")).parts
    return member.startswith(("/", "\\")) or ".." in parts or (len(member) > 1 and member[1] == ":")


def _read_capped(stream: BinaryIO, cap: int) -> bytes | None:
    """The stream's bytes, or None as soon as more than `cap` come out (counted, whatever the header said)."""
    out = io.BytesIO()
    while chunk := stream.read(min(_CHUNK, cap + 1 - out.tell())):
        out.write(chunk)
        if out.tell() > cap:
            return None
    return out.getvalue()


Source = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO]


def _open(source: Source) -> BinaryIO:
    if isinstance(source, (str, os.PathLike)):
        return open_regular(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(source)
    return source


def read_zip_members(source: Source, name: str, suffixes: Iterable[str] | None = None,
                     limits: ZipLimits = ZipLimits()) -> tuple[list[tuple[str, bytes]], list[tuple[str, str]]]:
    """(members, skipped) of a zip: `members` are ("name/member", bytes) of the files whose suffix is in
    `suffixes` (all files when None), in name order; `skipped` are (label, reason) for members of another
    type, too large, corrupt, encrypted or with unsafe names (folders, hidden files and __MACOSX go unsaid).
    ArchiveError (naming `name`) for a corrupt archive or one over the entry-count or total-size caps.
    `source`: a path, bytes or a seekable binary file."""
    suffixes = None if suffixes is None else {s.lower() for s in suffixes}
    f = _open(source)
    try:
        return _read(f, name, suffixes, limits)
    except ArchiveError as e:
        raise ArchiveError(f"{name}: {e}") from None
    finally:
        if f is not source:
            f.close()


def _read(f: BinaryIO, name: str, suffixes, limits: ZipLimits):
    try:
        entries, directory_bytes = _directory_extent(f)
    except (OSError, struct.error) as e:
        raise ArchiveError(f"not a readable zip archive ({plain(e)})") from None
    if entries > limits.members:
        raise ArchiveError(f"holds {entries:,} entries; the cap is {limits.members:,}")
    if directory_bytes > limits.central_directory_bytes:
        raise ArchiveError(f"its directory is {_mib(directory_bytes)}; the cap is {_mib(limits.central_directory_bytes)}")
    f.seek(0)
    try:
        zf = zipfile.ZipFile(f)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError,
            struct.error, UnicodeDecodeError) as e:
        raise ArchiveError(f"not a readable zip archive (corrupt or truncated: {plain(e)})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.members:  # the end record can understate the count
            raise ArchiveError(f"holds {len(infos):,} entries; the cap is {limits.members:,}")
        wanted, skipped = _select(infos, name, suffixes, limits)
        declared = sum(i.file_size for i in wanted)
        if declared > limits.total_bytes:
            raise ArchiveError(f"its files would take {_mib(declared)} uncompressed; the cap is "
                               f"{_mib(limits.total_bytes)}")
        members, total = [], 0
        labels = distinct([f"{name}/{info.filename}" for info in wanted])  # a zip may hold one name twice
        for info, label in zip(wanted, labels):
            cap = min(limits.member_bytes, limits.total_bytes - total)
            try:
                with zf.open(info) as stream:
                    data = _read_capped(stream, cap)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError,
                    NotImplementedError, struct.error) as e:
                skipped.append((label, f"corrupt, encrypted or unsupported member ({plain(e)}); skipped"))
                continue
            if data is None:
                if cap < limits.member_bytes:
                    raise ArchiveError(f"its files take more than {_mib(limits.total_bytes)} uncompressed (the "
                                       "headers said less); the cap is that")
                skipped.append((label, f"more than {_mib(limits.member_bytes)} uncompressed (the header said "
                                       f"{_mib(info.file_size)}); skipped"))
                continue
            total += len(data)
            members.append((label, data))
    return members, skipped


def _special(info: zipfile.ZipInfo) -> str:
    """What a member is when its Unix mode says it is not a regular file ("" otherwise): a link's bytes are the
    path it points to, never an image, and a FIFO or device entry has no content of its own."""
    mode = info.external_attr >> 16
    if info.create_system != 3 or stat.S_IFMT(mode) in (0, stat.S_IFREG):
        return ""
    return ("a symbolic link" if stat.S_ISLNK(mode) else "a FIFO" if stat.S_ISFIFO(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a special entry")


def _select(infos, name: str, suffixes, limits: ZipLimits):
    """The members worth reading, in name order, and (label, reason) for those refused on their headers."""
    wanted, skipped = [], []
    for info in sorted(infos, key=lambda i: i.filename):
        member = info.filename
        base = PurePosixPath(member.replace("\\", "/")).name
        if info.is_dir() or "__MACOSX" in member or base.startswith("."):
            continue
        label = f"{name}/{member}"
        suffix = Path(base).suffix.lower()
        if suffixes is not None and suffix not in suffixes:  # said, not dropped: a user wonders where it went
            skipped.append((label, f"{OTHER_TYPE} ({suffix or 'no suffix'}; reads {', '.join(sorted(suffixes))}); "
                                   "skipped"))
            continue
        kind = _special(info)
        if _unsafe(member):
            skipped.append((label, "an unsafe path in the archive (absolute or with '..'); skipped"))
        elif kind:
            skipped.append((label, f"{kind} in the archive, not a regular file; skipped"))
        elif info.flag_bits & 0x1:
            skipped.append((label, "encrypted; skipped"))
        elif info.file_size > limits.member_bytes:
            skipped.append((label, f"{_mib(info.file_size)} uncompressed; the cap per file is "
                                   f"{_mib(limits.member_bytes)}; skipped"))
        else:
            wanted.append(info)
    return wanted, skipped
