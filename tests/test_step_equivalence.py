"""The trainer computes the paper's equations: `Trainer.step` (batched critic calls, fused Adam, one spectral-norm
power iteration per update, CPU kernels for thin convolutions, the terms of `core.method.losses`) against
`bench/reference_step.py`, an independent step written from Eq. 1, 3, 4 and 5 and the supplementary algorithm
(separate passes, one D_inter call per anchor, no `core.method.losses`), from the same weights and random draws:
the losses of every step and the weights after three steps must agree to float tolerance.

`test_the_comparison_notices_a_wrong_equation` checks that this comparison can fail: each mutant of the
reference (a flipped sign, a missing alpha, another lambda, ...) must be caught."""
import copy
from dataclasses import replace

import pytest
import torch
from torch import nn

import bench.reference_step as reference
from bench.reference_step import ReferenceStep
from core.training import acceleration, kernels
from core.method.config import OptimizerConfig, make_config
from core.method.networks import build_networks
from core.training.trainer import Trainer

DIGITS = (1, 8, 8)
# BatchNorm's running statistics enter no training loss; the plain step's extra E/G passes update them more often.
BN_STATISTICS = ("running_mean", "running_var", "num_batches_tracked")


def sgd_config(preset="digits", **overrides):
    # SGD makes the updated weights a direct image of the gradients (Adam would amplify float noise in tiny ones).
    sgd = OptimizerConfig("sgd", 0.01, (0.0, 0.0), momentum=0.5)
    cfg = make_config(preset, **overrides)
    return replace(cfg, opt_encoder=sgd, opt_generator=sgd, opt_critic=sgd)


def both(cfg, shape, x):
    torch.manual_seed(0)
    nets = build_networks(cfg, shape)
    latents_on_the_ball_edge(nets, x)
    ours = Trainer(copy.deepcopy(nets), cfg, torch.device("cpu"), seed=3)
    plain = ReferenceStep(copy.deepcopy(nets), cfg, seed=3, one_power_iteration_per_update=True)
    return ours, plain


def latents_on_the_ball_edge(nets, x):
    """Scale E's last layer so that half of the batch's latents lie outside R(E)'s ball of radius sqrt(d): at the
    initialisation all lie far inside it, where R(E) and its gradient vanish and no test would see R(E). The edge
    falls between two latents' norms: exactly on it, max(., 0) has no derivative and implementations may differ."""
    last = [m for m in nets.encoder.modules() if isinstance(m, (nn.Linear, nn.Conv2d))][-1]
    with torch.no_grad():
        z = nets.encoder(x)
        norms = z.norm(dim=1).sort().values
        middle = len(norms) // 2
        factor = z.shape[1] ** 0.5 / (0.5 * (norms[middle - 1] + norms[middle]))
        last.weight.mul_(factor)
        if last.bias is not None:
            last.bias.mul_(factor)


def first_difference(cfg, shape=DIGITS, steps=3, n=24, update_rtol=2e-4):
    """None when the trainer and the reference agree on every step's losses and on the final weights (all state
    but BatchNorm's running statistics); else what differs. The weights are compared twice: as values, and as the
    change the steps made to each tensor, relative to that change's size (a term that moves a weight little, like
    the interpolation term's gradient into E, is invisible in the values at any useful tolerance)."""
    x = torch.rand((n,) + shape, generator=torch.Generator().manual_seed(1)) * 2 - 1
    ours, plain = both(cfg, shape, x)
    initial = copy.deepcopy(ours.nets.state_dict())
    for step in range(steps):
        a, b = ours.step(x), plain.step(x)
        if step == 0 and cfg.latent_reg:
            assert b["latent_reg"] > 0  # R(E) is active, so the comparison sees it
        missing = sorted(set(b) - set(a))
        if missing:
            return f"step {step}: the trainer reports no {missing}"
        for k in b:
            if not torch.allclose(a[k], b[k], rtol=1e-4, atol=1e-6):
                return f"step {step}: loss {k}: trainer {a[k].item():.6g}, reference {b[k].item():.6g}"
    sa, sb = ours.nets.state_dict(), plain.nets.state_dict()
    if set(sa) != set(sb):
        return f"different state keys: {sorted(set(sa) ^ set(sb))[:4]}"
    for k in sa:
        if k.endswith(BN_STATISTICS):
            continue
        if not torch.allclose(sa[k], sb[k], rtol=1e-4, atol=1e-5):
            return f"weights {k} after {steps} steps: max difference {(sa[k] - sb[k]).abs().max().item():.3g}"
        if sa[k].is_floating_point():
            ours_moved, plain_moved = sa[k] - initial[k], sb[k] - initial[k]
            off = (ours_moved - plain_moved).norm().item()
            if off > update_rtol * plain_moved.norm().item() + 1e-8:
                return f"update of {k}: off by {off:.3g}, of a change of {plain_moved.norm().item():.3g}"
    return None


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("overrides", [
    dict(interpolation=3, profile="paper"),                        # gradient penalty, random anchors, sum
    dict(interpolation=3, profile="paper", lipschitz="hinge-sn"),  # hinge loss with spectral norm
    dict(interpolation=2, profile="authors"),                      # 5 critic steps, cyclic anchors, real pair, mean
], ids=["paper-gp", "paper-hinge-sn", "authors"])
def test_the_optimised_step_equals_a_plain_step(overrides, batched, monkeypatch):
    if not batched:  # the per-call path the trainer takes for larger images on a CPU
        monkeypatch.setattr(acceleration, "CPU_BATCH_LIMIT", 0)
    assert first_difference(sgd_config(**overrides)) is None


