"""Batch-norm statistics of G that match how it is scored.

In training G runs in train mode on reconstructions G(E(x)) and, in the same step, on interpolants G(sum_i w_i z_i)
(once, or once per critic step under the authors' profile), so the running statistics that eval mode uses are an
average dominated by interpolant batches, whose latents are shrunk towards the batch mean. Scoring, model selection
and the health probe run G in eval mode on reconstructions only. Before each of them (every epoch's end) the
statistics are recomputed on reconstruction passes over the training probe: E in eval mode, G in train mode, the
running averages reset and accumulated with equal weight per batch (momentum None, as
`torch.optim.swa_utils.update_bn` does). Training itself is unchanged: train-mode batch norm normalises with the
batch's own statistics and never reads the running ones.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["recalibrate_generator_norms"]


def recalibrate_generator_norms(nets, X: torch.Tensor, batch_size: int = 256) -> bool:
    """Recompute the running statistics of G's batch-norm layers on G(E(x)) over X; False when G has none."""
    norms = [m for m in nets.generator.modules()
             if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not norms:
        return False
    modes = (nets.encoder.training, nets.generator.training)
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average: every batch weighs the same
    nets.encoder.eval()
    nets.generator.train()
    try:
        with torch.no_grad():
            for i in range(0, len(X), batch_size):
                nets.generator(nets.encoder(X[i:i + batch_size]))
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        nets.encoder.train(modes[0])
        nets.generator.train(modes[1])
    return True
