"""Checkpoints: weights in safetensors (never pickle: a checkpoint is untrusted input) and a JSON sidecar.

`model.safetensors` holds the tensors; `model.json` holds the preset, hyper-parameters, normalisation,
training history, metrics and library versions, plus the sha256 of the weights file, so that a mismatched or
tampered pair is caught. Both files are written atomically (temporary file, then `os.replace`).
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

FORMAT = "maesi-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """The file is not a readable maesi checkpoint; the message says why."""


def checkpoint_paths(path) -> tuple[Path, Path]:
    """(weights, sidecar) for `x`, `x.safetensors` or `x.json`."""
    p = Path(path)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def versions() -> dict:
    from . import __version__

    return {"maesi": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def save_checkpoint(path, tensors: dict[str, torch.Tensor], meta: dict, half: bool = False) -> Path:
    """Write weights and sidecar; `half` stores floating tensors in float16 (loaded back as float32)."""
    weights_path, meta_path = checkpoint_paths(path)
    out = {}
    for k, v in tensors.items():
        v = v.detach().cpu().contiguous()
        out[k] = v.half() if half and v.is_floating_point() else v
    blob = st_save(out, metadata={"format": FORMAT, "version": str(FORMAT_VERSION)})
    meta = dict(meta, format=FORMAT, format_version=FORMAT_VERSION, versions=versions(),
                weights_file=weights_path.name, weights_sha256=hashlib.sha256(blob).hexdigest(),
                weights_dtype="float16" if half else "float32")
    atomic_write_bytes(weights_path, blob)
    atomic_write_bytes(meta_path, json.dumps(meta, indent=1, sort_keys=True, default=json_default).encode())
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


def read_meta(path) -> dict:
    """The sidecar alone (cheap: for listing checkpoints without loading weights)."""
    _, meta_path = checkpoint_paths(path)
    if not meta_path.exists():
        raise CheckpointError(f"{meta_path}: the checkpoint's JSON sidecar is missing")
    try:
        meta = json.loads(meta_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{meta_path}: not valid JSON ({e}); the sidecar is corrupt or not a maesi file") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path}: not a maesi checkpoint (no format tag {FORMAT!r})")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{meta_path}: checkpoint format {meta['format_version']} is newer than this "
                              f"library understands ({FORMAT_VERSION}); upgrade maesi")
    for key in ("config", "input_shape", "scaler"):
        if key not in meta:
            raise CheckpointError(f"{meta_path}: sidecar lacks {key!r}")
    return meta


def load_checkpoint(path) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors as float32, meta). Raises CheckpointError for anything corrupt, truncated or foreign."""
    weights_path, _ = checkpoint_paths(path)
    meta = read_meta(path)
    if not weights_path.exists():
        raise CheckpointError(f"{weights_path}: the checkpoint's weights file is missing")
    blob = weights_path.read_bytes()
    if meta.get("weights_sha256") and hashlib.sha256(blob).hexdigest() != meta["weights_sha256"]:
        raise CheckpointError(f"{weights_path}: weights do not match the sidecar's sha256 (corrupt, truncated "
                              "or replaced file)")
    try:
        tensors = st_load(blob)
    except (SafetensorError, ValueError, RuntimeError, OSError) as e:
        raise CheckpointError(f"{weights_path}: not a readable safetensors file ({e})") from None
    return {k: v.float() if v.is_floating_point() else v for k, v in tensors.items()}, meta


def load_bytes_checkpoint(weights: bytes, sidecar: bytes, directory) -> Path:
    """Validate an uploaded pair and store it under `directory`; returns the checkpoint path (for the app)."""
    try:
        meta = json.loads(sidecar)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"the uploaded sidecar is not valid JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError("the uploaded sidecar is not a maesi checkpoint")
    stem = Path(Path(str(meta.get("weights_file", "upload.safetensors"))).name).with_suffix("").name
    target = Path(directory) / stem
    n = 1
    while any(p.exists() for p in checkpoint_paths(target)):  # never overwrite an existing run
        n += 1
        target = Path(directory) / f"{stem}-{n}"
    weights_path, meta_path = checkpoint_paths(target)
    atomic_write_bytes(weights_path, weights)
    atomic_write_bytes(meta_path, sidecar)
    try:
        load_checkpoint(target)
    except CheckpointError:
        weights_path.unlink(missing_ok=True)
        meta_path.unlink(missing_ok=True)
        raise
    return weights_path
