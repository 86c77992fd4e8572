"""Unit tests of the maths: each fails when the corresponding equation is implemented wrongly."""
import math

import pytest
import torch
from torch import nn

from core.method import losses
from core.method.networks import Critic


@pytest.mark.parametrize("scheme", ["authors", "dirichlet"])
@pytest.mark.parametrize("m", [2, 3, 4, 6])
def test_alphas_lie_on_the_simplex(scheme, m):
    a = losses.sample_alphas(5000, m, scheme, torch.Generator().manual_seed(0))
    assert a.shape == (5000, m)
    assert (a >= 0).all()
    assert torch.allclose(a.sum(1), torch.ones(5000), atol=1e-6)
    assert a.std(0).min() > 0.01  # really random, not a constant point


def test_authors_scheme_matches_their_code():
    a = losses.sample_alphas(20000, 3, "authors", torch.Generator().manual_seed(1))
    assert a[:, :2].max() <= 0.5 and a[:, :2].min() >= 0  # alpha_1, alpha_2 ~ U(0, 0.5)
    assert abs(a[:, 0].mean().item() - 0.25) < 0.01
    a2 = losses.sample_alphas(20000, 2, "authors", torch.Generator().manual_seed(1))
    assert a2[:, 0].max() <= 0.5 and abs(a2[:, 0].mean().item() - 0.25) < 0.01


def test_dirichlet_is_uniform_on_the_simplex():
    # Under Dirichlet(1, 1, 1) each marginal is Beta(1, 2): mean 1/3, P(alpha_1 > 0.5) = 0.25.
    a = losses.sample_alphas(40000, 3, "dirichlet", torch.Generator().manual_seed(2))
    assert abs(a[:, 0].mean().item() - 1 / 3) < 0.01
    assert abs((a[:, 0] > 0.5).float().mean().item() - 0.25) < 0.01


def test_too_few_anchors_rejected():
    with pytest.raises(ValueError, match="m >= 2"):
        losses.sample_alphas(3, 1)


def test_simplex_mix_is_the_convex_combination():
    z = torch.randn(4, 3)
    idx = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0], [3, 0, 1, 2]])
    alphas = losses.sample_alphas(4, 3, "dirichlet", torch.Generator().manual_seed(0))
    mixed = losses.simplex_mix(z, idx, alphas)
    for j in range(4):
        expected = sum(alphas[j, i] * z[idx[i, j]] for i in range(3))
        assert torch.allclose(mixed[j], expected, atol=1e-6)


def test_anchor_indices_start_with_the_batch_and_are_permutations():
    idx = losses.anchor_indices(7, 3, torch.Generator().manual_seed(0))
    assert idx.shape == (3, 7)
    assert idx[0].tolist() == list(range(7))
    for row in idx:
        assert sorted(row.tolist()) == list(range(7))


def test_simplex_critic_targets_are_one_minus_alpha():
    alphas = losses.sample_alphas(8, 3, "dirichlet", torch.Generator().manual_seed(3))
    perfect = (1 - alphas).t()  # (m, n): D_inter(x_i, x_hat) = 1 - alpha_i
    assert losses.simplex_critic_loss(perfect, alphas).item() == pytest.approx(0.0, abs=1e-12)
    # predicting alpha_i instead (the Berthelot target) is penalised
    assert losses.simplex_critic_loss(alphas.t(), alphas).item() > 0.01
    # the exact value: sum over anchors, mean over the batch
    d = torch.zeros(3, 8)
    expected = ((1 - alphas) ** 2).sum(1).mean()
    assert losses.simplex_critic_loss(d, alphas).item() == pytest.approx(expected.item(), rel=1e-6)


def test_simplex_generator_loss_weights_each_anchor_by_alpha():
    alphas = torch.tensor([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]])
    d = torch.tensor([[2.0, 1.0], [5.0, 1.0], [7.0, 1.0]])  # (m, n)
    # sample 0: only anchor 0 counts (alpha = 1): 1 * 2^2 = 4; sample 1: all D = 1 -> sum alpha = 1
    assert losses.simplex_generator_loss(d, alphas, lam=0.5).item() == pytest.approx(0.5 * (4 + 1) / 2)


