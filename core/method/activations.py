"""The scoring budget: what scoring one sample costs in memory, counted from a config and an input shape, and the
batch size that keeps a scoring pass under a ceiling. Nothing is allocated (PyTorch's "meta" device).

Why: a checkpoint that passes every check (`core.checkpoints.sidecar.network_budget`: parameters and shapes) can
still be expensive to run: ``cifar10_small`` at 3x256x256 costs about 83 MB per scored sample, so 400 tiny PNGs
resized up to its input, a 30 kB zip, would ask for tens of GB in one batch of 1,024.

How it is counted (`scoring_bytes_per_sample`): the paper's score, the costliest of `core.method.scoring.SCORES`,
is run once on meta tensors (encoder, generator, then D_recon's features on (x, x) and (x, G(E(x)))), and every
tensor an operation creates is tracked until Python frees it, as eager PyTorch frees it under ``no_grad``. The
count is the most float32 bytes of per-sample tensors alive at once (those whose first dimension is the batch;
the weights and spectral norm's weight copies are the same for any batch and are in the parameter budget), times
``KERNEL_FACTOR`` = 1.5 for what kernels and the allocator hold besides those tensors (CPU convolutions reorder
their input and output into blocked copies). Measured on CPU with PyTorch's profiler, the allocator's peak per
sample is 1.17 to 1.46 times the live tensors for the digits, mnist_small and cifar10_small presets (8x8 to
128x128), and ``cifar10_small`` at 3x256x256 counts 82 MB against the 83 MB of resident memory measured per
scored image; `tests/test_input_budgets.py` keeps the count within 1.5x of the profiler's peak.

The ceiling: ``MAESI_SCORE_MEMORY`` (bytes, or with a K/M/G suffix, binary units), 1 GiB by default.
"""
from __future__ import annotations

import functools
import os
import re
import weakref

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from core.method import measure_memo
from core.method.config import Config
from core.method.networks import build_networks

__all__ = ["scoring_bytes_per_sample", "scoring_batch_size", "score_memory_ceiling", "ScoringBudgetError",
           "SCORE_MEMORY_ENV", "DEFAULT_SCORE_MEMORY", "KERNEL_FACTOR", "MAX_SCORING_BATCH"]

SCORE_MEMORY_ENV = "MAESI_SCORE_MEMORY"
DEFAULT_SCORE_MEMORY = 1 << 30
KERNEL_FACTOR = 1.5
MAX_SCORING_BATCH = 1024  # `core.method.scoring`'s default batch: more buys no speed on these networks
_PROBE_BATCH = 61  # a prime no layer width here has, so "first dimension == batch" singles out per-sample tensors
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


class ScoringBudgetError(ValueError):
    """Even one sample would cost more than the scoring memory ceiling; the one-line message says how much."""


class _LiveBytes(TorchDispatchMode):
    """Bytes of the per-sample tensors alive at once, the peak kept: each new (non-view) tensor is counted until
    its Python object is freed."""

    def __init__(self, batch: int, itemsize: int):
        super().__init__()
        self.batch, self.itemsize, self.live, self.peak = batch, itemsize, 0, 0

    def _free(self, n: int) -> None:
        self.live -= n

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and not t._is_view() and t.dim() and t.shape[0] == self.batch:
                n = t.numel() * self.itemsize  # the scoring precision, whatever the meta tensor's dtype
                self.live += n
                weakref.finalize(t, self._free, n)
        self.peak = max(self.peak, self.live)
        return out


def _measure(cfg: Config, input_shape: tuple, itemsize: int) -> int:
    from core.method.scoring import feature_score

    with torch.device("meta"):
        nets = build_networks(cfg, input_shape)
    nets.train(False)  # batch norm as scoring runs it: running statistics, no batch statistics
    x = torch.empty((_PROBE_BATCH, *input_shape), device="meta")
    mode = _LiveBytes(_PROBE_BATCH, itemsize)
    with torch.no_grad(), mode:
        feature_score(nets, x)
    return int(KERNEL_FACTOR * mode.peak / _PROBE_BATCH)


def _measure_remembered(cfg: Config, input_shape: tuple, itemsize: int) -> int:
    """`_measure` through the disk memo (`core.method.measure_memo`: a cold server skips the meta device)."""
    from core.method import networks, scoring

    path = measure_memo.memo_path("scoring_bytes", [networks.__file__, scoring.__file__, __file__],
                                  [repr(cfg), list(input_shape), itemsize])
    return measure_memo.remembered(path, lambda: _measure(cfg, input_shape, itemsize), int,
                                   lambda raw: raw if type(raw) is int and raw > 0 else None)


_measure_cached = functools.lru_cache(maxsize=64)(_measure_remembered)


def scoring_bytes_per_sample(cfg: Config, input_shape, itemsize: int = 4) -> int:
    """Bytes one more sample adds to a scoring pass of `cfg`'s networks at `input_shape` (see the module
    docstring); `itemsize` 4 for float32, 8 for a pass in float64. Shapes only: build the networks for a shape
    the parameter budget has admitted."""
    shape = tuple(int(v) for v in input_shape)
    try:
        hash(cfg)
    except TypeError:  # a Config holding an unhashable value: measure without the cache
        return _measure(cfg, shape, int(itemsize))
    return _measure_cached(cfg, shape, int(itemsize))


def score_memory_ceiling(environ=None) -> int:
    """The scoring memory ceiling in bytes: ``MAESI_SCORE_MEMORY`` ("2G", "512M", "1073741824"), else 1 GiB."""
    text = (os.environ if environ is None else environ).get(SCORE_MEMORY_ENV, "").strip()
    if not text:
        return DEFAULT_SCORE_MEMORY
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?", text, re.IGNORECASE)
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"{SCORE_MEMORY_ENV}={text!r} is not a memory size (e.g. 1073741824, 512M or 2G)")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def _size(n: float) -> str:
    return f"{n / (1 << 30):,.1f} GiB" if n >= 1 << 30 else f"{n / (1 << 20):,.0f} MiB"


def scoring_batch_size(cfg: Config, input_shape, ceiling: int | None = None, most: int = MAX_SCORING_BATCH,
                       itemsize: int = 4) -> int:
    """The largest batch (at most `most`) whose scoring pass stays under `ceiling` bytes (default: the
    ``MAESI_SCORE_MEMORY`` ceiling) at `itemsize` bytes per value; ScoringBudgetError when even one sample
    exceeds it."""
    ceiling = score_memory_ceiling() if ceiling is None else int(ceiling)
    per_sample = max(1, scoring_bytes_per_sample(cfg, input_shape, itemsize))
    if per_sample > ceiling:
        shape = "x".join(str(int(v)) for v in input_shape)
        raise ScoringBudgetError(f"scoring one sample of preset {cfg.preset!r} at input {shape} needs about "
                                 f"{_size(per_sample)}; the scoring memory ceiling is {_size(ceiling)} (set "
                                 f"{SCORE_MEMORY_ENV} to raise it)")
    return int(max(1, min(most, ceiling // per_sample)))
