"""The user's runs on disk, for the Models page (pure: no Streamlit): delete, rename and download a run with
all of its files (weights, sidecar and, when the lab trained it, its training timeline).

Only the runs folder is touched: `core.checkpoints.store`'s delete and rename refuse anything outside it, names it
reserves, and overwriting another run. Messages name files, never folders.
"""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from core.checkpoints.store import CheckpointError, checkpoint_paths, delete_checkpoint, rename_checkpoint

TIMELINE_SUFFIX = ".timeline.safetensors"


def timeline_file(path) -> Path:
    """The training timeline beside the run at `path` (core.training.timeline.timeline_path, without importing torch)."""
    weights, _ = checkpoint_paths(path)
    return weights.with_name(weights.name[: -len(".safetensors")] + TIMELINE_SUFFIX)


def run_files(path) -> list[Path]:
    """The run's files that exist: weights, sidecar, timeline."""
    weights, sidecar = checkpoint_paths(path)
    return [p for p in (weights, sidecar, timeline_file(path)) if p.is_file()]


def is_in(path, root) -> bool:
    try:
        return Path(path).resolve().is_relative_to(Path(root).resolve())
    except (OSError, ValueError):
        return False


def delete_run(path, root) -> list[str]:
    """Delete a run of the runs folder `root` (its timeline too); returns the file names removed."""
    removed = delete_checkpoint(path, root=root)  # refuses paths outside root and reserved names
    timeline = timeline_file(path)
    try:
        timeline.unlink()
        removed.append(timeline.name)
    except FileNotFoundError:
        pass
    return removed


def rename_run(path, new_name: str, root) -> Path:
    """Rename a run (and its timeline) to `new_name` inside `root`; returns the new weights path.
    CheckpointError for a name the lab cannot read back (or Windows reserves), one already taken, a run another
    session renamed or deleted meanwhile, or a path outside `root`."""
    new_name = (new_name or "").strip()
    if new_name.endswith(".safetensors") or new_name.endswith(".json"):
        new_name = new_name.rsplit(".", 1)[0]
    if new_name.endswith(".timeline"):
        raise CheckpointError(f"{new_name!r}: names ending in '.timeline' are kept for training timelines")
    if new_name == Path(checkpoint_paths(path)[0]).name[: -len(".safetensors")]:
        raise CheckpointError("that is already its name")
    new_timeline = timeline_file(Path(root) / new_name)
    if new_timeline.exists():
        raise CheckpointError(f"a run named {new_name!r} already exists; choose another name")
    new_weights = rename_checkpoint(path, new_name, root=root)
    old_timeline = timeline_file(path)
    if old_timeline.is_file():
        try:  # a hard link refuses an existing target, unlike os.replace
            os.link(old_timeline, new_timeline)
            old_timeline.unlink()
        except OSError:
            pass  # the run is renamed; its timeline keeps the old name (listed nowhere, deleted with nothing)
    return new_weights


def run_zip(path) -> tuple[bytes, str]:
    """(zip bytes, file name) holding the run's files under their own names, ready to upload again."""
    files = run_files(path)
    if not files:
        raise CheckpointError(f"{checkpoint_paths(path)[0].name}: no such run")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            zf.write(f, arcname=f.name)
    return buf.getvalue(), checkpoint_paths(path)[0].name[: -len(".safetensors")] + ".zip"
