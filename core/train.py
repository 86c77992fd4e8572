"""Training as in the supplementary algorithm: critic updates (D_recon and D_inter together), E/G updates, and
label-free model selection on the training feature loss, with training-health figures every epoch.

Each batch gives `tfd` critic steps on that same batch, then one E/G step (the authors' loop; `tfd` = 1 in the
paper profile). One grad-enabled pass of E and G per batch serves everything: the critics see its outputs detached
(each critic step draws fresh simplex weights), then the E/G loss reuses the same graph against the freshly updated
critics, with the weights of the last critic step.

Speed without other maths (checked against a plain step in tests/test_step_equivalence.py; measured by
bench/bench_train.py): several evaluations of one critic go into one batched call where that is faster
(`acceleration.batch_calls`), spectral norm runs one power iteration per update, Adam is the fused implementation,
thin convolutions use faster CPU kernels (`core.kernels`), and on a GPU no step synchronises with the host (losses
reach it every `sync_every` steps, random draws are copied asynchronously).
"""
from __future__ import annotations

import contextlib
import copy
import math
import time
from dataclasses import dataclass, field
from typing import Iterable, Optional

import torch
from torch.nn.utils import parametrize

from . import acceleration as A
from . import health, kernels
from . import losses as L
from .config import Config, OptimizerConfig
from .networks import Networks
from .train_log import LossLog, ModelSelector, selection_start_epoch  # noqa: F401 (public here)


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
    losses: dict  # the latest values that reached the host (every `sync_every` steps)
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
    figures: dict = field(default_factory=dict)  # the epoch's training-health figures (core.health)


class Callback:
    """Hooks for progress reporting. Set `stop_training = True` to stop after the current step."""

    stop_training = False

    def on_train_begin(self, total_steps: int, epochs: int) -> None: ...

    def on_step(self, info: StepInfo) -> None: ...

    def on_epoch(self, info: EpochInfo) -> None: ...


