"""Training mechanics: which parameters each step moves, gradient flow of the interpolation term, the authors'
schedule, model selection inside the real loop, divergence and interruption handling."""
import math

import pytest
import torch

from core.method import losses
from core.method.config import make_config
from core.method.networks import build_networks
from core.method.scoring import anomaly_scores
from core.training.trainer import Callback, ModelSelector, Trainer, TrainingDiverged


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
    out = trainer._inter_critic(x, fw, fw.x_int)
    i, j = 2, 5
    direct = nets.d_inter(x[fw.idx[i, j]][None], fw.x_int[j][None])
    assert out.shape == (3, len(x))
    assert torch.allclose(out[i, j], direct[0], atol=1e-5)


def test_score_is_exactly_zero_for_a_perfect_reconstruction():
    cfg = make_config("thyroid", interpolation=0)
    nets = build_networks(cfg, (6,))
    nets.encoder = torch.nn.Identity()
    nets.generator = torch.nn.Identity()  # G(E(x)) = x
    X = torch.rand(50, 6)
    assert (anomaly_scores(nets, X) == 0).all()


def test_score_is_l1_of_penultimate_features():
    cfg = make_config("thyroid", interpolation=0)
    nets = build_networks(cfg, (6,))
    X = torch.rand(7, 6)
    with torch.no_grad():
        x_hat = nets.generator(nets.encoder(X))
        expected = (nets.d_recon.body(torch.cat([X, X], 1)) - nets.d_recon.body(torch.cat([X, x_hat], 1))).abs().sum(1)
    assert torch.allclose(anomaly_scores(nets, X), expected)


def test_model_selector_keeps_the_smallest_feature_loss_from_its_start():
    nets = tiny_trainer(0)[1]
    selector = ModelSelector(10, 0.6)
    assert selector.start == 6
    for epoch, value in enumerate([5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 8.0, 2.5, 7.0, math.nan]):  # epoch 5 is too early
        selector.consider(epoch, value, nets)
    assert selector.best_epoch == 7 and selector.best_value == 2.5
    assert ModelSelector(2, 0.6).start == 1  # the start is clamped to the last epoch


def scripted_probe(monkeypatch, values):
    """Replace the trainer's per-epoch probe: its loss_feat follows `values`; the weights it saw are recorded."""
    from core.training import health

    scripted, states = iter(values), []
    real = health.probe

    def fake(nets_, X, initial, batch_size=1024):
        states.append({k: v.clone() for k, v in nets_.state_dict().items()})
        return dict(real(nets_, X, initial), loss_feat=next(scripted))

    monkeypatch.setattr(health, "probe", fake)
    return states


def test_the_real_loop_selects_only_from_60_percent_of_the_epochs(monkeypatch):
    trainer, nets = tiny_trainer(0, epochs=10, batch_size=8)
    states = scripted_probe(monkeypatch, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 3.0, 1.0, 2.0, 4.0])  # 0..5 are too early
    result = trainer.fit(batch(n=32))
    assert result.selected_epoch == 7
    assert result.history["loss_feat"][:6] == [None] * 6
    final = nets.state_dict()
    assert all(torch.equal(final[k], states[7][k]) for k in final)
    assert result.health["epoch"] == 7


def test_an_interrupted_run_holds_exactly_the_best_epochs_weights(monkeypatch):
    trainer, nets = tiny_trainer(0, epochs=6, batch_size=8, selection_start=0.0)
    states = scripted_probe(monkeypatch, [3.0, 1.0, 2.0, 4.0, 5.0, 6.0])  # epoch 1 is best

    class Interrupt(Callback):
        def on_step(self, info):
            if info.step == 13:  # inside epoch 3 (4 steps per epoch)
                raise KeyboardInterrupt

    result = trainer.fit(batch(n=32), [Interrupt()])
    assert result.status == "interrupted" and result.selected_epoch == 1
    final = nets.state_dict()
    assert all(torch.equal(final[k], states[1][k]) for k in final)
    assert not all(torch.equal(final[k], states[2][k]) for k in final)


