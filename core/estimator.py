"""`MirroredAE`: the method as a PyOD-style detector.

    model = MirroredAE(preset="digits", interpolation=3).fit(X_train)
    scores = model.decision_function(X_test)        # higher = more anomalous
    labels = model.predict(X_test)                   # 1 = anomaly, 0 = normal; threshold from `contamination`

The API convention is PyOD's (not scikit-learn's OutlierMixin, whose predict returns -1/+1): `decision_function`
is higher for more anomalous samples, `predict` returns 0/1, and `fit` leaves `decision_scores_`, `threshold_` and
`labels_` on the training data. Inputs are in the data's raw units (pixels in the preset's `input_range`, tabular
features as they come); the model normalises them itself and writes the normalisation into its checkpoints.

It is a scikit-learn estimator too (tests/test_sklearn_contract.py runs scikit-learn's estimator checks):
`score(X, y)` is the ROC AUC of `decision_function` against y (1 = anomaly), so GridSearchCV without a scorer and
`Pipeline.score` work; the anomaly score to use is the parameter `score_kind` (formerly `score`). Input checks and
the rule for rows the networks cannot score (+inf, labelled an anomaly) are in `core.estimator_inputs`.
"""
from __future__ import annotations

import contextlib
import math
import threading
import time
import warnings
from pathlib import Path
from typing import Optional

import numpy as np
import torch
from sklearn.base import BaseEstimator

from core import estimator_inputs as inputs
from core.checkpoints import store as ckpt
from core.method import scoring
from core.method.activations import ScoringBudgetError, scoring_batch_size
from core.method.config import Config, make_config, validate, with_learning_rate
from core.method.departures import departures
from core.method.scaling import Scaler, scaler_for
from core.method.scoring import SCORES
from core.estimator_inputs import NotFittedError, torch_threads, upgrade_params  # noqa: F401
from core.method.seeding import seeded_networks
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


def _scoring_batch(cfg: Config, input_shape: tuple) -> int:
    """The largest scoring batch under the memory ceiling (`core.method.activations`, `MAESI_SCORE_MEMORY`);
    ScoringBudgetError (a ValueError) when one sample exceeds it. Counted once per fit or load: the count runs
    the networks on the meta device, too slow for every call of an interactive page."""
    itemsize = 8 if cfg.arch.family == "mlp" else 4  # tabular models score in float64
    return scoring_batch_size(cfg, tuple(input_shape), itemsize=itemsize)


