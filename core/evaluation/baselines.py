"""Baselines, peers, sanity rows and ablations, all with the same interface as `MirroredAE`: ``fit(X)`` on the raw
training data, ``decision_function(X)`` on raw test data, higher = more anomalous. `make_method(name, ...)` builds
the estimator behind a table row; `parse_method(name)` checks a row name.

Every non-maesi row sees the same input (`core.evaluation.preprocess.Preprocess`, fitted on the training data
only): tabular data min-max scaled per feature, images flattened and divided by the top of their pixel range.

Methods (the names are the row names of the tables):

=====================  ============================================================================================
``maesi-3pt``          the paper's model, 3-point simplex interpolation, with R(E) (the main row)
``maesi-2pt``          2-point simplex interpolation
``maesi-acai``         Berthelot et al.'s interpolation (ACAI, Eq. 1) on the mirrored autoencoder
``maesi-none``         mirrored autoencoder without interpolation
``<any>-noreg``        the same without the latent regulariser R(E) (Fig. 5's ablation)
``pyod-*``             the peers: PyOD 3.6.7's AutoEncoder, VAE, DeepSVDD, LOF, KNN, ECOD and IForest at PyOD's
                       defaults (`core.evaluation.peers` records them); the deep three may fit on a seeded subset of
                       at most `pyod_cap` training rows
``ocsvm``              One-class SVM, RBF kernel, gamma "scale", nu 0.1, fitted on at most `ocsvm_cap` training
                       samples (a seeded subset): its cost grows quadratically with the training set
``pca``                PCA reconstruction error, with the components that explain 90% of the training variance
``ae-l2``              an L2 autoencoder with the preset's encoder E and generator G (`core.networks`), trained with
                       MSE and Adam (lr 1e-3, betas (0.9, 0.999)) for the same epochs and batch size as the preset;
                       score = L2 reconstruction error
``mean-distance``      sanity row: Euclidean distance to the training mean in the model's scaling
                       (`core.scaling.Scaler`: min-max to [0, 1] for tabular data, pixels to [-1, 1] for images), a
                       detector that learned nothing beyond the mean
=====================  ============================================================================================

Aliases: ``iforest`` = ``pyod-iforest``. Our scikit-learn `IsolationForest` row (100 trees, default
``max_samples``, ``random_state`` = seed, score ``-score_samples``) fitted the very forest PyOD's IForest fits with
the same seed; PyOD's score is ours plus a constant (its ``offset_``): the rankings, hence every table metric, were
identical on Thyroid's split seeds 0-4 (checked; tests/test_peers.py checks the constant shift). The old
name stays resolvable because committed results use it.

Hand-written rows kept beside PyOD, and why:

* ``ocsvm`` is scikit-learn's `OneClassSVM`, the estimator PyOD's `OCSVM` wraps, but with nu 0.1 and gamma
  "scale" where PyOD's defaults are nu 0.5 and gamma "auto" (1 / n_features, which ignores the data's variance),
  and with a training cap PyOD lacks; it is not a copy of a PyOD row at its defaults.
* ``pca`` is the reconstruction error with 90% of the variance. PyOD's `PCA` at its defaults is another
  detector: it standardises the features, keeps every component and scores the variance-weighted distance to
  all of them (Shyu et al.'s Mahalanobis-like score), with no reconstruction.
* ``ae-l2`` uses the preset's own E and G, so it is the architecture-matched control of the maesi rows: the same
  networks, budget and batch size, with the paper's interpolation, critic and feature score taken away. PyOD's
  AutoEncoder is a different (64-32 MLP) network.

A ``maesi-*`` name may carry settings after ``@``, each ``key=value``: ``maesi-3pt@profile=authors@lrx=10``. Keys:
profile (paper|authors), scaling (minmax|zscore|none), lr (a learning rate for every optimiser), lrx (a multiple of
the preset's learning rate), recon (the weight of the L2 reconstruction stabiliser), epochs, max_train (train on a
seeded subset of at most this many samples), tfd, lam, alpha (authors|dirichlet), lipschitz (gp|hinge-sn), score
(feature|l2|latent_norm); and ``@chosen``: the settings chosen on validation seeds for the dataset
(`core.evaluation.validation`). Such rows are variants, never the faithful row, and their names say what differs.
``@score=l2`` is the sanity sibling of a maesi row (`sanity_siblings`): the same row scored by its L2 reconstruction
error instead of the paper's feature score; the grid records it from the same trained models.
"""
from __future__ import annotations

import math
import time

import numpy as np

from .peers import CAPPED_PEERS, DEEP_PEERS, PEERS, PyODPeer
from .preprocess import Preprocess

