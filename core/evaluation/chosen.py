"""The settings chosen on validation seeds (``results/validation/chosen.json``), read by every part of the harness
that resolves a ``maesi-*@chosen`` row; `core.evaluation.validation` makes the choice and writes the file.

The seeds are part of the rule: settings are chosen on the validation split seeds only, which draw their splits
inside the development partition (`core.evaluation.protocols.development_split`), whose rows no reported test split
holds, so that choosing is never tuning on the reported results.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from core.evaluation.protocols import VALIDATION_SEEDS  # noqa: F401: declared with the partition they draw from
CHOSEN_FILE = Path(__file__).resolve().parents[2] / "results" / "validation" / "chosen.json"


def load_chosen(path: Path = CHOSEN_FILE) -> dict:
    """The whole file ({} when it is missing or unreadable)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def chosen_settings(dataset: str, path: Path = CHOSEN_FILE) -> Optional[str]:
    """The "@"-joined settings chosen for `dataset` ("" = the plain row won), or None if nothing was chosen."""
    entry = load_chosen(path).get("datasets", {}).get(dataset)
    return None if entry is None else entry["settings"]


def variant_settings(dataset: str, path: Path = CHOSEN_FILE) -> Optional[str]:
    """The "@"-joined settings of the best variant (not the paper's method) found for `dataset`, or None."""
    entry = (load_chosen(path).get("datasets", {}).get(dataset) or {}).get("best_variant")
    return None if entry is None else entry["settings"]
