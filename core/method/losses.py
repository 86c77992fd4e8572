"""The objective of Eq. 5, one small pure function per term, plus simplex sampling and mixing.

Shapes: `n` is the batch, `m` the number of interpolation anchors. Critic outputs are (n,) tensors; the
simplex critic's outputs for all anchors come stacked as (m, n), alphas as (n, m).

Pure torch: every random draw takes its generator from the caller and is made on that generator's device (or the
`device=` given), so a seeded CPU generator gives the same stream wherever the batch lives; moving draws to a GPU
without stalling it is the trainer's business (`core.training.acceleration.to_device`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


# ---------------------------------------------------------------- simplex weights and mixing

def sample_alphas(n: int, m: int, scheme: str = "authors", generator: torch.Generator | None = None,
                  device=None) -> torch.Tensor:
    """(n, m) convex weights: non-negative, each row summing to 1.

    "dirichlet": uniform on the simplex (Dirichlet(1), via normalised exponentials).
    "authors": the authors' code: m = 3: alpha_1, alpha_2 ~ U(0, 0.5), alpha_3 = 1 - alpha_1 - alpha_2;
    m = 2: alpha ~ U(0, 0.5). For m > 3 the first m-1 weights ~ U(0, 1/(m-1)), so the last stays >= 0.
    """
    if m < 2:
        raise ValueError(f"simplex interpolation needs m >= 2 anchors, got {m}")
    if scheme == "dirichlet":
        e = -torch.log(torch.rand(n, m, generator=generator, device=device).clamp_min(1e-12))
        return e / e.sum(dim=1, keepdim=True)
    if scheme == "authors":
        head = torch.rand(n, m - 1, generator=generator, device=device) * min(0.5, 1.0 / (m - 1))
        return torch.cat([head, 1.0 - head.sum(dim=1, keepdim=True)], dim=1)
    raise ValueError(f"unknown alpha sampler {scheme!r}")


def anchor_indices(n: int, m: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """(m, n) indices into the batch: anchor 0 is the batch itself, the others are random permutations,
    so one encoder pass over the batch serves every anchor. A tuple may repeat a sample (about 1% of 3-point
    tuples in a batch of 256). Drawn on `device`, by default the generator's."""
    device = device if device is not None else (generator.device if generator is not None else None)
    rows = [torch.arange(n, device=device)]
    rows += [torch.randperm(n, generator=generator, device=device) for _ in range(m - 1)]
    return torch.stack(rows)


