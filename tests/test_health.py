"""Training health: the figures are the quantities they claim to be, and each verdict fires when it should."""
import math

import numpy as np
import pytest
import torch

from core import MirroredAE
from core.training import health
from core.method.config import make_config
from core.method.networks import build_networks


class Const(torch.nn.Module):
    def __init__(self, value):
        super().__init__()
        self.value = torch.nn.Parameter(value.clone())

    def forward(self, z):
        return self.value.expand(len(z), *self.value.shape)


def thyroid_like_nets():
    torch.manual_seed(0)
    return build_networks(make_config("thyroid", interpolation=0), (6,))


def initial_of(nets):
    return {"encoder": health.flat_weights(nets.encoder), "generator": health.flat_weights(nets.generator)}


def test_a_perfect_reconstruction_has_ratio_0_and_full_spread():
    nets = thyroid_like_nets()
    X = torch.rand(200, 6)
    nets.encoder, nets.generator = torch.nn.Linear(6, 6), torch.nn.Identity()
    with torch.no_grad():
        nets.encoder.weight.copy_(torch.eye(6))
        nets.encoder.bias.zero_()
    figures = health.probe(nets, X, initial_of(nets))
    assert figures["recon_ratio"] == pytest.approx(0.0, abs=1e-9)
    assert figures["output_spread"] == pytest.approx(1.0, rel=1e-6)
    assert figures["mean_mse"] == pytest.approx(float(X.var(dim=0, unbiased=False).mean()), rel=1e-6)


def test_predicting_the_training_mean_has_ratio_1_and_no_spread():
    nets = thyroid_like_nets()
    X = torch.rand(200, 6)
    nets.generator = Const(X.mean(0))
    figures = health.probe(nets, X, initial_of(nets))
    assert figures["recon_ratio"] == pytest.approx(1.0, rel=1e-5)
    assert figures["output_spread"] == pytest.approx(0.0, abs=1e-6)


def test_weight_change_is_relative_to_the_initial_norm():
    lin = torch.nn.Linear(3, 3)
    start = health.flat_weights(lin)
    with torch.no_grad():
        for p in lin.parameters():
            p.mul_(1.1)
    assert health.relative_change(lin, start) == pytest.approx(0.1, rel=1e-5)


@pytest.mark.parametrize("figures,status,expected", [
    (dict(recon_ratio=0.2, output_spread=0.9, e_change=0.5, g_change=0.5), "completed", "ok"),
    (dict(recon_ratio=0.2, output_spread=0.9, e_change=0.001, g_change=0.019), "completed", "untrained"),
    (dict(recon_ratio=0.95, output_spread=0.9, e_change=0.5, g_change=0.5), "completed", "collapsed"),
    (dict(recon_ratio=0.2, output_spread=0.05, e_change=0.5, g_change=0.5), "completed", "collapsed"),
    (dict(recon_ratio=math.nan, output_spread=0.9, e_change=0.5, g_change=0.5), "completed", "diverged"),
    (dict(recon_ratio=0.2, output_spread=0.9, e_change=0.5, g_change=0.5), "diverged", "diverged"),
])
def test_verdicts_follow_the_documented_thresholds(figures, status, expected):
    assert health.verdict(figures, status)[0] == expected


@pytest.fixture(scope="module")
def digits_split():
    from core.evaluation.protocols import split_for

    return split_for("digits", 7)


def test_a_model_trained_with_lr_0_is_untrained(digits_split):
    model = MirroredAE(preset="digits", epochs=2, lr=0.0, device="cpu").fit(digits_split.X_train[:256])
    assert model.health_["verdict"] == "untrained"
    assert model.health_["e_change"] == 0 and model.health_["g_change"] == 0


def test_a_generator_forced_to_a_constant_output_is_collapsed(digits_split):
    model = MirroredAE(preset="digits", epochs=3, device="cpu").fit(digits_split.X_train[:256])
    last = model.nets_.generator[-2]  # the last transposed convolution, before tanh
    with torch.no_grad():
        last.weight.zero_()
    X = model._to_tensor(digits_split.X_train[:256])
    # an initialisation far away, so that the verdict is not "untrained" for a 12-step run
    initial = {k: health.flat_weights(getattr(model.nets_, k)) * 0.5 for k in ("encoder", "generator")}
    figures = health.probe(model.nets_, X, initial)
    assert figures["output_spread"] == pytest.approx(0.0, abs=1e-6)
    assert health.verdict(figures)[0] == "collapsed"


def test_health_is_saved_in_the_sidecar_and_loaded_back(digits_split, tmp_path):
    model = MirroredAE(preset="digits", epochs=2, lr=0.0, device="cpu").fit(digits_split.X_train[:128])
    model.save(tmp_path / "m")
    import json

    meta = json.loads((tmp_path / "m.json").read_text())
    assert meta["health"]["verdict"] == "untrained" and "recon_ratio" in meta["health"]
    assert MirroredAE.load(tmp_path / "m").health_["verdict"] == "untrained"
    for k in ("recon_ratio", "output_spread", "e_change", "g_change", "latent_norm"):
        assert len(model.history_[k]) == 2 and all(np.isfinite(model.history_[k]))
