"""Baselines and ablations, all with the same interface as `MirroredAE`: ``fit(X)`` on the raw training data,
``decision_function(X)`` on raw test data, higher = more anomalous.

Preprocessing (the same for every shallow baseline, fitted on the training data only):
* tabular data: per-feature min-max scaling fitted on the training split (as `MirroredAE` does);
* images: flattened and divided by the top of the dataset's pixel range (255, or 16 for the 8x8 digits), i.e.
  scaled to [0, 1].

Methods (the names are the row names of the tables):

=====================  ============================================================================================
``maesi-3pt``          the paper's model, 3-point simplex interpolation, with R(E) (the main row)
``maesi-2pt``          2-point simplex interpolation
``maesi-acai``         Berthelot et al.'s interpolation (ACAI, Eq. 1) on the mirrored autoencoder
``maesi-none``         mirrored autoencoder without interpolation
``<any>-noreg``        the same without the latent regulariser R(E) (Fig. 5's ablation)
``iforest``            Isolation Forest (100 trees, 256 samples per tree; scikit-learn's defaults)
``ocsvm``              One-class SVM, RBF kernel, gamma "scale", nu 0.1, fitted on at most `ocsvm_cap` training
                       samples (a seeded subset): its cost grows quadratically with the training set
``pca``                PCA reconstruction error, with the components that explain 90% of the training variance
``ae-l2``              an L2 autoencoder with the preset's encoder E and generator G (`core.networks`), trained with
                       MSE and Adam (lr 1e-3, betas (0.9, 0.999)) for the same epochs and batch size as the preset;
                       score = L2 reconstruction error
=====================  ============================================================================================

A ``maesi-*`` name may carry settings after ``@``, each ``key=value``: ``maesi-3pt@lr=2e-3@epochs=300``. Keys: lr,
epochs, tfd, lam, alpha (authors|dirichlet), lipschitz (gp|hinge-sn), score (feature|l2|latent_norm). Such rows are
variants, never the faithful row, and their names say what differs.
"""
from __future__ import annotations

import math
import time

import numpy as np

MAESI_BASES = {"maesi-3pt": 3, "maesi-2pt": 2, "maesi-acai": "acai", "maesi-none": 0}
BASELINES = ("iforest", "ocsvm", "pca", "ae-l2")
ABLATIONS = tuple(b + s for b in ("maesi-3pt", "maesi-2pt", "maesi-acai", "maesi-none") for s in ("", "-noreg"))
VARIANT_KEYS = {"lr": float, "epochs": int, "tfd": int, "lam": float, "alpha": str, "lipschitz": str, "score": str}


# ------------------------------------------------------------------ preprocessing

class Preprocess:
    """Min-max scaling fitted on the training data (tabular) or division by the pixel range (images, flattened)."""

    def __init__(self, input_range=None):
        self.input_range = input_range  # None = tabular

    def fit(self, X) -> "Preprocess":
        X = np.asarray(X, dtype=np.float64)
        if self.input_range is None:
            X = X.reshape(len(X), -1)
            self.low_ = X.min(axis=0)
            span = X.max(axis=0) - self.low_
            self.span_ = np.where(span > 0, span, 1.0)
        return self

    def transform(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        if self.input_range is None:
            return (X - self.low_) / self.span_
        lo, hi = self.input_range
        return (X - lo) / (hi - lo)


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


class IForest(_Shallow):
    def _fit(self, X):
        from sklearn.ensemble import IsolationForest

        self.model_ = IsolationForest(n_estimators=100, random_state=self.seed).fit(X)

    def _score(self, X):
        return -self.model_.score_samples(X)


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
    """`MirroredAE` with a fixed anomaly score (the paper's "feature" unless a variant says otherwise)."""

    def __init__(self, score: str = "feature", **params):
        from ..model import MirroredAE

        self.score = score
        self.model = MirroredAE(**params)

    def fit(self, X, y=None):
        from ..train import TrainingDiverged

        try:
            self.model.fit(X)
            self.status_ = self.model.training_status_
        except TrainingDiverged:  # the model keeps its last good weights; score with them and say so
            self.status_ = "diverged"
        self.train_seconds_ = self.model.train_seconds_
        self.selected_epoch_ = self.model.selected_epoch_
        return self

    def decision_function(self, X) -> np.ndarray:
        return self.model.decision_function(X, score=self.score)


def parse_method(name: str) -> tuple[str, dict]:
    """'maesi-3pt-noreg@lr=2e-3' -> ('maesi-3pt-noreg', {'lr': 0.002}). Raises ValueError for unknown names."""
    base, *parts = name.split("@")
    core = base[:-len("-noreg")] if base.endswith("-noreg") else base
    if core not in MAESI_BASES and base not in BASELINES:
        raise ValueError(f"unknown method {name!r}: choose from {', '.join(ABLATIONS + BASELINES)} "
                         f"(maesi-* names may add @key=value settings)")
    if parts and base in BASELINES:
        raise ValueError(f"{name!r}: @settings are only for maesi-* methods")
    settings = {}
    for p in parts:
        key, sep, value = p.partition("=")
        if not sep or key not in VARIANT_KEYS:
            raise ValueError(f"{name!r}: setting {p!r} must be key=value with key in {sorted(VARIANT_KEYS)}")
        settings[key] = VARIANT_KEYS[key](value)
    return base, settings


def is_deep(name: str) -> bool:
    base, _ = parse_method(name)
    return base.startswith("maesi") or base == "ae-l2"


def make_method(name: str, *, preset: str, input_range=None, seed: int = 0, epochs: int | None = None,
                device: str = "cpu", ocsvm_cap: int = 10000, contamination: float = 0.1):
    """The estimator behind a table row. `epochs` None = the preset's; `input_range` None = tabular data."""
    base, settings = parse_method(name)
    if base == "iforest":
        return IForest(input_range, seed)
    if base == "ocsvm":
        return OCSVM(input_range, seed, cap=ocsvm_cap)
    if base == "pca":
        return PCAReconstruction(input_range, seed)
    if base == "ae-l2":
        return L2Autoencoder(preset, epochs=epochs, seed=seed, device=device)
    core = base[:-len("-noreg")] if base.endswith("-noreg") else base
    return MaesiScorer(score=settings.get("score", "feature"), preset=preset, interpolation=MAESI_BASES[core],
                       latent_reg=not base.endswith("-noreg"), epochs=settings.get("epochs", epochs),
                       lr=settings.get("lr"), tfd=settings.get("tfd"), lam=settings.get("lam"),
                       alpha_sampler=settings.get("alpha"), lipschitz=settings.get("lipschitz"),
                       contamination=contamination, device=device, seed=seed)
