"""Bookkeeping of the training loop: label-free model selection and the losses' trip from the device to the host.
Re-exported by `core.train`."""
from __future__ import annotations

import copy
import math
from typing import Optional

import torch

from .networks import Networks


def selection_start_epoch(epochs: int, start_fraction: float) -> int:
    return min(int(round(start_fraction * epochs)), epochs - 1)


class ModelSelector:
    """The supplementary algorithm's label-free selection: from `start` on, keep the weights of the epoch with the
    smallest training feature loss."""

    def __init__(self, epochs: int, start_fraction: float):
        self.start = selection_start_epoch(epochs, start_fraction)
        self.best_epoch: Optional[int] = None
        self.best_value = math.inf
        self.best_state: Optional[dict] = None

    def consider(self, epoch: int, loss_feat: Optional[float], nets: Networks) -> bool:
        """Record the epoch's loss; True (and a copy of the weights kept) when it is the best so far."""
        if epoch < self.start or loss_feat is None or not math.isfinite(loss_feat) or loss_feat >= self.best_value:
            return False
        self.best_epoch, self.best_value = epoch, loss_feat
        self.best_state = copy.deepcopy(nets.state_dict())
        return True


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
