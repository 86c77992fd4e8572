"""Download a dataset's canonical files into the data dir (for users with internet access).

Each file is streamed to ``<file>.part``, checked (see files.py for which checksums exist),
then moved into place with os.replace, so the data dir never holds a half-written file under
its real name. An interrupted download keeps its .part; the next run resumes it with an HTTP
Range request, or starts over if the server ignores Range. A file that fails its checksum is
deleted and reported; nothing is left in place. Only the standard library's urllib is used.

``base_url`` replaces the canonical hosts with a mirror that has the data-dir layout: the
URL of a file is then ``base_url + "/" + <its path in the data dir>`` (e.g.
``http://mirror/mnist/train-images-idx3-ubyte.gz``). Tests use it with a local server.
"""

from __future__ import annotations

import http.client
import os
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

from core.data.dataset import DownloadError
from core.data.files import FileCheck, FileSpec, check_file
from core.data.paths import data_dir_origin
from core.data.registry import get_spec

__all__ = ["download"]

_CHUNK = 1 << 16
_TIMEOUT_S = 30
_USER_AGENT = "maesi-data-download/1 (python urllib)"


def _say(progress: bool, msg: str) -> None:
    if progress:
        print(msg, file=sys.stderr, flush=True)


def _open(url: str, offset: int):
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=_TIMEOUT_S)


def _fetch(url: str, part: Path, root: Path, rel: str, progress: bool, _retry: bool = True) -> None:
    """Stream `url` into `part`, appending to an existing partial file when the server allows."""
    from tqdm import tqdm

    offset = part.stat().st_size if part.is_file() else 0
    manual = (f"If this machine has no internet access, copy the file by hand to {root / rel} "
              f"(any copy of the data; `python -m core data verify` checks it), or use a mirror with --base-url.")
    try:
        resp = _open(url, offset)
    except urllib.error.HTTPError as e:
        if e.code == 416 and offset:  # nothing left to send: the .part is complete (verification decides)
            return
        raise DownloadError(f"Download of {url} failed: HTTP {e.code} {e.reason}. {manual}") from e
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        reason = getattr(e, "reason", e)
        raise DownloadError(f"Cannot reach {url} ({reason}). {manual}") from e
    with resp:
        mode = "wb"
        if offset and resp.status == 206:
            m = re.match(r"bytes (\d+)-", resp.headers.get("Content-Range", ""))
            if not m or int(m.group(1)) != offset:
                if not _retry:
                    raise DownloadError(f"Download of {url} failed: the server sent an unexpected range "
                                        f"({resp.headers.get('Content-Range')!r}). {manual}")
                resp.close()
                part.unlink()
                return _fetch(url, part, root, rel, progress, _retry=False)
            mode = "ab"
            _say(progress, f"  resuming at {offset:,} bytes")
        elif offset:
            _say(progress, "  the server does not support resuming; starting over")
            offset = 0
        length = resp.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        written = offset
        try:
            with open(part, mode) as out, tqdm(total=total, initial=offset, unit="B", unit_scale=True,
                                               unit_divisor=1024, desc=Path(rel).name, disable=not progress,
                                               file=sys.stderr, leave=False) as bar:
                while chunk := resp.read(_CHUNK):
                    out.write(chunk)
                    written += len(chunk)
                    bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as e:
            raise DownloadError(f"Download of {url} was interrupted after {written:,} bytes ({e}); the partial "
                                f"file is kept at {part}: run the same command again to resume. {manual}") from e
    if total is not None and written != total:
        raise DownloadError(f"Download of {url} ended after {written:,} of {total:,} bytes; the partial file is "
                            f"kept at {part}: run the same command again to resume.")


def _download_file(spec: FileSpec, url: str, root: Path, progress: bool) -> FileCheck:
    dest = root / spec.path
    if dest.is_file():
        check = check_file(spec, dest)
        if check.failed:
            raise DownloadError(f"{dest} already exists but fails verification ({check.detail}). It was left "
                                f"untouched: delete it and run the download again.")
        _say(progress, f"{spec.path}: already present ({check.detail})")
        return check
    part = dest.with_name(dest.name + ".part")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"Cannot create {dest.parent} ({e}); choose a writable data dir with --data-dir "
                            f"or MAESI_DATA.") from e
    _say(progress, f"{spec.path}: downloading {url}")
    _fetch(url, part, root, spec.path, progress)
    check = check_file(spec, part)
    if check.failed:
        part.unlink(missing_ok=True)
        raise DownloadError(f"Checksum mismatch for {url}: {check.detail}. The downloaded file was deleted. "
                            f"The server may have sent a different or damaged file; try again, or copy a good "
                            f"copy by hand to {dest}.")
    os.replace(part, dest)
    _say(progress, f"{spec.path}: {check.detail}")
    return FileCheck(dest, check.status, check.detail)


def download(name: str, data_dir: str | os.PathLike | None = None, progress: bool = True,
             base_url: str | None = None) -> list[FileCheck]:
    """Download dataset `name` into the data dir; return one FileCheck per file (with its path).

    Files already present and passing their check are kept. `progress` shows a progress bar
    and status lines on stderr. `base_url` fetches from a mirror with the data-dir layout
    instead of the canonical hosts. Raises DownloadError (an OSError) with a message that says
    what to do when the host is unreachable, a checksum fails, or there is no public source.
    """
    spec = get_spec(name)
    if not spec.needs_data_dir:
        _say(progress, f"{name}: bundled with scikit-learn; nothing to download")
        return []
    layout = spec.download_layout
    if layout is None:
        raise DownloadError(f"{name!r} has no public download. {spec.hint}".strip())
    root = data_dir_origin(data_dir)[0]
    results = []
    for f in layout.files:
        url = f"{base_url.rstrip('/')}/{f.path}" if base_url else f.url
        results.append(_download_file(f, url, root, progress))
    return results
