"""The manifest of a folder of checkpoints (the shipped `checkpoints/`, or a user's runs folder).

`manifest.json` lists one entry per checkpoint: dataset, anomaly class, interpolation, metrics, the sha256 of
both files and the command that made it. `python -m scripts.make_checkpoints` writes the shipped one;
`scan_folder` lists checkpoints of a folder without a manifest (a user's own runs) from their sidecars.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .checkpoint import CheckpointError, atomic_write_bytes, checkpoint_paths, read_meta

MANIFEST = "manifest.json"
FORMAT = "maesi-manifest"
REPO_CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def entry_for(path) -> dict:
    """A manifest entry for one checkpoint, read from its sidecar."""
    weights, sidecar = checkpoint_paths(path)
    meta = read_meta(path)
    return {
        "name": weights.stem,
        "path": weights.name,
        "dataset": meta.get("dataset"),
        "preset": meta["config"]["preset"],
        "anomaly_class": meta.get("anomaly_class"),
        "interpolation": meta["config"]["interpolation"],
        "metrics": meta.get("metrics", {}),
        "health": {k: (meta.get("health") or {}).get(k) for k in ("verdict", "reasons")},
        "profile": meta["config"].get("profile", "paper"),
        "departures": meta.get("departures", []),
        "command": meta.get("command"),
        "created": meta.get("fitted_at"),
        "bytes": weights.stat().st_size + sidecar.stat().st_size,
        "sha256": sha256_file(weights),
        "sidecar_sha256": sha256_file(sidecar),
    }


def write_manifest(folder) -> Path:
    """(Re)write `folder/manifest.json` from the checkpoints found there."""
    folder = Path(folder)
    entries = [entry_for(p) for p in sorted(folder.glob("*.safetensors"))]
    path = folder / MANIFEST
    atomic_write_bytes(path, json.dumps({"format": FORMAT, "version": 1, "checkpoints": entries}, indent=1).encode())
    return path


def load_manifest(folder=REPO_CHECKPOINTS, verify: bool = False) -> list[dict]:
    """Entries of `folder/manifest.json`, each with an absolute `path`; `verify` checks the sha256s."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: not valid JSON ({e})") from None
    if data.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a maesi manifest")
    entries = []
    for e in data["checkpoints"]:
        e = dict(e, path=str(folder / e["path"]))
        if verify:
            weights, sidecar = checkpoint_paths(e["path"])
            if sha256_file(weights) != e["sha256"] or sha256_file(sidecar) != e["sidecar_sha256"]:
                raise CheckpointError(f"{weights}: does not match the manifest's sha256")
        entries.append(e)
    return entries


def scan_folder(folder) -> list[dict]:
    """Entries for every readable checkpoint in `folder` (no manifest needed); unreadable ones are skipped."""
    out = []
    for p in sorted(Path(folder).glob("*.safetensors")):
        try:
            e = entry_for(p)
        except (CheckpointError, OSError, KeyError):
            continue
        e["path"] = str(p)
        out.append(e)
    return out


def find(entries: list[dict], dataset: str, anomaly_class=None, interpolation=None) -> list[dict]:
    """Entries matching a dataset (and optionally class and interpolation)."""
    return [e for e in entries if e["dataset"] == dataset
            and (anomaly_class is None or e["anomaly_class"] == anomaly_class)
            and (interpolation is None or e["interpolation"] == interpolation)]