def test_acai_losses_match_eq1():
    alpha = torch.tensor([0.1, 0.4])
    assert losses.acai_critic_loss(alpha.clone(), alpha, torch.zeros(2)).item() == pytest.approx(0.0)
    assert losses.acai_critic_loss(torch.zeros(2), alpha, torch.ones(2)).item() == pytest.approx((0.01 + 0.16) / 2 + 1)
    assert losses.acai_generator_loss(torch.tensor([1.0, 3.0]), lam=2.0).item() == pytest.approx(2.0 * 5.0)


def test_wgan_and_hinge_critic_losses():
    real, fake = torch.tensor([2.0, 4.0]), torch.tensor([1.0, -1.0])
    assert losses.wgan_critic_loss(real, fake).item() == pytest.approx(0.0 - 3.0)
    assert losses.hinge_critic_loss(real, fake).item() == pytest.approx(0.0 + (2.0 + 0.0) / 2)
    assert losses.adversarial_recon_loss(fake).item() == pytest.approx(0.0)


class HalfSquaredNorm(nn.Module):
    def forward(self, u):
        return 0.5 * (u.flatten(1) ** 2).sum(1, keepdim=True)


def test_gradient_penalty_is_per_sample():
    # D(u) = ||u||^2 / 2 has gradient u: per-sample norms 1 and 3 give ((1-1)^2 + (3-1)^2) / 2 = 2,
    # whereas a norm over the whole batch would give (sqrt(10) - 1)^2 ~ 4.68.
    critic = Critic(nn.Identity(), HalfSquaredNorm())
    u = torch.zeros(2, 1, 2, 2)
    u[0, 0, 0, 0] = 1.0
    u[1, 0, 1, 1] = 3.0
    gp = losses.gradient_penalty(critic, u, u.clone(), torch.Generator().manual_seed(0))
    assert gp.item() == pytest.approx(2.0, rel=1e-5)


def test_gradient_penalty_is_zero_for_a_1_lipschitz_linear_critic():
    w = torch.randn(12)
    w = w / w.norm()
    head = nn.Linear(12, 1, bias=False)
    head.weight.data = w[None]
    critic = Critic(nn.Flatten(), head)
    gp = losses.gradient_penalty(critic, torch.randn(5, 3, 2, 2), torch.randn(5, 3, 2, 2))
    assert gp.item() == pytest.approx(0.0, abs=1e-10)


def test_latent_regulariser_is_zero_inside_the_ball():
    d = 16
    z = torch.randn(100, d)
    z = z / z.norm(dim=1, keepdim=True) * (math.sqrt(d) * 0.99)
    assert losses.latent_regulariser(z).item() == 0.0
    z_out = torch.zeros(2, d)
    z_out[0, 0] = math.sqrt(d) + 2.0  # 2 outside the ball
    z_out[1, 0] = 1.0                 # inside: contributes 0
    assert losses.latent_regulariser(z_out).item() == pytest.approx(1.0)


def test_feature_distance_is_l1_and_zero_for_identical_features():
    f = torch.randn(3, 5)
    assert (losses.feature_distance(f, f.clone()) == 0).all()
    g = f.clone()
    g[1, 2] += 2.0
    g[1, 4] -= 0.5
    assert losses.feature_distance(f, g).tolist() == pytest.approx([0.0, 2.5, 0.0])


def test_gradient_penalty_draws_the_same_eps_as_a_caller_would():
    """The trainer draws eps itself (then moves it to the device); the stream is the same either way."""
    critic = Critic(nn.Flatten(), nn.Linear(12, 1))
    real, fake = torch.randn(5, 3, 2, 2), torch.randn(5, 3, 2, 2)
    drawn_here = losses.gradient_penalty(critic, real, fake, torch.Generator().manual_seed(4))
    eps = torch.rand(5, generator=torch.Generator().manual_seed(4))
    assert torch.equal(drawn_here, losses.gradient_penalty(critic, real, fake, eps=eps))


def test_the_losses_are_pure_torch():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(losses))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported <= {"__future__", "math", "torch", "torch.nn.functional"}, imported