def test_nan_stops_training_with_a_clear_error_and_keeps_last_good_weights(monkeypatch):
    trainer, nets = tiny_trainer(3, epochs=4, batch_size=8)
    X = batch(n=32)  # 4 steps per epoch
    calls = {"n": 0}
    real = losses.latent_regulariser

    def poisoned(z):
        calls["n"] += 1
        return real(z) * (math.nan if calls["n"] == 6 else 1.0)  # epoch 1, second step

    snapshots = []

    class Snap(Callback):
        def on_epoch(self, info):
            snapshots.append({k: v.clone() for k, v in nets.state_dict().items()})

    monkeypatch.setattr(losses, "latent_regulariser", poisoned)
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step 5: non-finite latent_reg") as err:
        trainer.fit(X, [Snap()])
    assert err.value.result.status == "diverged"
    state = nets.state_dict()
    assert all(torch.equal(state[k], snapshots[0][k]) for k in state), "weights are not those of the last good epoch"


def test_stop_callback_stops_after_the_current_step():
    class StopAt(Callback):
        def on_step(self, info):
            if info.step == 3:
                self.stop_training = True

    trainer, _ = tiny_trainer(2, epochs=3, batch_size=8)
    result = trainer.fit(batch(n=32), [StopAt()])
    assert result.status == "stopped" and result.steps == 4


class CountingOptimizer:
    """Wraps an optimizer and logs each step, so the schedule is read from what really ran."""

    def __init__(self, opt, name, log):
        self.opt, self.name, self.log = opt, name, log

    def step(self, *a, **k):
        self.log.append(self.name)
        return self.opt.step(*a, **k)

    def zero_grad(self, *a, **k):
        return self.opt.zero_grad(*a, **k)


@pytest.mark.parametrize("profile,interpolation", [("authors", 3), ("authors", 0), ("paper", 3)])
def test_each_batch_gets_exactly_its_critic_steps_then_one_eg_step(profile, interpolation):
    trainer, _ = tiny_trainer(interpolation, profile=profile, epochs=1, batch_size=8)
    log = []
    trainer.opt_d = CountingOptimizer(trainer.opt_d, "D", log)
    trainer.opt_e = CountingOptimizer(trainer.opt_e, "E", log)
    trainer.opt_g = CountingOptimizer(trainer.opt_g, "G", log)
    seen_batches = []
    real_critic = trainer.critic_step

    def critic_step(x, fw):
        seen_batches.append(x)
        return real_critic(x, fw)

    trainer.critic_step = critic_step
    trainer.fit(batch(n=24))  # 3 batches
    critic_steps = 5 if profile == "authors" else 1
    assert trainer.cfg.critic_steps == critic_steps
    assert log == (["D"] * critic_steps + ["E", "G"]) * 3
    for b in range(3):  # every critic step of a batch saw that same batch
        group = seen_batches[b * critic_steps:(b + 1) * critic_steps]
        assert all(torch.equal(group[0], x) for x in group)


def test_the_authors_critic_draws_fresh_simplex_weights_at_each_critic_step():
    trainer, _ = tiny_trainer(3, profile="authors")
    x = batch()
    drawn = []
    real = trainer.critic_step

    def critic_step(x_, fw):
        drawn.append(fw.alphas.clone())
        return real(x_, fw)

    trainer.critic_step = critic_step
    trainer.step(x)
    assert len(drawn) == 5 and not any(torch.equal(drawn[0], a) for a in drawn[1:])


def test_the_real_pair_term_pushes_d_inter_to_zero():
    d = torch.tensor([0.0, 0.0, 0.0])
    assert losses.real_pair_loss(d) == 0
    assert losses.real_pair_loss(torch.tensor([0.5, -0.5])) == pytest.approx(0.25)
    trainer, nets = tiny_trainer(3, profile="authors")
    x = batch()
    fw = trainer.forward(x, with_grad=False)
    _, parts = trainer._critic_loss(x, fw)
    with torch.no_grad():
        x_hat = fw.x_hat
        expected = (nets.d_inter(x, x_hat + 0.2 * (x - x_hat)) ** 2).mean()
    assert torch.allclose(parts["d_inter_real"], expected)


def test_cyclic_anchors_never_repeat_a_sample_in_a_tuple():
    for n in (3, 7, 64, 65, 256):
        idx = losses.cyclic_anchor_indices(n, 3)
        assert all(len(set(idx[:, j].tolist())) == 3 for j in range(n))
        assert all(sorted(row.tolist()) == list(range(n)) for row in idx)


