"""Bookkeeping of a training run, kept out of the algorithm in `core.training.trainer`: the losses' trip from the
device to the host, NaN/Inf checks, the per-epoch history and training-health figures (`core.training.health`),
the last good weights, progress callbacks, and the `TrainResult` a run ends with. Re-exported by
`core.training.trainer`, where the public names (`Callback`, `TrainResult`, `TrainingDiverged`) are imported from.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Optional

import torch

from core.method.networks import Networks
from core.training.norm_statistics import recalibrate_generator_norms
from core.training import health
from core.training.selection import ModelSelector


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
    figures: dict = field(default_factory=dict)  # the epoch's training-health figures (core.training.health)


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
    health: dict = field(default_factory=dict)  # core.training.health.summary of the kept weights


class TrainingDiverged(RuntimeError):
    """A loss became NaN or Inf. The networks hold the last good weights when this is raised."""

    def __init__(self, epoch: int, step: int, names: list[str], restored: str, result: TrainResult):
        self.epoch, self.step, self.names, self.restored, self.result = epoch, step, names, restored, result
        super().__init__(
            f"training diverged at epoch {epoch}, step {step}: non-finite {', '.join(names)}; "
            f"the model keeps the {restored}. Try a smaller learning rate, lipschitz='hinge-sn' or bf16=False.")


class LossLog:
    """The steps' losses stay on the device and reach the host together every `sync_every` steps and at the
    epoch's end (one device synchronisation per window instead of one per step)."""

    def __init__(self, sync_every: int):
        self.sync_every = max(1, sync_every)
        self.names: list[str] = []
        self.pending: list[torch.Tensor] = []
        self.first_step = 0
        self.sums: dict[str, float] = {}
        self.count = 0
        self.latest: dict[str, float] = {}

    def add(self, step: int, logs: dict) -> None:
        if not self.pending:
            self.first_step = step
        self.names = list(logs)
        self.pending.append(torch.stack([v.detach().float().reshape(()) for v in logs.values()]))

    def due(self) -> bool:
        return len(self.pending) >= self.sync_every

    def sync(self) -> Optional[tuple[int, list[str]]]:
        """Move the window to the host; (step, names) of the first non-finite loss, else None."""
        if not self.pending:
            return None
        rows = torch.stack(self.pending).cpu().tolist()
        self.pending = []
        for offset, row in enumerate(rows):
            bad = [n for n, v in zip(self.names, row) if not math.isfinite(v)]
            if bad:
                return self.first_step + offset, bad
            for n, v in zip(self.names, row):
                self.sums[n] = self.sums.get(n, 0.0) + v
            self.count += 1
        self.latest = dict(zip(self.names, rows[-1]))
        return None

    def epoch_means(self) -> dict:
        means = {k: v / max(self.count, 1) for k, v in self.sums.items()}
        self.sums, self.count = {}, 0
        return means


class TrainingRun:
    """Everything one `Trainer.fit` records besides the weights it trains. Starting it reports the run to the
    callbacks; `finish` fills the result in, also after a divergence or an interruption."""

    def __init__(self, nets: Networks, selector: ModelSelector, probe: torch.Tensor, epochs: int, total_steps: int,
                 sync_every: int, callbacks=()):
        self.nets, self.selector, self.probe, self.callbacks = nets, selector, probe, list(callbacks)
        self.epochs, self.total_steps, self.step = epochs, total_steps, 0
        self.initial = {"encoder": health.flat_weights(nets.encoder), "generator": health.flat_weights(nets.generator)}
        self.log = LossLog(sync_every)
        self.result = TrainResult(history={"loss_feat": [], "seconds": []})
        self.last_good = copy.deepcopy(nets.state_dict())
        self.figures_by_epoch: list[dict] = []
        self._means: dict = {}
        for cb in self.callbacks:
            cb.on_train_begin(total_steps, epochs)
        self.t0 = time.perf_counter()

    @property
    def completed(self) -> bool:
        return self.result.status == "completed"

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def after_step(self, epoch: int, losses: dict) -> bool:
        """Record one step's losses (checked when they reach the host); False when a callback asks to stop."""
        self.log.add(self.step, losses)
        if self.log.due():
            self._check(epoch)
        self.step += 1
        info = StepInfo(epoch, self.step - 1, self.total_steps, self.log.latest, self.elapsed())
        for cb in self.callbacks:
            cb.on_step(info)
        if any(cb.stop_training for cb in self.callbacks):
            self.result.status = "stopped"
        return self.completed

    def end_epoch(self, epoch: int) -> Optional[float]:
        """The epoch's loss means and health figures; its training feature loss from the selection start on."""
        self._check(epoch)
        self._means = self.log.epoch_means()
        recalibrate_generator_norms(self.nets, self.probe)  # G's eval-mode statistics from reconstructions
        figures = health.probe(self.nets, self.probe, self.initial)
        figures["w_estimate"] = self._means.get("w_estimate", math.nan)
        if not math.isfinite(figures["loss_feat"]):
            self._diverged(epoch, self.step, ["loss_feat"])
        self.figures_by_epoch.append(figures)
        return figures["loss_feat"] if epoch >= self.selector.start else None

    def report_epoch(self, epoch: int, loss_feat: Optional[float], is_best: bool) -> None:
        """History, the last good weights and the callbacks' `on_epoch`."""
        figures, history = self.figures_by_epoch[-1], self.result.history
        for k, v in self._means.items():
            history.setdefault(k, [None] * epoch).append(v)
        for k in health.FIGURES:
            history.setdefault(k, []).append(figures[k])
        history["loss_feat"].append(loss_feat)
        history["seconds"].append(self.elapsed())
        if self.completed:
            self.last_good = copy.deepcopy(self.nets.state_dict())
            self.result.epochs_finished = epoch + 1
        elapsed = self.elapsed()
        eta = elapsed / max(self.step, 1) * (self.total_steps - self.step)
        info = EpochInfo(epoch, self.epochs, self._means, loss_feat, elapsed, eta, is_best, figures)
        for cb in self.callbacks:
            cb.on_epoch(info)

    def interrupt(self) -> None:
        """An interrupted run loses nothing: it keeps the best (or last finished) epoch's weights."""
        self.result.status = "interrupted"
        self._restore_last_good()

    def finish(self) -> TrainResult:
        result, best = self.result, self.selector.best_epoch
        result.steps, result.seconds, result.selected_epoch = self.step, self.elapsed(), best
        kept = best if best is not None else len(self.figures_by_epoch) - 1
        if self.figures_by_epoch and kept >= 0:
            result.health = health.summary(self.figures_by_epoch[kept], result.status, kept)
        self.nets.train(False)
        return result

    def _check(self, epoch: int) -> None:
        bad = self.log.sync()
        if bad:
            self._diverged(epoch, bad[0], bad[1])

    def _diverged(self, epoch: int, step: int, names: list[str]) -> None:
        self.result.status = "diverged"
        raise TrainingDiverged(epoch, step, names, self._restore_last_good(), self.result)

    def _restore_last_good(self) -> str:
        self.nets.load_state_dict(self.selector.best_state or self.last_good)
        if self.selector.best_state:
            return "weights of the best epoch so far"
        return "weights of the last finished epoch"
