"""`MirroredAE`: the method as a PyOD-style detector.

    model = MirroredAE(preset="digits", interpolation=3).fit(X_train)
    scores = model.decision_function(X_test)        # higher = more anomalous
    labels = model.predict(X_test)                   # 1 = anomaly, 0 = normal; threshold from `contamination`

The API convention is PyOD's (not scikit-learn's OutlierMixin, whose predict returns -1/+1): `decision_function`
is higher for more anomalous samples, `predict` returns 0/1, and `fit` leaves `decision_scores_`, `threshold_` and
`labels_` on the training data. Inputs are in the data's raw units (pixels in the preset's `input_range`, tabular
features as they come); the model normalises them itself and writes the normalisation into its checkpoints.
"""
from __future__ import annotations

import math
import threading
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from sklearn.base import BaseEstimator
from torch.overrides import TorchFunctionMode

from core.checkpoints import store as ckpt
from core.method import scoring
from core.method.config import Config, departures, make_config, upgrade_keys, validate, with_learning_rate
from core.method.networks import build_networks
from core.method.scaling import Scaler, scaler_for
from core.method.scoring import SCORES
from core.training.trainer import Callback, Trainer, TrainingDiverged


def resolve_device(device: str = "auto") -> torch.device:
    """"auto" picks cuda, then mps, then cpu; anything else is passed to torch.device."""
    if device in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was requested but no CUDA GPU is available; use device='cpu' or 'auto'")
    return dev


# The networks' modules draw their initial weights from torch's global CPU generator (PyTorch's and the Xavier
# initialisation, spectral norm's random vectors). `seeded_networks` gives a build exactly the weights of
# `torch.manual_seed(seed)` then `build_networks` (the shipped checkpoints and results were trained from them)
# without depending on, or changing, that process-wide state: every draw of the build goes to a private generator
# seeded with `seed` (a torch-function mode, local to the thread), which yields the same sequence as the seeded
# global one. As a safety net for any draw the mode would miss, the global CPU generator is also seeded for the
# build and restored after it, one build at a time (the lock). Accelerator generators are not touched: the
# networks are built on the CPU, and training draws from its own seeded generator (`Trainer`).
_SEEDED_BUILD = threading.Lock()
_TENSOR_DRAWS = frozenset({torch.Tensor.uniform_, torch.Tensor.normal_, torch.Tensor.random_, torch.Tensor.bernoulli_,
                           torch.Tensor.exponential_, torch.Tensor.cauchy_, torch.Tensor.log_normal_,
                           torch.Tensor.geometric_})


class _DrawFrom(TorchFunctionMode):
    """Within the block (this thread only), random draws without a generator of their own use `generator`."""

    def __init__(self, generator: torch.Generator):
        super().__init__()
        self.generator = generator

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if kwargs.get("generator", False) is None or (func in _TENSOR_DRAWS and "generator" not in kwargs):
            kwargs["generator"] = self.generator  # nn.init's functions pass generator=None; Tensor.normal_ none
        return func(*args, **kwargs)


def seeded_networks(cfg: Config, input_shape: tuple, seed: int):
    """`build_networks(cfg, input_shape)` initialised from `seed` alone; the global generator is left as it was."""
    with _SEEDED_BUILD, torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)
        with _DrawFrom(torch.Generator().manual_seed(seed)):
            return build_networks(cfg, input_shape)


class NotFittedError(RuntimeError):
    pass


