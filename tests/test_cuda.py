"""CUDA smoke tests: training runs on a GPU with every speed option, and a training step never waits for the
host. Skipped without a CUDA GPU (CI has none; bench/gpu_check.py runs these checks and the throughput figures on a
lent GPU)."""
import numpy as np
import pytest
import torch

from core import MirroredAE
from core.method.config import make_config
from core.method.networks import build_networks
from core.training.trainer import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


@pytest.mark.parametrize("profile", ["paper", "authors"])
def test_training_steps_never_synchronise_with_the_host(profile):
    device = torch.device("cuda")
    cfg = make_config("digits", profile=profile, interpolation=3)
    trainer = Trainer(build_networks(cfg, (1, 8, 8)).to(device), cfg, device, bf16=True)
    x = torch.rand(64, 1, 8, 8, device=device) * 2 - 1
    trainer.step(x)  # warm-up: allocations, cuDNN plans
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            trainer.step(x)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()


@pytest.mark.parametrize("options", [dict(), dict(bf16=True, channels_last=True), dict(compile=True)],
                         ids=["fp32", "bf16-channels-last", "compile"])
def test_a_short_fit_on_cuda_scores_finitely(options):
    X = np.random.default_rng(0).uniform(0, 16, size=(256, 8, 8)).astype(np.float32)
    model = MirroredAE(preset="digits", epochs=2, device="cuda", seed=0, **options).fit(X)
    assert model.training_status_ == "completed"
    assert np.isfinite(model.decision_function(X[:32])).all()