@pytest.mark.parametrize("interpolation", [0, 2, 3, "acai"])
@pytest.mark.parametrize("profile", ["paper", "authors"])
def test_the_trainer_computes_the_papers_equations(profile, interpolation):
    """Every interpolation mode in both profiles (paper: gradient penalty; authors: hinge loss with spectral norm)."""
    assert first_difference(sgd_config(profile=profile, interpolation=interpolation)) is None


@pytest.mark.parametrize("overrides", [
    dict(profile="authors", lipschitz="gp"),                                   # 5 critic steps with the penalty
    dict(profile="paper", alpha_sampler="dirichlet", latent_reg=False, recon_weight=0.5, lam=1.2, gp_weight=3.0),
    dict(profile="paper", anchors="cyclic", inter_real_pair=True, inter_reduction="mean"),
    dict(profile="paper", interpolation=4, lipschitz="hinge-sn"),
    dict(profile="paper", interpolation="acai", acai_gamma=0.35, latent_reg=False),
], ids=["authors-gp", "dirichlet-no-R-recon", "paper-authors-d-inter", "m4-hinge", "acai-gamma"])
def test_the_switches_of_the_config_switch_the_same_terms(overrides):
    overrides = {"interpolation": 3, **overrides}
    assert first_difference(sgd_config(**overrides)) is None


@pytest.mark.parametrize("profile, interpolation", [("paper", 3), ("authors", 2), ("paper", "acai")])
def test_a_preset_with_batch_norm_and_spectral_norm(profile, interpolation):
    """The ResNet family (Table 1, quarter widths) at 8x8: BatchNorm in E and G, spectral norm in D_recon."""
    cfg = sgd_config("cifar10_small", profile=profile, interpolation=interpolation)
    shape = (3, 8, 8)
    nets = build_networks(cfg, shape)
    assert any(isinstance(m, nn.BatchNorm2d) for net in (nets.encoder, nets.generator) for m in net.modules())
    assert cfg.uses_spectral_norm
    # BatchNorm's scale gradients sum over the batch with cancellations: their float noise is about 1e-3 of them
    assert first_difference(cfg, shape, steps=2, n=16, update_rtol=1e-2) is None


def _scaled(fn, factor):
    return lambda *args, **kwargs: factor * fn(*args, **kwargs)


def _without_alphas(d_inter, x, anchors, x_inter, alphas, lam):
    return lam * sum(d_inter(x[a], x_inter) ** 2 for a in anchors).mean()  # Berthelot's unweighted sum


def _latent_ball_of_radius_zero(z):
    return torch.sqrt((z ** 2).sum(dim=1)).mean()


MUTANTS = {
    "Eq. 4 sign": ("eq4_critic_objective", lambda f: _scaled(f, -1.0)),
    "hinge sign": ("hinge_critic_objective", lambda f: lambda same, pair: f(pair, same)),
    "penalty weight": ("wgan_gradient_penalty", lambda f: _scaled(f, 1.1)),
    "Eq. 3 targets alpha": ("eq3_critic_loss",  # D_inter reads back alpha_i instead of 1 - alpha_i
                            lambda f: lambda d, x, anchors, x_inter, alphas, **kw: f(d, x, anchors, x_inter,
                                                                                   1.0 - alphas, **kw)),
    "Eq. 3 mean for sum": ("eq3_critic_loss", lambda f: lambda *a, average_anchors: f(*a, average_anchors=True)),
    "Eq. 5 without alpha": ("eq5_interpolation_term", lambda f: _without_alphas),
    "Eq. 5 lambda": ("eq5_interpolation_term", lambda f: lambda *a: f(*a[:-1], 1.01 * a[-1])),
    "Eq. 5 adversarial sign": ("eq5_adversarial_term", lambda f: _scaled(f, -1.0)),
    "R(E) radius": ("latent_regulariser", lambda f: _latent_ball_of_radius_zero),
    "Eq. 1 critic": ("eq1_critic_loss", lambda f: _scaled(f, 0.9)),
    "Eq. 1 generator": ("eq1_generator_loss", lambda f: _scaled(f, 1.1)),
    "simplex weights redrawn": ("draw_simplex_weights", lambda f: lambda n, m, s, gen: f(n, m, s, torch.Generator())),
    "no gradient into E through the interpolants": (
        "ReferenceStep.interpolants", lambda f: lambda self, z, draws: f(self, z.detach(), draws)),
}
MUTANT_CONFIGS = {"hinge sign": dict(lipschitz="hinge-sn"), "Eq. 1 critic": dict(interpolation="acai"),
                  "Eq. 1 generator": dict(interpolation="acai")}


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_the_comparison_notices_a_wrong_equation(mutant, monkeypatch):
    name, mutate = MUTANTS[mutant]
    owner, _, name = name.rpartition(".")
    target = getattr(reference, owner) if owner else reference
    monkeypatch.setattr(target, name, mutate(getattr(target, name)))
    cfg = sgd_config(**{"profile": "paper", "interpolation": 3, **MUTANT_CONFIGS.get(mutant, {})})
    assert first_difference(cfg) is not None


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
