"""A plain implementation of the method's training step, written the way the authors' code does it: separate
forward passes of E and G for every critic update and again for the E/G update, one D_inter call per anchor.

It is the yardstick of `bench/bench_train.py` and the straightforward computation `tests/test_train_speed.py`
compares `core.train.Trainer.step` with: for the same weights and the same generator it draws the same random
numbers in the same order (anchors, then simplex weights, then the gradient penalty's mixing weights), so both must
give the same losses and the same updated weights, to float tolerance. m-point simplex interpolation only.

Spectral norm runs one power iteration per critic call here, as in the authors' code; the trainer runs one per
update. `one_power_iteration_per_update=True` makes this step do the same, for exact comparisons.
"""
from __future__ import annotations

import contextlib

import torch
from torch.nn.utils import parametrize

from core import losses as L
from core.config import Config
from core.networks import Networks
from core.train import make_optimizer


class ReferenceStep:
    def __init__(self, nets: Networks, cfg: Config, seed: int = 0, one_power_iteration_per_update: bool = False):
        if not isinstance(cfg.interpolation, int) or cfg.interpolation < 2:
            raise ValueError("the reference step covers m-point simplex interpolation (m >= 2)")
        self.nets, self.cfg = nets, cfg
        self.cache_sn = one_power_iteration_per_update and cfg.uses_spectral_norm
        self.gen = torch.Generator().manual_seed(seed)
        self.opt_e = make_optimizer(cfg.opt_encoder, nets.encoder.parameters())
        self.opt_g = make_optimizer(cfg.opt_generator, nets.generator.parameters())
        self.opt_d = make_optimizer(cfg.opt_critic, [p for m in (nets.d_recon, nets.d_inter) for p in m.parameters()])

    def draw(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        cfg, m = self.cfg, self.cfg.interpolation
        idx = (L.cyclic_anchor_indices(n, m) if cfg.anchors == "cyclic" else L.anchor_indices(n, m, self.gen))
        return idx, L.sample_alphas(n, m, cfg.alpha_sampler, self.gen)

    def inter_outputs(self, x: torch.Tensor, idx: torch.Tensor, x_int: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.nets.d_inter(x[idx[i]], x_int) for i in range(len(idx))])

    def update(self):
        return parametrize.cached() if self.cache_sn else contextlib.nullcontext()

    def critic_update(self, x: torch.Tensor) -> tuple[dict, torch.Tensor, torch.Tensor]:
        with self.update():
            return self._critic_update(x)

    def eg_update(self, x: torch.Tensor, idx: torch.Tensor, alphas: torch.Tensor) -> dict:
        with self.update():
            return self._eg_update(x, idx, alphas)

    def _critic_update(self, x: torch.Tensor) -> tuple[dict, torch.Tensor, torch.Tensor]:
        cfg, nets = self.cfg, self.nets
        with torch.no_grad():
            z = nets.encoder(x)
            x_hat = nets.generator(z)
            idx, alphas = self.draw(len(x))
            x_int = nets.generator(L.simplex_mix(z, idx, alphas))
        d_real, d_fake = nets.d_recon(x, x), nets.d_recon(x, x_hat)
        logs = {"w_estimate": (d_real.mean() - d_fake.mean()).detach()}
        if cfg.lipschitz == "gp":
            logs["d_recon"] = L.wgan_critic_loss(d_real, d_fake)
            logs["gp"] = cfg.gp_weight * L.gradient_penalty(nets.d_recon, torch.cat([x, x], 1),
                                                            torch.cat([x, x_hat], 1), self.gen)
        else:
            logs["d_recon"] = L.hinge_critic_loss(d_real, d_fake)
        logs["d_inter"] = L.simplex_critic_loss(self.inter_outputs(x, idx, x_int), alphas, cfg.inter_reduction)
        if cfg.inter_real_pair:
            logs["d_inter_real"] = L.real_pair_loss(nets.d_inter(x, x_hat + cfg.acai_gamma * (x - x_hat)))
        total = sum(v for k, v in logs.items() if k != "w_estimate")
        self.opt_d.zero_grad(set_to_none=True)
        total.backward()
        self.opt_d.step()
        logs["critic"] = total.detach()
        return logs, idx, alphas

    def _eg_update(self, x: torch.Tensor, idx: torch.Tensor, alphas: torch.Tensor) -> dict:
        cfg, nets = self.cfg, self.nets
        z = nets.encoder(x)
        x_hat = nets.generator(z)
        x_int = nets.generator(L.simplex_mix(z, idx, alphas))
        logs = {"adv": L.adversarial_recon_loss(nets.d_recon(x, x_hat))}
        if cfg.latent_reg:
            logs["latent_reg"] = L.latent_regulariser(z)
        if cfg.recon_weight:
            logs["recon"] = cfg.recon_weight * L.reconstruction_penalty(x, x_hat)
        logs["inter"] = L.simplex_generator_loss(self.inter_outputs(x, idx, x_int), alphas, cfg.lam)
        total = sum(logs.values())
        self.opt_e.zero_grad(set_to_none=True)
        self.opt_g.zero_grad(set_to_none=True)
        total.backward()  # the critics get gradients too, as in the authors' loop; their next update clears them
        self.opt_e.step()
        self.opt_g.step()
        logs["eg"] = total.detach()
        return logs

    def step(self, x: torch.Tensor) -> dict:
        """`tfd` critic updates on x (fresh draws each), then one E/G update with the last critic update's draws."""
        self.nets.train(True)
        for _ in range(self.cfg.tfd):
            logs, idx, alphas = self.critic_update(x)
        logs.update(self.eg_update(x, idx, alphas))
        return logs
