"""The safetensors header of a weights file, read and checked without loading a tensor.

A safetensors file is an 8-byte little-endian header length, a JSON header naming each tensor's dtype, shape and
byte range, then the raw bytes. Checking the header against the networks the sidecar describes (names, shapes,
dtypes, byte ranges that tile the data exactly) rejects a truncated, padded, foreign or mismatched file before
anything the size of the weights is read or allocated.
"""
from __future__ import annotations

import json
import math
import struct
from typing import BinaryIO

from core.checkpoints.sidecar import MAX_PARAMETERS

MAX_HEADER_BYTES = 1 << 20  # a checkpoint's header holds ~100 tensors, a few kB
MAX_WEIGHTS_BYTES = MAX_PARAMETERS * 4 + MAX_HEADER_BYTES + 8

_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
# What the file may store for each dtype the networks hold: floats in any float width (half checkpoints store
# float16), integer buffers (BatchNorm's step counter) as int64.
_ACCEPTED = {"float32": {"F32", "F16", "BF16"}, "int64": {"I64"}}


def _unreadable(why: str) -> ValueError:
    return ValueError(f"not a readable safetensors file ({why})")


def read_header(f: BinaryIO, size: int) -> dict[str, dict]:
    """Tensor entries of the safetensors file `f` (`size` bytes long); ValueError for anything malformed.
    Reads only the header."""
    if size > MAX_WEIGHTS_BYTES:
        raise ValueError(f"the weights file is {size:,} bytes; this lab's cap is {MAX_WEIGHTS_BYTES:,}")
    prefix = f.read(8)
    if len(prefix) < 8:
        raise _unreadable("too short for a header")
    (n,) = struct.unpack("<Q", prefix)
    if n < 2 or n > MAX_HEADER_BYTES or 8 + n > size:
        raise _unreadable(f"header length {n:,} does not fit a {size:,}-byte file")
    try:
        header = json.loads(f.read(n))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _unreadable("the header is not JSON") from None
    if not isinstance(header, dict):
        raise _unreadable("the header is not a JSON object")
    header.pop("__metadata__", None)
    return _check_layout(header, size - 8 - n)


def _check_layout(header: dict, data_bytes: int) -> dict[str, dict]:
    spans = []
    for name, info in header.items():
        ok = (isinstance(info, dict) and info.get("dtype") in _ITEMSIZE and isinstance(info.get("shape"), list)
              and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in info["shape"])
              and isinstance(info.get("data_offsets"), list) and len(info["data_offsets"]) == 2
              and all(isinstance(o, int) and not isinstance(o, bool) for o in info["data_offsets"]))
        if not ok:
            raise _unreadable(f"malformed entry for tensor {name[:60]!r}")
        begin, end = info["data_offsets"]
        if not 0 <= begin <= end or end - begin != math.prod(info["shape"]) * _ITEMSIZE[info["dtype"]]:
            raise _unreadable(f"tensor {name[:60]!r} has a byte range that does not match its shape")
        spans.append((begin, end))
    position = 0
    for begin, end in sorted(spans):
        if begin != position:
            raise _unreadable("the tensors' byte ranges overlap or leave gaps")
        position = end
    if position != data_bytes:
        kind = "truncated" if position > data_bytes else "trailing bytes after the tensors"
        raise _unreadable(f"{kind}: the header describes {position:,} bytes of data, the file holds {data_bytes:,}")
    return header


def check_weights_fit(header: dict[str, dict], expected: dict[str, tuple], what: str) -> None:
    """The file's tensors are exactly the networks' (`expected`: name -> (shape, dtype name)); `what` names the
    networks in the message ("preset 'digits' with input [1, 8, 8]")."""
    missing = sorted(set(expected) - set(header))
    unexpected = sorted(set(header) - set(expected))
    wrong = [k for k in expected if k in header and (tuple(header[k]["shape"]) != expected[k][0]
                                                     or header[k]["dtype"] not in _ACCEPTED.get(expected[k][1], ()))]
    if missing or unexpected or wrong:
        parts = [f"{label} {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
                 for label, names in (("missing", missing), ("unexpected", [n[:60] for n in unexpected]),
                                      ("wrong shape or dtype", wrong)) if names]
        raise ValueError(f"weights do not fit {what}: {'; '.join(parts)}")
