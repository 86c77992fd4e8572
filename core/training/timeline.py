"""Training timeline: snapshots of a fixed sample of test latents every few epochs, stored beside a run, so the lab
can show the latent space forming while a model trains.

    cb = TimelineCallback(model, X_test[indices], every=5)      # snapshots of these test samples' latents
    model.fit(X_train, callbacks=[cb])
    save_timeline("runs/x", cb.epochs, cb.latents, indices)     # runs/x.timeline.safetensors
    epochs, latents, indices = load_timeline("runs/x")          # (T,), (T, n, d), (n,)

`indices` (the samples' positions in the test set) are stored with the snapshots so a reader can find them again;
the callback itself only sees the samples.

The file is safetensors (never pickle) with three tensors, written atomically; reading checks their shapes agree,
so a damaged or foreign file raises `TimelineError` with a one-line message.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from core.checkpoints.store import atomic_write_bytes, checkpoint_paths
from core.method.scoring import encode
from core.training.trainer import Callback

SUFFIX = ".timeline.safetensors"
MAX_BYTES = 64 << 20  # a timeline of 1000 latents x 64 dims x 100 snapshots is 25 MB


class TimelineError(ValueError):
    """The timeline file is missing, damaged or not a maesi timeline."""


def timeline_path(path) -> Path:
    weights, _ = checkpoint_paths(path)
    return weights.with_name(weights.name[: -len(".safetensors")] + SUFFIX)


class TimelineCallback(Callback):
    """Encodes `X` (raw test samples) with the model's networks at the end of every `every`-th epoch (and the
    first and last). The model must be fitting (its networks and scaler exist once training has begun)."""

    def __init__(self, model, X: np.ndarray, every: int = 5):
        self.model, self.X, self.every = model, np.asarray(X), max(1, int(every))
        self.epochs: list[int] = []
        self.latents: list[np.ndarray] = []
        self._Xt = None

    def on_epoch(self, info) -> None:
        last = info.epoch + 1 == info.epochs
        if info.epoch % self.every and not last:
            return
        if self._Xt is None:
            self._Xt = self.model._to_tensor(self.X)
        z = encode(self.model.nets_, self._Xt).cpu().numpy()  # eval mode, then the trainer's modes again
        self.epochs.append(info.epoch)
        self.latents.append(z.astype(np.float32))


def save_timeline(path, epochs, latents, indices) -> Path:
    """Write the snapshots beside the checkpoint at `path` (x -> x.timeline.safetensors)."""
    if not len(epochs):
        raise TimelineError("no snapshot to save")
    Z = np.stack(latents).astype(np.float32)
    blob = st_save({"epochs": torch.as_tensor(np.asarray(epochs, np.int64)), "latents": torch.from_numpy(Z),
                    "indices": torch.as_tensor(np.asarray(indices, np.int64))},
                   metadata={"format": "maesi-timeline", "version": "1"})
    out = timeline_path(path)
    atomic_write_bytes(out, blob)
    return out


def load_timeline(path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(epochs (T,), latents (T, n, d), test indices (n,)) of the timeline beside the checkpoint at `path`."""
    p = timeline_path(path)
    try:
        if p.stat().st_size > MAX_BYTES:
            raise TimelineError(f"{p.name}: larger than {MAX_BYTES >> 20} MB; not read")
        tensors = st_load(p.read_bytes())
    except FileNotFoundError:
        raise TimelineError(f"{p.name}: this run has no timeline") from None
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise TimelineError(f"{p.name}: not a readable timeline ({type(e).__name__})") from None
    try:
        epochs, Z, idx = tensors["epochs"].numpy(), tensors["latents"].float().numpy(), tensors["indices"].numpy()
    except KeyError as e:
        raise TimelineError(f"{p.name}: lacks the tensor {e}") from None
    if Z.ndim != 3 or len(epochs) != len(Z) or Z.shape[1] != len(idx) or epochs.ndim != 1 or idx.ndim != 1:
        raise TimelineError(f"{p.name}: tensors of inconsistent shapes {epochs.shape}, {Z.shape}, {idx.shape}")
    if not np.isfinite(Z).all():
        raise TimelineError(f"{p.name}: holds non-finite latents")
    return epochs, Z, idx
