"""Training as in the supplementary algorithm: critic updates (D_recon and D_inter together), E/G updates, and
label-free model selection on the training feature loss, with training-health figures every epoch.

Each batch gives `critic_steps` critic updates on that same batch, then one E/G update (the authors' loop;
`critic_steps` = 1 in the paper profile). The critics minimise Eq. 4 (D_recon: WGAN with gradient penalty, or the
hinge loss with spectral norm) and Eq. 3 (D_inter, simplex weights; Eq. 1 for the ACAI baseline); E and G minimise
Eq. 5's terms: E[-D_recon(x, G(E(x)))], lambda * E[sum_i alpha_i D_inter(x_i, x_hat)^2] and the latent regulariser
R(E) of Section 4.2. The loss terms are the pure functions of `core.method.losses`.

One grad-enabled pass of E and G per batch serves everything: the critics see its outputs detached (each critic
update draws fresh simplex weights), then the E/G loss reuses the same graph against the freshly updated critics,
with the weights of the last critic update. Every random draw comes from one seeded CPU generator, so a seed gives
the same run on any device.

Speed without other maths lives in `core.training.acceleration.Speedups` (checked against a plain step in
tests/test_step_equivalence.py; measured by bench/bench_train.py): several evaluations of one critic go into one
batched call where that is faster, spectral norm runs one power iteration per update, Adam is the fused
implementation, thin convolutions use faster CPU kernels (`core.training.kernels`), and on a GPU no step
synchronises with the host (losses reach it every `sync_every` steps through `core.training.bookkeeping.LossLog`,
random draws are copied asynchronously).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

import torch

from core.method import losses
from core.method.config import Config, OptimizerConfig
from core.method.networks import Networks
from core.training import acceleration
from core.training.bookkeeping import (Callback, EpochInfo, LossLog, StepInfo, TrainingDiverged,  # noqa: F401
                                       TrainingRun, TrainResult)
from core.training.selection import ModelSelector, selection_start_epoch  # noqa: F401 (public here)


@dataclass
class ForwardPass:
    """E and G on a batch x and, when interpolating, the interpolants of freshly drawn weights."""

    z: torch.Tensor  # E(x), (n, d)
    x_hat: torch.Tensor  # G(E(x))
    idx: Optional[torch.Tensor] = None  # (m, n): anchor i of sample j is x[idx[i, j]]; idx[0] is the batch itself
    alphas: Optional[torch.Tensor] = None  # simplex weights (n, m) (Eq. 3); ACAI: alpha (n,) in [0, 0.5] (Eq. 1)
    x_int: Optional[torch.Tensor] = None  # G(sum_i alpha_i E(x_i)); ACAI: G(alpha E(x) + (1 - alpha) E(x'))


def make_optimizer(cfg: OptimizerConfig, params: Iterable[torch.nn.Parameter],
                   fused: bool = False) -> torch.optim.Optimizer:
    """`fused`: Adam's fused kernel (CPU and CUDA), the same update in a few ops instead of a dozen per tensor."""
    params = list(params)
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), fused=fused or None)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum)
    raise ValueError(f"unknown optimizer {cfg.name!r}")


def set_requires_grad(modules, flag: bool) -> None:
    for m in modules:
        for p in m.parameters():
            p.requires_grad_(flag)


