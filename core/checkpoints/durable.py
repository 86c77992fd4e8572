"""Writing files so that a crash (SIGKILL, power loss, a full disk) never leaves a checkpoint that does not load.

A checkpoint is two files, and no file system replaces two files at once. So the sidecar is the one commit
point: replacing a checkpoint writes the new weights under a hidden generation name of their own
(``.STEM.gTOKEN.safetensors``, fsynced), then atomically replaces the sidecar with one that names (and hashes)
that generation, then moves the generation over ``STEM.safetensors`` and rewrites the sidecar to name it again.
At every instant the sidecar describes weights that exist: the old pair until the new sidecar is in place, the
new one after (a sidecar naming a generation that has just been moved is read from ``STEM.safetensors``, see
`weights_candidates`). When it is done the pair is in the plain layout every earlier checkpoint has.

Leftovers of a write that was killed (an orphan generation, a temporary file) are hidden files; the next write
of that run and the next listing of the folder remove them (`clean_folder`). Writers, renames, deletes and the
cleaning hold an exclusive `folder_lock`, so the cleaning never removes what another process is writing.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

from core.checkpoints.sidecar import GENERATION_PATTERN, STEM_PATTERN, weights_stem

# What `synced_temp` names its files: ".NAME.XXXXXXXX.tmp" (tempfile's 8 random characters).
TEMP_PATTERN = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$")
# Without a folder lock (no fcntl, e.g. Windows) a leftover is only removed once no write can still own it.
UNLOCKED_LEFTOVER_AGE_S = 3600


def synced_temp(path: Path, data: bytes) -> str:
    """`data` in a new temporary file beside `path`, flushed to disk; returns its name."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def fsync_folder(folder: Path) -> None:
    """Make the folder's renames durable (a power loss could otherwise undo them); a no-op where folders cannot
    be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = synced_temp(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def folder_lock(folder: Path, blocking: bool = True) -> Iterator[Optional[bool]]:
    """An exclusive lock on the folder itself (flock on its descriptor: released when the process dies, so a
    killed writer never leaves it held). Yields True when held, False when `blocking` is off and another
    process holds it, None where the platform has no flock."""
    try:
        import fcntl
    except ImportError:
        yield None
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # no such folder (nothing to protect) or one that cannot be opened
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the lock


def new_generation(weights_path: Path) -> Path:
    return weights_path.with_name(f".{weights_path.name[: -len('.safetensors')]}.g{secrets.token_hex(6)}.safetensors")


def write_synced(path: Path, data: bytes) -> None:
    """Create `path` (a fresh, unique name) with `data` on disk before returning."""
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def replace_pair(weights_path: Path, meta_path: Path, blob: bytes, sidecar_naming: Callable[[str], bytes]) -> None:
    """Write the checkpoint (`blob`, and the sidecar `sidecar_naming(weights file name)` returns) over whatever
    pair is there, crash-safely (see the module's docstring). Holds the folder's lock."""
    folder = weights_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    with folder_lock(folder) as locked:
        clean_stem(folder, weights_path.name[: -len(".safetensors")], locked)
        generation = new_generation(weights_path)
        try:
            write_synced(generation, blob)
            fsync_folder(folder)
            atomic_write_bytes(meta_path, sidecar_naming(generation.name))  # the commit: the new model is in place
        except BaseException:
            generation.unlink(missing_ok=True)
            raise
        fsync_folder(folder)
        os.replace(generation, weights_path)
        atomic_write_bytes(meta_path, sidecar_naming(weights_path.name))
        fsync_folder(folder)


def weights_candidates(weights_path: Path, named: object) -> list[Path]:
    """The files that may hold the weights a sidecar names (`named`: its weights_file): the generation it names
    when that is one of this run's, then the plain STEM.safetensors (where a finished write moves it)."""
    stem = weights_path.name[: -len(".safetensors")]
    if isinstance(named, str) and GENERATION_PATTERN.match(named) and weights_stem(named) == stem:
        return [weights_path.with_name(named), weights_path]
    return [weights_path]


def _named_weights(meta_path: Path) -> Optional[str]:
    try:
        named = json.loads(meta_path.read_bytes()).get("weights_file")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    return named if isinstance(named, str) else None


def writes_pending(folder: Path, stem: str) -> bool:
    """Whether run `stem`'s sidecar names a generation that is still there: a first write of the run in progress
    (or killed after its commit), whose STEM.safetensors does not exist yet."""
    named = _named_weights(folder / f"{stem}.json")
    return bool(named and GENERATION_PATTERN.match(named) and weights_stem(named) == stem
                and (folder / named).is_file())


def _finish_generation(folder: Path, stem: str, named: str) -> None:
    """A write killed after its commit: move the generation the sidecar names to STEM.safetensors, then let the
    sidecar name that (the same bytes, so the sidecar's hash still holds)."""
    weights_path, meta_path = folder / f"{stem}.safetensors", folder / f"{stem}.json"
    os.replace(folder / named, weights_path)
    meta = json.loads(meta_path.read_bytes())
    meta["weights_file"] = weights_path.name
    atomic_write_bytes(meta_path, json.dumps(meta, indent=1, sort_keys=True).encode())
    fsync_folder(folder)


def _leftover_stem(name: str) -> Optional[str]:
    """The run a hidden leftover belongs to (None when it is not a checkpoint writer's)."""
    generation = GENERATION_PATTERN.match(name)
    if generation:
        return generation["stem"]
    temp = TEMP_PATTERN.match(name)
    if temp is None:
        return None
    target = GENERATION_PATTERN.match(temp["name"])
    if target:
        return target["stem"]
    for suffix in (".safetensors", ".json"):
        stem = temp["name"][: -len(suffix)]
        if temp["name"].endswith(suffix) and STEM_PATTERN.match(stem) and not stem.endswith(".timeline") \
                and stem.lower() != "manifest":  # timelines and the manifest have writers that take no lock
            return stem
    return None


def clean_stem(folder: Path, stem: str, locked: Optional[bool], names: Optional[list[str]] = None) -> None:
    """Finish or remove what killed writes of run `stem` left (call with the folder's lock held: `locked`)."""
    names = os.listdir(folder) if names is None else names
    leftovers = [n for n in names if n.startswith(".") and _leftover_stem(n) == stem]
    if not leftovers:
        return
    named = _named_weights(folder / f"{stem}.json")
    if named in leftovers and GENERATION_PATTERN.match(named):
        try:
            _finish_generation(folder, stem, named)
        except (OSError, ValueError):
            leftovers.remove(named)  # still the weights the sidecar names: they stay until a write succeeds
    for name in leftovers:
        path = folder / name
        try:
            if locked is None and time.time() - path.stat().st_mtime < UNLOCKED_LEFTOVER_AGE_S:
                continue
            path.unlink()
        except FileNotFoundError:
            pass


def clean_folder(folder) -> None:
    """Remove (or finish) every killed write's leftovers in `folder`; skipped while a writer holds the folder,
    or where it cannot be written (the shipped checkpoints of a read-only install). Never raises."""
    folder = Path(folder)
    try:
        names = os.listdir(folder)
        stems = {_leftover_stem(n) for n in names if n.startswith(".")} - {None}
        if not stems or not os.access(folder, os.W_OK):
            return
        with folder_lock(folder, blocking=False) as locked:
            if locked is False:
                return  # a write in progress: it cleans its run itself, the next listing the rest
            for stem in sorted(stems):
                clean_stem(folder, stem, locked)
    except (OSError, ValueError):
        return
