"""What a model makes of points of the simplex (pure: no Streamlit). For weights W (k, m) and anchors encoded
once: the decoded interpolants G(sum_i w_i E(x_i)), their anomaly scores, and D_inter's readout with the two
terms of Eq. 5 it enters, per point. Every number comes from `core`: decoding, scoring and the critic through
`MirroredAE`, the loss terms through `core.method.losses`, so the lab shows what training optimised.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

# What each field of a readout means, for the pages' labels and help texts.
FIELDS = {
    "score": ("anomaly score", "The model's anomaly score of the decoded interpolant (D_recon feature distance, "
                               "higher = more anomalous); cells outlined in red lie above the model's threshold "
                               "(the interpolant would be flagged as an anomaly)."),
    "realism": ("critic: Σ wᵢ D_inter²", "The interpolation term the autoencoder minimises (Eq. 5 with λ = 1): "
                                         "Σ wᵢ D_inter(xᵢ, x̂)². 0 = the critic is fooled, i.e. it finds the "
                                         "interpolant as realistic as the anchors; lower = more realistic."),
    "critic_error": ("critic: Σ (D_inter − (1 − wᵢ))²",
                     "What the critic itself minimises (Eq. 3) at this point: 0 = it reads the true weights back "
                     "from the image."),
}


def has_simplex_critic(model) -> bool:
    """Whether the model was trained with a simplex critic D_inter (none for no interpolation and for ACAI,
    whose critic reads one image, not an (anchor, interpolant) pair)."""
    return getattr(model.nets_, "d_inter", None) is not None and model.config_.interpolation != "acai"


def decode_points(model, Z_anchors: np.ndarray, weights) -> np.ndarray:
    """The decoded interpolants G(sum_i w_i E(x_i)) of the rows of `weights` (k, m), from latents encoded once
    (`MirroredAE.mix_latents`, then `MirroredAE.decode`)."""
    from core.estimator import MirroredAE

    return model.decode(MirroredAE.mix_latents(Z_anchors, np.atleast_2d(np.asarray(weights, dtype=np.float64))))


def readout(model, X_anchors: np.ndarray, Z_anchors: np.ndarray, weights) -> dict:
    """For each row of `weights` (k, m): the decoded interpolant, its anomaly score and, when the model has a
    simplex critic, D_inter(x_i, x_hat) (m, k) with the E/G term ("realism") and the critic's own loss
    ("critic_error") at that point; both None without a critic. One decode and one scoring pass for all k."""
    W = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    decoded = decode_points(model, Z_anchors, W)
    out = {"weights": W, "decoded": decoded, "score": model.decision_function(decoded), "d_inter": None,
           "realism": None, "critic_error": None}
    if has_simplex_critic(model):
        d = model.inter_critic(X_anchors, decoded)  # (m, k)
        out["d_inter"] = d
        out["realism"], out["critic_error"] = critic_terms(d, W)
    return out


def critic_terms(d_inter: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per point k: (sum_i w_i D_inter(x_i, x_k)^2, sum_i (D_inter(x_i, x_k) - (1 - w_i))^2), the E/G term of
    Eq. 5 (lambda = 1) and Eq. 3, each evaluated by `core.method.losses` on that point alone."""
    import torch

    from core.method.losses import simplex_critic_loss, simplex_generator_loss

    d = torch.as_tensor(np.asarray(d_inter, dtype=np.float64))
    w = torch.as_tensor(np.asarray(weights, dtype=np.float64))
    realism = [float(simplex_generator_loss(d[:, k:k + 1], w[k:k + 1], 1.0)) for k in range(d.shape[1])]
    error = [float(simplex_critic_loss(d[:, k:k + 1], w[k:k + 1])) for k in range(d.shape[1])]
    return np.array(realism), np.array(error)


def field_values(result: dict, field: str) -> Optional[np.ndarray]:
    """One field of a readout as (k,) values; None when the model has no critic for a critic field."""
    if field not in FIELDS:
        raise ValueError(f"unknown field {field!r}; choose one of {list(FIELDS)}")
    return result.get(field)


def edge_frames(model, Z_anchors: np.ndarray, a: int, b: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The edge from anchor a to anchor b in k evenly spaced steps: its weights (k, m), from (.., 1 at a, ..) to
    (.., 1 at b, ..), and the model's decodes there (k, C, H, W), by `decode_points` (one decode for all k)."""
    from app.simplex.animation import edge_weights

    W = edge_weights(len(Z_anchors), a, b, k)
    return W, decode_points(model, Z_anchors, W)
