"""One-line, user-facing reasons from exceptions: no Python object reprs, no server folders.

Libraries put internals in their messages (Pillow: "cannot identify image file <_io.BytesIO object at 0x7f…>";
OS errors: the full path). Users of the app and the CLI see these reasons, so they are cleaned here, once.
"""
from __future__ import annotations

import re
from typing import NamedTuple

_OBJECT_REPR = re.compile(r"<[^<>]*\bat 0x[0-9a-fA-F]+>")
_ABSOLUTE_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?(?:[/\\][^\s/\\:'\"<>]+)+[/\\]([^\s/\\:'\"<>]+)")
MAX_REASON_CHARS = 200


def plain(reason: object) -> str:
    """`reason` (an exception or text) as one short line without object reprs or folder names."""
    if isinstance(reason, BaseException):
        text = str(reason) or type(reason).__name__
        if isinstance(reason, OSError) and reason.strerror:
            text = reason.strerror
    else:
        text = str(reason)
    text = _OBJECT_REPR.sub("", text)
    text = _ABSOLUTE_PATH.sub(r"\1", text)
    text = " ".join(text.split())  # one line
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."


class Problem(NamedTuple):
    """One file (or row set) that a reader skipped ("error") or read with a caveat ("warning")."""

    file: str
    reason: str
    level: str = "error"  # "error": not scored; "warning": scored, but look at it

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}"
