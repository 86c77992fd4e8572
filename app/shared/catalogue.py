"""The lab's checkpoint catalogue: the shipped checkpoints and the user's runs, and their labels.

Folders: the shipped `checkpoints/` and the user's runs folder ($MAESI_RUNS). A folder is listed from its manifest
plus the sidecars of checkpoints not in it (`core.checkpoints.manifest.list_folder`), cached per folder signature
(names, sizes, mtimes), so a new run or upload appears on the next rerun. One bad file is skipped with its reason
(`skipped_files`), never an exception.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import streamlit as st

from app.shared.labels import interpolation_label

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "checkpoints"


def runs_dir() -> Path:
    """The user's runs folder: $MAESI_RUNS, else $XDG_DATA_HOME/maesi/runs, else ~/.local/share/maesi/runs."""
    env = os.environ.get("MAESI_RUNS", "")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / "maesi" / "runs"


def data_dir() -> Optional[str]:
    """$MAESI_DATA (None: core's default, the per-user data folder)."""
    return os.environ.get("MAESI_DATA") or None


def data_dir_text() -> str:
    """Where the datasets come from, in words for users: no server path (issue 11)."""
    return "the folder MAESI_DATA names" if data_dir() else "the server's default data folder (MAESI_DATA changes it)"


def _folder_signature(folder: Path) -> tuple:
    """(name, mtime, size) of the folder's checkpoint files: a change lists the folder again. A file that
    vanishes meanwhile (a delete, a rename) or cannot be read only changes the signature, never raises."""
    out = []
    try:
        paths = list(folder.iterdir()) if folder.is_dir() else []
    except OSError:
        return ("unlistable",)
    for p in paths:
        if p.suffix in (".safetensors", ".json"):
            try:
                st_ = p.stat()
                out.append((p.name, st_.st_mtime_ns, st_.st_size))
            except OSError:
                out.append((p.name, -1, -1))
    return tuple(sorted(out))


@st.cache_data(show_spinner=False, max_entries=32)
def _listing(folder: str, signature: tuple, source: str) -> tuple[list[dict], list[tuple[str, str]]]:
    """(entries, skipped) of a folder (core.checkpoints.manifest.list_folder: never raises for the folder's content)."""
    from core.checkpoints.manifest import list_folder

    del signature  # only part of the cache key
    entries, skipped = list_folder(Path(folder))
    out = [dict(e, source=source, path=str(Path(e["path"]).resolve())) for e in entries
           if Path(e["path"]).exists()]
    return out, [(str(name), str(reason)) for name, reason in skipped]


def _folders() -> tuple[tuple[Path, str], ...]:
    return (SHIPPED, "shipped"), (runs_dir(), "yours")


def catalogue() -> list[dict]:
    """Every checkpoint the lab knows: the shipped ones (manifest, plus any not yet in it) and the user's runs.
    A bad file is skipped (see `skipped_files`), never an exception."""
    out = []
    for folder, source in _folders():
        out += _listing(str(folder), _folder_signature(folder), source)[0]
    return out


def skipped_files(source: str = "yours") -> list[tuple[str, str]]:
    """(file name, reason) of each file of the runs folder (or, with source="shipped", of checkpoints/) that the
    catalogue skipped: a broken or foreign checkpoint, a sidecar without weights, an unreadable manifest."""
    folder = dict((s, f) for f, s in _folders())[source]
    return _listing(str(folder), _folder_signature(folder), source)[1]


def health_badge(e: dict) -> str:
    """A short mark of a checkpoint's training-health verdict for labels ("" when ok or not recorded)."""
    verdict = (e.get("health") or {}).get("verdict")
    return "" if verdict in (None, "ok") else f" · ⚠ {verdict}"


def entry_label(e: dict) -> str:
    """A checkpoint's label in the pages' select boxes: interpolation, name, AUC, health mark, whether it is yours."""
    metric = e.get("metrics", {})
    auc = metric.get("auc")
    return (f"{interpolation_label(e['interpolation'])} · {e['name']}"
            + (f" · AUC {auc:.3f}" if isinstance(auc, (int, float)) else "") + health_badge(e)
            + (" (yours)" if e.get("source") == "yours" else ""))


def entry_short(e: dict) -> str:
    """Compact label for the sidebar: name, AUC, and whether it is yours."""
    auc = (e.get("metrics") or {}).get("auc")
    return e["name"] + (f" · {auc:.3f}" if isinstance(auc, (int, float)) else "") + health_badge(e) + \
        (" · yours" if e.get("source") == "yours" else "")


def matching(entries: list[dict], dataset: str, anomaly_class) -> list[dict]:
    from core.checkpoints.manifest import find

    found = find(entries, dataset, anomaly_class)
    order = {0: 0, 2: 1, 3: 2, "acai": 3}
    return sorted(found, key=lambda e: (e.get("source") != "shipped", order.get(e["interpolation"], 9), e["name"]))


def default_models(cands: list[dict]) -> list[str]:
    """One shipped checkpoint per interpolation 0 / 2 / 3 (Fig. 2's three panels), else the first few."""
    picked, seen = [], set()
    for e in cands:
        if e["interpolation"] in (0, 2, 3) and e["interpolation"] not in seen:
            picked.append(e["path"])
            seen.add(e["interpolation"])
    return picked or [e["path"] for e in cands[:3]]
