"""A disk memo for what is measured on PyTorch's meta device (`core.checkpoints.sidecar.network_budget`,
`core.method.activations.scoring_bytes_per_sample`).

Why: the meta device imports ``torch._dynamo`` on its first use, about 3 s on a 2-core machine, and a cold lab
server paid that before its first page. A measurement depends only on its inputs (a config's repr, a shape), the
code that measures it and the torch version, so it is kept in the per-user cache under a key of all of them. The
memo is a local file, still read as untrusted: `decode` checks its types, and a memo that is missing, unreadable
or malformed is measured again.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import torch


def _digest(files: Sequence[str]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(Path(f).read_bytes())
    return h.hexdigest()[:16]


def memo_path(tag: str, code_files: Sequence[str], spec: Any) -> Path:
    """Where the measurement `tag` of `spec` (JSON-able) by the code in `code_files` is remembered."""
    from core.data.paths import cache_dir

    key = json.dumps([tag, torch.__version__, _digest(code_files), spec])
    return cache_dir() / "measurements" / tag / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def remembered(path: Path, measure: Callable[[], Any], encode: Callable[[Any], Any],
               decode: Callable[[Any], Optional[Any]]) -> Any:
    """The memo at `path` when `decode` accepts it (None: rejected), else `measure()`, remembered (best effort)."""
    try:
        value = decode(json.loads(path.read_text()))
        if value is not None:
            return value
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    value = measure()
    try:  # atomic: a reader sees the whole memo or none
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(encode(value)))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:  # a read-only cache folder: measure again next time
        pass
    return value
