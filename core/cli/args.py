"""argparse types shared by the commands: every numeric flag is range-checked before any work starts."""
from __future__ import annotations

import argparse
import math


def _number(kind, low=None, high=None, low_open=False):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        too_low = low is not None and (value <= low if low_open else value < low)
        if too_low or (high is not None and value > high):
            lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
            hi = "" if high is None else f"<= {high:g}"
            raise argparse.ArgumentTypeError(f"must be {' and '.join(x for x in (lo, hi) if x)}, got {text}")
        return value
    return parse


positive_int = _number(int, 1)
nonnegative_int = _number(int, 0)
nonnegative_float = _number(float, 0.0)
learning_rate = _number(float, 0.0, 1.0, low_open=True)
fraction = _number(float, 0.0, 0.5, low_open=True)


def threads(text: str) -> int:
    import os

    return _number(int, 1, max(1, 4 * (os.cpu_count() or 1)))(text)


def device(text: str) -> str:
    """auto, cpu, mps, cuda or cuda:N, checked against what this machine has."""
    import torch

    name = text.strip().lower()
    if name in ("auto", "cpu"):
        return name
    if name == "mps":
        if not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
            raise argparse.ArgumentTypeError("device 'mps' was asked for but this machine has no Apple GPU")
        return name
    if name == "cuda" or name.startswith("cuda:"):
        index = name[5:] or "0"
        if not index.isdigit():
            raise argparse.ArgumentTypeError(f"expected cuda or cuda:N, got {text!r}")
        if not torch.cuda.is_available():
            raise argparse.ArgumentTypeError(f"device {text!r} was asked for but no CUDA GPU is available here; "
                                             "use --device cpu or auto")
        if int(index) >= torch.cuda.device_count():
            raise argparse.ArgumentTypeError(f"device {text!r}: this machine has {torch.cuda.device_count()} GPU(s)")
        return name
    raise argparse.ArgumentTypeError(f"unknown device {text!r}; choose auto, cpu, cuda, cuda:N or mps")


def open_unit_float(text: str) -> float:
    """A share strictly between 0 and 1."""
    value = _number(float, 0.0, 1.0, low_open=True)(text)
    if value >= 1.0:
        raise argparse.ArgumentTypeError(f"must be < 1, got {text}")
    return value
