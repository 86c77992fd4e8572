"""The checkpoint sidecar's schema and the network budget, checked before anything is stored or allocated.

A sidecar is untrusted input (an upload, a file someone copied into the runs folder): every key the library
reads is type- and range-checked (the top-level keys, `params` and `health` by `core.checkpoints.fields`),
`config` is re-validated by `core.method.config` itself (so fields added to `Config` later are checked by their
own rules, not by a copy of them here), and the networks it describes are sized on PyTorch's "meta" device,
which allocates no memory, before any real tensor exists.

Caps (one place; the messages quote them):

* ``MAX_INPUT_ELEMENTS`` = 3 x 256 x 256 values per sample: 4x COIL-100's native 128x128 RGB, the largest input
  of any dataset here. A sidecar claiming [1, 400000, 400000] is refused by arithmetic alone.
* ``MAX_PARAMETERS`` = 40 M: the paper's own MNIST/Fashion-MNIST networks hold 26.4 M (all four, 3-point
  interpolation), the largest preset at its native size; 40 M float32 weights are 160 MB.
* ``MAX_ACTIVATIONS`` = 128 M values per sample through all four networks: CIFAR-10's preset holds 4.2 M at
  32x32 and about 68 M at COIL-100's 128x128; an image that costs more than 512 MB per sample is refused.
* ``MAX_SIDECAR_BYTES`` = 4 MiB: the shipped sidecars are under 30 kB, their size grows with the epochs only.

Unknown extra top-level keys are tolerated (newer writers add keys such as ``health``) when they are plain JSON.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable

import torch

from core.checkpoints.fields import (HEALTH_VERDICTS, MAX_FEATURE_NAMES, TRAINING_STATUSES, WEIGHTS_DTYPES,  # noqa: F401
                                     check_fields)
from core.checkpoints.fields import is_finite as _is_finite
from core.checkpoints.fields import is_int as _is_int
from core.checkpoints.fields import short as _short
from core.checkpoints.fields import type_name as _type_name
from core.method import measure_memo
from core.method.config import Config, make_config, upgrade_keys
from core.method.networks import build_networks, inter_critic_inputs

FORMAT = "maesi-checkpoint"
FORMAT_VERSION = 1

MAX_INPUT_ELEMENTS = 3 * 256 * 256
MAX_PARAMETERS = 40_000_000
MAX_ACTIVATIONS = 128_000_000
MAX_SIDECAR_BYTES = 4 << 20
MAX_WIDTH = 1 << 16  # any one layer width or channel count in `config.arch`

# A run's file stem: what `rename_checkpoint` accepts and what an upload is stored as. No leading dot (hidden
# and temporary files start with one) and never "manifest" (the folder's own index file).
STEM_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
WEIGHTS_FILE_PATTERN = re.compile(r"^[A-Za-z0-9._-]+\.safetensors$")
# The weights of a checkpoint being replaced, under a hidden name of their own until the sidecar names them
# (core.checkpoints.durable): ".STEM.gTOKEN.safetensors".
GENERATION_PATTERN = re.compile(r"^\.(?P<stem>[A-Za-z0-9][A-Za-z0-9._-]{0,99})\.g(?P<token>[0-9a-f]{12})\.safetensors$")
# Windows cannot create these names, with or without an extension ("nul.v2.json" too): a run folder copied there
# would lose the run.
RESERVED_STEMS = frozenset(["con", "prn", "aux", "nul", *(f"{p}{d}" for p in ("com", "lpt") for d in range(10))])


class CheckpointError(ValueError):
    """The file is not a readable maesi checkpoint; the one-line message says why."""


def check_stem(stem: Any) -> str:
    """A run name usable as a file stem in a runs folder; ValueError naming the problem otherwise."""
    if not isinstance(stem, str) or not STEM_PATTERN.match(stem):
        raise ValueError(f"{_short(stem)} is not a usable run name: use 1-100 letters, digits, '.', '_' or '-', "
                         "starting with a letter or digit")
    if stem.lower() == "manifest" or stem.lower().startswith("manifest."):
        raise ValueError("'manifest' is reserved for the folder's index file; choose another run name")
    return stem


def check_new_stem(stem: Any) -> str:
    """`check_stem`, and not a device name Windows reserves: for the name a run is created or renamed under
    (existing runs with such a name still load)."""
    check_stem(stem)
    device = stem.split(".", 1)[0].lower()
    if device in RESERVED_STEMS:
        raise ValueError(f"{stem!r} is not a usable run name: {device.upper()} is a device name Windows reserves "
                         "(CON, PRN, AUX, NUL, COM0-9, LPT0-9, with or without an extension); choose another")
    return stem


def weights_stem(name: str) -> str:
    """The run's stem of a weights file name: "run.safetensors" or its generation ".run.g0123456789ab.safetensors"."""
    generation = GENERATION_PATTERN.match(name)
    return generation["stem"] if generation else name[: -len(".safetensors")]


