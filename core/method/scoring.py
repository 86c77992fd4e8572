"""Inference on trained networks: the anomaly scores of Section 5.2 and their siblings, encoding and decoding, in
eval mode and in batches. Pure torch (no numpy, no training glue): the trainer's model selection and
`MirroredAE.decision_function` both call `anomaly_scores`, so there is one definition of each score.

Eval mode matters: the CIFAR-10 networks hold batch norm, and in training mode a sample's score would depend on
the rest of its batch (a known leak in GANomaly-style code).
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Callable

import torch

from core.method import losses
from core.method.networks import Networks

SCORES = ("feature", "l2", "latent_norm")


@contextmanager
def eval_mode(nets: Networks):
    """Every network in eval mode for the block, then back to the mode each had."""
    modes = {name: m.training for name, m in nets.modules().items()}
    nets.train(False)
    try:
        yield nets
    finally:
        for name, m in nets.modules().items():
            m.train(modes[name])


@torch.no_grad()
def batched(fn: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """fn applied to X in slices of `batch_size` rows, concatenated (float32); fn sees no gradients."""
    if len(X) == 0:
        raise ValueError("no samples to process")
    return torch.cat([fn(X[i:i + batch_size]).float() for i in range(0, len(X), batch_size)])


def feature_score(nets: Networks, x: torch.Tensor, x_hat: torch.Tensor | None = None) -> torch.Tensor:
    """||f(x, x) - f(x, G(E(x)))||_1 with f the penultimate layer of D_recon: the paper's score (`x_hat` = G(E(x))
    when the caller has it already)."""
    if x_hat is None:
        x_hat = nets.generator(nets.encoder(x))
    return losses.feature_distance(nets.d_recon.features(x, x), nets.d_recon.features(x, x_hat))


def l2_score(nets: Networks, x: torch.Tensor) -> torch.Tensor:
    """||x - G(E(x))||_2 in the model's normalised units."""
    return (x - nets.generator(nets.encoder(x))).flatten(1).norm(dim=1)


def latent_norm_score(nets: Networks, x: torch.Tensor) -> torch.Tensor:
    """||E(x)||_2."""
    return nets.encoder(x).norm(dim=1)


_SCORE_FNS = {"feature": feature_score, "l2": l2_score, "latent_norm": latent_norm_score}


def anomaly_scores(nets: Networks, X: torch.Tensor, score: str = "feature", batch_size: int = 1024,
                   dtype: torch.dtype | None = None) -> torch.Tensor:
    """Scores of every row of X (normalised, on the networks' device), higher = more anomalous, in eval mode.
    `dtype` (e.g. torch.float64): computed by a copy of the networks in that precision (the networks themselves
    are left as they are); then a row's score no longer depends, to float32 rounding, on where in its batch it
    sits (float32 matrix products round differently by position). The scores are float32 either way."""
    if score not in _SCORE_FNS:
        raise ValueError(f"score must be one of {SCORES}, got {score!r}")
    fn = _SCORE_FNS[score]
    if dtype is not None:
        copies = {name: copy.deepcopy(m).to(dtype) for name, m in nets.modules().items()}
        nets = Networks(**{"d_inter": None, **copies})
        X = X.to(dtype)
    with eval_mode(nets):
        return batched(lambda x: fn(nets, x), X, batch_size)


@contextmanager
def authors_train_mode(nets: Networks):
    """Every network in training mode for the block, as the authors' public code scores (it never calls .eval()):
    batch norm then normalises each batch with that batch's own statistics. The running statistics the block
    updates are put back afterwards, with each network's mode."""
    modes = {name: m.training for name, m in nets.modules().items()}
    buffers = {name: copy.deepcopy(dict(m.named_buffers())) for name, m in nets.modules().items()}
    nets.train(True)
    try:
        yield nets
    finally:
        for name, m in nets.modules().items():
            m.train(modes[name])
            for key, value in m.named_buffers():
                value.copy_(buffers[name][key])


def train_mode_scores(nets: Networks, X: torch.Tensor, score: str = "feature", batch_size: int = 64) -> torch.Tensor:
    """`anomaly_scores` as the authors' code computes them: in training mode, in consecutive batches of
    `batch_size` rows of X as ordered (a row's score then depends on the rows of its batch). For the research
    question "does that evaluation inflate AUC?" only; every maesi score is `anomaly_scores`'s."""
    if score not in _SCORE_FNS:
        raise ValueError(f"score must be one of {SCORES}, got {score!r}")
    fn = _SCORE_FNS[score]
    with authors_train_mode(nets):
        return batched(lambda x: fn(nets, x), X, batch_size)


def encode(nets: Networks, X: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    with eval_mode(nets):
        return batched(nets.encoder, X, batch_size)


def decode(nets: Networks, Z: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    with eval_mode(nets):
        return batched(nets.generator, Z, batch_size)


def inter_critic(nets: Networks, anchors: torch.Tensor, X_interp: torch.Tensor) -> torch.Tensor:
    """(m, k): D_inter(anchor_i, x_j) for every anchor and interpolant, the simplex critic's estimate of 1 - w_i."""
    m, k = len(anchors), len(X_interp)
    a = anchors.repeat_interleave(k, dim=0)
    xi = X_interp.repeat(m, *([1] * (X_interp.dim() - 1)))
    with eval_mode(nets):
        return batched(lambda pair: nets.d_inter(pair[:, 0], pair[:, 1]), torch.stack([a, xi], 1)).view(m, k)
