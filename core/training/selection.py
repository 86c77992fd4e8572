"""Label-free model selection, the supplementary algorithm's last part: from "after 60 epochs" of 100 on (read as a
fraction of the epochs, `Config.selection_start`), keep the weights of the epoch with the smallest feature loss
(Section 5.2's score, D_recon's feature distance ||f(x, x) - f(x, G(E(x)))||_1) on the training data. No labels and
no test data are involved. Re-exported by `core.training.trainer`."""
from __future__ import annotations

import copy
import math
from typing import Optional

from core.method.networks import Networks


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

    def restore_best(self, nets: Networks) -> None:
        """Load the selected epoch's weights into `nets` (nothing when no epoch was selected)."""
        if self.best_state is not None:
            nets.load_state_dict(self.best_state)
