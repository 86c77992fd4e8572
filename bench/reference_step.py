"""A plain, independent implementation of the method's training step, written from the paper's equations.

Nothing here calls `core.method.losses` or the trainer: every term is written again from the paper (Wu, Balaji,
Vinzamuri, Feizi, "Mirrored Autoencoders with Simplex Interpolation for Unsupervised Anomaly Detection"; shared
as paper.txt), so that `tests/test_step_equivalence.py` checks the trainer's equations, not only its plumbing.
Only the networks (`core.method.networks`) and the config (`core.method.config`) are shared.

It is also the yardstick of `bench/bench_train.py`: the step is done the way the authors' code does it, separate
forward passes of E and G for every critic update and again for the E/G update, one D_inter call per anchor.

The terms, with the equation each implements (x a batch of n samples, E the encoder, G the generator):

* Eq. 4, D_recon (the mirrored critic on the joint pairs (x, x) and (x, x_hat), x_hat = G(E(x))):
  the critic maximises  E[D_recon(x, x)] - E[D_recon(x, x_hat)]  over 1-Lipschitz critics, so it minimises the
  negative. ``lipschitz="gp"`` (the paper profile): the Lipschitz bound as the WGAN-GP penalty of Gulrajani et al.,
  gp_weight * E_u[(||grad_u D_recon(u)||_2 - 1)^2] at u = eps (x, x) + (1 - eps) (x, x_hat), eps ~ U(0, 1) per
  sample, the gradient taken with respect to the whole joint sample u (both halves).
  ``lipschitz="hinge-sn"`` (the authors' code): spectral norm in D_recon and the hinge form
  E[max(0, 1 - D(x, x))] + E[max(0, 1 + D(x, x_hat))].
* Eq. 3 (m-point simplex interpolation), D_inter:  z_hat = sum_i alpha_i E(x_i), x_inter = G(z_hat), and
  min over D_inter of  sum_{i=1..m} ||D_inter(x_i, x_inter) - (1 - alpha_i)||^2, the squared norm over the batch
  read as the batch mean (the supplementary algorithm's 1/n). The authors' profile averages the m anchor terms
  (``inter_reduction="mean"``) and adds the real-pair term E[D_inter(x, gamma x + (1 - gamma) x_hat)^2]
  (``inter_real_pair``); the paper profile sums them, as Eq. 3 writes, and has no real-pair term.
* Eq. 5, E and G:  lambda * E[sum_i alpha_i D_inter(x_i, x_inter)^2]  +  E[-D_recon(x, G(E(x)))]  +  R(E), with
  R(E) = E[max(||E(x)||_2 - sqrt(d), 0)] (Section 4.2; see `latent_regulariser` on its reading) when
  ``latent_reg``, and, NOT in the paper, recon_weight * E[||x - x_hat||_2^2] when ``recon_weight`` > 0.
* Supplementary algorithm: ``critic_steps`` (the algorithm's tfd) critic updates (D_inter and D_recon together,
  one optimiser, the sum of their losses) on the batch, then one E/G update; each critic update draws fresh
  anchors and simplex weights, the E/G update uses those of the last critic update.
* Eq. 1 (Berthelot et al.'s ACAI, the ablation baseline, ``interpolation="acai"``): z_hat = alpha z_1 +
  (1 - alpha) z_2 with alpha ~ U(0, 0.5); the critic minimises ||D(G(z_hat)) - alpha||^2 +
  ||D(gamma x + (1 - gamma) x_hat)||^2, E and G minimise lambda ||D(G(z_hat))||^2 (Eq. 1's second line, weighted
  by lambda as the simplex term of Eq. 5).
* interpolation 0: Eq. 4 and Eq. 5 without the interpolation term (no D_inter).

Random draws: one `torch.Generator` seeded with `seed`, used in the trainer's order (per critic update: the m - 1
random anchor permutations, then the simplex weights (or ACAI's alpha), then the gradient penalty's eps), so that
from the same weights both give the same losses and the same updated weights, to float tolerance.

Spectral norm runs one power iteration per critic call here, as in the authors' code; the trainer runs one per
update. `one_power_iteration_per_update=True` makes this step do the same, for exact comparisons.

BatchNorm (the ResNet family's E and G): in training mode it normalises with the batch's statistics, so the extra
forward passes here give the same outputs; they do update the running statistics more often than the trainer does
(those statistics enter no training loss, only evaluation).
"""
from __future__ import annotations

import contextlib
import math

import torch
from torch.nn.utils import parametrize

from core.method.config import Config, OptimizerConfig
from core.method.networks import Networks


# ---------------------------------------------------------------- random draws (the trainer's order)

