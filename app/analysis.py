"""Analysis of latent spaces for the lab (pure: no Streamlit): 2-D projections, the separation figures of the
latent map (k-NN distance AUC, silhouette), seeded subsamples and threshold tables."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

PROJECTIONS = ("PCA", "t-SNE", "UMAP")


def subsample(n: int, max_n: Optional[int], seed: int = 0, stratify: Optional[np.ndarray] = None) -> np.ndarray:
    """Sorted indices of at most `max_n` of `n` items (all of them when n <= max_n), seeded; with `stratify`
    (labels) the anomalies keep their share, at least 1 of each label when possible."""
    if max_n is None or n <= max_n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    if stratify is None:
        return np.sort(rng.choice(n, max_n, replace=False))
    y = np.asarray(stratify)
    out = []
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        k = max(1, int(round(max_n * len(idx) / n)))
        out.append(rng.choice(idx, min(k, len(idx)), replace=False))
    return np.sort(np.concatenate(out))


def project(Z: np.ndarray, method: str = "PCA", seed: int = 0) -> dict:
    """2-D coordinates of the rows of Z. Returns {"xy": (n, 2), "method", and for PCA "mean"/"components"
    (so that a new latent can be placed exactly: see `pca_place`)}. t-SNE is openTSNE (single-threaded),
    UMAP is umap-learn; both are seeded."""
    Z = np.asarray(Z, dtype=np.float64)
    if len(Z) < 3:
        raise ValueError(f"a projection needs at least 3 points, got {len(Z)}")
    if method == "PCA":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=seed).fit(Z)
        return {"method": method, "xy": pca.transform(Z), "mean": pca.mean_, "components": pca.components_,
                "explained": pca.explained_variance_ratio_}
    if method == "t-SNE":
        from openTSNE import TSNE

        perplexity = float(min(30.0, max(2.0, (len(Z) - 1) / 3.0)))
        emb = TSNE(n_components=2, perplexity=perplexity, n_jobs=1, random_state=seed, verbose=False).fit(Z)
        return {"method": method, "xy": np.asarray(emb)}
    if method == "UMAP":
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # umap warns that a random_state disables parallelism
            import umap

            reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(Z) - 1), random_state=seed, n_jobs=1)
            xy = reducer.fit_transform(Z)
        return {"method": method, "xy": np.asarray(xy, dtype=np.float64)}
    raise ValueError(f"unknown projection {method!r}; choose one of {PROJECTIONS}")


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
