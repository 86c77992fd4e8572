"""Training mechanics: which parameters each step moves, gradient flow of the interpolation term, model
selection, divergence and interruption handling."""
import math

import pytest
import torch

from core import losses as L
from core.config import make_config
from core.networks import build_networks
from core.train import Callback, Trainer, TrainingDiverged, feature_scores, select_best_epoch


def params(module):
    return [p.detach().clone() for p in module.parameters()]


def changed(before, module):
    return any(not torch.equal(a, b) for a, b in zip(before, module.parameters()))


def tiny_trainer(interpolation=3, preset="digits", shape=(1, 8, 8), **overrides):
    torch.manual_seed(0)
    cfg = make_config(preset, interpolation=interpolation, **overrides)
    nets = build_networks(cfg, shape)
    return Trainer(nets, cfg, torch.device("cpu"), seed=0), nets


def batch(shape=(1, 8, 8), n=16):
    return torch.rand((n,) + shape, generator=torch.Generator().manual_seed(5)) * 2 - 1


@pytest.mark.parametrize("interpolation", [0, 2, 3, "acai"])
@pytest.mark.parametrize("lipschitz", ["gp", "hinge-sn"])
def test_each_step_moves_only_its_own_networks(interpolation, lipschitz):
    trainer, nets = tiny_trainer(interpolation, lipschitz=lipschitz)
    x = batch()
    fw = trainer.forward(x, with_grad=True)
    e0, g0 = params(nets.encoder), params(nets.generator)
    critics = [m for m in (nets.d_recon, nets.d_inter) if m is not None]
    c0 = [params(c) for c in critics]
    trainer.critic_step(x, fw)
    assert not changed(e0, nets.encoder) and not changed(g0, nets.generator), "critic step moved E or G"
    assert all(changed(b, c) for b, c in zip(c0, critics)), "critic step left a critic unchanged"
    c1 = [params(c) for c in critics]
    trainer.eg_step(x, fw)
    assert not any(changed(b, c) for b, c in zip(c1, critics)), "E/G step moved a critic"
    assert changed(e0, nets.encoder) and changed(g0, nets.generator), "E/G step left E or G unchanged"


@pytest.mark.parametrize("interpolation", [2, 3, "acai"])
def test_interpolation_loss_carries_gradient_to_encoder_and_generator(interpolation):
    # A public implementation detached this term by mistake; then E and G would get no gradient from it.
    trainer, nets = tiny_trainer(interpolation)
    x = batch()
    fw = trainer.forward(x, with_grad=True)
    _, parts = trainer._eg_loss(x, fw)
    parts["inter"].backward()
    for name, net in (("encoder", nets.encoder), ("generator", nets.generator)):
        grads = [p.grad for p in net.parameters() if p.grad is not None]
        assert grads and sum(g.abs().sum().item() for g in grads) > 0, f"no interpolation gradient reaches {name}"


def test_critic_step_does_not_backpropagate_into_encoder_or_generator():
    trainer, nets = tiny_trainer(3)
    x = batch()
    fw = trainer.forward(x, with_grad=True)
    total, _ = trainer._critic_loss(x, fw)
    total.backward()
    assert all(p.grad is None for p in nets.encoder.parameters())
    assert all(p.grad is None for p in nets.generator.parameters())


def test_inter_critic_pairs_each_anchor_with_the_interpolant():
    trainer, nets = tiny_trainer(3)
    x = batch()
    fw = trainer.forward(x, with_grad=False)
    out = trainer._inter_critic(x, fw, fw["x_int"])
    i, j = 2, 5
    direct = nets.d_inter(x[fw["idx"][i, j]][None], fw["x_int"][j][None])
    assert out.shape == (3, len(x))
    assert torch.allclose(out[i, j], direct[0], atol=1e-5)


def test_score_is_exactly_zero_for_a_perfect_reconstruction():
    cfg = make_config("thyroid", interpolation=0)
    nets = build_networks(cfg, (6,))
    nets.encoder = torch.nn.Identity()
    nets.generator = torch.nn.Identity()  # G(E(x)) = x
    X = torch.rand(50, 6)
    assert (feature_scores(nets, X) == 0).all()


