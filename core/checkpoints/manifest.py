"""The manifest of a folder of checkpoints (the shipped `checkpoints/`, or a user's runs folder).

`manifest.json` lists one entry per checkpoint: dataset, anomaly class, interpolation, metrics, the sha256 of
both files and the command that made it. `python -m scripts.make_checkpoints` writes the shipped one;
`scan_folder` lists checkpoints of a folder without a manifest (a user's own runs) from their sidecars;
`scan_folder_with_skips` and `list_folder` also say which files were skipped and why, and never raise for a
folder's content, so that one bad file cannot hide a folder (issue 11).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from core.checkpoints.durable import clean_folder, writes_pending
from core.checkpoints.store import CheckpointError, atomic_write_bytes, checkpoint_paths, read_meta, weights_file_of
from core.checkpoints.sidecar import WEIGHTS_FILE_PATTERN

MANIFEST = "manifest.json"
TIMELINE_SUFFIX = ".timeline.safetensors"  # core.training.timeline.SUFFIX (not imported: core.training.timeline imports the trainer)
FORMAT = "maesi-manifest"
REPO_CHECKPOINTS = Path(__file__).resolve().parents[2] / "checkpoints"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def entry_for(path) -> dict:
    """A manifest entry for one checkpoint, read from its sidecar."""
    canonical, sidecar = checkpoint_paths(path)
    meta = read_meta(path)
    weights = weights_file_of(path, meta)
    return {
        "name": canonical.stem,
        "path": canonical.name,
        "dataset": meta.get("dataset"),
        "preset": meta["config"]["preset"],
        "anomaly_class": meta.get("anomaly_class"),
        "data_source": meta.get("data_source"),
        "interpolation": meta["config"]["interpolation"],
        "metrics": meta.get("metrics", {}),
        "health": {k: (meta.get("health") or {}).get(k) for k in ("verdict", "reasons")},
        "status": meta.get("training_status") or "completed",
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
    clean_folder(folder)
    entries = [entry_for(p) for p in sorted(folder.glob("*.safetensors"))
               if not p.name.endswith(TIMELINE_SUFFIX) and not p.name.startswith(".")]
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
        raise CheckpointError(f"{path.name}: not valid JSON ({e})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path.name}: not a maesi manifest")
    entries = []
    for e in data["checkpoints"]:
        e = dict(e, path=str(folder / e["path"]))
        if verify:
            weights, sidecar = checkpoint_paths(e["path"])
            if sha256_file(weights) != e["sha256"] or sha256_file(sidecar) != e["sidecar_sha256"]:
                raise CheckpointError(f"{weights.name}: does not match the manifest's sha256")
        entries.append(e)
    return entries


def scan_folder(folder) -> list[dict]:
    """Entries for every readable checkpoint in `folder` (no manifest needed); unreadable ones are skipped."""
    return scan_folder_with_skips(folder)[0]


def scan_folder_with_skips(folder) -> tuple[list[dict], list[tuple[str, str]]]:
    """(entries, skipped): every readable checkpoint of `folder`, and (file name, reason) for each one that is
    not, so that a listing never fails because of one bad entry. Never raises for the folder's content."""
    folder = Path(folder)
    if not folder.is_dir():
        return [], []
    clean_folder(folder)  # what killed writes left, so that a listing shows finished runs only
    try:
        names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    except OSError as e:
        return [], [(folder.name, f"cannot list the folder ({e.strerror or type(e).__name__})")]
    entries, skipped = [], []
    for name in names:
        p = folder / name
        if name.endswith(TIMELINE_SUFFIX):  # a run's training timeline (core.training.timeline), not a checkpoint
            continue
        if name.endswith(".json") and name != MANIFEST and f"{name[:-5]}.safetensors" not in names \
                and not writes_pending(folder, name[:-5]):
            skipped.append((name, "a sidecar without its weights file"))
        if not name.endswith(".safetensors"):
            continue
        try:
            e = entry_for(p)
        except CheckpointError as err:
            skipped.append((name, str(err).removeprefix(f"{name}: ")))
            continue
        except (OSError, KeyError, TypeError, ValueError) as err:
            skipped.append((name, f"unreadable ({type(err).__name__})"))
            continue
        e["path"] = str(p)
        entries.append(e)
    return entries, skipped


def _usable_manifest_entry(e) -> bool:
    """A manifest entry the app can list: a plain file name in the folder and hashable, well-typed keys."""
    return (isinstance(e, dict) and isinstance(e.get("name"), str) and isinstance(e.get("path"), str)
            and WEIGHTS_FILE_PATTERN.match(e["path"]) is not None
            and isinstance(e.get("interpolation"), (int, str)) and not isinstance(e.get("interpolation"), bool)
            and (e.get("anomaly_class") is None or isinstance(e.get("anomaly_class"), (int, str)))
            and (e.get("dataset") is None or isinstance(e.get("dataset"), str))
            and isinstance(e.get("metrics", {}), dict))


def list_folder(folder) -> tuple[list[dict], list[tuple[str, str]]]:
    """(entries, skipped) of a checkpoint folder: its manifest's entries (when it has a readable one) plus the
    checkpoints found beside it; every problem is a (file name, reason) in `skipped`, never an exception."""
    folder = Path(folder)
    entries, skipped = [], []
    if (folder / MANIFEST).is_file():
        try:
            raw = json.loads((folder / MANIFEST).read_text())
            listed = raw["checkpoints"] if isinstance(raw, dict) and raw.get("format") == FORMAT else None
        except (OSError, UnicodeDecodeError, ValueError, KeyError, RecursionError):
            listed = None
        if not isinstance(listed, list):
            skipped.append((MANIFEST, "not a readable maesi manifest; the folder's checkpoints are listed from "
                                      "their sidecars"))
            listed = []
        for e in listed:
            if _usable_manifest_entry(e) and (folder / e["path"]).is_file():
                entries.append(dict(e, path=str(folder / e["path"])))
            elif isinstance(e, dict) and isinstance(e.get("path"), str) and (folder / Path(e["path"]).name).exists():
                skipped.append((Path(e["path"]).name, "its manifest entry is malformed"))
    known = {Path(e["path"]).name for e in entries}
    scanned, scan_skipped = scan_folder_with_skips(folder)
    entries += [e for e in scanned if Path(e["path"]).name not in known]
    skipped += [s for s in scan_skipped if s[0] not in known]
    return entries, skipped


def find(entries: list[dict], dataset: str, anomaly_class=None, interpolation=None) -> list[dict]:
    """Entries matching a dataset (and optionally class and interpolation)."""
    return [e for e in entries if e["dataset"] == dataset
            and (anomaly_class is None or e["anomaly_class"] == anomaly_class)
            and (interpolation is None or e["interpolation"] == interpolation)]