def check_weights_file(name: Any) -> str:
    if isinstance(name, str) and GENERATION_PATTERN.match(name):
        check_stem(weights_stem(name))
        return name
    if not isinstance(name, str) or not WEIGHTS_FILE_PATTERN.match(name):
        raise ValueError(f"weights_file {_short(name)} is not a plain NAME.safetensors file name")
    check_stem(name[: -len(".safetensors")])
    return name


# ---------------------------------------------------------------- config: typed, then through make_config

def _check_typed(value: Any, hint: Any, where: str) -> None:
    """`value` (from JSON) fits the dataclass field type `hint`; nested dataclasses are checked field by field."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return
        for arg in (a for a in args if a is not type(None)):
            try:
                return _check_typed(value, arg, where)
            except ValueError:
                continue
        raise ValueError(f"{where} is {_type_name(value)} ({_short(value)}), not a valid value")
    if origin is typing.Literal:
        if value not in args:
            raise ValueError(f"{where} must be one of {list(args)}, got {_short(value)}")
        return
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be an object, got {_type_name(value)}")
        try:
            hints = typing.get_type_hints(hint)
        except Exception:  # noqa: BLE001: an annotation this check cannot resolve is left to the class itself
            hints = {}
        for key, sub in value.items():
            if key in hints:
                _check_typed(sub, hints[key], f"{where}.{key}")
        return
    checks: dict[Any, tuple[Callable[[Any], bool], str]] = {
        bool: (lambda v: isinstance(v, bool), "true or false"),
        int: (_is_int, "an integer"),
        float: (_is_finite, "a finite number"),
        str: (lambda v: isinstance(v, str) and len(v) <= 64, "a short string"),
        tuple: (lambda v: isinstance(v, list) and len(v) <= 32 and all(_is_finite(x) for x in v), "a list of numbers"),
        dict: (lambda v: isinstance(v, dict), "an object"),
    }
    check = checks.get(origin or hint)
    if check is not None and not check[0](value):
        raise ValueError(f"{where} must be {check[1]}, got {_type_name(value)} ({_short(value)})")


def _check_arch_widths(arch: dict) -> None:
    """Widths and channel counts are positive and bounded (ArchConfig itself does not check them)."""
    for key, value in arch.items():
        values = value if isinstance(value, list) else [value]
        if all(_is_int(v) for v in values) and not all(1 <= v <= MAX_WIDTH for v in values):
            raise ValueError(f"config.arch.{key} must hold widths between 1 and {MAX_WIDTH}, got {_short(value)}")


def validate_config(raw: Any) -> Config:
    """The sidecar's `config` as a Config that `make_config` accepts; ValueError naming the first problem."""
    if not isinstance(raw, dict):
        raise ValueError(f"config must be an object, got {_type_name(raw)}")
    raw = upgrade_keys(raw)  # sidecars written before a field's rename (e.g. tfd, now critic_steps)
    _check_typed(raw, Config, "config")
    _check_arch_widths(raw.get("arch") or {})
    try:
        cfg = Config.from_dict(raw)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        missing = f"lacks {e}" if isinstance(e, KeyError) else str(e).replace(".__init__()", "")
        raise ValueError(f"config does not describe a maesi Config ({missing})") from None
    overrides = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name != "preset"}
    try:
        checked = make_config(cfg.preset, **overrides)
    except (TypeError, ValueError) as e:
        raise ValueError(f"config is not valid: {e}") from None
    # make_config fills null fields from the preset and normalises spellings; the model reads the sidecar's own
    # values, so they must already be the canonical ones.
    for f in dataclasses.fields(cfg):
        if getattr(checked, f.name) != getattr(cfg, f.name):
            raise ValueError(f"config.{f.name} is {_short(raw.get(f.name))}; preset {cfg.preset!r} needs "
                             f"{_short(getattr(checked, f.name))}")
    return checked


# ---------------------------------------------------------------- budget, on the meta device

@dataclass(frozen=True)
class NetworkBudget:
    """What the networks of one config and input shape would cost, measured without allocating them."""

    parameters: int
    activations: int  # values per sample through E, G and both critics
    tensors: dict  # state-dict name -> (shape, dtype name), what the weights file must hold