class MirroredAE(BaseEstimator):
    """Mirrored adversarial autoencoder with m-point simplex interpolation (Wu et al.).

    Parameters left as None take the preset's value from the paper's tables, then the profile's (see `core.method.config`).
    interpolation: 0 (none), m >= 2 (m-point simplex) or "acai" (Berthelot et al., the ablation baseline).
    profile: "paper" (the paper's text) or "authors" (the authors' public code); see `core.method.config.PROFILES`.
    critic_steps: critic updates on each batch before its E/G update (paper 1, authors 5; None = the profile's).
    scaling: tabular features "minmax", "zscore" or "none" (fitted on the training data); None = the preset's.
    recon_weight: weight of an L2 reconstruction term in the E/G loss (a stabiliser NOT in the paper; 0 = paper).
    score_kind: what `decision_function` returns by default and `threshold_` is set on: "feature" (the paper's
    D_recon feature distance), "l2" (reconstruction error) or "latent_norm" (see `core.method.scoring`). Formerly
    `score`, still accepted with a FutureWarning (the name now belongs to the scikit-learn method `score(X, y)`).
    contamination: expected anomaly fraction in the training data, for `threshold_` as in PyOD.
    threads: CPU threads for training (None = leave torch's setting alone). torch's thread count is process-wide,
    so the library leaves it to the process's owner (`python -m core train --threads N`, the grid workers, the
    lab's worker process): `fit` applies `threads` only when called from the main thread, where the caller owns
    the process, and restores the previous count when it returns; from any other thread it is not applied (a
    warning says so when it differs from torch's count). Small models gain little from several threads, and on a
    CPU that other processes also load, multi-threaded small ops can run many times slower: use 1 there.
    bf16, compile, channels_last: GPU speed options of training (bf16 autocast, torch.compile of the networks that
    support it, NHWC layout for image presets); they leave the maths as it is (see `core.training.trainer.Trainer`).
    """

    def __init__(self, preset: str = "digits", interpolation=3, profile: Optional[str] = None,
                 lam: Optional[float] = None, epochs: Optional[int] = None, batch_size: Optional[int] = None,
                 lr: Optional[float] = None, critic_steps: Optional[int] = None, lipschitz: Optional[str] = None,
                 alpha_sampler: Optional[str] = None, latent_reg: bool = True, scaling: Optional[str] = None,
                 recon_weight: Optional[float] = None, score_kind: str = "feature", contamination: float = 0.1,
                 device: str = "auto",
                 bf16: bool = False, seed: int = 0, threads: Optional[int] = None,
                 config_overrides: Optional[dict] = None, compile: bool = False, channels_last: bool = False,
                 **deprecated):
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
        self.score_kind = inputs.score_kind_from(score_kind, deprecated) if deprecated else score_kind
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
        if self.score_kind not in SCORES:
            raise ValueError(f"score_kind must be one of {SCORES}, got {self.score_kind!r}")
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
        X = inputs.as_array(X)
        tabular = (self.config_ if not fitting else self.make_config()).arch.family == "mlp"
        X = inputs.check_shape(X, self.preset, tabular)
        if not fitting:
            inputs.check_fitted_shape(X, self.input_shape_, tabular)
        inputs.check_finite(X)
        return X

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "nets_")

    def _require_fitted(self) -> None:
        if not hasattr(self, "nets_"):
            raise NotFittedError("this MirroredAE is not fitted yet: call fit(X) or MirroredAE.load(path)")

    def _to_tensor(self, X: np.ndarray) -> torch.Tensor:
        with inputs.quiet_numpy():  # a huge raw value overflows float32: its score is then +inf (estimator_inputs)
            return torch.from_numpy(self.scaler_.transform(X)).to(self.device_)

    # ------------------------------------------------------------ fitting

    def fit(self, X, y=None, callbacks: list[Callback] = ()) -> "MirroredAE":
        """Train on X (normal data; y is ignored, as the method is unsupervised). Changes no process-wide state:
        torch's global generator and oneDNN setting are left as they are, and torch's thread count too unless
        `threads` asks for one from the main thread (see the class docstring)."""
        cfg = self.make_config()
        self.__dict__.pop("feature_names_in_", None)  # a refit on a plain array forgets the old column names
        X = self._check_X(X, fitting=True)
        if len(X) < 2:
            raise ValueError(f"fit needs at least 2 samples, got {len(X)} sample")
        self.config_ = cfg
        self.device_ = resolve_device(self.device)
        self.input_shape_ = tuple(X.shape[1:])
        self.n_features_in_ = int(np.prod(self.input_shape_))
        self.scoring_batch_size_ = _scoring_batch(cfg, self.input_shape_)  # refused before any training
        with inputs.quiet_numpy():
            self.scaler_ = scaler_for(cfg, X)
        self.nets_ = seeded_networks(cfg, self.input_shape_, self.seed).to(self.device_)
        Xt = self._to_tensor(X)
        trainer = Trainer(self.nets_, cfg, self.device_, seed=self.seed, bf16=self.bf16, compile=self.compile,
                          channels_last=self.channels_last)
        with self._threads():
            try:
                result = trainer.fit(Xt, callbacks)
            except TrainingDiverged as err:
                self._finish_fit(Xt, err.result)
                raise
        self._finish_fit(Xt, result)
        return self

    def _threads(self):
        """`threads` for the block when fit runs in the main thread (then restored), else nothing changes."""
        wanted = self.threads
        if not wanted or wanted == torch.get_num_threads():
            return contextlib.nullcontext()
        if threading.current_thread() is not threading.main_thread():
            warnings.warn(f"MirroredAE(threads={wanted}) is not applied in a fit outside the main thread: torch's "
                          f"thread count is process-wide (the process's owner sets it); training uses "
                          f"{torch.get_num_threads()}", RuntimeWarning, stacklevel=3)
            return contextlib.nullcontext()
        return torch_threads(wanted)

    def _finish_fit(self, Xt: torch.Tensor, result) -> None:
        self.history_ = result.history
        self.selected_epoch_ = result.selected_epoch
        self.training_status_ = result.status
        self.train_seconds_ = result.seconds
        self.epochs_finished_ = result.epochs_finished
        self.health_ = result.health
        self.fitted_at_ = time.strftime("%Y-%m-%dT%H:%M:%S")
        self.decision_scores_ = self._scores(Xt, self.score_kind, 1024)
        self._set_threshold()

    def _set_threshold(self) -> None:
        finite = self.decision_scores_[np.isfinite(self.decision_scores_)]
        self.threshold_ = float(np.percentile(finite, 100 * (1 - self.contamination))) if len(finite) else math.inf
        self.labels_ = inputs.anomaly_labels(self.decision_scores_, self.threshold_)

    # ------------------------------------------------------------ scoring

    def _scores(self, Xt: torch.Tensor, kind: str, batch_size: int) -> np.ndarray:
        # tabular networks score in float64: a row's score then does not depend on the rows around it (float32
        # matrix products round differently by a row's position in the batch); images keep float32 (speed), and so
        # does MPS (no float64 there)
        precise = self.config_.arch.family == "mlp" and Xt.device.type != "mps"
        out = scoring.anomaly_scores(self.nets_, Xt, kind, batch_size, dtype=torch.float64 if precise else None)
        with inputs.quiet_numpy():
            return inputs.visible_scores(out.cpu().numpy())

    def decision_function(self, X, score: Optional[str] = None, batch_size: Optional[int] = None) -> np.ndarray:
        """Anomaly scores, higher = more anomalous; `score` None = the model's own (`score_kind`, which
        `threshold_` belongs to). "feature": ||f(x,x) - f(x,G(E(x)))||_1 with f the
        penultimate layer of D_recon (Section 5.2); "l2": ||x - G(E(x))||_2 in normalised units;
        "latent_norm": ||E(x)||_2. See `core.method.scoring`. A row the networks cannot score (a raw value
        overflowing float32) scores +inf; NaN or infinite input is refused (`core.estimator_inputs`). Batches
        never exceed the scoring memory ceiling (`core.method.activations`, `MAESI_SCORE_MEMORY`)."""
        self._require_fitted()
        score = score or getattr(self, "score_kind", "feature")
        if score not in SCORES:
            raise ValueError(f"score must be one of {SCORES}, got {score!r}")
        budget = getattr(self, "scoring_batch_size_", None) or _scoring_batch(self.config_, self.input_shape_)
        Xt = self._to_tensor(self._check_X(X, fitting=False))
        return self._scores(Xt, score, budget if batch_size is None else min(batch_size, budget))

    def predict(self, X) -> np.ndarray:
        """1 for anomalies (score above `threshold_`, or not finite), 0 for normal samples."""
        return inputs.anomaly_labels(self.decision_function(X), self.threshold_)

    def score(self, X, y, sample_weight=None) -> float:
        """ROC AUC of `decision_function(X)` against y (1 = anomaly, any other label = normal; both must occur):
        the scikit-learn score (higher is better) that `GridSearchCV` and `Pipeline.score` use by default."""
        from sklearn.metrics import roc_auc_score

        anomalous = np.asarray(y).ravel() == 1
        if anomalous.all() or not anomalous.any():
            raise ValueError("score(X, y) needs both anomalies (y == 1) and normal samples in y")
        scores = self.decision_function(X)
        ranked = np.where(np.isfinite(scores), scores, np.finfo(np.float64).max)  # +inf ranks highest
        return float(roc_auc_score(anomalous, ranked, sample_weight=sample_weight))

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
        if getattr(self, "score_kind", "feature") != "feature":
            out.append(f"score {self.score_kind} (the paper scores with D_recon's features)")
        return out

    # ------------------------------------------------------------ persistence

    def __getstate__(self):
        """Pickles and copies hold the weights as a state dict (spectral norm's parametrised modules do not
        pickle), rebuilt on the CPU then moved to the model's device by `__setstate__`."""
        state = super().__getstate__()
        if "nets_" in state:
            state = dict(state)
            state["nets_"] = {k: v.detach().cpu() for k, v in state["nets_"].state_dict().items()}
        return state

    def __setstate__(self, state):
        weights = state.get("nets_")
        super().__setstate__(state)
        if isinstance(weights, dict):
            nets = seeded_networks(self.config_, self.input_shape_, 0)
            nets.load_state_dict(weights)
            self.nets_ = nets.to(self.device_)
            self.nets_.train(False)

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
            params = dict(upgrade_params(meta.get("params", {})), device=device)  # sidecars before a rename too
            model = cls(**{k: v for k, v in params.items() if k in cls._get_param_names()})
            model.config_ = cfg
            model.device_ = resolve_device(device)
            model.input_shape_ = tuple(meta["input_shape"])
            model.n_features_in_ = int(np.prod(model.input_shape_))
            model.scoring_batch_size_ = _scoring_batch(cfg, model.input_shape_)  # a model no request could score
            model.scaler_ = Scaler.from_dict(meta["scaler"])
            if meta.get("feature_names") is not None:  # checked against input_shape with the sidecar
                model.feature_names_in_ = np.asarray(meta["feature_names"], dtype=object)
            nets = seeded_networks(cfg, model.input_shape_, 0)  # the global generator stays as it is
        except ScoringBudgetError as e:
            raise ckpt.CheckpointError(f"{Path(path).name}: {e}") from None
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
