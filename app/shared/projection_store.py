"""The lab's slow projections (t-SNE, UMAP) kept on disk across server restarts, a progress bar while one is
computed, and UMAP's compiled code prepared in the background when the server starts.

A stored map is keyed by the checkpoint's sha256 (weights and sidecar), the method, the sample (its size, its seed
and a digest of the latents themselves, so other data give another map) and `analysis.PROJECTION_VERSION`; it lives
in `core.data.paths.cache_dir()/projections`, written atomically (a half-written file is never read). PCA is
instant and never stored.

UMAP compiles its numba functions in every new process (about 10 s on a 2-core machine); `analysis.project` keeps
them in numba's on-disk cache, and `warm_up_in_background` runs a tiny UMAP in a daemon thread at server start: the
first server ever compiles in the background, later ones load the cache in about a second.
"""
from __future__ import annotations

import hashlib
import io
import json
import threading
import warnings
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from app.shared import analysis

STORED = ("t-SNE", "UMAP")
_warm_up_started = threading.Event()


def folder() -> Path:
    from core.data.paths import cache_dir

    return cache_dir() / "projections"


def checkpoint_digest(path: str) -> str:
    """sha256 of the checkpoint's weights and sidecar files."""
    from core.checkpoints.store import checkpoint_paths

    h = hashlib.sha256()
    for p in checkpoint_paths(path):
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


def key(digest: str, method: str, max_n: Optional[int], seed: int, Z: np.ndarray) -> str:
    latents = hashlib.sha256(np.ascontiguousarray(Z, dtype=np.float32).tobytes()).hexdigest()
    spec = [analysis.PROJECTION_VERSION, digest, method, max_n, seed, list(np.shape(Z)), latents]
    return hashlib.sha256(json.dumps(spec).encode()).hexdigest()[:40]


def load(k: str) -> Optional[dict]:
    try:
        with np.load(folder() / f"{k}.npz", allow_pickle=False) as f:
            return {"method": str(f["method"]), "xy": np.asarray(f["xy"], dtype=np.float64)}
    except (OSError, KeyError, ValueError):
        return None


def save(k: str, proj: dict) -> None:
    """Write atomically; a read-only or full disk only costs the next restart a recomputation."""
    from core.checkpoints.store import atomic_write_bytes

    buf = io.BytesIO()
    np.savez(buf, method=np.str_(proj["method"]), xy=np.asarray(proj["xy"], dtype=np.float64))
    try:
        atomic_write_bytes(folder() / f"{k}.npz", buf.getvalue())
    except OSError as e:
        warnings.warn(f"maesi: could not store a projection in {folder()} ({e}); set MAESI_CACHE to a writable "
                      "folder to keep projections across restarts")


def projection(path: str, Z: np.ndarray, method: str, max_n: Optional[int], seed: int,
               progress: Optional[Callable[[float, str], None]] = None) -> dict:
    """`analysis.project(Z, method, seed)`, from the disk store when this checkpoint and sample were projected
    before (by any server process)."""
    if method not in STORED:
        return analysis.project(Z, method, seed)
    k = key(checkpoint_digest(path), method, max_n, seed, Z)
    stored = load(k)
    if stored is not None:
        return stored
    proj = analysis.project(Z, method, seed, progress=progress)
    save(k, proj)
    return proj


def streamlit_progress(label: str):
    """(callback(fraction, text), close()) for a Streamlit progress bar; for use in a cached function, where the
    closed (emptied) bar replays as nothing."""
    import streamlit as st

    bar = st.progress(0.0, text=label)

    def update(fraction: float, text: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=f"{label}: {text}")

    return update, bar.empty


def project_with_progress(path: str, Z: np.ndarray, method: str, max_n: Optional[int], seed: int) -> dict:
    """`projection` with a progress bar while a t-SNE or UMAP map is computed (nothing shown for PCA)."""
    if method not in STORED:
        return projection(path, Z, method, max_n, seed)
    update, close = streamlit_progress(f"{method} of {len(Z)} latents")
    try:
        return projection(path, Z, method, max_n, seed, update)
    finally:
        close()


# ------------------------------------------------------------------ background warm-up

def _warm_up() -> None:
    try:
        import openTSNE  # noqa: F401  (t-SNE's import is part of its first call's time too)

        Z = np.random.default_rng(0).normal(size=(64, 8))
        analysis.project(Z, "UMAP", 0)
    except Exception as e:  # noqa: BLE001: the warm-up is an optimisation, never an error
        warnings.warn(f"maesi: UMAP warm-up failed ({type(e).__name__}: {e}); the first UMAP will compile")


def warm_up_in_background() -> bool:
    """Start the warm-up once per process, in a daemon thread; True when this call started it."""
    if _warm_up_started.is_set():
        return False
    _warm_up_started.set()
    threading.Thread(target=_warm_up, name="maesi-umap-warm-up", daemon=True).start()
    return True