MAESI_BASES = {"maesi-3pt": 3, "maesi-2pt": 2, "maesi-acai": "acai", "maesi-none": 0}
OWN_BASELINES = ("ocsvm", "pca", "ae-l2")
SANITY_ROWS = ("mean-distance",)
# Every non-maesi row, in table order: the library's peers, our baselines, the sanity rows.
BASELINES = PEERS + OWN_BASELINES + SANITY_ROWS
ALIASES = {"iforest": "pyod-iforest"}
ABLATIONS = tuple(b + s for b in ("maesi-3pt", "maesi-2pt", "maesi-acai", "maesi-none") for s in ("", "-noreg"))
# The settings a maesi row name may carry after "@" (`key=value`), with the MirroredAE parameter each sets.
VARIANT_KEYS = {"lr": float, "lrx": float, "epochs": int, "tfd": int, "lam": float, "alpha": str, "lipschitz": str,
                "score": str, "profile": str, "scaling": str, "recon": float, "max_train": int}
CHOSEN = "chosen"  # "@chosen": the settings chosen on validation seeds for the dataset (core.evaluation.validation)
MAESI_SCORES = ("feature", "l2", "latent_norm")  # core.model.SCORES, without importing torch to check a name


# ------------------------------------------------------------------ our baselines

class _Shallow:
    """fit / decision_function around a scikit-learn detector, on the preprocessed data."""

    def __init__(self, input_range=None, seed: int = 0):
        self.input_range, self.seed = input_range, seed

    def fit(self, X, y=None):
        t0 = time.perf_counter()
        self.pre_ = Preprocess(self.input_range).fit(X)
        self._fit(self.pre_.transform(X))
        self.train_seconds_ = time.perf_counter() - t0
        return self

    def decision_function(self, X) -> np.ndarray:
        return self._score(self.pre_.transform(X))


class OCSVM(_Shallow):
    def __init__(self, input_range=None, seed: int = 0, cap: int = 10000, nu: float = 0.1):
        super().__init__(input_range, seed)
        self.cap, self.nu = cap, nu

    def _fit(self, X):
        from sklearn.svm import OneClassSVM

        if len(X) > self.cap:
            X = X[np.random.default_rng(self.seed).choice(len(X), self.cap, replace=False)]
        self.n_fit_ = len(X)
        self.model_ = OneClassSVM(kernel="rbf", gamma="scale", nu=self.nu, cache_size=500).fit(X)

    def _score(self, X):
        return -self.model_.decision_function(X)


class PCAReconstruction(_Shallow):
    def __init__(self, input_range=None, seed: int = 0, variance: float = 0.9):
        super().__init__(input_range, seed)
        self.variance = variance

    def _fit(self, X):
        from sklearn.decomposition import PCA

        self.model_ = PCA(n_components=self.variance, svd_solver="full", random_state=self.seed).fit(X)

    def _score(self, X):
        Z = self.model_.transform(X)
        return np.linalg.norm(X - self.model_.inverse_transform(Z), axis=1)


class MeanDistance:
    """Sanity row: ||s(x) - mean(s(X_train))||_2 with s the model's own scaling (`core.scaling.Scaler`: min-max to
    [0, 1] for tabular data, fitted on the training data; pixels to [-1, 1] for images), so the distances are in the
    units the maesi rows see. A method that does not beat it has learned nothing about the data beyond its mean."""

    def __init__(self, input_range=None):
        self.input_range = input_range  # None = tabular

    def _scaled(self, X) -> np.ndarray:
        # Scaler.transform works in float32 (as the model does); the mean and distances are taken in float64.
        return self.scaler_.transform(np.asarray(X)).reshape(len(X), -1).astype(np.float64)

    def fit(self, X, y=None):
        from ..scaling import Scaler

        t0 = time.perf_counter()
        X = np.asarray(X)
        self.scaler_ = Scaler.fit_minmax(X) if self.input_range is None else Scaler.for_images(self.input_range)
        self.mean_ = self._scaled(X).mean(axis=0)
        self.train_seconds_ = time.perf_counter() - t0
        return self

    def decision_function(self, X) -> np.ndarray:
        return np.linalg.norm(self._scaled(X) - self.mean_, axis=1)


