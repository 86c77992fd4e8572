"""Analysis of latent spaces for the lab (pure: no Streamlit): 2-D projections, the separation figures of the
latent map (k-NN distance AUC, silhouette) and threshold tables. Which test samples a map shows is the library's
one subset rule, `core.data.subsets.seeded_indices`."""
from __future__ import annotations

import math
import threading
from typing import Callable, Optional

import numpy as np

PROJECTIONS = ("PCA", "t-SNE", "UMAP")
PROJECTION_VERSION = 1  # bump when the settings below change a map (stored maps are keyed by it)
TSNE_ITERATIONS = (250, 500)  # openTSNE's defaults: early exaggeration, then the main phase
_UMAP_MODULES = ("umap.umap_", "umap.layouts", "umap.utils", "umap.spectral", "umap.distances", "umap.sparse")
_umap_cache_enabled = False
_umap_cache_lock = threading.Lock()


def project(Z: np.ndarray, method: str = "PCA", seed: int = 0,
            progress: Optional[Callable[[float, str], None]] = None) -> dict:
    """2-D coordinates of the rows of Z. Returns {"xy": (n, 2), "method", and for PCA "mean"/"components"
    (so that a new latent can be placed exactly: see `pca_place`)}. t-SNE is openTSNE (single-threaded),
    UMAP is umap-learn; both are seeded. `progress(fraction, text)` hears how far a t-SNE or UMAP got."""
    Z = np.asarray(Z, dtype=np.float64)
    if len(Z) < 3:
        raise ValueError(f"a projection needs at least 3 points, got {len(Z)}")
    if method == "PCA":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=seed).fit(Z)
        return {"method": method, "xy": pca.transform(Z), "mean": pca.mean_, "components": pca.components_,
                "explained": pca.explained_variance_ratio_}
    if method == "t-SNE":
        return {"method": method, "xy": _tsne(Z, seed, progress or _silent)}
    if method == "UMAP":
        return {"method": method, "xy": _umap(Z, seed, progress or _silent)}
    raise ValueError(f"unknown projection {method!r}; choose one of {PROJECTIONS}")


def _silent(fraction: float, text: str) -> None:
    pass


def _tsne(Z: np.ndarray, seed: int, progress) -> np.ndarray:
    from openTSNE import TSNE

    total, done, every = sum(TSNE_ITERATIONS), [0], 25

    def tick(iteration, error, embedding):
        done[0] += every
        progress(done[0] / total, f"iteration {min(done[0], total)} of {total}")

    progress(0.0, "nearest neighbours")
    perplexity = float(min(30.0, max(2.0, (len(Z) - 1) / 3.0)))
    emb = TSNE(n_components=2, perplexity=perplexity, n_jobs=1, random_state=seed, verbose=False,
               early_exaggeration_iter=TSNE_ITERATIONS[0], n_iter=TSNE_ITERATIONS[1], callbacks=tick,
               callbacks_every_iters=every).fit(Z)
    return np.asarray(emb)


def _umap(Z: np.ndarray, seed: int, progress) -> np.ndarray:
    import warnings

    progress(0.05, "loading umap-learn (compiled code comes from numba's disk cache after the first time)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # umap warns that a random_state disables parallelism
        enable_umap_disk_cache()
        import umap

        progress(0.2, "fitting")
        reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(Z) - 1), random_state=seed, n_jobs=1)
        xy = reducer.fit_transform(Z)
    progress(1.0, "done")
    return np.asarray(xy, dtype=np.float64)


def enable_umap_disk_cache() -> None:
    """Keep umap-learn's numba-compiled functions in numba's on-disk cache (numba's public `enable_caching`), so a
    new process loads them in about a second instead of compiling them for about 10 s. Once per process, before
    the first UMAP; a function numba cannot cache just stays uncached."""
    global _umap_cache_enabled
    import importlib
    import warnings

    from numba.core.registry import CPUDispatcher

    with _umap_cache_lock, warnings.catch_warnings():
        if _umap_cache_enabled:
            return
        warnings.simplefilter("ignore")
        for name in _UMAP_MODULES:
            for obj in vars(importlib.import_module(name)).values():
                if isinstance(obj, CPUDispatcher):
                    try:
                        obj.enable_caching()
                    except RuntimeError:  # no writable cache location (read-only install and home): compile
                        pass
        _umap_cache_enabled = True


def pca_place(proj: dict, z: np.ndarray) -> np.ndarray:
    """Exact 2-D position of new latents `z` ((d,) or (k, d)) on a PCA map made by `project`."""
    if proj.get("method") != "PCA":
        raise ValueError("only a PCA map can place a new latent exactly")
    z = np.atleast_2d(np.asarray(z, dtype=np.float64))
    return (z - proj["mean"]) @ proj["components"].T


def knn_distance_scores(Z_train: np.ndarray, Z_test: np.ndarray, k: int = 5) -> np.ndarray:
    """Mean Euclidean distance of each test latent to its k nearest TRAIN latents (higher = more anomalous)."""
    from sklearn.neighbors import NearestNeighbors

    k = int(max(1, min(k, len(Z_train))))
    nn = NearestNeighbors(n_neighbors=k).fit(np.asarray(Z_train, dtype=np.float64))
    dist, _ = nn.kneighbors(np.asarray(Z_test, dtype=np.float64))
    return dist.mean(axis=1)


def separation(Z_train: np.ndarray, Z_test: np.ndarray, y_test: np.ndarray, k: int = 5) -> dict:
    """How well the latent space separates anomalies: the AUC of a k-NN distance score (kNN fitted on train
    latents, scoring test latents) and the silhouette of the normal/anomaly labelling of the test latents.
    Values are NaN when the test set lacks one of the two labels."""
    from sklearn.metrics import silhouette_score

    from core.evaluation.metrics import auc

    y = np.asarray(y_test).astype(int)
    out = {"knn_auc": math.nan, "silhouette": math.nan, "k": k}
    if len(np.unique(y)) < 2:
        return out
    out["knn_auc"] = auc(y, knn_distance_scores(Z_train, Z_test, k))
    out["silhouette"] = float(silhouette_score(np.asarray(Z_test, dtype=np.float64), y))
    return out


def threshold_table(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    """Precision, recall, F1 (core.evaluation.metrics.prf_at) of flagging scores > threshold, plus counts."""
    from core.evaluation.metrics import prf_at

    flagged = np.asarray(scores) > threshold
    out = prf_at(y, flagged)
    out.update(flagged=int(flagged.sum()), n=int(len(flagged)))
    return out


def nearest_latents(Z: np.ndarray, index: np.ndarray, j: int, k: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest neighbours of the sample `j` among the latents Z (rows of the test indices `index`),
    Euclidean in the full latent space: (their test indices, their distances), nearest first, `j` itself left out;
    empty when `j` is not among them."""
    rows = np.flatnonzero(np.asarray(index) == j)
    if not len(rows):
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    Z = np.asarray(Z, dtype=np.float64)
    d = np.linalg.norm(Z - Z[rows[0]], axis=1)
    d[rows[0]] = np.inf
    order = np.argsort(d, kind="stable")[:min(k, len(d) - 1)]
    return np.asarray(index)[order].astype(np.int64), d[order]
