"""Checkpoints: weights in safetensors (never pickle: a checkpoint is untrusted input) and a JSON sidecar.

`model.safetensors` holds the tensors; `model.json` holds the preset, hyper-parameters, normalisation,
training history, metrics and library versions, plus the name and sha256 of the weights file, so that a
mismatched or tampered pair is caught. Replacing a checkpoint is crash-safe (`core.checkpoints.durable`: the new
weights under a generation name of their own, then the sidecar that names them as the one atomic commit), and
renames and deletes hold the folder's lock, so that of two sessions renaming one run exactly one wins.

Reading is for untrusted files: the sidecar is checked completely by `core.checkpoints.sidecar` (schema, config, input
shape and parameter budget, sized on the meta device), then the weights file's safetensors header is checked
against the networks that config describes, all before a tensor is allocated. Uploads are checked the same way
before a byte is written, and are never stored over an existing run. Messages name files, never folders.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import platform
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from core.checkpoints.durable import (atomic_write_bytes, clean_stem, folder_lock, fsync_folder, replace_pair,
                                      synced_temp, weights_candidates)
from core.checkpoints.sidecar import (FORMAT, FORMAT_VERSION, MAX_SIDECAR_BYTES, RESERVED_STEMS, CheckpointError,
                                      check_new_stem, parse_sidecar, validate_sidecar, weights_stem)
from core.checkpoints.weights_header import MAX_WEIGHTS_BYTES, check_weights_fit, read_header

__all__ = ["CheckpointError", "checkpoint_paths", "save_checkpoint", "read_meta", "load_checkpoint",
           "load_bytes_checkpoint", "delete_checkpoint", "rename_checkpoint", "check_run_name",
           "atomic_write_bytes", "weights_file_of", "is_checkpoint_file", "FORMAT", "FORMAT_VERSION"]


def checkpoint_paths(path) -> tuple[Path, Path]:
    """(weights, sidecar) for `x`, `x.safetensors` or `x.json`."""
    p = Path(path)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


def versions() -> dict:
    from core.version import __version__

    return {"maesi": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def check_run_name(path) -> Path:
    """The weights path of `path` if its name is one the lab can read back (see `core.checkpoints.sidecar.STEM_PATTERN`);
    CheckpointError otherwise. Callers check an output name with it before training, not after."""
    weights_path, _ = checkpoint_paths(path)
    try:
        check_new_stem(weights_path.name[: -len(".safetensors")])
    except ValueError as e:
        raise CheckpointError(str(e)) from None
    return weights_path


def is_checkpoint_file(path) -> bool:
    """Whether the existing file `path` is one of a maesi checkpoint's (a sidecar with the format tag, or a
    safetensors file whose header reads), i.e. whether writing a checkpoint over it replaces only a checkpoint."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            if path.suffix == ".json":
                return parse_sidecar(f.read(MAX_SIDECAR_BYTES + 1)).get("format") == FORMAT
            read_header(f, path.stat().st_size)
            return path.suffix == ".safetensors"
    except (OSError, ValueError):
        return False


def save_checkpoint(path, tensors: dict[str, torch.Tensor], meta: dict, half: bool = False) -> Path:
    """Write weights and sidecar; `half` stores floating tensors in float16 (loaded back as float32)."""
    weights_path, meta_path = checkpoint_paths(check_run_name(path))
    out = {}
    for k, v in tensors.items():
        v = v.detach().cpu().contiguous()
        out[k] = v.half() if half and v.is_floating_point() else v
    blob = st_save(out, metadata={"format": FORMAT, "version": str(FORMAT_VERSION)})
    meta = dict(meta, format=FORMAT, format_version=FORMAT_VERSION, versions=versions(),
                weights_file=weights_path.name, weights_sha256=hashlib.sha256(blob).hexdigest(),
                weights_dtype="float16" if half else "float32")

    def sidecar_naming(weights_file: str) -> bytes:
        return json.dumps(dict(meta, weights_file=weights_file), indent=1, sort_keys=True,
                          default=json_default).encode()

    sidecar_naming(weights_path.name)  # a value JSON cannot hold fails here, before any file is touched
    replace_pair(weights_path, meta_path, blob, sidecar_naming)
    return weights_path


def json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__} into a checkpoint sidecar")


# ---------------------------------------------------------------- reading (untrusted files)

def _checked_meta(meta_path: Path):
    """(meta, config, budget) of a sidecar file, or CheckpointError naming the file."""
    if not meta_path.is_file():
        raise CheckpointError(f"{meta_path.name}: the checkpoint's JSON sidecar is missing")
    try:
        with open(meta_path, "rb") as f:
            data = f.read(MAX_SIDECAR_BYTES + 1)
    except OSError as e:
        raise CheckpointError(f"{meta_path.name}: cannot read the sidecar ({e.strerror or type(e).__name__})") from None
    return _validated(data, meta_path.name)