def test_training_is_seeded_and_reproducible_on_cpu():
    def run():
        trainer, nets = tiny_trainer(3, epochs=2, batch_size=8)
        trainer.fit(batch(n=32))
        return nets.state_dict()

    a, b = run(), run()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_fit_does_not_depend_on_what_the_process_ran_before():
    """The grid runs its cells one after another in one process and caches each: a cell's result must not depend
    on the cells (or any other random draws) before it."""
    import numpy as np

    from core import MirroredAE
    from core.evaluation.protocols import split_for

    def scores(klass):
        sp = split_for("digits", klass, 0)
        model = MirroredAE(preset="digits", interpolation=3, epochs=2, device="cpu", threads=1, seed=0)
        return model.fit(sp.X_train[:256]).decision_function(sp.X_test[:100])

    first = scores(1)
    scores(0)
    torch.rand(1000), np.random.rand(10)
    assert np.array_equal(first, scores(1))


# ------------------------------------------------------------------ fit changes no process-wide state

@pytest.mark.parametrize("profile", ["paper", "authors"])
def test_concurrent_fits_in_threads_succeed_equal_sequential_ones_and_leave_the_process_as_it_was(profile):
    """Spectral norm's cache (`parametrize.cached`, process-wide), the thin-convolution kernels (formerly a
    process-wide oneDNN switch) and torch's thread count: three fits in threads, the CPU kernels on."""
    import threading

    import numpy as np

    from core import MirroredAE
    from core.data import load_dataset

    rows = load_dataset("digits").X_train[:192]
    kinds = (0, 3, "acai")

    def fit(interpolation, threads=None):
        return MirroredAE(preset="digits", interpolation=interpolation, profile=profile, epochs=2, seed=3,
                          device="cpu", threads=threads).fit(rows).decision_scores_

    expected = {k: fit(k) for k in kinds}
    mkldnn, threads, rng = torch.backends.mkldnn.enabled, torch.get_num_threads(), torch.random.get_rng_state()
    np_rng = np.random.get_state()[1].copy()
    results, errors = {}, []

    def run(k):
        try:
            results[k] = fit(k, threads=threads)  # the thread count asked for is the process's: nothing to apply
        except Exception as e:  # pragma: no cover - reported below
            errors.append(repr(e))

    workers = [threading.Thread(target=run, args=(k,)) for k in kinds]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors, errors
    for k in kinds:
        np.testing.assert_array_equal(results[k], expected[k], err_msg=f"interpolation {k}")
    assert torch.backends.mkldnn.enabled == mkldnn and torch.get_num_threads() == threads
    assert torch.equal(torch.random.get_rng_state(), rng) and np.array_equal(np.random.get_state()[1], np_rng)


def test_threads_are_not_applied_from_another_thread():
    import threading
    import warnings

    from core import MirroredAE
    from core.data import load_dataset

    rows, before, seen = load_dataset("digits").X_train[:64], torch.get_num_threads(), []

    class Probe(Callback):
        def on_step(self, info):
            seen.append(torch.get_num_threads())

    def run():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            MirroredAE(preset="digits", epochs=1, device="cpu", threads=before + 1).fit(rows, callbacks=[Probe()])
        seen.append([str(w.message) for w in caught])

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert set(seen[:-1]) == {before} and torch.get_num_threads() == before
    assert any("not applied" in m for m in seen[-1])


@pytest.mark.parametrize("lipschitz", ["gp", "hinge-sn"])
def test_the_thin_convolution_kernels_never_set_a_global_flag(lipschitz, monkeypatch):
    """With torch's global flags frozen, setting `torch.backends.mkldnn.enabled` raises: a whole step (the gradient
    penalty's double backward included) runs on the faster kernels without touching it."""
    trainer, nets = tiny_trainer(3, lipschitz=lipschitz)
    assert trainer.speed.kernel_layers  # the kernels are in use
    monkeypatch.setitem(torch.backends.flags_frozen.__globals__, "__allow_nonbracketed_mutation_flag", False)
    with pytest.raises(RuntimeError):
        torch.backends.mkldnn.enabled = True  # the freeze works
    logs = trainer.step(batch())
    assert all(torch.isfinite(v) for v in logs.values())
