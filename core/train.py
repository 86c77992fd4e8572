"""Training as in the supplementary algorithm: critic updates (D_recon and D_inter together), E/G updates,
and label-free model selection on the training feature loss.

Each batch gives one critic step; every `tfd`-th batch also gives an E/G step. On those batches one forward
pass of E and G (with gradients) serves both updates: the critics see its outputs detached, then the E/G loss
reuses the same graph against the freshly updated critics.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Iterable, Optional

import torch

from . import losses as L
from .config import Config, OptimizerConfig
from .networks import Networks


class TrainingDiverged(RuntimeError):
    """A loss became NaN or Inf. The networks hold the last good weights when this is raised."""

    def __init__(self, epoch: int, step: int, names: list[str], restored: str, result: "TrainResult"):
        self.epoch, self.step, self.names, self.restored, self.result = epoch, step, names, restored, result
        super().__init__(
            f"training diverged at epoch {epoch}, step {step}: non-finite {', '.join(names)}; "
            f"the model keeps the {restored}. Try a smaller learning rate, lipschitz='hinge-sn' or bf16=False.")


@dataclass
class StepInfo:
    epoch: int
    step: int  # global batch counter, from 0
    total_steps: int
    eg_update: bool
    losses: dict
    elapsed: float


@dataclass
class EpochInfo:
    epoch: int
    epochs: int
    losses: dict  # means over the epoch's steps
    loss_feat: Optional[float]  # model-selection loss, from the selection start on
    elapsed: float
    eta: float
    is_best: bool


class Callback:
    """Hooks for progress reporting. Set `stop_training = True` to stop after the current step."""

    stop_training = False

    def on_train_begin(self, total_steps: int, epochs: int) -> None: ...

    def on_step(self, info: StepInfo) -> None: ...

    def on_epoch(self, info: EpochInfo) -> None: ...


@dataclass
class TrainResult:
    history: dict = field(default_factory=dict)  # per-epoch lists: losses, loss_feat, seconds
    selected_epoch: Optional[int] = None
    status: str = "completed"  # completed | stopped | interrupted | diverged
    steps: int = 0
    seconds: float = 0.0


def select_best_epoch(loss_feat: list, epochs: int, start_fraction: float) -> Optional[int]:
    """Model selection of the supplementary algorithm: among the epochs from `start_fraction` of `epochs` on,
    the one with the smallest training feature loss (None entries, not measured, are skipped)."""
    start = selection_start_epoch(epochs, start_fraction)
    candidates = [(v, e) for e, v in enumerate(loss_feat) if e >= start and v is not None and math.isfinite(v)]
    return min(candidates)[1] if candidates else None


def selection_start_epoch(epochs: int, start_fraction: float) -> int:
    return min(int(round(start_fraction * epochs)), epochs - 1)


def make_optimizer(cfg: OptimizerConfig, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    params = list(params)
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas))
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum)
    raise ValueError(f"unknown optimizer {cfg.name!r}")


def critic_steps_needed(cfg: Config, eg_steps_done: int) -> int:
    """Critic steps before the next E/G step; "wgan" adds Arjovsky et al.'s warm-up of 100 steps."""
    if cfg.tfd_schedule == "wgan" and (eg_steps_done < 25 or eg_steps_done % 500 == 0):
        return 100
    return cfg.tfd


def set_requires_grad(modules, flag: bool) -> None:
    for m in modules:
        for p in m.parameters():
            p.requires_grad_(flag)