def cyclic_anchor_indices(n: int, m: int, device=None) -> torch.Tensor:
    """(m, n) indices: anchor j is the batch shifted cyclically by j * (n // m), the authors' scheme (their
    `threeDCritic` rotates the batch by thirds). For n >= m no tuple ever repeats a sample."""
    if n < m:
        raise ValueError(f"cyclic anchors need a batch of at least m = {m} samples, got {n}")
    base = torch.arange(n, device=device)
    return torch.stack([(base + j * (n // m)) % n for j in range(m)])


def simplex_mix(z: torch.Tensor, idx: torch.Tensor, alphas: torch.Tensor) -> torch.Tensor:
    """z_hat = sum_i alpha_i E(x_i)  (Eq. 3), with E(x_i) = z[idx[i]]."""
    return torch.einsum("nm,mnd->nd", alphas, z[idx])


# ---------------------------------------------------------------- mirrored critic D_recon (Eq. 4)

def wgan_critic_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Eq. 4: the critic maximises E[D(x, x)] - E[D(x, G(E(x)))], so it minimises the negative."""
    return d_fake.mean() - d_real.mean()


def hinge_critic_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Eq. 4 in the hinge form of the authors' code (with spectral norm for the Lipschitz bound)."""
    return F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator | None = None,
                     eps: torch.Tensor | None = None) -> torch.Tensor:
    """Lip-1 constraint of Eq. 4 (Gulrajani et al.): E[(||grad D(u)||_2 - 1)^2] at random points
    u = eps (x, x) + (1 - eps) (x, G(E(x))), eps ~ U(0, 1) per sample; the norm is taken per sample over every
    non-batch dimension. `eps` (n,) is drawn here from `generator` on `real`'s device unless the caller gives it."""
    n = real.shape[0]
    if eps is None:
        eps = torch.rand(n, generator=generator, device=real.device, dtype=real.dtype)
    eps = eps.reshape((n,) + (1,) * (real.dim() - 1))
    u = (eps * real + (1.0 - eps) * fake).detach().requires_grad_(True)
    out = critic.head(critic.body(u)).sum()
    (grad,) = torch.autograd.grad(out, u, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1.0) ** 2).mean()


def adversarial_recon_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """Eq. 5, E/G term: E[-D_recon(x, G(E(x)))]."""
    return -d_fake.mean()


def reconstruction_penalty(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """E[||x - G(E(x))||_2^2]: the optional stabiliser (`recon_weight`); NOT part of the paper's objective."""
    return ((x - x_hat) ** 2).flatten(1).sum(dim=1).mean()


# ---------------------------------------------------------------- latent regulariser (Section 4.2)

def latent_regulariser(z: torch.Tensor) -> torch.Tensor:
    """R(E) = E[max(||E(x)||_2 - sqrt(d), 0)]: zero inside the ball of radius sqrt(d)."""
    return F.relu(z.norm(2, dim=1) - math.sqrt(z.shape[1])).mean()


# ---------------------------------------------------------------- m-point simplex interpolation (Eq. 3)

def simplex_critic_loss(d_inter: torch.Tensor, alphas: torch.Tensor, reduction: str = "sum") -> torch.Tensor:
    """Eq. 3: E[sum_i (D_inter(x_i, x_hat) - (1 - alpha_i))^2], d_inter (m, n), alphas (n, m). The authors' code
    averages the m anchor terms instead (reduction "mean"), which is Eq. 3 divided by m."""
    per_anchor = ((d_inter - (1.0 - alphas.t())) ** 2).mean(dim=1)
    return per_anchor.sum() if reduction == "sum" else per_anchor.mean()


def real_pair_loss(d_real_pair: torch.Tensor) -> torch.Tensor:
    """The authors' second D_inter term (their `real1_loss`, ACAI's regulariser): D_inter(x, x_hat + gamma (x -
    x_hat)) is pushed to 0, the value of a non-interpolated, realistic pair."""
    return (d_real_pair ** 2).mean()


def simplex_generator_loss(d_inter: torch.Tensor, alphas: torch.Tensor, lam: float) -> torch.Tensor:
    """Eq. 5, interpolation term: lambda * E[sum_i alpha_i D_inter(x_i, x_hat)^2]."""
    return lam * (alphas.t() * d_inter ** 2).sum(dim=0).mean()


# ---------------------------------------------------------------- Berthelot et al. (ACAI), the ablation baseline (Eq. 1)

def acai_critic_loss(d_interp: torch.Tensor, alpha: torch.Tensor, d_mix: torch.Tensor) -> torch.Tensor:
    """Eq. 1: ||D(G(z_hat)) - alpha||^2 + ||D(gamma x + (1 - gamma) x_rec)||^2; alpha (n,), alpha in [0, 0.5]."""
    return ((d_interp - alpha) ** 2).mean() + (d_mix ** 2).mean()


def acai_generator_loss(d_interp: torch.Tensor, lam: float) -> torch.Tensor:
    """Berthelot et al.'s E/G term: lambda * ||D(G(z_hat))||^2."""
    return lam * (d_interp ** 2).mean()


# ---------------------------------------------------------------- anomaly score (Section 5.2)

def feature_distance(f_real: torch.Tensor, f_fake: torch.Tensor) -> torch.Tensor:
    """||f(x, x) - f(x, G(E(x)))||_1 per sample: the anomaly score, and loss_feat for model selection."""
    return (f_real - f_fake).abs().flatten(1).sum(dim=1)
