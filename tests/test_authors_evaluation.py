"""Scoring as the authors' code scores (issue 18 #7a, core.evaluation.authors_evaluation): training mode makes a
sample's score depend on its batch where the networks hold batch norm, and the networks come back unchanged."""
import numpy as np
import pytest
import torch

from core.evaluation.authors_evaluation import (ORDERS, evaluate_like_authors, mode_dependent_layers, order_of,
                                                pure_batch_share)
from core.method import scoring
from core.method.config import make_config
from core.method.seeding import seeded_networks


@pytest.fixture(scope="module")
def bn_nets():
    cfg = make_config("cifar10_small", profile="paper", interpolation=3)
    return seeded_networks(cfg, (3, 32, 32), seed=0)


def test_train_mode_scores_depend_on_the_batch_and_leave_the_networks_as_they_were(bn_nets):
    torch.manual_seed(0)
    X = torch.rand(16, 3, 32, 32) * 2 - 1
    before = {k: v.clone() for k, v in bn_nets.generator.state_dict().items()}
    modes = {name: m.training for name, m in bn_nets.modules().items()}
    alone = scoring.train_mode_scores(bn_nets, X[:8], batch_size=8)
    mixed = scoring.train_mode_scores(bn_nets, torch.cat([X[:4], X[8:12]]), batch_size=8)
    assert not torch.allclose(alone[:4], mixed[:4])  # the same samples, other batch mates: other scores
    assert torch.allclose(scoring.anomaly_scores(bn_nets, X[:4]), scoring.anomaly_scores(bn_nets, X[:8])[:4],
                          atol=1e-5)  # eval mode: a score is its own
    after = bn_nets.generator.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # running statistics put back
    assert {name: m.training for name, m in bn_nets.modules().items()} == modes
    assert mode_dependent_layers(bn_nets) > 0


def test_orders_and_pure_batches():
    y = np.array([1, 0, 1, 0, 0, 0, 1, 0])
    first = order_of(y, "normals first")
    assert y[first].tolist() == [0, 0, 0, 0, 0, 1, 1, 1]
    assert order_of(y, "as our split holds them").tolist() == list(range(8))
    assert sorted(order_of(y, "shuffled", seed=3).tolist()) == list(range(8))
    assert pure_batch_share(y[first], 4) == 0.5 and pure_batch_share(y, 4) == 0.0
    with pytest.raises(ValueError, match="order must be one of"):
        order_of(y, "sideways")


def test_a_model_without_mode_dependent_layers_scores_the_same_either_way():
    """The digits preset with the gradient penalty (no spectral norm, no batch norm): identical AUCs; with its
    default spectral norm, the critic's power iterations make train-mode scores drift and the count says so."""
    from core import MirroredAE
    from core.evaluation.protocols import split_for

    split = split_for("digits", 3)
    model = MirroredAE(preset="digits", epochs=1, seed=0, lipschitz="gp").fit(split.X_train[:200])
    rows = evaluate_like_authors(model, split.X_test, split.y_test)
    assert mode_dependent_layers(model.nets_) == 0
    assert [r["order"] for r in rows[1:]] == list(ORDERS)
    assert all(r["auc"] == pytest.approx(rows[0]["auc"], abs=1e-6) for r in rows)
    spectral = MirroredAE(preset="digits", epochs=1, seed=0, lipschitz="hinge-sn").fit(split.X_train[:200])
    assert mode_dependent_layers(spectral.nets_) > 0
