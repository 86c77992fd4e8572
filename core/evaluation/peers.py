"""The peers a user would pick instead: PyOD 3.6.7 detectors at PyOD's defaults, behind the interface of the other
rows (``fit(X_raw_train)``, ``decision_function(X_raw_test)``, higher = more anomalous) and on the same input
(`Preprocess`: min-max scaled on the training split for tabular data, pixels / range for images, flattened).

Only four things differ from PyOD's defaults, none of which changes the method:

* the seed: ``random_state`` = the harness's split seed (PyOD's default is 42 for AutoEncoder and VAE, None =
  unseeded for DeepSVDD and IForest); LOF, KNN and ECOD draw nothing at random;
* ``verbose=0``: no progress bar or per-epoch line;
* ``device``: the harness's (default "cpu") for AutoEncoder and VAE; PyOD's default picks CUDA when it is present.
  PyOD's DeepSVDD always runs on the CPU;
* an optional training cap (`train_cap`, `make_method(..., pyod_cap=...)`) for the deep and the neighbour-based
  detectors (`CAPPED_PEERS`): they fit on a seeded subset of at most that many training rows
  (`core.data.subsets.seeded_subset`, the rows the harness's own `max_train` subsample draws) after the scaling is
  fitted on the whole training split. PyOD's deep models take steps of 32 rows: on KDD99's ~200k training rows
  that is ~6,200 steps per epoch, ~620,000 for DeepSVDD's 100 epochs; the report then says "deep models on a
  20k-row training subsample". None (the default) = all rows.

PyOD's AutoEncoder and VAE z-score their input as (x - mean) / (std + 1e-8): a feature that is constant in the
training rows turns a test value d away from it into d x 1e8 z-units, and that row's reconstruction error (above
1e4 in every case we measured: Arrhythmia, the 8x8 digits) outranks every other row. Measured on split seeds 0-4:
Thyroid has no such feature; Arrhythmia has 42-54, where 22-39 of the 226 test rows differ, filling most or all of
the top k = 33 whatever their label (AutoEncoder F1 0.344 at PyOD's defaults, 0.497 with those columns dropped);
KDD99 has 8-11 (221-3,432 test rows, nearly all attacks); images have the pixels never lit in training. It is
PyOD's default and is kept: the row is what a user running PyOD gets, and a report should say why it is low.
(DeepSVDD's `StandardScaler` divides a constant feature by 1 instead.)

``contamination`` stays at PyOD's 0.1: it only sets ``threshold_`` / ``labels_``, which no table uses; the tables
rank `decision_function` and flag the top k = the dataset's anomaly share.

PyOD 3.6.7's defaults, read from the installed package (``pyod/models/*.py``):

====================  =============================================================================================
``pyod-autoencoder``  `AutoEncoder`: encoder 64-32, mirrored decoder 32-64-n (ReLU, batch norm, dropout 0.2), MSE,
                      Adam lr 1e-3 with weight decay 1e-5, 10 epochs, batch 32; z-scores its input with the training
                      mean / std (``preprocessing=True``); score = Euclidean reconstruction error in those z-units
``pyod-vae``          `VAE`: encoder 128-64-32, latent 2, decoder 32-64-128-n (ReLU, no batch norm, dropout 0.2,
                      identity output), beta 1, capacity 0, Adam lr 1e-3 with weight decay 1e-5, 30 epochs, batch
                      32, z-scored input; score = Euclidean error of a reconstruction through a *sampled* z (we seed
                      the draw, so scores repeat). With capacity 0 PyOD clamps the KL term to [0, 0]: at its defaults
                      the "VAE" trains as a noisy 2-d autoencoder
``pyod-deepsvdd``     `DeepSVDD` (one-class, ``use_ae=False``): bias-free 64-32 network, ReLU, dropout 0.2, Adam lr
                      1e-4 with weight decay 0.5e-6 plus a 1e-6 weight-norm penalty, 100 epochs, batch 32, keeps
                      the epoch with the lowest training loss, input standardised (scikit-learn `StandardScaler`);
                      score = squared distance to the centre c (the mean embedding before training)
``pyod-lof``          `LOF`: 20 neighbours, Minkowski p=2 (Euclidean), ``novelty=True``; score = the local
                      outlier factor of a test row against the training rows
``pyod-knn``          `KNN`: distance to the 5th nearest training neighbour (``method="largest"``), Euclidean
``pyod-ecod``         `ECOD`: empirical-CDF tail probabilities per feature, summed. Note: PyOD's ECOD scores a batch
                      *transductively*: the ECDFs are recomputed on training rows + the whole scored batch, so a
                      test row's score depends on the other rows scored with it (the harness scores the whole
                      test split at once)
``pyod-iforest``      `IForest`: scikit-learn's `IsolationForest`, 100 trees, ``max_samples="auto"`` (256),
                      all features, no bootstrap; score = -``decision_function`` = -``score_samples`` + a constant
====================  =============================================================================================
"""
from __future__ import annotations

import os
import random
import time
from contextlib import contextmanager

import numpy as np

