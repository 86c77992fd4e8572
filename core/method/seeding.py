"""Seeded network builds that neither depend on nor change torch's process-wide generator."""
from __future__ import annotations

import threading

import torch
from torch.overrides import TorchFunctionMode

from core.method.config import Config
from core.method.networks import build_networks

# The networks' modules draw their initial weights from torch's global CPU generator (PyTorch's and the Xavier
# initialisation, spectral norm's random vectors). `seeded_networks` gives a build exactly the weights of
# `torch.manual_seed(seed)` then `build_networks` (the shipped checkpoints and results were trained from them)
# without depending on, or changing, that process-wide state: every draw of the build goes to a private generator
# seeded with `seed` (a torch-function mode, local to the thread), which yields the same sequence as the seeded
# global one. As a safety net for any draw the mode would miss, the global CPU generator is also seeded for the
# build and restored after it, one build at a time (the lock). Accelerator generators are not touched: the
# networks are built on the CPU, and training draws from its own seeded generator (`Trainer`).
_SEEDED_BUILD = threading.Lock()
_TENSOR_DRAWS = frozenset({torch.Tensor.uniform_, torch.Tensor.normal_, torch.Tensor.random_, torch.Tensor.bernoulli_,
                           torch.Tensor.exponential_, torch.Tensor.cauchy_, torch.Tensor.log_normal_,
                           torch.Tensor.geometric_})


class _DrawFrom(TorchFunctionMode):
    """Within the block (this thread only), random draws without a generator of their own use `generator`."""

    def __init__(self, generator: torch.Generator):
        super().__init__()
        self.generator = generator

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if kwargs.get("generator", False) is None or (func in _TENSOR_DRAWS and "generator" not in kwargs):
            kwargs["generator"] = self.generator  # nn.init's functions pass generator=None; Tensor.normal_ none
        return func(*args, **kwargs)


def seeded_networks(cfg: Config, input_shape: tuple, seed: int):
    """`build_networks(cfg, input_shape)` initialised from `seed` alone; the global generator is left as it was."""
    with _SEEDED_BUILD, torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)
        with _DrawFrom(torch.Generator().manual_seed(seed)):
            return build_networks(cfg, input_shape)