def test_score_is_l1_of_penultimate_features():
    cfg = make_config("thyroid", interpolation=0)
    nets = build_networks(cfg, (6,))
    X = torch.rand(7, 6)
    with torch.no_grad():
        x_hat = nets.generator(nets.encoder(X))
        expected = (nets.d_recon.body(torch.cat([X, X], 1)) - nets.d_recon.body(torch.cat([X, x_hat], 1))).abs().sum(1)
    assert torch.allclose(feature_scores(nets, X), expected)


def test_model_selection_picks_the_smallest_feature_loss_after_60_percent():
    history = [5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 8.0, 2.5, 7.0, 6.0]  # epoch 5 is smaller but too early
    assert select_best_epoch(history, 10, 0.6) == 7
    assert select_best_epoch([None] * 6 + [3.0, 1.0, math.nan, 2.0], 10, 0.6) == 7
    assert select_best_epoch([1.0, 2.0], 2, 0.6) == 1  # the start is clamped to the last epoch
    assert select_best_epoch([None, None], 2, 0.6) is None


def test_training_restores_the_selected_epoch(monkeypatch):
    import core.train as T

    trainer, nets = tiny_trainer(0, epochs=5, batch_size=8, selection_start=0.0)
    scripted = iter([3.0, 1.0, 2.0, 4.0, 5.0])  # epoch 1 is best
    states = []
    orig = T.feature_scores

    def fake_scores(nets_, X, batch_size=1024):
        states.append({k: v.clone() for k, v in nets_.state_dict().items()})
        return torch.full((len(X),), next(scripted))

    monkeypatch.setattr(T, "feature_scores", fake_scores)
    result = trainer.fit(batch(n=32))
    assert result.selected_epoch == 1
    final = nets.state_dict()
    assert all(torch.equal(final[k], states[1][k]) for k in final)
    monkeypatch.setattr(T, "feature_scores", orig)


def test_nan_stops_training_with_a_clear_error_and_keeps_last_good_weights(monkeypatch):
    trainer, nets = tiny_trainer(3, epochs=4, batch_size=8)
    X = batch(n=32)  # 4 steps per epoch
    calls = {"n": 0}
    real = L.latent_regulariser

    def poisoned(z):
        calls["n"] += 1
        return real(z) * (math.nan if calls["n"] == 6 else 1.0)  # epoch 1, second step

    snapshots = []

    class Snap(Callback):
        def on_epoch(self, info):
            snapshots.append({k: v.clone() for k, v in nets.state_dict().items()})

    monkeypatch.setattr(L, "latent_regulariser", poisoned)
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step 5: non-finite latent_reg") as err:
        trainer.fit(X, [Snap()])
    assert err.value.result.status == "diverged"
    state = nets.state_dict()
    assert all(torch.equal(state[k], snapshots[0][k]) for k in state), "weights are not those of the last good epoch"


def test_stop_callback_and_keyboard_interrupt_keep_weights():
    class StopAt(Callback):
        def on_step(self, info):
            if info.step == 3:
                self.stop_training = True

    trainer, _ = tiny_trainer(2, epochs=3, batch_size=8)
    result = trainer.fit(batch(n=32), [StopAt()])
    assert result.status == "stopped" and result.steps == 4

    class Interrupt(Callback):
        def on_step(self, info):
            if info.step == 5:
                raise KeyboardInterrupt

    trainer, nets = tiny_trainer(2, epochs=3, batch_size=8)
    result = trainer.fit(batch(n=32), [Interrupt()])
    assert result.status == "interrupted"
    assert all(torch.isfinite(p).all() for p in nets.encoder.parameters())


def test_tfd_gives_one_eg_step_per_tfd_critic_steps():
    trainer, _ = tiny_trainer(0, epochs=1, batch_size=4, tfd=3)
    seen = []

    class Rec(Callback):
        def on_step(self, info):
            seen.append(info.eg_update)

    trainer.fit(batch(n=24), [Rec()])
    assert seen == [False, False, True, False, False, True]


def test_training_is_seeded_and_reproducible_on_cpu():
    def run():
        trainer, nets = tiny_trainer(3, epochs=2, batch_size=8)
        trainer.fit(batch(n=32))
        return nets.state_dict()

    a, b = run(), run()
    assert all(torch.equal(a[k], b[k]) for k in a)