from core.data.subsets import seeded_subset
from core.evaluation.preprocess import Preprocess

PYOD_VERSION = "3.6.7"  # the pinned version whose defaults the table above records
PEERS = ("pyod-autoencoder", "pyod-vae", "pyod-deepsvdd", "pyod-lof", "pyod-knn", "pyod-ecod", "pyod-iforest")
DEEP_PEERS = ("pyod-autoencoder", "pyod-vae", "pyod-deepsvdd")
# Fitted on at most `pyod_cap` training rows when a budget sets one (KDD99): the deep detectors' epochs over ~200k
# rows, and the neighbour searches over ~200k x ~250k pairs, are hours on a CPU.
CAPPED_PEERS = DEEP_PEERS + ("pyod-lof", "pyod-knn")


def _build_detector(name: str, n_features: int, seed: int, device: str):
    """The PyOD detector at its defaults plus the seed, silence and device (imports PyOD only when used: it
    takes seconds, and most commands never fit a peer)."""
    if name == "pyod-autoencoder":
        from pyod.models.auto_encoder import AutoEncoder

        return AutoEncoder(random_state=seed, verbose=0, device=device)
    if name == "pyod-vae":
        from pyod.models.vae import VAE

        return VAE(random_state=seed, verbose=0, device=device)
    if name == "pyod-deepsvdd":
        from pyod.models.deep_svdd import DeepSVDD

        return DeepSVDD(n_features=n_features, random_state=seed, verbose=0)
    if name == "pyod-lof":
        from pyod.models.lof import LOF

        return LOF()
    if name == "pyod-knn":
        from pyod.models.knn import KNN

        return KNN()
    if name == "pyod-ecod":
        from pyod.models.ecod import ECOD

        return ECOD()
    if name == "pyod-iforest":
        from pyod.models.iforest import IForest

        return IForest(random_state=seed)
    raise ValueError(f"unknown PyOD peer {name!r}: choose from {', '.join(PEERS)}")


@contextmanager
def _seeded_global_rngs(seed: int):
    """Seed Python's, NumPy's and torch's global generators, and give the caller's states back afterwards.

    PyOD's deep detectors draw from the global generators (torch: initial weights, dropout, batch order, the VAE's
    sampled z; NumPy: DeepSVDD's shuffle), and `BaseDeepLearningDetector.__init__` reseeds all three (and sets
    PYTHONHASHSEED) as a side effect. Seeding here makes a run repeat exactly for a seed whatever ran before it;
    restoring keeps a peer from changing the random stream of whatever runs after it."""
    import torch

    python_state, numpy_state = random.getstate(), np.random.get_state()
    hash_seed = os.environ.get("PYTHONHASHSEED")
    with torch.random.fork_rng():
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)
            if hash_seed is None:
                os.environ.pop("PYTHONHASHSEED", None)
            else:
                os.environ["PYTHONHASHSEED"] = hash_seed


class PyODPeer:
    """One PyOD detector at its defaults on the harness's preprocessed input (see the module docstring).

    Parameters: `detector` one of `PEERS`; `input_range` None for tabular data, else the pixel range; `seed` the
    detectors' ``random_state`` and the seed of the training subset; `device` for PyOD's AutoEncoder and VAE;
    `train_cap` at most this many training rows (seeded subset), None = all.
    Learned: `pre_` (the scaling), `detector_` (the fitted PyOD detector), `n_fit_` (rows it was fitted on),
    `train_seconds_`."""

    def __init__(self, detector: str, input_range=None, seed: int = 0, device: str = "cpu",
                 train_cap: int | None = None):
        if detector not in PEERS:
            raise ValueError(f"unknown PyOD peer {detector!r}: choose from {', '.join(PEERS)}")
        self.detector, self.input_range, self.seed = detector, input_range, seed
        self.device, self.train_cap = device, train_cap

    def fit(self, X, y=None):
        t0 = time.perf_counter()
        X = np.asarray(X)
        # The scaling sees the whole training split (no test statistic either way); the cap only bounds the
        # detector's own training cost.
        self.pre_ = Preprocess(self.input_range).fit(X)
        X_fit = self.pre_.transform(seeded_subset(X, self.train_cap, self.seed))
        with _seeded_global_rngs(self.seed):
            self.detector_ = _build_detector(self.detector, X_fit.shape[1], self.seed, self._torch_device())
            self.detector_.fit(X_fit)
        self.n_fit_ = len(X_fit)
        self.train_seconds_ = time.perf_counter() - t0
        return self

    def _torch_device(self) -> str:
        """PyOD takes a torch device string: the harness's "auto" resolves as MirroredAE's does."""
        from core.estimator import resolve_device

        return str(resolve_device(self.device))

    def decision_function(self, X) -> np.ndarray:
        # Seeded too: PyOD's VAE samples z when scoring, so unseeded scores would change from call to call.
        with _seeded_global_rngs(self.seed):
            scores = self.detector_.decision_function(self.pre_.transform(X))
        return np.asarray(scores, dtype=np.float64).ravel()