def check_input_shape(shape: Any) -> tuple[int, ...]:
    if not isinstance(shape, list) or len(shape) not in (1, 3) or not all(_is_int(v) for v in shape):
        raise ValueError(f"input_shape must be a list of 1 (features) or 3 (channels, height, width) integers, "
                         f"got {_short(shape)}")
    if min(shape) < 1:
        raise ValueError(f"input_shape must be positive, got {_short(shape)}")
    if math.prod(shape) > MAX_INPUT_ELEMENTS:
        raise ValueError(f"input_shape {_short(shape)} holds {math.prod(shape):,} values per sample; this lab's "
                         f"cap is {MAX_INPUT_ELEMENTS:,}")
    return tuple(shape)


def _per_sample_activations(nets, input_shape: tuple, interpolation) -> int:
    """Values each network layer outputs for one sample, summed (a forward pass on meta tensors: shapes only)."""
    total = [0]

    def count(_module, _inputs, output):
        if isinstance(output, torch.Tensor) and output.dim():
            total[0] += output[0].numel()

    hooks = [m.register_forward_hook(count) for net in nets.modules().values() for m in net.modules()
             if not list(m.children())]
    try:
        with torch.no_grad():
            x = torch.empty((1, *input_shape), device="meta")
            x_rec = nets.generator(nets.encoder(x))
            nets.d_recon(x, x_rec)
            if nets.d_inter is not None:
                nets.d_inter(x, x_rec) if inter_critic_inputs(interpolation) == 2 else nets.d_inter(x)
    finally:
        for h in hooks:
            h.remove()
    return total[0]


def _measure(cfg: Config, input_shape: tuple) -> NetworkBudget:
    try:
        with torch.device("meta"):
            nets = build_networks(cfg, input_shape)
            state = nets.state_dict()
            parameters = sum(v.numel() for v in state.values())
            if parameters > MAX_PARAMETERS:  # before the forward pass, whose cost grows with the same sizes
                return NetworkBudget(parameters, 0, {})
            activations = _per_sample_activations(nets, input_shape, cfg.interpolation)
    except Exception as e:  # noqa: BLE001: an arbitrary architecture can fail to build in any way
        reason = (str(e).splitlines() or [type(e).__name__])[0][:160]
        raise ValueError(f"preset {cfg.preset!r} cannot be built for input {list(input_shape)} ({reason})") from None
    tensors = {k: (tuple(v.shape), str(v.dtype).replace("torch.", "")) for k, v in state.items()}
    return NetworkBudget(parameters, activations, tensors)


def _encode_budget(budget: NetworkBudget) -> dict:
    return {"parameters": budget.parameters, "activations": budget.activations,
            "tensors": {k: [list(shape), dtype] for k, (shape, dtype) in budget.tensors.items()}}


def _decode_budget(raw) -> NetworkBudget | None:
    parameters, activations, tensors = raw["parameters"], raw["activations"], raw["tensors"]
    if not (_is_int(parameters) and _is_int(activations) and isinstance(tensors, dict)):
        return None
    out = {}
    for name, (shape, dtype) in tensors.items():
        if not (isinstance(dtype, str) and isinstance(shape, list) and all(_is_int(n) and n >= 0 for n in shape)):
            return None
        out[name] = (tuple(shape), dtype)
    return NetworkBudget(parameters, activations, out)


def _memo_path(cfg: Config, shape: tuple):
    from core.method import networks

    return measure_memo.memo_path("network_budget", [networks.__file__, __file__], [repr(cfg), list(shape)])


def _measure_remembered(cfg: Config, shape: tuple) -> NetworkBudget:
    """`_measure` through the disk memo (`core.method.measure_memo`: a cold server skips the meta device)."""
    return measure_memo.remembered(_memo_path(cfg, shape), lambda: _measure(cfg, shape), _encode_budget,
                                   _decode_budget)


_measure_cached = functools.lru_cache(maxsize=128)(_measure_remembered)