def _validated(data: bytes, label: str):
    """(meta, config, budget) of sidecar bytes; CheckpointError starting with `label` otherwise."""
    try:
        meta = parse_sidecar(data)
        return (meta, *validate_sidecar(meta))
    except ValueError as e:
        raise CheckpointError(f"{label}: {e}") from None
    except (TypeError, KeyError, AttributeError, IndexError) as e:  # a shape of JSON no check foresaw
        raise CheckpointError(f"{label}: the sidecar is not valid ({type(e).__name__})") from None


def _networks_label(cfg, meta: dict) -> str:
    return f"preset {cfg.preset!r} with input {tuple(meta['input_shape'])}"


def read_meta(path) -> dict:
    """The sidecar alone, checked completely (schema, config, budget) but without reading the weights: for
    listing checkpoints. CheckpointError naming the problem otherwise."""
    return _checked_meta(checkpoint_paths(path)[1])[0]


def _check_weights(blob: bytes, name: str, meta: dict, cfg, budget) -> None:
    """The weights bytes fit the sidecar: sha256 when it has one, then the header against the networks."""
    if meta.get("weights_sha256") and hashlib.sha256(blob).hexdigest() != meta["weights_sha256"]:
        raise CheckpointError(f"{name}: weights do not match the sidecar's sha256 (corrupt, truncated or replaced "
                              "file)")
    try:
        header = read_header(io.BytesIO(blob), len(blob))
        check_weights_fit(header, budget.tensors, _networks_label(cfg, meta))
    except ValueError as e:
        raise CheckpointError(f"{name}: {e}") from None


def _tensors(blob: bytes, name: str) -> dict[str, torch.Tensor]:
    try:
        tensors = st_load(blob)
    except (SafetensorError, ValueError, RuntimeError, OSError) as e:
        raise CheckpointError(f"{name}: not a readable safetensors file ({str(e).splitlines()[0][:160]})") from None
    return {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}


def _read_weights(weights_path: Path, meta: dict) -> bytes | None:
    """The bytes of the weights the sidecar names; None when no file holds them."""
    for candidate in weights_candidates(weights_path, meta.get("weights_file")):
        try:
            size = candidate.stat().st_size
            if size > MAX_WEIGHTS_BYTES:  # before reading it
                raise CheckpointError(f"{weights_path.name}: the weights file is {size:,} bytes; this lab's cap is "
                                      f"{MAX_WEIGHTS_BYTES:,}")
            return candidate.read_bytes()
        except FileNotFoundError:
            continue  # a write finishing meanwhile moved it to the next candidate
        except OSError as e:
            raise CheckpointError(f"{weights_path.name}: cannot read the weights ({e.strerror or type(e).__name__})"
                                  ) from None
    return None


def weights_file_of(path, meta: dict | None = None) -> Path:
    """The file a checkpoint's weights are read from: STEM.safetensors, or the generation its sidecar (`meta`,
    read when not given) names while a replacement is being finished."""
    weights_path, _ = checkpoint_paths(path)
    meta = read_meta(path) if meta is None else meta
    return next((p for p in weights_candidates(weights_path, meta.get("weights_file")) if p.is_file()), weights_path)


def load_checkpoint(path) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors as float32, meta). Raises CheckpointError for anything corrupt, truncated, foreign, over the
    budget or not fitting the sidecar's networks, before the weights are loaded."""
    weights_path, meta_path = checkpoint_paths(path)
    for _ in range(3):  # a write committing between the sidecar's read and the weights' reads both again
        meta, cfg, budget = _checked_meta(meta_path)
        blob = _read_weights(weights_path, meta)
        if blob is not None and meta.get("weights_sha256") in (None, "", hashlib.sha256(blob).hexdigest()):
            break
    if blob is None:
        raise CheckpointError(f"{weights_path.name}: the checkpoint's weights file is missing")
    _check_weights(blob, weights_path.name, meta, cfg, budget)
    if meta.get("threshold", 0) is None:  # "no threshold known": readers fall back to their default (none)
        meta = {k: v for k, v in meta.items() if k != "threshold"}
    return _tensors(blob, weights_path.name), meta


# ---------------------------------------------------------------- uploads and the Models page

def _create_exclusive(path: Path, data: bytes) -> None:
    """Write `path` atomically, failing with FileExistsError when it exists (never overwrites)."""
    tmp = synced_temp(path, data)
    try:
        _link_or_copy(Path(tmp), path, data)
    finally:
        os.unlink(tmp)


def _link_or_copy(source: Path, target: Path, data: bytes | None = None) -> None:
    """Hard-link `source` as `target` (atomic, and refuses an existing target, unlike os.replace); on a file
    system without hard links, an exclusive-create copy. FileExistsError when `target` exists."""
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError:
        with open(target, "xb") as f:
            try:
                f.write(source.read_bytes() if data is None else data)
            except BaseException:
                target.unlink(missing_ok=True)
                raise