class L2Autoencoder:
    """The preset's E and G (built by `core.networks.build_networks`), trained as a plain autoencoder with MSE and
    Adam; score = ||x - G(E(x))||_2 in the model's units (images in [-1, 1], the range of G's tanh; tabular
    min-max scaled to [0, 1])."""

    def __init__(self, preset: str, epochs: int | None = None, lr: float = 1e-3, seed: int = 0,
                 device: str = "cpu"):
        self.preset, self.epochs, self.lr, self.seed, self.device = preset, epochs, lr, seed, device

    def fit(self, X, y=None):
        import torch

        from ..config import make_config
        from ..model import resolve_device
        from ..networks import build_networks
        from ..scaling import Scaler

        t0 = time.perf_counter()
        cfg = make_config(self.preset, interpolation=0, epochs=self.epochs)
        X = np.asarray(X)
        self.config_ = cfg
        self.scaler_ = Scaler.for_images(cfg.input_range) if cfg.arch.family != "mlp" else Scaler.fit_minmax(X)
        self.device_ = resolve_device(self.device)
        torch.manual_seed(self.seed)
        nets = build_networks(cfg, tuple(X.shape[1:]))
        self.encoder_, self.generator_ = nets.encoder.to(self.device_), nets.generator.to(self.device_)
        params = list(self.encoder_.parameters()) + list(self.generator_.parameters())
        opt = torch.optim.Adam(params, lr=self.lr)
        Xt = torch.from_numpy(self.scaler_.transform(X)).to(self.device_)
        gen = torch.Generator().manual_seed(self.seed)
        n, bs = len(Xt), min(cfg.batch_size, len(Xt))
        self.encoder_.train(True)
        self.generator_.train(True)
        self.loss_ = []
        for _ in range(cfg.epochs):
            perm = torch.randperm(n, generator=gen).to(self.device_)
            total = 0.0
            for b in range(n // bs):
                x = Xt[perm[b * bs:(b + 1) * bs]]
                loss = ((self.generator_(self.encoder_(x)) - x) ** 2).flatten(1).sum(1).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.item()
            self.loss_.append(total / max(n // bs, 1))
            if not math.isfinite(self.loss_[-1]):
                raise FloatingPointError("the L2 autoencoder's loss became NaN or Inf")
        self.encoder_.train(False)
        self.generator_.train(False)
        self.train_seconds_ = time.perf_counter() - t0
        return self

    def decision_function(self, X, batch_size: int = 4096) -> np.ndarray:
        import torch

        Xt = torch.from_numpy(self.scaler_.transform(np.asarray(X))).to(self.device_)
        out = []
        with torch.no_grad():
            for i in range(0, len(Xt), batch_size):
                x = Xt[i:i + batch_size]
                out.append((x - self.generator_(self.encoder_(x))).flatten(1).norm(dim=1))
        return torch.cat(out).float().cpu().numpy()


# ------------------------------------------------------------------ the mirrored AE and its variants

class MaesiScorer:
    """`MirroredAE` with its anomaly score (the paper's "feature" unless a variant says otherwise). A run that
    diverges keeps its last good weights and is scored with them, with `training_status_` "diverged" and its
    health verdict saying so."""

    def __init__(self, score: str = "feature", **params):
        from ..model import MirroredAE

        self.score = score
        self.model = MirroredAE(score=score, **params)

    def fit(self, X, y=None):
        from ..train import TrainingDiverged

        try:
            self.model.fit(X)
            self.training_status_ = self.model.training_status_
        except TrainingDiverged:
            self.training_status_ = "diverged"
        for attr in ("train_seconds_", "selected_epoch_", "health_", "history_"):
            setattr(self, attr, getattr(self.model, attr, None))
        return self

    def decision_function(self, X, score: str | None = None) -> np.ndarray:
        return self.model.decision_function(X, score=score or self.score)

    def departures(self) -> list[str]:
        return self.model.departures()


def _maesi_core(base: str) -> str:
    return base[:-len("-noreg")] if base.endswith("-noreg") else base


def parse_method(name: str) -> tuple[str, dict]:
    """'maesi-3pt-noreg@lr=2e-3' -> ('maesi-3pt-noreg', {'lr': 0.002}); an alias resolves to its row
    ('iforest' -> ('pyod-iforest', {})). Raises ValueError for unknown names and settings."""
    base, *parts = name.split("@")
    base = ALIASES.get(base, base)
    if _maesi_core(base) not in MAESI_BASES and base not in BASELINES:
        raise ValueError(f"unknown method {name!r}: choose from {', '.join(ABLATIONS + BASELINES)} (aliases: "
                         f"{', '.join(f'{a} = {b}' for a, b in ALIASES.items())}; maesi-* names may add "
                         f"@key=value settings)")
    if parts and base in BASELINES:
        raise ValueError(f"{name!r}: @settings are only for maesi-* methods")
    settings = {}
    for p in parts:
        if p == CHOSEN:
            settings[CHOSEN] = True
            continue
        key, sep, value = p.partition("=")
        if not sep or key not in VARIANT_KEYS:
            raise ValueError(f"{name!r}: setting {p!r} must be key=value with key in {sorted(VARIANT_KEYS)}, "
                             f"or {CHOSEN!r}")
        try:
            settings[key] = VARIANT_KEYS[key](value)
        except ValueError:
            raise ValueError(f"{name!r}: setting {p!r} has a value of the wrong type") from None
    if settings.get("score", "feature") not in MAESI_SCORES:
        raise ValueError(f"{name!r}: score must be one of {MAESI_SCORES}")
    return base, settings


def is_deep(name: str) -> bool:
    """True for rows that train a neural network (the maesi rows, ae-l2 and PyOD's deep detectors)."""
    base, _ = parse_method(name)
    return base.startswith("maesi") or base == "ae-l2" or base in DEEP_PEERS


def sanity_siblings(method: str) -> list[str]:
    """The sanity rows that belong beside `method`: for a maesi row, the same row scored by L2 reconstruction
    error ('maesi-3pt@lr=2e-3' -> ['maesi-3pt@lr=2e-3@score=l2']); none for other rows or a row already scored
    by L2. (The per-dataset sanity row, `mean-distance`, is in SANITY_ROWS.)"""
    base, settings = parse_method(method)
    if _maesi_core(base) not in MAESI_BASES or settings.get("score") == "l2":
        return []
    kept = [p for p in method.split("@")[1:] if not p.startswith("score=")]
    return ["@".join([method.split("@")[0], *kept, "score=l2"])]


def resolved_settings(name: str, dataset: str | None = None) -> tuple[str, dict]:
    """parse_method(name) with "@chosen" replaced by the settings chosen on validation seeds for `dataset`."""
    base, settings = parse_method(name)
    if settings.pop(CHOSEN, False):
        from .validation import chosen_settings

        if dataset is None:
            raise ValueError(f"{name!r}: '@chosen' needs the dataset whose chosen settings to use")
        chosen = chosen_settings(dataset)
        # settings written in the name win over the chosen ones
        settings = {**(parse_method("maesi-3pt@" + chosen)[1] if chosen else {}), **settings}
    return base, settings


def maesi_params(name: str, preset: str, dataset: str | None = None) -> tuple[str, dict]:
    """(score, MirroredAE parameters) of a maesi row name, with "@chosen" resolved for `dataset`."""
    from ..config import PRESETS

    base, settings = resolved_settings(name, dataset)
    lr = settings.get("lr")
    if "lrx" in settings:
        lr = settings["lrx"] * PRESETS[preset].opt_encoder.lr
    params = dict(preset=preset, interpolation=MAESI_BASES[_maesi_core(base)], latent_reg=not base.endswith("-noreg"),
                  lr=lr, tfd=settings.get("tfd"), lam=settings.get("lam"), alpha_sampler=settings.get("alpha"),
                  # a row without "@profile=" is the paper's setting, whatever the library's default profile is
                  lipschitz=settings.get("lipschitz"), profile=settings.get("profile", "paper"),
                  scaling=settings.get("scaling"), recon_weight=settings.get("recon"), epochs=settings.get("epochs"))
    return settings.get("score", "feature"), params


def make_method(name: str, *, preset: str, input_range=None, seed: int = 0, epochs: int | None = None,
                device: str = "cpu", ocsvm_cap: int = 10000, pyod_cap: int | None = None,
                contamination: float = 0.1, dataset: str | None = None):
    """The estimator behind a table row. `epochs` None = the preset's; `input_range` None = tabular data;
    `ocsvm_cap` / `pyod_cap`: OCSVM / PyOD's AutoEncoder, VAE, DeepSVDD, LOF and KNN fit on at most this many training
    rows (seeded subsets; `pyod_cap` None = all). `contamination` sets the maesi rows' threshold only: the
    PyOD peers keep PyOD's 0.1, which changes no score. `dataset` resolves a maesi row's "@chosen"."""
    base, settings = parse_method(name)
    if base in PEERS:
        return PyODPeer(base, input_range, seed=seed, device=device,
                        train_cap=pyod_cap if base in CAPPED_PEERS else None)
    if base == "mean-distance":
        return MeanDistance(input_range)
    if base == "ocsvm":
        return OCSVM(input_range, seed, cap=ocsvm_cap)
    if base == "pca":
        return PCAReconstruction(input_range, seed)
    if base == "ae-l2":
        return L2Autoencoder(preset, epochs=epochs, seed=seed, device=device)
    score, params = maesi_params(name, preset, dataset)
    params["epochs"] = params["epochs"] or epochs
    return MaesiScorer(score=score, contamination=contamination, device=device, seed=seed, **params)
