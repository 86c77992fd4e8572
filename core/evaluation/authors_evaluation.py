"""Research question: does the authors' evaluation inflate AUC? The same trained model is scored on the same test
split in eval mode (ours: every sample's score is its own) and as the authors' public code scores
(`MAEsimplex-master/papercode`): every network in training mode, since the code never calls `.eval()`, so batch
norm normalises each test batch with that batch's own statistics; in batches of the training batch size (64 by
default); and in the order of their test loader. Their CIFAR-10 loader is not shuffled and holds the normal test
images first, then the anomalies ("normals first"); their MNIST loader is shuffled ("shuffled"). "as our split
holds them" is the order of our own test split (official test order for leave-one-out), which a train-mode
scorer would see too.

`pure_batches` says how many of the batches hold one label only: that is where train-mode batch norm can help,
since a batch of anomalies is then normalised by anomalies' statistics only. Spectral normalisation is mode-
dependent too: in training mode each forward pass runs one more power iteration, so the critic's weights drift
from batch to batch while scoring (and are put back afterwards here, as batch norm's statistics are).
"""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from core.method import scoring

AUTHORS_TEST_BATCH = 64  # train.py's --batchsize default, which their test loader uses too
ORDERS = ("normals first", "as our split holds them", "shuffled")


def order_of(y: np.ndarray, how: str, seed: int = 0) -> np.ndarray:
    """The positions of the test samples in the order `how` (one of ORDERS)."""
    if how == "normals first":
        return np.argsort(np.asarray(y), kind="stable")
    if how == "as our split holds them":
        return np.arange(len(y))
    if how == "shuffled":
        return np.random.default_rng(seed).permutation(len(y))
    raise ValueError(f"order must be one of {ORDERS}, got {how!r}")


def mode_dependent_layers(nets) -> int:
    """How many layers of the scoring networks behave differently in training mode: batch norm, dropout, and
    spectral normalisation (one power iteration per forward pass in training mode, so a layer's weight moves from
    batch to batch). With none, the authors' way and ours give the same scores."""
    import torch.nn as nn
    from torch.nn.utils import parametrize

    kinds = (nn.modules.batchnorm._BatchNorm, nn.modules.dropout._DropoutNd)

    def spectral(m) -> bool:
        return parametrize.is_parametrized(m) and any(
            "Spectral" in type(p).__name__ for ps in m.parametrizations.values() for p in ps)

    return sum(isinstance(m, kinds) or spectral(m) for name, net in nets.modules().items() if name != "d_inter"
               for m in net.modules())


def pure_batch_share(y_ordered: np.ndarray, batch_size: int) -> float:
    """The share of consecutive batches whose samples all carry one label."""
    batches = [y_ordered[i:i + batch_size] for i in range(0, len(y_ordered), batch_size)]
    return float(np.mean([len(set(b.tolist())) == 1 for b in batches]))


def evaluate_like_authors(model, X: np.ndarray, y: np.ndarray, seed: int = 0,
                          batch_size: int = AUTHORS_TEST_BATCH) -> list[dict]:
    """AUC of `model` on (X, y): once in eval mode, then in training mode in batches of `batch_size` for each
    order of ORDERS (the scores put back in X's order before the AUC)."""
    y = np.asarray(y).astype(int)
    rows = [{"scoring": "eval mode (ours)", "order": "any (each score is its own)", "batch": None,
             "auc": float(roc_auc_score(y, model.decision_function(X))), "pure_batches": None}]
    # the estimator's own input checks and normalisation, so both scorings see identical tensors
    Xt = model._to_tensor(model._check_X(X, fitting=False))
    for how in ORDERS:
        idx = order_of(y, how, seed)
        ordered = scoring.train_mode_scores(model.nets_, Xt[idx], model.score_kind, batch_size).cpu().numpy()
        scores = np.empty_like(ordered)
        scores[idx] = ordered
        rows.append({"scoring": "train mode (the authors' code)", "order": how, "batch": batch_size,
                     "auc": float(roc_auc_score(y, scores)), "pure_batches": pure_batch_share(y[idx], batch_size)})
    return rows
