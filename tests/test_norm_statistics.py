"""G's batch-norm statistics (issue 18 #4): after training, the running statistics that eval-mode scoring uses are
those of G on reconstructions G(E(x)) of the training data, not an average dominated by interpolant batches."""
import pytest
import torch
from torch import nn

from core.method.config import make_config
from core.method.networks import build_networks
from core.training.trainer import Trainer


def _exact_statistics(nets, X):
    """Per batch-norm layer of G: (mean, unbiased variance) of its inputs on G(E(x)), E in eval mode."""
    seen = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out, key=k: seen.__setitem__(key, inp[0].detach()))
             for k, m in enumerate(m for m in nets.generator.modules() if isinstance(m, nn.BatchNorm2d))]
    nets.encoder.eval()
    nets.generator.train()
    with torch.no_grad():
        nets.generator(nets.encoder(X))
    for h in hooks:
        h.remove()
    return [(a.mean(dim=(0, 2, 3)), a.transpose(0, 1).flatten(1).var(dim=1, unbiased=True))
            for _, a in sorted(seen.items())]


@pytest.mark.parametrize("profile", ["paper", "authors"])
def test_after_training_gs_running_statistics_are_those_of_reconstruction_passes(profile):
    torch.manual_seed(0)
    cfg = make_config("cifar10_small", profile=profile, interpolation=3, epochs=2, batch_size=32)
    nets = build_networks(cfg, (3, 32, 32))
    X = torch.rand(96, 3, 32, 32) * 2 - 1  # one probe chunk: its statistics are the exact ones
    Trainer(nets, cfg, torch.device("cpu")).fit(X)
    norms = [m for m in nets.generator.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms, "the preset's G has batch norm"
    for m, (mean, var) in zip(norms, _exact_statistics(nets, X)):
        assert torch.allclose(m.running_mean, mean, atol=1e-5, rtol=1e-4)
        assert torch.allclose(m.running_var, var, atol=1e-5, rtol=1e-4)
        assert m.momentum == 0.1  # the training momentum is restored
