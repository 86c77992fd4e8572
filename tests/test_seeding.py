"""A fit depends on its `seed` alone: not on the process-wide torch generator, which it leaves as it found it, nor
on other threads drawing from that generator or fitting at the same time. And the initial weights stay exactly
those of `torch.manual_seed(seed)` then `build_networks` (the shipped checkpoints and results were trained from
them)."""
import copy
import threading

import numpy as np
import pytest
import torch

import core.estimator as estimator
from core.training import kernels
from core import MirroredAE
from core.method.networks import build_networks


@pytest.fixture(scope="module")
def rows():
    from core.data import load_dataset
    from core.evaluation.protocols import leave_one_out

    return leave_one_out(load_dataset("digits"), 7).X_train[:128]


def fit_scores(rows, seed=5, profile="paper"):
    model = MirroredAE(preset="digits", interpolation=3, profile=profile, epochs=1, seed=seed, device="cpu")
    return model.fit(rows).decision_scores_


def test_the_global_generator_before_a_fit_changes_nothing(rows):
    torch.manual_seed(123)
    torch.rand(1000)
    first = fit_scores(rows)
    torch.manual_seed(999)
    torch.randn(7)
    second = fit_scores(rows)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, fit_scores(rows, seed=6))  # the seed itself does matter


def test_a_fit_leaves_the_global_generator_as_it_found_it(rows):
    torch.manual_seed(42)
    torch.rand(3)
    before = torch.get_rng_state()
    expected_next = torch.rand(5)
    torch.set_rng_state(before)
    fit_scores(rows)
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.equal(torch.rand(5), expected_next)


@pytest.mark.parametrize("profile", ["paper", "authors"])  # authors: Xavier init, spectral norm's random vectors
def test_the_initial_weights_are_those_of_the_seeded_global_generator(rows, profile, monkeypatch):
    seen = {}

    class Stop(Exception):
        pass

    class Recording(estimator.Trainer):
        def __init__(self, nets, cfg, *args, **kwargs):
            seen["state"], seen["cfg"] = copy.deepcopy(nets.state_dict()), cfg
            super().__init__(nets, cfg, *args, **kwargs)

        def fit(self, X, callbacks=()):
            raise Stop  # stop before training: only the initialisation is compared

    monkeypatch.setattr(estimator, "Trainer", Recording)
    torch.manual_seed(77)
    with pytest.raises(Stop):
        MirroredAE(preset="digits", interpolation=3, profile=profile, epochs=1, seed=11, device="cpu").fit(rows)
    torch.manual_seed(11)  # what fit did before it stopped relying on the global generator
    legacy = build_networks(seen["cfg"], (1, 8, 8)).state_dict()
    assert set(legacy) == set(seen["state"])
    for k, v in legacy.items():
        assert torch.equal(v, seen["state"][k]), k


def test_concurrent_fits_and_draws_do_not_change_a_fit(rows):
    # with the thin-convolution CPU kernels on: they call the native kernels directly, with no process-wide switch
    assert kernels.thin_layers(estimator.seeded_networks(estimator.make_config("digits"), (1, 8, 8), 0).modules()
                               .values())
    expected = fit_scores(rows)
    results, errors = {}, []
    stop = threading.Event()

    def fit(name):
        try:
            results[name] = fit_scores(rows)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    def draw():
        while not stop.is_set():
            torch.rand(16)

    drawer = threading.Thread(target=draw)
    fitters = [threading.Thread(target=fit, args=(name,)) for name in ("a", "b")]
    drawer.start()
    for t in fitters:
        t.start()
    for t in fitters:
        t.join()
    stop.set()
    drawer.join()
    assert not errors, errors
    np.testing.assert_array_equal(results["a"], expected)
    np.testing.assert_array_equal(results["b"], expected)