class MirroredAE(BaseEstimator):
    """Mirrored adversarial autoencoder with m-point simplex interpolation (Wu et al.).

    Parameters left as None take the preset's value from the paper's tables, then the profile's (see `core.method.config`).
    interpolation: 0 (none), m >= 2 (m-point simplex) or "acai" (Berthelot et al., the ablation baseline).
    profile: "paper" (the paper's text) or "authors" (the authors' public code); see `core.method.config.PROFILES`.
    critic_steps: critic updates on each batch before its E/G update (paper 1, authors 5; None = the profile's).
    scaling: tabular features "minmax", "zscore" or "none" (fitted on the training data); None = the preset's.
    recon_weight: weight of an L2 reconstruction term in the E/G loss (a stabiliser NOT in the paper; 0 = paper).
    score: what `decision_function` returns by default and `threshold_` is set on: "feature" (the paper's D_recon
    feature distance), "l2" (reconstruction error) or "latent_norm" (see `core.method.scoring`).
    contamination: expected anomaly fraction in the training data, for `threshold_` as in PyOD.
    threads: CPU threads for training (None = torch's default). Small models gain little from several threads,
    and on a CPU that other processes also load, multi-threaded small ops can run many times slower: use 1 there.
    bf16, compile, channels_last: GPU speed options of training (bf16 autocast, torch.compile of the networks that
    support it, NHWC layout for image presets); they leave the maths as it is (see `core.training.trainer.Trainer`).
    """

    def __init__(self, preset: str = "digits", interpolation=3, profile: Optional[str] = None,
                 lam: Optional[float] = None, epochs: Optional[int] = None, batch_size: Optional[int] = None,
                 lr: Optional[float] = None, critic_steps: Optional[int] = None, lipschitz: Optional[str] = None,
                 alpha_sampler: Optional[str] = None, latent_reg: bool = True, scaling: Optional[str] = None,
                 recon_weight: Optional[float] = None, score: str = "feature", contamination: float = 0.1,
                 device: str = "auto",
                 bf16: bool = False, seed: int = 0, threads: Optional[int] = None,
                 config_overrides: Optional[dict] = None, compile: bool = False, channels_last: bool = False):
        self.preset = preset
        self.interpolation = interpolation
        self.profile = profile
        self.lam = lam
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.critic_steps = critic_steps
        self.lipschitz = lipschitz
        self.alpha_sampler = alpha_sampler
        self.latent_reg = latent_reg
        self.scaling = scaling
        self.recon_weight = recon_weight
        self.score = score
        self.contamination = contamination
        self.device = device
        self.bf16 = bf16
        self.seed = seed
        self.threads = threads
        self.config_overrides = config_overrides
        self.compile = compile
        self.channels_last = channels_last

    # ------------------------------------------------------------ configuration

    def make_config(self) -> Config:
        if not (isinstance(self.contamination, (int, float)) and 0 < self.contamination < 0.5):
            raise ValueError(f"contamination must lie in (0, 0.5), got {self.contamination!r}")
        if self.score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}, got {self.score!r}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ValueError(f"threads must be a positive integer, got {self.threads!r}")
        cfg = make_config(self.preset, profile=self.profile, interpolation=self.interpolation, lam=self.lam,
                          epochs=self.epochs, batch_size=self.batch_size, critic_steps=self.critic_steps,
                          lipschitz=self.lipschitz,
                          alpha_sampler=self.alpha_sampler, latent_reg=self.latent_reg, scaling=self.scaling,
                          recon_weight=self.recon_weight, **(self.config_overrides or {}))
        return with_learning_rate(cfg, self.lr) if self.lr is not None else cfg

    # ------------------------------------------------------------ input checks

    def _check_X(self, X, fitting: bool) -> np.ndarray:
        columns = getattr(X, "columns", None)
        if fitting and columns is not None and all(isinstance(c, str) for c in columns):
            self.feature_names_in_ = np.asarray(list(columns), dtype=object)  # scikit-learn's convention
        if hasattr(X, "to_numpy"):
            X = X.to_numpy()
        try:
            X = np.asarray(X)
        except Exception as e:  # ragged lists and the like
            raise ValueError(f"X could not be read as an array: {e}") from None
        if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
            raise ValueError(f"X must be numeric, got dtype {X.dtype}")
        family = (self.config_ if not fitting else self.make_config()).arch.family
        if family == "mlp":
            if X.ndim != 2:
                raise ValueError(f"preset {self.preset!r} is tabular: X must be 2-D (samples, features), "
                                 f"got shape {X.shape}")
        else:
            if X.ndim == 3:  # (N, H, W) grey images
                X = X[:, None]
            if X.ndim != 4:
                raise ValueError(f"preset {self.preset!r} takes images: X must be (N, C, H, W) or (N, H, W), "
                                 f"got shape {X.shape}")
        if len(X) == 0:
            raise ValueError("X has no samples")
        if not fitting and tuple(X.shape[1:]) != tuple(self.input_shape_):
            raise ValueError(f"X has per-sample shape {tuple(X.shape[1:])} but the model was fitted on "
                             f"{tuple(self.input_shape_)}")
        if np.iscomplexobj(X):
            raise ValueError("X must be real-valued, got complex numbers")
        if not np.isfinite(X).all():
            raise ValueError("X contains NaN or infinite values")
        return X

    def _require_fitted(self) -> None:
        if not hasattr(self, "nets_"):
            raise NotFittedError("this MirroredAE is not fitted yet: call fit(X) or MirroredAE.load(path)")

    def _to_tensor(self, X: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(self.scaler_.transform(X)).to(self.device_)

    # ------------------------------------------------------------ fitting

    def fit(self, X, y=None, callbacks: list[Callback] = ()) -> "MirroredAE":
        """Train on X (normal data; y is ignored, as the method is unsupervised)."""
        cfg = self.make_config()
        self.__dict__.pop("feature_names_in_", None)  # a refit on a plain array forgets the old column names
        X = self._check_X(X, fitting=True)
        if len(X) < 2:
            raise ValueError("fit needs at least 2 samples")
        self.config_ = cfg
        self.device_ = resolve_device(self.device)
        self.input_shape_ = tuple(X.shape[1:])
        self.n_features_in_ = int(np.prod(self.input_shape_))
        self.scaler_ = scaler_for(cfg, X)
        self.nets_ = seeded_networks(cfg, self.input_shape_, self.seed).to(self.device_)
        Xt = self._to_tensor(X)
        trainer = Trainer(self.nets_, cfg, self.device_, seed=self.seed, bf16=self.bf16, compile=self.compile,
                          channels_last=self.channels_last)
        previous_threads = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            result = trainer.fit(Xt, callbacks)
        except TrainingDiverged as err:
            self._finish_fit(Xt, err.result)
            raise
        finally:
            torch.set_num_threads(previous_threads)
        self._finish_fit(Xt, result)
        return self

    def _finish_fit(self, Xt: torch.Tensor, result) -> None:
        self.history_ = result.history
        self.selected_epoch_ = result.selected_epoch
        self.training_status_ = result.status
        self.train_seconds_ = result.seconds
        self.epochs_finished_ = result.epochs_finished
        self.health_ = result.health
        self.fitted_at_ = time.strftime("%Y-%m-%dT%H:%M:%S")
        self.decision_scores_ = scoring.anomaly_scores(self.nets_, Xt, self.score).cpu().numpy()
        self._set_threshold()

    def _set_threshold(self) -> None:
        finite = self.decision_scores_[np.isfinite(self.decision_scores_)]
        self.threshold_ = float(np.percentile(finite, 100 * (1 - self.contamination))) if len(finite) else math.inf
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)

    # ------------------------------------------------------------ scoring

    def decision_function(self, X, score: Optional[str] = None, batch_size: int = 1024) -> np.ndarray:
        """Anomaly scores, higher = more anomalous; `score` None = the model's own (`self.score`, which
        `threshold_` belongs to). "feature": ||f(x,x) - f(x,G(E(x)))||_1 with f the
        penultimate layer of D_recon (Section 5.2); "l2": ||x - G(E(x))||_2 in normalised units;
        "latent_norm": ||E(x)||_2. See `core.method.scoring`."""
        self._require_fitted()
        score = score or getattr(self, "score", "feature")
        if score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}, got {score!r}")
        Xt = self._to_tensor(self._check_X(X, fitting=False))
        return scoring.anomaly_scores(self.nets_, Xt, score, batch_size).cpu().numpy()

    def predict(self, X) -> np.ndarray:
        """1 for anomalies (score above `threshold_`), 0 for normal samples."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    # ------------------------------------------------------------ latent space

    def encode(self, X, batch_size: int = 1024) -> np.ndarray:
        self._require_fitted()
        Xt = self._to_tensor(self._check_X(X, fitting=False))
        return scoring.encode(self.nets_, Xt, batch_size).cpu().numpy()

    def decode(self, Z, batch_size: int = 1024) -> np.ndarray:
        """G(z) in the data's raw units."""
        self._require_fitted()
        Z = np.asarray(Z, dtype=np.float32)
        if Z.ndim == 1:
            Z = Z[None]
        if Z.ndim != 2 or Z.shape[1] != self.config_.arch.latent_dim:
            raise ValueError(f"Z must be (n, {self.config_.arch.latent_dim}), got shape {Z.shape}")
        out = scoring.decode(self.nets_, torch.from_numpy(Z).to(self.device_), batch_size)
        return self.scaler_.inverse(out.cpu().numpy())

    def reconstruct(self, X) -> np.ndarray:
        return self.decode(self.encode(X))

    def interpolate(self, anchors, weights) -> np.ndarray:
        """Decode sum_i w_i E(anchor_i). `weights` is (m,) or (k, m), each row on the simplex; returns one
        decoded sample per row of weights, in raw units."""
        return self.decode(self.mix_latents(self.encode(anchors), weights))

    @staticmethod
    def mix_latents(Z_anchors, weights) -> np.ndarray:
        """sum_i w_i z_i (Eq. 3) for weights (m,) or (k, m) on the simplex, from latents encoded once (so an
        interactive caller pays one decode per change)."""
        Z = np.asarray(Z_anchors, dtype=np.float32)
        W = np.atleast_2d(np.asarray(weights, dtype=np.float64))
        if W.ndim != 2 or W.shape[1] != len(Z):
            raise ValueError(f"weights must have one entry per anchor ({len(Z)}), got shape {W.shape}")
        if (W < -1e-9).any() or not np.allclose(W.sum(axis=1), 1.0, atol=1e-6):
            raise ValueError("weights must be non-negative and sum to 1 (a point of the simplex)")
        return W.astype(np.float32) @ Z

    def inter_critic(self, anchors, X_interp) -> np.ndarray:
        """D_inter(anchor_i, x_interp) for every anchor (rows) and interpolant (columns): the simplex critic's
        estimate of 1 - alpha_i. Only for models trained with simplex interpolation."""
        self._require_fitted()
        if self.nets_.d_inter is None or self.config_.interpolation == "acai":
            raise ValueError("this model has no simplex critic D_inter (trained without simplex interpolation)")
        Xa = self._to_tensor(self._check_X(anchors, fitting=False))
        Xi = self._to_tensor(self._check_X(X_interp, fitting=False))
        return scoring.inter_critic(self.nets_, Xa, Xi).cpu().numpy()

    def departures(self) -> list[str]:
        """The settings of this model that are not the paper's, in words (empty = the paper's setting)."""
        out = departures(self.config_ if hasattr(self, "config_") else self.make_config())
        if getattr(self, "score", "feature") != "feature":
            out.append(f"score {self.score} (the paper scores with D_recon's features)")
        return out

    # ------------------------------------------------------------ persistence

    def save(self, path, half: bool = False, metrics: Optional[dict] = None, extra: Optional[dict] = None) -> Path:
        """Write `path`.safetensors and `path`.json atomically; returns the weights path."""
        self._require_fitted()
        meta = {
            "params": self.get_params(), "config": self.config_.to_dict(), "input_shape": list(self.input_shape_),
            "scaler": self.scaler_.to_dict(), "history": self.history_, "selected_epoch": self.selected_epoch_,
            "training_status": self.training_status_, "train_seconds": self.train_seconds_,
            "health": getattr(self, "health_", {}), "departures": departures(self.config_),
            "threshold": self.threshold_, "fitted_at": self.fitted_at_,
            "metrics": dict(getattr(self, "metrics_", {}), **(metrics or {})),
        }
        if getattr(self, "feature_names_in_", None) is not None:
            meta["feature_names"] = [str(n) for n in self.feature_names_in_]
        meta.update(extra or {})
        return ckpt.save_checkpoint(path, self.nets_.state_dict(), meta, half=half)

    @classmethod
    def load(cls, path, device: str = "auto") -> "MirroredAE":
        """Rebuild a fitted model from a checkpoint; never executes code from the file."""
        tensors, meta = ckpt.load_checkpoint(path)
        try:
            cfg = validate(Config.from_dict(meta["config"]))
            params = dict(upgrade_keys(meta.get("params", {})), device=device)  # sidecars before a rename too
            model = cls(**{k: v for k, v in params.items() if k in cls._get_param_names()})
            model.config_ = cfg
            model.device_ = resolve_device(device)
            model.input_shape_ = tuple(meta["input_shape"])
            model.n_features_in_ = int(np.prod(model.input_shape_))
            model.scaler_ = Scaler.from_dict(meta["scaler"])
            if meta.get("feature_names") is not None:  # checked against input_shape with the sidecar
                model.feature_names_in_ = np.asarray(meta["feature_names"], dtype=object)
            nets = build_networks(cfg, model.input_shape_)
        except (KeyError, TypeError, ValueError) as e:
            raise ckpt.CheckpointError(f"{Path(path).name}: the sidecar does not describe a valid model ({e})") from None
        expected = nets.state_dict()
        missing = sorted(set(expected) - set(tensors))
        unexpected = sorted(set(tensors) - set(expected))
        wrong = [k for k in expected if k in tensors and tuple(tensors[k].shape) != tuple(expected[k].shape)]
        if missing or unexpected or wrong:
            raise ckpt.CheckpointError(
                f"{Path(path).name}: weights do not fit preset {cfg.preset!r} with input {model.input_shape_}: "
                f"missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shape {wrong[:3]}")
        nets.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()})
        model.nets_ = nets.to(model.device_)
        model.nets_.train(False)
        model.history_ = meta.get("history", {})
        model.selected_epoch_ = meta.get("selected_epoch")
        model.training_status_ = meta.get("training_status", "completed")
        model.health_ = meta.get("health") or {}
        model.train_seconds_ = meta.get("train_seconds")
        model.fitted_at_ = meta.get("fitted_at")
        threshold = meta.get("threshold")
        model.threshold_ = math.inf if threshold is None else float(threshold)
        model.metrics_ = meta.get("metrics", {})
        model.meta_ = meta
        return model
