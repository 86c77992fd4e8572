"""Speed options of training, none of which changes the maths, kept apart from it: host-to-device copies that do
not stall the GPU, bf16 autocast, channels-last memory layout, `torch.compile`, the faster CPU kernels of
`core.training.kernels`, one spectral-norm power iteration per update, and the rule that decides when several critic
evaluations are batched into one call. `Speedups` bundles them for `core.training.trainer.Trainer`.

Measured figures are in README.md ("GPU") and printed by `bench/bench_train.py` and `bench/gpu_check.py`.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Iterator

import torch
from torch import nn
from torch.nn.utils import parametrize

from core.method.networks import Networks
from core.training import kernels

# On a CPU, one critic call on a concatenated batch beats several calls only while the operands are small (the call
# overheads dominate, as for 8x8 digits); for 28x28 images and up, separate calls of one batch each are faster (they
# stay in cache; measured: 3 calls of 256 MNIST pairs about 20 % faster than one of 768). On a GPU, batching wins.
CPU_BATCH_LIMIT = 1 << 16  # elements of one operand (rows x features)


# `parametrize.cached()` keeps its cache in module globals: while one thread is inside it, every parametrised module
# of every thread reads and writes that one cache, and the first thread to leave clears it under the others. So a
# cached update (its forward passes and its backward) holds this lock; PyTorch offers no thread-local cache.
# Parametrised modules used outside a cached block in the meantime (eval-mode scoring, the epoch's probe) compute the
# same weight either way: in eval mode spectral norm runs no power iteration.
_PARAMETRIZE_CACHE = threading.Lock()


@contextlib.contextmanager
def _cached_parametrizations() -> Iterator[None]:
    with _PARAMETRIZE_CACHE, parametrize.cached():
        yield


def to_device(t: torch.Tensor, like: torch.Tensor | torch.device) -> torch.Tensor:
    """A tensor drawn on the CPU (seeded generators live there) moved to `like`'s device, in `like`'s dtype when
    `like` is a tensor. Into a GPU it goes through pinned memory without blocking: a plain copy from pageable memory
    waits for every queued kernel, i.e. one host synchronisation per call."""
    device = like.device if isinstance(like, torch.Tensor) else torch.device(like)
    dtype = like.dtype if isinstance(like, torch.Tensor) and t.is_floating_point() else t.dtype
    if device.type == "cuda":
        return t.pin_memory().to(device, dtype=dtype, non_blocking=True)
    return t.to(device, dtype=dtype)


def batch_calls(device: torch.device, operand: torch.Tensor) -> bool:
    """Whether critic evaluations of `operand`-sized batches should be concatenated into one call."""
    return device.type != "cpu" or operand.numel() <= CPU_BATCH_LIMIT


def has_batch_norm(module: nn.Module) -> bool:
    """Batched calls would change batch statistics of such a module, so it is always called batch by batch."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def use_channels_last(nets: Networks) -> None:
    """NHWC weights for the convolutions (cuDNN's fast layout for bf16 / tensor cores); the trainer feeds NHWC data."""
    for m in nets.modules().values():
        m.to(memory_format=torch.channels_last)


def compilable(nets: Networks, cfg) -> dict[str, nn.Module]:
    """The networks `torch.compile` can take: all but a D_recon trained with the gradient penalty (its double
    backward is not supported by compiled graphs) or with spectral norm (a parametrisation mutating buffers)."""
    mods = nets.modules()
    if cfg.lipschitz == "gp" or cfg.uses_spectral_norm:
        mods.pop("d_recon")
    return mods


def compile_networks(nets: Networks, cfg) -> list[nn.Module]:
    """Compile in place (`Module.compile` keeps the parameter names, so checkpoints are unchanged)."""
    mods = list(compilable(nets, cfg).values())
    for m in mods:
        m.compile()
    return mods


def uncompile(modules: list[nn.Module]) -> None:
    """Drop the compiled call again, so that the fitted model pickles and copies like any other."""
    for m in modules:
        m._compiled_call_impl = None


class Speedups:
    """The trainer's speed options, chosen once from the device: `bf16` autocast and `channels_last` (NHWC image
    layout) on CUDA only, `compile` (torch.compile of the networks it supports), `cpu_kernels` (thin convolutions)
    on a CPU without compile, fused Adam on CPU and CUDA."""

    def __init__(self, nets: Networks, cfg, device: torch.device, bf16: bool = False, compile: bool = False,
                 channels_last: bool = False, cpu_kernels: bool = True):
        self.device = device
        self.bf16 = bf16 and device.type == "cuda"
        self.channels_last = channels_last and cfg.arch.family != "mlp" and device.type == "cuda"
        if self.channels_last:
            use_channels_last(nets)
        self.compiled = compile_networks(nets, cfg) if compile else []
        use_kernels = cpu_kernels and device.type == "cpu" and not compile
        self.kernel_layers = kernels.thin_layers(nets.modules().values()) if use_kernels else []
        self.fused_adam = device.type in ("cpu", "cuda")
        self.spectral_norm = cfg.uses_spectral_norm

    def autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.bf16)

    def one_power_iteration(self):
        """Spectral norm computes its weight once per update instead of once per critic call (one power iteration
        per update). Such updates of models in other threads wait for each other (`_PARAMETRIZE_CACHE`)."""
        return _cached_parametrizations() if self.spectral_norm else contextlib.nullcontext()

    def thin_convolutions(self):
        return kernels.thin_convolutions(self.kernel_layers)

    def layout(self, X: torch.Tensor) -> torch.Tensor:
        """The training data in the networks' memory layout."""
        return X.contiguous(memory_format=torch.channels_last) if self.channels_last and X.dim() == 4 else X

    def critic_pairs(self, critic: nn.Module, lefts: list, rights: list) -> list[torch.Tensor]:
        """critic(l, r) for each pair: one call on the concatenated pairs where that is faster, else one each."""
        if len(lefts) > 1 and batch_calls(self.device, lefts[0]) and not has_batch_norm(critic):
            return list(critic(torch.cat(lefts), torch.cat(rights)).split([len(t) for t in lefts]))
        return [critic(a, b) for a, b in zip(lefts, rights)]

    def release(self) -> None:
        uncompile(self.compiled)