@torch.no_grad()
def feature_scores(nets: Networks, X: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """||f(x, x) - f(x, G(E(x)))||_1 for every row of X (already normalised, on the networks' device),
    in eval mode; the caller restores the training mode if it needs it."""
    nets.train(False)
    out = []
    for i in range(0, len(X), batch_size):
        x = X[i:i + batch_size]
        x_hat = nets.generator(nets.encoder(x))
        out.append(L.feature_distance(nets.d_recon.features(x, x), nets.d_recon.features(x, x_hat)).float())
    return torch.cat(out) if out else torch.zeros(0, device=X.device)


class Trainer:
    def __init__(self, nets: Networks, cfg: Config, device: torch.device, seed: int = 0, bf16: bool = False):
        self.nets, self.cfg, self.device = nets, cfg, device
        self.gen = torch.Generator().manual_seed(seed)
        self.autocast = bf16 and device.type == "cuda"
        self.critics = [m for m in (nets.d_recon, nets.d_inter) if m is not None]
        self.opt_e = make_optimizer(cfg.opt_encoder, nets.encoder.parameters())
        self.opt_g = make_optimizer(cfg.opt_generator, nets.generator.parameters())
        self.opt_d = make_optimizer(cfg.opt_critic, [p for m in self.critics for p in m.parameters()])

    # ------------------------------------------------------------ one batch

    def _forward(self, x: torch.Tensor) -> dict:
        """One pass of E and G: reconstructions and (when interpolating) the decoded interpolants."""
        cfg, nets = self.cfg, self.nets
        z = nets.encoder(x)
        out = {"z": z, "x_hat": nets.generator(z)}
        n = x.shape[0]
        if cfg.interpolation == "acai":
            alpha = (0.5 * torch.rand(n, generator=self.gen)).to(x)
            perm = torch.randperm(n, generator=self.gen).to(x.device)
            z_int = alpha[:, None] * z + (1.0 - alpha[:, None]) * z[perm]
            out.update(alpha=alpha, x_int=nets.generator(z_int))
        elif cfg.interpolation:
            m = cfg.interpolation
            alphas = L.sample_alphas(n, m, cfg.alpha_sampler, self.gen).to(x)
            idx = L.anchor_indices(n, m, self.gen).to(x.device)
            out.update(alphas=alphas, idx=idx, x_int=nets.generator(L.simplex_mix(z, idx, alphas)))
        return out

    def _inter_critic(self, x: torch.Tensor, fw: dict, x_int: torch.Tensor) -> torch.Tensor:
        """D_inter(x_i, x_int) for every anchor i, as an (m, n) tensor, in one batched critic call."""
        idx = fw["idx"]
        m, n = idx.shape
        anchors = x[idx.reshape(-1)]
        x_rep = x_int.unsqueeze(0).expand(m, *x_int.shape).reshape(m * n, *x_int.shape[1:])
        return self.nets.d_inter(anchors, x_rep).view(m, n)

    def _critic_loss(self, x: torch.Tensor, fw: dict) -> tuple[torch.Tensor, dict]:
        cfg, nets = self.cfg, self.nets
        x_hat = fw["x_hat"].detach()
        d_real, d_fake = nets.d_recon(x, x), nets.d_recon(x, x_hat)
        parts = {"w_estimate": d_real.mean() - d_fake.mean()}
        if cfg.lipschitz == "gp":
            parts["d_recon"] = L.wgan_critic_loss(d_real, d_fake)
            parts["gp"] = cfg.gp_weight * L.gradient_penalty(nets.d_recon, torch.cat([x, x], 1),
                                                             torch.cat([x, x_hat], 1), self.gen)
        else:
            parts["d_recon"] = L.hinge_critic_loss(d_real, d_fake)
        if cfg.interpolation == "acai":
            gamma = cfg.acai_gamma
            parts["d_inter"] = L.acai_critic_loss(nets.d_inter(fw["x_int"].detach()), fw["alpha"],
                                                  nets.d_inter(gamma * x + (1 - gamma) * x_hat))
        elif cfg.interpolation:
            parts["d_inter"] = L.simplex_critic_loss(self._inter_critic(x, fw, fw["x_int"].detach()), fw["alphas"])
        total = parts["d_recon"] + parts.get("gp", 0.0) + parts.get("d_inter", 0.0)
        return total, parts

    def _eg_loss(self, x: torch.Tensor, fw: dict) -> tuple[torch.Tensor, dict]:
        cfg, nets = self.cfg, self.nets
        parts = {"adv": L.adversarial_recon_loss(nets.d_recon(x, fw["x_hat"]))}
        if cfg.latent_reg:
            parts["latent_reg"] = L.latent_regulariser(fw["z"])
        if cfg.interpolation == "acai":
            parts["inter"] = L.acai_generator_loss(nets.d_inter(fw["x_int"]), cfg.lam)
        elif cfg.interpolation:
            parts["inter"] = L.simplex_generator_loss(self._inter_critic(x, fw, fw["x_int"]), fw["alphas"], cfg.lam)
        return sum(parts.values()), parts

    def forward(self, x: torch.Tensor, with_grad: bool) -> dict:
        """The step's single pass of E and G; with gradients only when an E/G update follows."""
        self.nets.train(True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.autocast), torch.set_grad_enabled(with_grad):
            return self._forward(x)

    def critic_step(self, x: torch.Tensor, fw: dict) -> dict:
        """Update D_recon and D_inter together (supplementary algorithm); E and G are untouched."""
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.autocast):
            total, logs = self._critic_loss(x, fw)
        self.opt_d.zero_grad(set_to_none=True)
        total.backward()
        self.opt_d.step()
        logs["critic"] = total.detach()
        return logs

    def eg_step(self, x: torch.Tensor, fw: dict) -> dict:
        """Update E and G on Eq. 5's E/G terms, reusing the forward pass `fw`; the critics are frozen."""
        set_requires_grad(self.critics, False)
        try:
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.autocast):
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

    def step(self, x: torch.Tensor, eg_update: bool) -> dict:
        """One critic step, then (if `eg_update`) one E/G step. Returns the losses as tensors."""
        fw = self.forward(x, with_grad=eg_update)
        logs = self.critic_step(x, fw)
        if eg_update:
            logs.update(self.eg_step(x, fw))
        return logs

    # ------------------------------------------------------------ the loop

    def fit(self, X: torch.Tensor, callbacks: list[Callback] = ()) -> TrainResult:
        """Train on X (normalised, on the device). The networks end with the selected weights."""
        cfg, nets = self.cfg, self.nets
        n = len(X)
        if n < 2:
            raise ValueError("training needs at least 2 samples")
        bs = min(cfg.batch_size, n)
        batches = n // bs  # the last partial batch is dropped: batch statistics stay comparable
        total = cfg.epochs * batches
        sel_start = selection_start_epoch(cfg.epochs, cfg.selection_start)
        sel_idx = torch.randperm(n, generator=self.gen)[: cfg.selection_max_samples].to(X.device)
        X_sel = X[sel_idx]

        result = TrainResult(history={"loss_feat": [], "seconds": []})
        last_good = copy.deepcopy(nets.state_dict())
        best_state, best_feat = None, math.inf
        for cb in callbacks:
            cb.on_train_begin(total, cfg.epochs)
        t0 = time.perf_counter()
        step = eg_steps = critic_since_eg = 0
        try:
            for epoch in range(cfg.epochs):
                perm = torch.randperm(n, generator=self.gen).to(X.device)
                sums: dict[str, float] = {}
                counts: dict[str, int] = {}
                for b in range(batches):
                    x = X[perm[b * bs:(b + 1) * bs]]
                    eg_update = critic_since_eg + 1 >= critic_steps_needed(cfg, eg_steps)
                    logs = self.step(x, eg_update)
                    names = list(logs)
                    values = torch.stack([v.detach().float() for v in logs.values()]).tolist()
                    vals = dict(zip(names, values))
                    bad = [k for k, v in vals.items() if not math.isfinite(v)]
                    if bad:
                        restored = "weights of the best epoch so far" if best_state else "weights of the last finished epoch"
                        nets.load_state_dict(best_state or last_good)
                        result.status = "diverged"
                        raise TrainingDiverged(epoch, step, bad, restored, result)
                    for k, v in vals.items():
                        sums[k] = sums.get(k, 0.0) + v
                        counts[k] = counts.get(k, 0) + 1
                    if eg_update:
                        eg_steps += 1
                        critic_since_eg = 0
                    else:
                        critic_since_eg += 1
                    step += 1
                    info = StepInfo(epoch, step - 1, total, eg_update, vals, time.perf_counter() - t0)
                    for cb in callbacks:
                        cb.on_step(info)
                    if any(cb.stop_training for cb in callbacks):
                        result.status = "stopped"
                        break
                means = {k: sums[k] / counts[k] for k in sums}
                for k, v in means.items():
                    result.history.setdefault(k, []).append(v)
                loss_feat = None
                if epoch >= sel_start and result.status == "completed":
                    loss_feat = float(feature_scores(nets, X_sel).mean())
                    if not math.isfinite(loss_feat):
                        nets.load_state_dict(best_state or last_good)
                        result.status = "diverged"
                        raise TrainingDiverged(epoch, step, ["loss_feat"], "weights of the last finished epoch", result)
                is_best = loss_feat is not None and loss_feat < best_feat
                if is_best:
                    best_feat, best_state = loss_feat, copy.deepcopy(nets.state_dict())
                    result.selected_epoch = epoch
                result.history["loss_feat"].append(loss_feat)
                elapsed = time.perf_counter() - t0
                result.history["seconds"].append(elapsed)
                eta = elapsed / max(step, 1) * (total - step)
                if result.status == "completed":
                    last_good = copy.deepcopy(nets.state_dict())
                for cb in callbacks:
                    cb.on_epoch(EpochInfo(epoch, cfg.epochs, means, loss_feat, elapsed, eta, is_best))
                if result.status != "completed":
                    break
        except KeyboardInterrupt:
            # An interrupted run loses nothing: keep the best (or last finished) weights and report it.
            result.status = "interrupted"
            nets.load_state_dict(best_state or last_good)
        else:
            if best_state is not None:
                nets.load_state_dict(best_state)
        finally:
            result.steps = step
            result.seconds = time.perf_counter() - t0
            nets.train(False)
        return result
