"""The sidecar's top-level keys besides config, input shape and scaler: one check per key a later step reads.

`core.checkpoints.sidecar.validate_sidecar` runs these before anything is stored, so that a sidecar whose
`params.score` is "bogus" or whose health verdict is a number is refused on upload or load, not when a page
later formats it. Who reads what:

* ``params``: `MirroredAE.load` passes them back to the estimator (`score` picks the anomaly score, the rest
  are the fitted model's hyper-parameters, shown and reused when training again);
* ``health``: `core.training.health.describe`, the Models table and the select-box badges (verdict, reasons,
  figures);
* ``training_status``, ``metrics``, ``departures``, ``threshold`` and the rest: the catalogue, the table, the
  manifest and the estimator.

Closed sets are enums (declared where the concept lives when a lower layer declares it); the rest are typed.
Unknown keys, top-level or inside ``params`` and ``health``, are tolerated: newer writers add some.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Callable

from core.method.config import CHOICES as CONFIG_CHOICES
from core.method.config import PRESETS, PROFILES, TABULAR_SCALINGS, parse_interpolation
from core.method.scoring import SCORES

TRAINING_STATUSES = ("completed", "stopped", "interrupted", "diverged")
WEIGHTS_DTYPES = ("float32", "float16")
# core.training.health.VERDICTS (a higher layer: not imported; tests/test_checkpoint_safety.py keeps them equal)
HEALTH_VERDICTS = ("ok", "untrained", "collapsed", "diverged")
MAX_FEATURE_NAMES = 100_000
MAX_REASONS = 32
SHOWN_METRICS = ("auc", "ap", "f1", "precision", "recall")  # what the table and the CLI format as numbers


def type_name(v: Any) -> str:
    """JSON's name for the type of `v`, for messages."""
    if v is None:
        return "null"
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return names.get(type(v), type(v).__name__)


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_finite(v: Any) -> bool:
    return is_number(v) and math.isfinite(v)


def short(v: Any) -> str:
    text = json.dumps(v, default=str) if not isinstance(v, str) else repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


Check = tuple[Callable[[Any], bool], str]