@dataclass
class TrainResult:
    history: dict = field(default_factory=dict)  # per-epoch lists: losses, health figures, loss_feat, seconds
    selected_epoch: Optional[int] = None
    status: str = "completed"  # completed | stopped | interrupted | diverged
    steps: int = 0
    seconds: float = 0.0
    epochs_finished: int = 0
    health: dict = field(default_factory=dict)  # core.health.summary of the kept weights


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
    """One run of training. Speed options (none changes the maths): `bf16` autocast, `compile` (torch.compile of
    the networks it supports), `channels_last` (NHWC image layout) on a GPU; `cpu_kernels` (core.kernels) on a
    CPU; `sync_every`: steps between the losses' trips to the host (1 on a CPU, 25 on a GPU)."""

    def __init__(self, nets: Networks, cfg: Config, device: torch.device, seed: int = 0, bf16: bool = False,
                 sync_every: Optional[int] = None, compile: bool = False, channels_last: bool = False,
                 cpu_kernels: bool = True):
        self.nets, self.cfg, self.device = nets, cfg, device
        self.gen = torch.Generator().manual_seed(seed)
        self.autocast = bf16 and device.type == "cuda"
        self.sync_every = sync_every or (1 if device.type == "cpu" else 25)
        self.critics = [m for m in (nets.d_recon, nets.d_inter) if m is not None]
        self.channels_last = channels_last and cfg.arch.family != "mlp" and device.type == "cuda"
        if self.channels_last:
            A.use_channels_last(nets)
        self.compiled = A.compile_networks(nets, cfg) if compile else []
        use_kernels = cpu_kernels and device.type == "cpu" and not compile
        self.kernel_layers = kernels.thin_layers(nets.modules().values()) if use_kernels else []
        fused = device.type in ("cpu", "cuda")
        self.opt_e = make_optimizer(cfg.opt_encoder, nets.encoder.parameters(), fused)
        self.opt_g = make_optimizer(cfg.opt_generator, nets.generator.parameters(), fused)
        self.opt_d = make_optimizer(cfg.opt_critic, [p for m in self.critics for p in m.parameters()], fused)

    # ------------------------------------------------------------ one batch

    def _anchors(self, n: int, device) -> torch.Tensor:
        m = 2 if self.cfg.interpolation == "acai" else self.cfg.interpolation
        if self.cfg.anchors == "cyclic":
            return L.cyclic_anchor_indices(n, m, device)
        return L.anchor_indices(n, m, self.gen, device)

    def _interpolate(self, x: torch.Tensor, z: torch.Tensor) -> dict:
        """Fresh simplex weights and the decoded interpolants G(sum_i alpha_i E(x_i)) (or ACAI's)."""
        cfg, n = self.cfg, x.shape[0]
        idx = self._anchors(n, x.device)
        if cfg.interpolation == "acai":
            alpha = A.to_device(0.5 * torch.rand(n, generator=self.gen), x)
            z_int = alpha[:, None] * z + (1.0 - alpha[:, None]) * z[idx[1]]
            return {"alpha": alpha, "idx": idx, "x_int": self.nets.generator(z_int)}
        alphas = A.to_device(L.sample_alphas(n, cfg.interpolation, cfg.alpha_sampler, self.gen), x)
        return {"alphas": alphas, "idx": idx, "x_int": self.nets.generator(L.simplex_mix(z, idx, alphas))}

    def forward(self, x: torch.Tensor, with_grad: bool, base: Optional[dict] = None) -> dict:
        """E(x), G(E(x)) (reused from `base` when given) and, when interpolating, fresh interpolants."""
        self.nets.train(True)
        with self._autocast(), torch.set_grad_enabled(with_grad):
            if base is None:
                z = self.nets.encoder(x)
                fw = {"z": z, "x_hat": self.nets.generator(z)}
            else:
                fw = {"z": base["z"], "x_hat": base["x_hat"]}
            if self.cfg.interpolation:
                z = fw["z"] if with_grad else fw["z"].detach()
                fw.update(self._interpolate(x, z))
        return fw

    def _autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.autocast)

    def _one_power_iteration(self):
        """Spectral norm computes its weight once per update instead of once per critic call."""
        return parametrize.cached() if self.cfg.uses_spectral_norm else contextlib.nullcontext()

    def _pairs(self, critic, lefts: list, rights: list) -> list[torch.Tensor]:
        """critic(l, r) for each pair: one call on the concatenated pairs where that is faster, else one each."""
        if len(lefts) > 1 and A.batch_calls(self.device, lefts[0]) and not A.has_batch_norm(critic):
            return list(critic(torch.cat(lefts), torch.cat(rights)).split([len(t) for t in lefts]))
        return [critic(a, b) for a, b in zip(lefts, rights)]

    def _inter_outputs(self, x: torch.Tensor, fw: dict, x_int: torch.Tensor, real_pair=None) -> list:
        """D_inter(x_i, x_int) for each anchor i, then D_inter(x, real_pair) when given."""
        lefts, rights = [x[i] for i in fw["idx"]], [x_int] * len(fw["idx"])
        if real_pair is not None:
            lefts.append(x)
            rights.append(real_pair)
        return self._pairs(self.nets.d_inter, lefts, rights)

    def _inter_critic(self, x: torch.Tensor, fw: dict, x_int: torch.Tensor) -> torch.Tensor:
        """D_inter(x_i, x_int) for every anchor i, as an (m, n) tensor."""
        return torch.stack(self._inter_outputs(x, fw, x_int))

    def _critic_loss(self, x: torch.Tensor, fw: dict) -> tuple[torch.Tensor, dict]:
        cfg, nets = self.cfg, self.nets
        x_hat = fw["x_hat"].detach()
        d_real, d_fake = self._pairs(nets.d_recon, [x, x], [x, x_hat])
        parts = {"w_estimate": (d_real.mean() - d_fake.mean()).detach()}
        if cfg.lipschitz == "gp":
            parts["d_recon"] = L.wgan_critic_loss(d_real, d_fake)
            parts["gp"] = cfg.gp_weight * L.gradient_penalty(nets.d_recon, torch.cat([x, x], 1),
                                                             torch.cat([x, x_hat], 1), self.gen)
        else:
            parts["d_recon"] = L.hinge_critic_loss(d_real, d_fake)
        gamma = cfg.acai_gamma
        if cfg.interpolation == "acai":
            parts["d_inter"] = L.acai_critic_loss(nets.d_inter(fw["x_int"].detach()), fw["alpha"],
                                                  nets.d_inter(gamma * x + (1 - gamma) * x_hat))
        elif cfg.interpolation:
            real_pair = x_hat + gamma * (x - x_hat) if cfg.inter_real_pair else None
            outs = self._inter_outputs(x, fw, fw["x_int"].detach(), real_pair)
            m = len(fw["idx"])
            parts["d_inter"] = L.simplex_critic_loss(torch.stack(outs[:m]), fw["alphas"], cfg.inter_reduction)
            if real_pair is not None:
                parts["d_inter_real"] = L.real_pair_loss(outs[m])
        total = sum(v for k, v in parts.items() if k != "w_estimate")
        return total, parts

    def _eg_loss(self, x: torch.Tensor, fw: dict) -> tuple[torch.Tensor, dict]:
        cfg, nets = self.cfg, self.nets
        parts = {"adv": L.adversarial_recon_loss(nets.d_recon(x, fw["x_hat"]))}
        if cfg.latent_reg:
            parts["latent_reg"] = L.latent_regulariser(fw["z"])
        if cfg.recon_weight:
            parts["recon"] = cfg.recon_weight * L.reconstruction_penalty(x, fw["x_hat"])
        if cfg.interpolation == "acai":
            parts["inter"] = L.acai_generator_loss(nets.d_inter(fw["x_int"]), cfg.lam)
        elif cfg.interpolation:
            parts["inter"] = L.simplex_generator_loss(self._inter_critic(x, fw, fw["x_int"]), fw["alphas"], cfg.lam)
        return sum(parts.values()), parts

    def critic_step(self, x: torch.Tensor, fw: dict) -> dict:
        """Update D_recon and D_inter together (supplementary algorithm); E and G are untouched."""
        with self._one_power_iteration():
            with self._autocast():
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
            with self._one_power_iteration():
                with self._autocast():
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
        """`tfd` critic steps on the batch x (fresh simplex weights each), then one E/G step. Losses as tensors."""
        with kernels.thin_convolutions(self.kernel_layers):
            fw = self.forward(x, with_grad=True)
            for t in range(self.cfg.tfd):
                if t:
                    fw = self.forward(x, with_grad=t == self.cfg.tfd - 1, base=fw) if self.cfg.interpolation else fw
                logs = self.critic_step(x, fw)
            logs.update(self.eg_step(x, fw))  # the last critic step's interpolants were drawn with gradients
        return logs

    # ------------------------------------------------------------ the loop

    def fit(self, X: torch.Tensor, callbacks: list[Callback] = ()) -> TrainResult:
        """Train on X (normalised, on the device). The networks end with the selected weights."""
        cfg, nets = self.cfg, self.nets
        n = len(X)
        if self.channels_last and X.dim() == 4:
            X = X.contiguous(memory_format=torch.channels_last)
        if n < 2:
            raise ValueError("training needs at least 2 samples")
        bs = min(cfg.batch_size, n)
        batches = n // bs  # the last partial batch is dropped: batch statistics stay comparable
        total = cfg.epochs * batches
        X_probe = X[A.to_device(torch.randperm(n, generator=self.gen)[: cfg.selection_max_samples], X.device)]
        initial = {"encoder": health.flat_weights(nets.encoder), "generator": health.flat_weights(nets.generator)}
        selector = ModelSelector(cfg.epochs, cfg.selection_start)
        log = LossLog(self.sync_every)
        result = TrainResult(history={"loss_feat": [], "seconds": []})
        last_good = copy.deepcopy(nets.state_dict())
        figures_by_epoch: list[dict] = []
        for cb in callbacks:
            cb.on_train_begin(total, cfg.epochs)
        t0 = time.perf_counter()
        step = 0

        def restore_last_good() -> str:
            nets.load_state_dict(selector.best_state or last_good)
            return "weights of the best epoch so far" if selector.best_state else "weights of the last finished epoch"

        def check(epoch: int) -> None:
            bad = log.sync()
            if bad:
                result.status = "diverged"
                raise TrainingDiverged(epoch, bad[0], bad[1], restore_last_good(), result)

        try:
            for epoch in range(cfg.epochs):
                perm = A.to_device(torch.randperm(n, generator=self.gen), X.device)
                for b in range(batches):
                    log.add(step, self.step(X[perm[b * bs:(b + 1) * bs]]))
                    if log.due():
                        check(epoch)
                    step += 1
                    info = StepInfo(epoch, step - 1, total, log.latest, time.perf_counter() - t0)
                    for cb in callbacks:
                        cb.on_step(info)
                    if any(cb.stop_training for cb in callbacks):
                        result.status = "stopped"
                        break
                check(epoch)
                means = log.epoch_means()
                figures = health.probe(nets, X_probe, initial)
                figures["w_estimate"] = means.get("w_estimate", math.nan)
                if not math.isfinite(figures["loss_feat"]):
                    result.status = "diverged"
                    raise TrainingDiverged(epoch, step, ["loss_feat"], restore_last_good(), result)
                loss_feat = figures["loss_feat"] if epoch >= selector.start else None
                is_best = result.status == "completed" and selector.consider(epoch, loss_feat, nets)
                self._record(result, epoch, means, figures, loss_feat, time.perf_counter() - t0)
                figures_by_epoch.append(figures)
                if result.status == "completed":
                    last_good = copy.deepcopy(nets.state_dict())
                    result.epochs_finished = epoch + 1
                elapsed = time.perf_counter() - t0
                eta = elapsed / max(step, 1) * (total - step)
                for cb in callbacks:
                    cb.on_epoch(EpochInfo(epoch, cfg.epochs, means, loss_feat, elapsed, eta, is_best, figures))
                if result.status != "completed":
                    break
        except KeyboardInterrupt:
            # An interrupted run loses nothing: it keeps the best (or last finished) epoch's weights.
            result.status = "interrupted"
            restore_last_good()
        else:
            if selector.best_state is not None:
                nets.load_state_dict(selector.best_state)
        finally:
            A.uncompile(self.compiled)
            result.steps = step
            result.seconds = time.perf_counter() - t0
            result.selected_epoch = selector.best_epoch
            kept = selector.best_epoch if selector.best_epoch is not None else len(figures_by_epoch) - 1
            if figures_by_epoch and kept >= 0:
                result.health = health.summary(figures_by_epoch[kept], result.status, kept)
            nets.train(False)
        return result

    @staticmethod
    def _record(result: TrainResult, epoch: int, means: dict, figures: dict, loss_feat, seconds: float) -> None:
        history = result.history
        for k, v in means.items():
            history.setdefault(k, [None] * epoch).append(v)
        for k in health.FIGURES:
            history.setdefault(k, []).append(figures[k])
        history["loss_feat"].append(loss_feat)
        history["seconds"].append(seconds)
