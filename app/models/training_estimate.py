"""How long a training run will take, estimated before it starts by timing a few training steps of the chosen
configuration right here, on this server, now.

`measure(...)` fits a `MirroredAE` of that configuration (preset, profile, interpolation, batch size, device,
...) for a few steps on synthetic data of the dataset's input shape (a step's cost does not depend on the
values), and times each step after the first (the warm-up; one step only when steps are slow) and the end-of-epoch
health check on one batch (its cost per sample). The result is
cached per configuration for MEASURE_TTL_S, so the form's reruns cost nothing; a changed configuration is
measured again (about a second for the small presets, up to MAX_MEASURE_S for the large ones).

`estimate(...)` scales that to the run: epochs x (batches x step time + the health check on up to
`selection_max_samples` training samples) + the training-timeline snapshots + scoring the training and test sets
once at the end. It is an estimate: other work on the server (other users' trainings, page renders) changes it.
"""
from __future__ import annotations

import statistics
import time
from typing import Optional

import numpy as np
import streamlit as st

from core.training.trainer import Callback

MEASURED_STEPS = 6
MAX_MEASURE_S = 4.0
MEASURE_TTL_S = 600


class _StepClock(Callback):
    """Times every step and the end of the (single) epoch; stops after MEASURED_STEPS + 1 steps or MAX_MEASURE_S."""

    def __init__(self):
        self.stop_training = False
        self.times: list[float] = []
        self.epoch_end: Optional[float] = None
        self.t0 = time.perf_counter()

    def on_train_begin(self, total_steps, epochs):
        self.t0 = time.perf_counter()

    def on_step(self, info):
        self.times.append(time.perf_counter())
        enough = len(self.times) >= MEASURED_STEPS + 1
        # a slow configuration (the paper's full widths on a CPU: several seconds a step) is timed on one step
        # after the warm-up: a second one would cost the user as long again for little more certainty
        if enough or (len(self.times) >= 2 and self.times[-1] - self.t0 > MAX_MEASURE_S):
            self.stop_training = True

    def on_epoch(self, info):
        self.epoch_end = time.perf_counter()


@st.cache_data(show_spinner="Timing a few training steps of this configuration…", ttl=MEASURE_TTL_S,
               max_entries=64)
def measure(preset: str, interpolation, profile: str, batch_size: int, input_shape: tuple,
            input_range: Optional[tuple], device: str, lam: Optional[float] = None,
            recon_weight: Optional[float] = None, scaling: Optional[str] = None) -> dict:
    """{"step_s": median seconds per training step, "probe_s_per_sample": the health check's cost per sample,
    "steps": steps timed, "measured_at": time}. The learning rate and seed do not change a step's cost."""
    from core import MirroredAE

    n = int(batch_size) * (MEASURED_STEPS + 2)
    rng = np.random.default_rng(0)
    if input_range is not None:
        X = rng.uniform(float(input_range[0]), float(input_range[1]), size=(n, *input_shape)).astype(np.float32)
    else:
        X = rng.normal(size=(n, *input_shape)).astype(np.float32)
    # the health check is timed per sample: one batch of it is enough (it ran on every sample of a large batch)
    model = MirroredAE(preset=preset, interpolation=interpolation, profile=profile, batch_size=int(batch_size),
                       epochs=1, lam=lam, recon_weight=recon_weight, scaling=scaling, device=device, seed=0,
                       config_overrides={"selection_max_samples": int(batch_size)})
    clock = _StepClock()
    model.fit(X, callbacks=[clock])
    gaps = np.diff(clock.times).tolist()
    step_s = statistics.median(gaps) if gaps else (clock.times[0] - clock.t0)
    probe_n = min(n, model.config_.selection_max_samples)
    probe_s = max(0.0, (clock.epoch_end or clock.times[-1]) - clock.times[-1]) / max(probe_n, 1)
    return {"step_s": float(step_s), "probe_s_per_sample": float(probe_s), "steps": len(gaps),
            "measured_at": time.time()}


def estimate(measured: dict, n_train: int, n_test: int, epochs: int, batch_size: int,
             selection_max_samples: int = 4096, timeline_samples: int = 1000, timeline_every: int = 1) -> dict:
    """Seconds of a run from a measurement: {"total_s", "steps", "step_s", "overhead_s"}."""
    bs = max(1, min(int(batch_size), int(n_train)))
    steps = int(epochs) * (int(n_train) // bs)
    per_sample = measured["probe_s_per_sample"]
    snapshots = int(epochs) // max(1, int(timeline_every)) + 1
    overhead = (int(epochs) * min(int(n_train), selection_max_samples) + snapshots * min(timeline_samples, n_test)
                + int(n_train) + int(n_test)) * per_sample
    return {"total_s": steps * measured["step_s"] + overhead, "steps": steps, "step_s": measured["step_s"],
            "overhead_s": overhead}