def load_bytes_checkpoint(weights: bytes, sidecar: bytes, directory) -> Path:
    """Validate an uploaded pair completely, then store it under `directory` as a new run (never over an
    existing one); returns the stored weights path. A refused upload writes nothing."""
    meta, cfg, budget = _validated(bytes(sidecar), "the uploaded sidecar")
    if len(weights) > MAX_WEIGHTS_BYTES:
        raise CheckpointError(f"the uploaded weights: {len(weights):,} bytes; this lab's cap is {MAX_WEIGHTS_BYTES:,}")
    blob = bytes(weights)
    _check_weights(blob, "the uploaded weights", meta, cfg, budget)
    _tensors(blob, "the uploaded weights")  # what load_checkpoint will do, so that a stored pair always loads
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    stem = weights_stem(meta["weights_file"])
    if stem.split(".", 1)[0].lower() in RESERVED_STEMS:  # a name Windows cannot hold: stored under a usable one
        stem = f"run-{stem}"
    for n in range(1, 1000):
        target = folder / (stem if n == 1 else f"{stem}-{n}")
        weights_path, meta_path = checkpoint_paths(target)
        if meta_path.exists():
            continue
        try:
            _create_exclusive(weights_path, blob)
        except FileExistsError:
            continue
        stored = dict(meta, weights_file=weights_path.name)
        try:
            _create_exclusive(meta_path, json.dumps(stored, indent=1, sort_keys=True).encode())
        except BaseException:
            weights_path.unlink(missing_ok=True)
            raise
        return weights_path
    raise CheckpointError(f"too many runs named {stem!r} already; rename some first")


def _pair_in(path, root) -> tuple[Path, Path]:
    """(weights, sidecar) of `path`, refusing names the folder reserves and, with `root`, paths outside it."""
    weights_path, meta_path = checkpoint_paths(path)
    stem = weights_path.name[: -len(".safetensors")]
    if not stem or stem.startswith(".") or stem.lower() == "manifest":
        raise CheckpointError(f"{weights_path.name}: not a run's file")
    if root is not None and not weights_path.resolve().is_relative_to(Path(root).resolve()):
        raise CheckpointError(f"{weights_path.name}: not in the runs folder")
    return weights_path, meta_path


def _gone(stem: str) -> CheckpointError:
    return CheckpointError(f"run {stem!r} was renamed or removed meanwhile (by another session); nothing was changed")


def delete_checkpoint(path, root=None) -> list[str]:
    """Delete a run's weights and sidecar (either may be missing: broken runs can be deleted too); returns the
    names removed. With `root`, refuses anything outside that folder."""
    weights_path, meta_path = _pair_in(path, root)
    stem = weights_path.name[: -len(".safetensors")]
    removed = []
    with folder_lock(weights_path.parent) as locked:
        clean_stem(weights_path.parent, stem, locked)
        # The sidecar goes first: without it the run is no longer listed, so a crash in between leaves an
        # unlisted file, never a listed run whose weights are gone.
        for p in (meta_path, weights_path):
            try:
                p.unlink()
                removed.append(p.name)
            except FileNotFoundError:
                pass
    if not removed:
        raise _gone(stem)
    return removed


def _claim_new_pair(weights_path: Path, meta: dict, new_stem: str) -> Path:
    """Create the renamed pair beside the run, exclusively (never over another run); returns its weights path."""
    new_weights, new_meta = checkpoint_paths(weights_path.parent / new_stem)
    taken = CheckpointError(f"a run named {new_stem!r} already exists; choose another name")
    if new_meta.exists():
        raise taken
    try:
        _link_or_copy(weights_path, new_weights)
    except FileExistsError:
        raise taken from None
    except FileNotFoundError:
        raise _gone(weights_path.name[: -len(".safetensors")]) from None
    try:
        _create_exclusive(new_meta, json.dumps(dict(meta, weights_file=new_weights.name), indent=1,
                                               sort_keys=True).encode())
    except FileExistsError:
        new_weights.unlink()
        raise taken from None
    except BaseException:
        new_weights.unlink()
        raise
    return new_weights


def rename_checkpoint(path, new_stem: str, root=None) -> Path:
    """Rename a (valid) run to `new_stem`, refusing to overwrite anything; returns the new weights path.
    Of two renames (or a rename and a delete) of one run at once exactly one wins; the other is refused."""
    weights_path, meta_path = _pair_in(path, root)
    stem = weights_path.name[: -len(".safetensors")]
    try:
        check_new_stem(new_stem)
    except ValueError as e:
        raise CheckpointError(str(e)) from None
    with folder_lock(weights_path.parent) as locked:
        if not meta_path.is_file():
            raise _gone(stem)
        clean_stem(weights_path.parent, stem, locked)
        meta = read_meta(weights_path)
        if not weights_path.is_file():
            raise CheckpointError(f"{weights_path.name}: the checkpoint's weights file is missing")
        new_weights = _claim_new_pair(weights_path, meta, new_stem)
        try:
            meta_path.unlink()  # the commit: of two renames without a common lock, only one removes the sidecar
        except FileNotFoundError:
            for p in checkpoint_paths(new_weights):
                p.unlink(missing_ok=True)
            raise _gone(stem) from None
        weights_path.unlink(missing_ok=True)
        fsync_folder(weights_path.parent)
    return new_weights
