"""A training timeline as a sequence of latent maps (pure: no Streamlit). All snapshots are placed on ONE PCA,
fitted on the last snapshot (the trained encoder's principal axes), so the frames share their axes and the
motion between epochs is real rather than a new projection's sign flips and rotations."""
from __future__ import annotations

import numpy as np

from app.analysis import pca_place, project


def timeline_layout(epochs: np.ndarray, Z: np.ndarray, indices: np.ndarray, y: np.ndarray) -> dict:
    """epochs (T,), Z (T, n, d) latents of the test samples `indices` (n,), y (n,) their labels (1 = anomaly).
    Returns {"epochs", "indices", "y", "xy" (T, n, 2), "explained" (2,) of the last snapshot's PCA,
    "silhouette" (T,) of normal vs anomaly in the full latent space (NaN with a single label)}."""
    from sklearn.metrics import silhouette_score

    Z = np.asarray(Z, dtype=np.float64)
    y = np.asarray(y).astype(int)
    pca = project(Z[-1], "PCA")
    xy = np.stack([pca_place(pca, z) for z in Z])
    two_labels = len(np.unique(y)) == 2
    # a seeded sample of at most 500 keeps a long timeline to a second; the same sample for every epoch
    sample = dict(sample_size=min(len(y), 500), random_state=0)
    sil = np.array([float(silhouette_score(z, y, **sample)) if two_labels else np.nan for z in Z])
    return {"epochs": np.asarray(epochs), "indices": np.asarray(indices), "y": y, "xy": xy,
            "explained": np.asarray(pca["explained"]), "silhouette": sil}