def _opt(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: v is None or check(v)


def _one_of(values, nullable: bool = True) -> Check:
    values = tuple(values)
    return (lambda v: (nullable and v is None) or (isinstance(v, str) and v in values),
            f"one of {list(values)}" + (" or null" if nullable else ""))


def _short_string(v: Any, limit: int = 64) -> bool:
    return isinstance(v, str) and len(v) <= limit


def _interpolation(v: Any) -> bool:
    try:
        parse_interpolation(v)
    except (TypeError, ValueError):
        return False
    return True


_COUNT = (_opt(lambda v: is_int(v) and v >= 1), "a positive integer or null")
_RATE = (_opt(lambda v: is_finite(v) and v >= 0), "a non-negative number or null")
_FLAG = (lambda v: isinstance(v, bool), "true or false")

# MirroredAE's constructor arguments as `get_params` writes them. `score_kind` is accepted beside `score` (a
# planned rename of the estimator's argument); `tfd` is critic_steps' former name.
PARAMS: dict[str, Check] = {
    "score": _one_of(SCORES, nullable=False),
    "score_kind": _one_of(SCORES, nullable=False),
    "interpolation": (_interpolation, "0, an integer m >= 2 (at most 16) or 'acai'"),
    "profile": _one_of(PROFILES),
    "lipschitz": _one_of(CONFIG_CHOICES["lipschitz"]),
    "alpha_sampler": _one_of(CONFIG_CHOICES["alpha_sampler"]),
    "scaling": _one_of(TABULAR_SCALINGS),
    "preset": _one_of(PRESETS, nullable=False),
    "epochs": _COUNT, "batch_size": _COUNT, "critic_steps": _COUNT, "tfd": _COUNT, "threads": _COUNT,
    "seed": (_opt(lambda v: is_int(v) and v >= 0), "a non-negative integer or null"),
    "lam": _RATE, "lr": _RATE, "recon_weight": _RATE,
    "contamination": (lambda v: is_finite(v) and 0 < v < 0.5, "a number between 0 and 0.5 (exclusive)"),
    "latent_reg": _FLAG, "bf16": _FLAG, "compile": _FLAG, "channels_last": _FLAG,
    "device": (_short_string, "a short string"),
    "config_overrides": (_opt(lambda v: isinstance(v, dict)), "an object or null"),
}

# The health record of `core.training.health.summary`; figures may be NaN or infinite (a diverged run's).
HEALTH: dict[str, Check] = {
    "verdict": _one_of(HEALTH_VERDICTS, nullable=False),
    "reasons": (lambda v: isinstance(v, list) and len(v) <= MAX_REASONS and all(_short_string(x, 1000) for x in v),
                f"a list of at most {MAX_REASONS} strings"),
    "epoch": (_opt(lambda v: is_int(v) and v >= 0), "a non-negative integer or null"),
    "thresholds": (lambda v: isinstance(v, dict) and all(is_number(x) for x in v.values()), "an object of numbers"),
    **{k: (_opt(is_number), "a number or null") for k in ("recon_ratio", "output_spread", "e_change", "g_change",
                                                          "latent_norm", "recon_mse", "mean_mse", "w_estimate")},
}


def _check_params(v: Any) -> bool:
    return isinstance(v, dict) and all(x is None or isinstance(x, (str, bool, dict)) or is_number(x)
                                       for x in v.values())




_DATA_SOURCE_FIELDS = {"kind": lambda v: v in ("folder", "table"), "path": lambda v: _short_string(v, 4096),
                       "normal_dir": _short_string, "name": lambda v: isinstance(v, str) and re.fullmatch(
                           r"user\.[A-Za-z0-9_.-]{1,59}", v) is not None,
                       "abnormal_dirs": lambda v: v is None or (isinstance(v, list) and len(v) <= 100
                                                                and all(_short_string(x) for x in v)),
                       "label_column": lambda v: v is None or _short_string(v),
                       "image_size": lambda v: v is None or v in (28, 32), "channels": lambda v: v is None or v in (1, 3),
                       "normal_test_ratio": lambda v: is_finite(v) and 0 < v < 1}


def _check_data_source(v: Any) -> bool:
    """A user dataset's record (core.data.user_data.UserDataSource.record): the fields a later load reads."""
    return isinstance(v, dict) and all(k in v and check(v[k]) for k, check in _DATA_SOURCE_FIELDS.items()
                                       if k in ("kind", "path", "name", "normal_test_ratio")) and all(
        check(v[k]) for k, check in _DATA_SOURCE_FIELDS.items() if k in v)


# Top-level keys the library or the app read: (check, what it must be). Others are tolerated.
KEYS: dict[str, Check] = {
    "format_version": (lambda v: is_int(v) and 1 <= v, "a positive integer"),
    "weights_sha256": (lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) is not None,
                       "64 lowercase hex digits"),
    "weights_dtype": _one_of(WEIGHTS_DTYPES, nullable=False),
    "threshold": (_opt(lambda v: is_number(v) and (math.isfinite(v) or v == math.inf)),
                  "a number (not NaN or -Infinity) or null"),
    "training_status": _one_of(TRAINING_STATUSES, nullable=False),
    "dataset": (_opt(lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", v) is not None),
                "a dataset name or null"),
    "anomaly_class": (lambda v: v is None or is_int(v) or _short_string(v), "an integer, a short string or null"),
    "selected_epoch": (_opt(lambda v: is_int(v) and v >= 0), "a non-negative integer or null"),
    "train_seconds": (_opt(lambda v: is_finite(v) and v >= 0), "a non-negative number or null"),
    "fitted_at": (_opt(_short_string), "a short string or null"),
    "command": (_opt(lambda v: _short_string(v, 4096)), "a string or null"),
    "split": (_opt(lambda v: _short_string(v, 4096)), "a string or null"),
    "seed": (_opt(is_int), "an integer or null"),
    "n_train": (_opt(lambda v: is_int(v) and v >= 0), "a non-negative integer or null"),
    "max_train": (_opt(lambda v: is_int(v) and v >= 0), "a non-negative integer or null"),
    "versions": (lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
                 "an object of version strings"),
    "params": (_check_params, "an object of plain values"),
    "metrics": (lambda v: isinstance(v, dict) and all(_opt(is_number)(v.get(k)) for k in SHOWN_METRICS),
                f"an object whose {', '.join(SHOWN_METRICS)} are numbers or null"),
    "history": (lambda v: isinstance(v, dict) and all(isinstance(x, list) and all(_opt(is_number)(y) for y in x)
                                                      for x in v.values()), "an object of lists of numbers"),
    "health": (_opt(lambda v: isinstance(v, dict)), "an object or null"),
    "departures": (lambda v: isinstance(v, list) and all(_short_string(x, 1000) for x in v), "a list of strings"),
    "data_source": (_opt(_check_data_source), "a user dataset's record (kind, path, name, normal_test_ratio, ...) "
                                              "or null"),
    "feature_names": (_opt(lambda v: isinstance(v, list) and 0 < len(v) <= MAX_FEATURE_NAMES and all(
        isinstance(x, str) and 0 < len(x) <= 256 for x in v) and len(set(v)) == len(v)),
        f"a list of at most {MAX_FEATURE_NAMES} distinct non-empty names (256 characters at most) or null"),
}


def _check_table(record: dict, table: dict[str, Check], prefix: str) -> None:
    for key, (check, what) in table.items():
        if key in record and not check(record[key]):
            raise ValueError(f"key {prefix + key!r} must be {what}, got {type_name(record[key])} "
                             f"({short(record[key])})")


def check_fields(meta: dict) -> None:
    """The known keys of `params` and `health`, then every known top-level key of the sidecar; ValueError with
    one line naming the first problem."""
    for key, table in (("params", PARAMS), ("health", HEALTH)):  # first, so that the message names the field
        if isinstance(meta.get(key), dict):
            _check_table(meta[key], table, f"{key}.")
    _check_table(meta, KEYS, "")