def network_budget(cfg: Config, input_shape) -> NetworkBudget:
    """Parameters, per-sample activations and expected tensors of `cfg`'s networks for `input_shape`;
    ValueError when over the caps. Nothing is allocated (PyTorch's meta device)."""
    shape = check_input_shape(list(input_shape))
    try:
        hash(cfg)
        budget = _measure_cached(cfg, shape)
    except TypeError:  # a Config holding an unhashable value: measure without the cache
        budget = _measure(cfg, shape)
    if budget.parameters > MAX_PARAMETERS:
        raise ValueError(f"preset {cfg.preset!r} with input {list(shape)} would have {budget.parameters:,} "
                         f"parameters; this lab's cap is {MAX_PARAMETERS:,}")
    if budget.activations > MAX_ACTIVATIONS:
        raise ValueError(f"preset {cfg.preset!r} with input {list(shape)} would need {budget.activations:,} "
                         f"activations per sample; this lab's cap is {MAX_ACTIVATIONS:,}")
    return budget


# ---------------------------------------------------------------- the sidecar as a whole

# The scaler kind each Config.scaling writes (core.method.scaling.Scaler): images are mapped by their pixel range.
_SCALER_KIND = {"range": "affine", "minmax": "minmax", "zscore": "zscore", "none": "identity"}


def _check_scaler(scaler: Any, cfg: Config, shape: tuple) -> None:
    kinds = sorted(set(_SCALER_KIND.values()))
    if not isinstance(scaler, dict) or scaler.get("kind") not in kinds:
        raise ValueError(f"scaler must be an object with kind one of {kinds}")
    low, high, image = scaler.get("low"), scaler.get("high"), len(shape) == 3
    expected = _SCALER_KIND.get(cfg.scaling)
    if scaler["kind"] != expected:
        raise ValueError(f"scaler kind {scaler['kind']!r} does not match config.scaling {cfg.scaling!r}")
    if scaler["kind"] == "affine":
        if not image:
            raise ValueError("scaler kind 'affine' is for images, but input_shape is a table's")
        if not (_is_finite(low) and _is_finite(high) and low < high):
            raise ValueError("scaler low and high must be finite numbers with low < high")
        if cfg.input_range is not None and (float(low), float(high)) != tuple(map(float, cfg.input_range)):
            raise ValueError(f"scaler range [{low}, {high}] differs from config.input_range {list(cfg.input_range)}")
    else:
        if image:
            raise ValueError(f"scaler kind {scaler['kind']!r} is for tables, but input_shape is an image's")
        for key, v in (("low", low), ("high", high)):
            if not isinstance(v, list) or len(v) != shape[0] or not all(_is_finite(x) for x in v):
                raise ValueError(f"scaler {key} must be a list of {shape[0]} finite numbers (one per feature)")
        # minmax: the training min and max; zscore: the mean and mean + std; identity: 0 and 1
        if any(h < lo for lo, h in zip(low, high)):
            raise ValueError("scaler high is below low for some feature")


def validate_sidecar(meta: Any) -> tuple[Config, NetworkBudget]:
    """Check a parsed sidecar completely (schema, config, scaler, budget); ValueError with one line naming
    the first problem. Returns the validated Config and the networks' budget (incl. the expected tensors)."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"not a maesi checkpoint (no format tag {FORMAT!r})")
    for key in ("config", "input_shape", "scaler", "weights_file"):
        if key not in meta:
            raise ValueError(f"lacks the key {key!r}")
    if _is_int(meta.get("format_version")) and meta["format_version"] > FORMAT_VERSION:
        raise ValueError(f"checkpoint format {meta['format_version']} is newer than this library understands "
                         f"({FORMAT_VERSION}); upgrade maesi")
    check_fields(meta)
    check_weights_file(meta["weights_file"])
    shape = check_input_shape(meta["input_shape"])
    cfg = validate_config(meta["config"])
    budget = network_budget(cfg, shape)
    _check_scaler(meta["scaler"], cfg, shape)
    names = meta.get("feature_names")
    if names is not None and (len(shape) != 1 or len(names) != shape[0]):
        raise ValueError(f"{len(names)} feature names for input shape {list(shape)}")
    return cfg, budget


def parse_sidecar(data: bytes) -> dict:
    """JSON bytes -> dict, size-capped; ValueError (not valid JSON / too large) otherwise."""
    if len(data) > MAX_SIDECAR_BYTES:
        raise ValueError(f"the sidecar is {len(data):,} bytes; the cap is {MAX_SIDECAR_BYTES:,}")
    try:
        meta = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"not valid JSON ({e}); the sidecar is corrupt or not a maesi file") from None
    except (RecursionError, ValueError):  # absurd nesting, integers of thousands of digits
        raise ValueError("not valid JSON (nested too deeply or holding absurd numbers)") from None
    if not isinstance(meta, dict):
        raise ValueError(f"not a maesi checkpoint (the sidecar is {_type_name(meta)}, not an object)")
    return meta
