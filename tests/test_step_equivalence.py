"""The optimised training step computes the same maths as a plain one: `Trainer.step` (batched critic calls, fused
Adam, one spectral-norm power iteration per update, CPU kernels for thin convolutions) against
`bench/reference_step.py` (separate passes, one D_inter call per anchor), from the same weights and random draws."""
import copy
from dataclasses import replace

import pytest
import torch
from torch import nn

from bench.reference_step import ReferenceStep
from core import acceleration, kernels
from core.config import OptimizerConfig, make_config
from core.networks import build_networks
from core.train import Trainer


def sgd_config(**overrides):
    # SGD makes the updated weights a direct image of the gradients (Adam would amplify float noise in tiny ones).
    sgd = OptimizerConfig("sgd", 0.01, (0.0, 0.0), momentum=0.5)
    cfg = make_config("digits", **overrides)
    return replace(cfg, opt_encoder=sgd, opt_generator=sgd, opt_critic=sgd)


def both(cfg, shape=(1, 8, 8)):
    torch.manual_seed(0)
    nets = build_networks(cfg, shape)
    ours = Trainer(copy.deepcopy(nets), cfg, torch.device("cpu"), seed=3)
    plain = ReferenceStep(copy.deepcopy(nets), cfg, seed=3, one_power_iteration_per_update=True)
    return ours, plain


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("overrides", [
    dict(interpolation=3),                                         # paper profile: gradient penalty
    dict(interpolation=3, lipschitz="hinge-sn"),                   # spectral norm
    dict(interpolation=2, profile="authors"),                      # tfd 5, cyclic anchors, real-pair term, mean
], ids=["paper-gp", "paper-hinge-sn", "authors"])
def test_the_optimised_step_equals_a_plain_step(overrides, batched, monkeypatch):
    if not batched:  # the per-call path the trainer takes for larger images on a CPU
        monkeypatch.setattr(acceleration, "CPU_BATCH_LIMIT", 0)
    cfg = sgd_config(**overrides)
    ours, plain = both(cfg)
    x = torch.rand(24, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    for _ in range(3):
        a, b = ours.step(x), plain.step(x)
        for k in b:
            assert torch.allclose(a[k], b[k], rtol=1e-4, atol=1e-4), (k, a[k], b[k])
    sa, sb = ours.nets.state_dict(), plain.nets.state_dict()
    for k in sa:
        assert torch.allclose(sa[k], sb[k], rtol=1e-4, atol=1e-5), k


def test_thin_convolution_kernels_match_torch_nn_to_second_order():
    torch.manual_seed(0)
    layers = [nn.Conv2d(2, 8, 4, 2, 1), nn.ConvTranspose2d(8, 1, 4, 2, 1), nn.Conv2d(3, 6, 3, 1, 1)]
    shapes = [(5, 2, 12, 12), (5, 8, 6, 6), (5, 3, 8, 8)]
    for layer, shape in zip(layers, shapes):
        x = torch.randn(shape, requires_grad=True)

        def penalty_grads(fast: bool):
            # a gradient penalty through the layer: needs the input gradient and its derivative (double backward)
            with kernels.thin_convolutions(kernels.thin_layers([layer]) if fast else []):
                out = layer(x)
                (gx,) = torch.autograd.grad(out.square().sum(), x, create_graph=True)
                loss = gx.square().sum() + out.sum()
            return out, torch.autograd.grad(loss, [x, *layer.parameters()])

        (out0, g0), (out1, g1) = penalty_grads(False), penalty_grads(True)
        assert torch.allclose(out0, out1, atol=1e-5)
        for a, b in zip(g0, g1):
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-4)
    assert "forward" not in layers[0].__dict__  # the swap is undone


def test_only_thin_layers_get_kernels():
    cfg = make_config("mnist_small", profile="paper")  # plain convolutions (the authors' critics are spectral-normed)
    nets = build_networks(cfg, (1, 28, 28))
    found = [m for m, _ in kernels.thin_layers(nets.modules().values())]
    # E's and both critics' first convolution, G's last transposed convolution
    assert len(found) == 4
    assert all(min(getattr(m, "in_channels"), getattr(m, "out_channels")) <= kernels.THIN for m in found)


def test_the_benchmark_counts_the_work_the_trainer_removes():
    """bench_train's FLOP column: the plain step repeats E/G forward passes and the critics' weight gradients in the
    E/G update, so it must count more FLOPs; the gradient penalty's double backward must be countable at all."""
    from bench.bench_train import contenders, step_flops

    steps, x = contenders("digits", 3, {"profile": "paper"}, 16)
    plain, ours = step_flops(steps["plain"], x), step_flops(steps["ours"], x)
    assert ours > 0 and 1.05 < plain / ours < 1.5


def test_the_step_cost_counts_the_authors_critic_steps():
    """bench/step_cost.py's per-step counts: the authors' profile runs 5 critic steps per batch, the paper's 1."""
    from bench.step_cost import step_counts

    paper_flops, paper_ops, batch = step_counts("digits", "paper")
    authors_flops, authors_ops, _ = step_counts("digits", "authors")
    assert paper_flops > 0 and paper_ops > 0 and batch > 0
    assert authors_flops > 2 * paper_flops and authors_ops > 2 * paper_ops