def draw_anchors(n: int, m: int, cyclic: bool, gen: torch.Generator) -> list[torch.Tensor]:
    """m index vectors into the batch: x_1 is the batch itself; x_2..x_m are random permutations of it ("random",
    the paper profile: m - 1 calls of randperm on `gen`), or the batch shifted by i * (n // m) ("cyclic", the
    authors' code; draws nothing)."""
    if cyclic:
        return [(torch.arange(n) + i * (n // m)) % n for i in range(m)]
    return [torch.arange(n)] + [torch.randperm(n, generator=gen) for _ in range(m - 1)]


def draw_simplex_weights(n: int, m: int, sampler: str, gen: torch.Generator) -> torch.Tensor:
    """(n, m) points of the simplex (alpha_i >= 0, sum_i alpha_i = 1, the constraint of Eq. 3).
    "authors": alpha_1..alpha_{m-1} ~ U(0, min(0.5, 1/(m-1))), alpha_m = 1 - the others (one rand(n, m-1) call);
    "dirichlet": uniform on the simplex, normalised exponentials -log(U) (one rand(n, m) call)."""
    if sampler == "authors":
        head = torch.rand(n, m - 1, generator=gen) * min(0.5, 1.0 / (m - 1))
        return torch.cat([head, 1.0 - head.sum(dim=1, keepdim=True)], dim=1)
    if sampler == "dirichlet":
        e = -torch.log(torch.rand(n, m, generator=gen).clamp_min(1e-12))
        return e / e.sum(dim=1, keepdim=True)
    raise ValueError(f"unknown alpha sampler {sampler!r}")


def draw_acai_alpha(n: int, gen: torch.Generator) -> torch.Tensor:
    """Eq. 1: alpha ~ U(0, 0.5), one per sample."""
    return torch.rand(n, generator=gen) * 0.5


def draw_penalty_eps(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """WGAN-GP's eps ~ U(0, 1), one per sample, shaped to broadcast over x."""
    return torch.rand((x.shape[0],) + (1,) * (x.dim() - 1), generator=gen)


# ---------------------------------------------------------------- Eq. 4: the mirrored critic D_recon

def eq4_critic_objective(d_same: torch.Tensor, d_recon_pair: torch.Tensor) -> torch.Tensor:
    """-(E[D_recon(x, x)] - E[D_recon(x, x_hat)]): the negative of Eq. 4's Wasserstein estimate, minimised.
    d_same = D_recon(x, x), d_recon_pair = D_recon(x, x_hat), one value per sample."""
    return -(d_same.mean() - d_recon_pair.mean())


def wgan_gradient_penalty(d_recon, x: torch.Tensor, x_hat: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Eq. 4's Lip-1 constraint as Gulrajani et al.'s penalty E[(||grad D(u)||_2 - 1)^2], u = eps (x, x) +
    (1 - eps) (x, x_hat) on the joint samples; the gradient is taken with respect to both halves of u."""
    left = (eps * x + (1.0 - eps) * x).detach().requires_grad_(True)
    right = (eps * x + (1.0 - eps) * x_hat).detach().requires_grad_(True)
    g_left, g_right = torch.autograd.grad(d_recon(left, right).sum(), [left, right], create_graph=True)
    norm = torch.sqrt((g_left ** 2).flatten(1).sum(dim=1) + (g_right ** 2).flatten(1).sum(dim=1))
    return ((norm - 1.0) ** 2).mean()


def hinge_critic_objective(d_same: torch.Tensor, d_recon_pair: torch.Tensor) -> torch.Tensor:
    """Eq. 4 in the hinge form of the authors' code: E[max(0, 1 - D(x, x))] + E[max(0, 1 + D(x, x_hat))]."""
    return torch.clamp(1.0 - d_same, min=0).mean() + torch.clamp(1.0 + d_recon_pair, min=0).mean()


# ---------------------------------------------------------------- Eq. 3: the m-point simplex critic D_inter

def simplex_mix(z: torch.Tensor, anchors: list[torch.Tensor], alphas: torch.Tensor) -> torch.Tensor:
    """Eq. 3's first line: z_hat = sum_i alpha_i E(x_i)."""
    return sum(alphas[:, i:i + 1] * z[a] for i, a in enumerate(anchors))


def eq3_critic_loss(d_inter, x: torch.Tensor, anchors: list[torch.Tensor], x_inter: torch.Tensor,
                    alphas: torch.Tensor, average_anchors: bool) -> torch.Tensor:
    """Eq. 3: sum_i ||D_inter(x_i, x_inter) - (1 - alpha_i)||^2 (batch mean of each term). The critic reads back
    1 - alpha_i for anchor i: 0 for the anchor the interpolant is (alpha_i = 1), 1 for one it has nothing of.
    `average_anchors` (the authors' code, `inter_reduction="mean"`) divides the sum by m; the paper sums."""
    terms = [((d_inter(x[a], x_inter) - (1.0 - alphas[:, i])) ** 2).mean() for i, a in enumerate(anchors)]
    return sum(terms) / len(terms) if average_anchors else sum(terms)


def real_pair_loss(d_inter, x: torch.Tensor, x_hat: torch.Tensor, gamma: float) -> torch.Tensor:
    """The authors' extra D_inter term (NOT in the paper's Eq. 3): E[D_inter(x, gamma x + (1 - gamma) x_hat)^2],
    a realistic, non-interpolated pair read as 0."""
    return (d_inter(x, gamma * x + (1.0 - gamma) * x_hat) ** 2).mean()


# ---------------------------------------------------------------- Eq. 5: E and G

def eq5_adversarial_term(d_recon, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Eq. 5's reconstruction term E[-D_recon(x, G(E(x)))] (supplementary algorithm: loss_2)."""
    return -d_recon(x, x_hat).mean()


def eq5_interpolation_term(d_inter, x: torch.Tensor, anchors: list[torch.Tensor], x_inter: torch.Tensor,
                           alphas: torch.Tensor, lam: float) -> torch.Tensor:
    """Eq. 5's interpolation term lambda * E[sum_i alpha_i ||D_inter(x_i, x_inter)||^2] (loss_3: the mean over
    the k interpolation tuples of the batch). The paper writes no 1/m here, and neither profile uses one."""
    per_tuple = sum(alphas[:, i] * d_inter(x[a], x_inter) ** 2 for i, a in enumerate(anchors))
    return lam * per_tuple.mean()


def latent_regulariser(z: torch.Tensor) -> torch.Tensor:
    """Section 4.2's R(E) = E[max(||E(x)||_2 - sqrt(d), 0)] (supplementary: loss_1), d the latent size.
    The paper prints max(||E(x) - sqrt(d)||_2, 0); a norm is never negative, so that max would do nothing: the
    formula is read as a hinge on the latent norm (zero inside the ball of radius sqrt(d)), as the code does."""
    return torch.clamp(torch.sqrt((z ** 2).sum(dim=1)) - math.sqrt(z.shape[1]), min=0).mean()


def l2_reconstruction(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """E[||x - x_hat||_2^2]: the `recon_weight` stabiliser, NOT part of the paper's objective."""
    return ((x - x_hat) ** 2).flatten(1).sum(dim=1).mean()


# ---------------------------------------------------------------- Eq. 1: Berthelot et al. (ACAI)

def acai_mix(z: torch.Tensor, partner: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """z_hat = alpha z_1 + (1 - alpha) z_2."""
    return alpha[:, None] * z + (1.0 - alpha[:, None]) * z[partner]


def eq1_critic_loss(d_inter, x_inter: torch.Tensor, alpha: torch.Tensor, x: torch.Tensor, x_hat: torch.Tensor,
                    gamma: float) -> torch.Tensor:
    """Eq. 1: ||D(G(z_hat)) - alpha||^2 + ||D(gamma x + (1 - gamma) x_hat)||^2 (batch means)."""
    return ((d_inter(x_inter) - alpha) ** 2).mean() + (d_inter(gamma * x + (1.0 - gamma) * x_hat) ** 2).mean()


def eq1_generator_loss(d_inter, x_inter: torch.Tensor, lam: float) -> torch.Tensor:
    """Berthelot et al.'s E/G term ||D(G(z_hat))||^2, weighted by lambda as Eq. 5's interpolation term."""
    return lam * (d_inter(x_inter) ** 2).mean()


# ---------------------------------------------------------------- the step

def _optimizer(cfg: OptimizerConfig, params) -> torch.optim.Optimizer:
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas))
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum)
    raise ValueError(f"unknown optimizer {cfg.name!r}")


class ReferenceStep:
    """`step(x)`: the supplementary algorithm's inner loop on one batch, with the losses named as the trainer's."""

    def __init__(self, nets: Networks, cfg: Config, seed: int = 0, one_power_iteration_per_update: bool = False):
        self.nets, self.cfg = nets, cfg
        self.cache_sn = one_power_iteration_per_update and cfg.uses_spectral_norm
        self.gen = torch.Generator().manual_seed(seed)
        critics = [m for m in (nets.d_recon, nets.d_inter) if m is not None]
        self.opt_e = _optimizer(cfg.opt_encoder, nets.encoder.parameters())
        self.opt_g = _optimizer(cfg.opt_generator, nets.generator.parameters())
        self.opt_d = _optimizer(cfg.opt_critic, [p for m in critics for p in m.parameters()])

    def update(self):
        return parametrize.cached() if self.cache_sn else contextlib.nullcontext()

    def draw(self, n: int) -> dict:
        """One critic update's draws: anchors, then simplex weights (or ACAI's alpha)."""
        cfg = self.cfg
        if cfg.interpolation == "acai":
            anchors = draw_anchors(n, 2, cfg.anchors == "cyclic", self.gen)
            return {"anchors": anchors, "alpha": draw_acai_alpha(n, self.gen)}
        if cfg.interpolation:
            m = cfg.interpolation
            anchors = draw_anchors(n, m, cfg.anchors == "cyclic", self.gen)
            return {"anchors": anchors, "alphas": draw_simplex_weights(n, m, cfg.alpha_sampler, self.gen)}
        return {}

    def interpolants(self, z: torch.Tensor, draws: dict) -> torch.Tensor:
        if "alpha" in draws:
            return self.nets.generator(acai_mix(z, draws["anchors"][1], draws["alpha"]))
        return self.nets.generator(simplex_mix(z, draws["anchors"], draws["alphas"]))

    def critic_update(self, x: torch.Tensor) -> tuple[dict, dict]:
        """D_recon (Eq. 4) and D_inter (Eq. 3, or Eq. 1) updated together on the sum of their losses."""
        cfg, nets = self.cfg, self.nets
        with self.update():
            with torch.no_grad():
                z = nets.encoder(x)
                x_hat = nets.generator(z)
                draws = self.draw(len(x))
                x_inter = self.interpolants(z, draws) if draws else None
            d_same, d_pair = nets.d_recon(x, x), nets.d_recon(x, x_hat)
            logs = {"w_estimate": (d_same.mean() - d_pair.mean()).detach()}  # Eq. 4's estimate, for the logs
            if cfg.lipschitz == "gp":
                logs["d_recon"] = eq4_critic_objective(d_same, d_pair)
                eps = draw_penalty_eps(x, self.gen)
                logs["gp"] = cfg.gp_weight * wgan_gradient_penalty(nets.d_recon, x, x_hat, eps)
            else:
                logs["d_recon"] = hinge_critic_objective(d_same, d_pair)
            if cfg.interpolation == "acai":
                logs["d_inter"] = eq1_critic_loss(nets.d_inter, x_inter, draws["alpha"], x, x_hat, cfg.acai_gamma)
            elif cfg.interpolation:
                logs["d_inter"] = eq3_critic_loss(nets.d_inter, x, draws["anchors"], x_inter, draws["alphas"],
                                                  average_anchors=cfg.inter_reduction == "mean")
                if cfg.inter_real_pair:
                    logs["d_inter_real"] = real_pair_loss(nets.d_inter, x, x_hat, cfg.acai_gamma)
            total = sum(v for k, v in logs.items() if k != "w_estimate")
            self.opt_d.zero_grad(set_to_none=True)
            total.backward()
        self.opt_d.step()
        logs["critic"] = total.detach()
        return logs, draws

    def eg_update(self, x: torch.Tensor, draws: dict) -> dict:
        """E and G on Eq. 5 (or ACAI's E/G term), fresh forward passes, the last critic update's draws."""
        cfg, nets = self.cfg, self.nets
        with self.update():
            z = nets.encoder(x)
            x_hat = nets.generator(z)
            logs = {"adv": eq5_adversarial_term(nets.d_recon, x, x_hat)}
            if cfg.latent_reg:
                logs["latent_reg"] = latent_regulariser(z)
            if cfg.recon_weight:
                logs["recon"] = cfg.recon_weight * l2_reconstruction(x, x_hat)
            if cfg.interpolation == "acai":
                logs["inter"] = eq1_generator_loss(nets.d_inter, self.interpolants(z, draws), cfg.lam)
            elif cfg.interpolation:
                logs["inter"] = eq5_interpolation_term(nets.d_inter, x, draws["anchors"], self.interpolants(z, draws),
                                                       draws["alphas"], cfg.lam)
            total = sum(logs.values())
            self.opt_e.zero_grad(set_to_none=True)
            self.opt_g.zero_grad(set_to_none=True)
            total.backward()  # the critics get gradients too, as in the authors' loop; their next update clears them
        self.opt_e.step()
        self.opt_g.step()
        logs["eg"] = total.detach()
        return logs

    def step(self, x: torch.Tensor) -> dict:
        """`critic_steps` critic updates on x (fresh draws each), then one E/G update with the last one's draws."""
        self.nets.train(True)
        for _ in range(self.cfg.critic_steps):
            logs, draws = self.critic_update(x)
        logs.update(self.eg_update(x, draws))
        return logs