class Trainer:
    """One run of training. Speed options (none changes the maths; see `core.training.acceleration.Speedups`):
    `bf16` autocast, `compile` (torch.compile of the networks it supports), `channels_last` (NHWC image layout) on a
    GPU; `cpu_kernels` (core.training.kernels) on a CPU; `sync_every`: steps between the losses' trips to the host
    (1 on a CPU, 25 on a GPU)."""

    def __init__(self, nets: Networks, cfg: Config, device: torch.device, seed: int = 0, bf16: bool = False,
                 sync_every: Optional[int] = None, compile: bool = False, channels_last: bool = False,
                 cpu_kernels: bool = True):
        self.nets, self.cfg, self.device = nets, cfg, device
        self.gen = torch.Generator().manual_seed(seed)  # on the CPU: the same draws on every device
        self.sync_every = sync_every or (1 if device.type == "cpu" else 25)
        self.speed = acceleration.Speedups(nets, cfg, device, bf16=bf16, compile=compile,
                                           channels_last=channels_last, cpu_kernels=cpu_kernels)
        self.critics = [m for m in (nets.d_recon, nets.d_inter) if m is not None]
        fused = self.speed.fused_adam
        self.opt_e = make_optimizer(cfg.opt_encoder, nets.encoder.parameters(), fused)
        self.opt_g = make_optimizer(cfg.opt_generator, nets.generator.parameters(), fused)
        self.opt_d = make_optimizer(cfg.opt_critic, [p for m in self.critics for p in m.parameters()], fused)

    @property
    def channels_last(self) -> bool:
        return self.speed.channels_last

    # ------------------------------------------------------------ random draws, from the CPU generator

    def _anchors(self, n: int, like: torch.Tensor) -> torch.Tensor:
        m = 2 if self.cfg.interpolation == "acai" else self.cfg.interpolation
        if self.cfg.anchors == "cyclic":
            return losses.cyclic_anchor_indices(n, m, like.device)
        return acceleration.to_device(losses.anchor_indices(n, m, self.gen), like)

    def _alphas(self, n: int, like: torch.Tensor) -> torch.Tensor:
        if self.cfg.interpolation == "acai":
            alphas = 0.5 * torch.rand(n, generator=self.gen)  # Eq. 1: alpha in [0, 0.5]
        else:
            alphas = losses.sample_alphas(n, self.cfg.interpolation, self.cfg.alpha_sampler, self.gen)
        return acceleration.to_device(alphas, like)

    def _permutation(self, n: int, like: torch.Tensor) -> torch.Tensor:
        return acceleration.to_device(torch.randperm(n, generator=self.gen), like)

    # ------------------------------------------------------------ the forward pass

    def forward(self, x: torch.Tensor, with_grad: bool, base: Optional[ForwardPass] = None) -> ForwardPass:
        """E(x), G(E(x)) (reused from `base` when given) and, when interpolating, fresh interpolants."""
        self.nets.train(True)
        with self.speed.autocast(), torch.set_grad_enabled(with_grad):
            if base is None:
                z = self.nets.encoder(x)
                fw = ForwardPass(z=z, x_hat=self.nets.generator(z))
            else:
                fw = ForwardPass(z=base.z, x_hat=base.x_hat)
            if self.cfg.interpolation:
                fw.idx, fw.alphas, fw.x_int = self._interpolate(x, fw.z if with_grad else fw.z.detach())
        return fw

    def _interpolate(self, x: torch.Tensor, z: torch.Tensor):
        """(idx, alphas, x_int): fresh anchors and weights, and G(sum_i alpha_i E(x_i)) (Eq. 3) or ACAI's (Eq. 1)."""
        n = x.shape[0]
        idx = self._anchors(n, x)
        alphas = self._alphas(n, x)
        if self.cfg.interpolation == "acai":
            z_int = alphas[:, None] * z + (1.0 - alphas[:, None]) * z[idx[1]]
        else:
            z_int = losses.simplex_mix(z, idx, alphas)
        return idx, alphas, self.nets.generator(z_int)

    def _inter_outputs(self, x: torch.Tensor, fw: ForwardPass, x_int: torch.Tensor, real_pair=None) -> list:
        """D_inter(x_i, x_int) for each anchor i, then D_inter(x, real_pair) when given."""
        lefts, rights = [x[i] for i in fw.idx], [x_int] * len(fw.idx)
        if real_pair is not None:
            lefts.append(x)
            rights.append(real_pair)
        return self.speed.critic_pairs(self.nets.d_inter, lefts, rights)

    def _inter_critic(self, x: torch.Tensor, fw: ForwardPass, x_int: torch.Tensor) -> torch.Tensor:
        """D_inter(x_i, x_int) for every anchor i, as an (m, n) tensor."""
        return torch.stack(self._inter_outputs(x, fw, x_int))

    # ------------------------------------------------------------ the losses

    def _critic_loss(self, x: torch.Tensor, fw: ForwardPass) -> tuple[torch.Tensor, dict]:
        """Eq. 4 for D_recon, Eq. 3 for D_inter (Eq. 1 for ACAI), on E and G's outputs detached."""
        cfg, nets = self.cfg, self.nets
        x_hat = fw.x_hat.detach()
        d_real, d_fake = self.speed.critic_pairs(nets.d_recon, [x, x], [x, x_hat])
        parts = {"w_estimate": (d_real.mean() - d_fake.mean()).detach()}
        if cfg.lipschitz == "gp":
            parts["d_recon"] = losses.wgan_critic_loss(d_real, d_fake)
            eps = acceleration.to_device(torch.rand(x.shape[0], generator=self.gen), x)
            parts["gp"] = cfg.gp_weight * losses.gradient_penalty(nets.d_recon, torch.cat([x, x], 1),
                                                                  torch.cat([x, x_hat], 1), eps=eps)
        else:
            parts["d_recon"] = losses.hinge_critic_loss(d_real, d_fake)
        gamma = cfg.acai_gamma
        if cfg.interpolation == "acai":
            parts["d_inter"] = losses.acai_critic_loss(nets.d_inter(fw.x_int.detach()), fw.alphas,
                                                       nets.d_inter(gamma * x + (1 - gamma) * x_hat))
        elif cfg.interpolation:
            real_pair = x_hat + gamma * (x - x_hat) if cfg.inter_real_pair else None
            outs = self._inter_outputs(x, fw, fw.x_int.detach(), real_pair)
            m = len(fw.idx)
            parts["d_inter"] = losses.simplex_critic_loss(torch.stack(outs[:m]), fw.alphas, cfg.inter_reduction)
            if real_pair is not None:
                parts["d_inter_real"] = losses.real_pair_loss(outs[m])
        total = sum(v for k, v in parts.items() if k != "w_estimate")
        return total, parts

    def _eg_loss(self, x: torch.Tensor, fw: ForwardPass) -> tuple[torch.Tensor, dict]:
        """Eq. 5's E/G terms: adversarial reconstruction, interpolation (lambda-weighted), latent regulariser."""
        cfg, nets = self.cfg, self.nets
        parts = {"adv": losses.adversarial_recon_loss(nets.d_recon(x, fw.x_hat))}
        if cfg.latent_reg:
            parts["latent_reg"] = losses.latent_regulariser(fw.z)
        if cfg.recon_weight:
            parts["recon"] = cfg.recon_weight * losses.reconstruction_penalty(x, fw.x_hat)
        if cfg.interpolation == "acai":
            parts["inter"] = losses.acai_generator_loss(nets.d_inter(fw.x_int), cfg.lam)
        elif cfg.interpolation:
            parts["inter"] = losses.simplex_generator_loss(self._inter_critic(x, fw, fw.x_int), fw.alphas, cfg.lam)
        return sum(parts.values()), parts

    # ------------------------------------------------------------ the updates

    def critic_step(self, x: torch.Tensor, fw: ForwardPass) -> dict:
        """Update D_recon and D_inter together (supplementary algorithm); E and G are untouched."""
        with self.speed.one_power_iteration():
            with self.speed.autocast():
                total, logs = self._critic_loss(x, fw)
            self.opt_d.zero_grad(set_to_none=True)
            total.backward()
        self.opt_d.step()
        logs["critic"] = total.detach()
        return logs

    def eg_step(self, x: torch.Tensor, fw: ForwardPass) -> dict:
        """Update E and G on Eq. 5's E/G terms, reusing the forward pass `fw`; the critics are frozen."""
        set_requires_grad(self.critics, False)
        try:
            with self.speed.one_power_iteration():
                with self.speed.autocast():
                    total, logs = self._eg_loss(x, fw)
                self.opt_e.zero_grad(set_to_none=True)
                self.opt_g.zero_grad(set_to_none=True)
                total.backward()
            self.opt_e.step()
            self.opt_g.step()
        finally:
            set_requires_grad(self.critics, True)
        logs["eg"] = total.detach()
        return logs

    def step(self, x: torch.Tensor) -> dict:
        """`critic_steps` critic updates on the batch x (fresh simplex weights each), then one E/G update. Losses
        as tensors."""
        steps = self.cfg.critic_steps
        with self.speed.thin_convolutions():
            fw = self.forward(x, with_grad=True)
            for t in range(steps):
                if t and self.cfg.interpolation:  # the same E(x) and G(E(x)), fresh anchors and weights
                    fw = self.forward(x, with_grad=t == steps - 1, base=fw)
                logs = self.critic_step(x, fw)
            logs.update(self.eg_step(x, fw))  # the last critic update's interpolants were drawn with gradients
        return logs

    # ------------------------------------------------------------ the loop

    def fit(self, X: torch.Tensor, callbacks: list[Callback] = ()) -> TrainResult:
        """Train on X (normalised, on the device) as the supplementary algorithm: every epoch, each batch of a
        fresh shuffle gets its critic updates and one E/G update (`step`); from the selection start on, the epoch
        with the smallest training feature loss is kept (label-free model selection). The networks end with the
        selected weights; a run that diverges or is interrupted ends with the best (or last finished) epoch's."""
        cfg, n = self.cfg, len(X)
        if n < 2:
            raise ValueError("training needs at least 2 samples")
        X = self.speed.layout(X)
        batch_size = min(cfg.batch_size, n)
        batches = n // batch_size  # the last partial batch is dropped: batch statistics stay comparable
        probe = X[self._permutation(n, X)[: cfg.selection_max_samples]]  # where the feature loss is measured
        selector = ModelSelector(cfg.epochs, cfg.selection_start)
        run = TrainingRun(self.nets, selector, probe, cfg.epochs, cfg.epochs * batches, self.sync_every, callbacks)
        try:
            for epoch in range(cfg.epochs):
                perm = self._permutation(n, X)
                for b in range(batches):
                    if not run.after_step(epoch, self.step(X[perm[b * batch_size:(b + 1) * batch_size]])):
                        break
                loss_feat = run.end_epoch(epoch)  # None before the selection start
                is_best = run.completed and selector.consider(epoch, loss_feat, self.nets)
                run.report_epoch(epoch, loss_feat, is_best)
                if not run.completed:
                    break
        except KeyboardInterrupt:
            run.interrupt()
        else:
            selector.restore_best(self.nets)
        finally:
            self.speed.release()
            run.finish()
        return run.result
