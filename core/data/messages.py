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


# ---------------------------------------------------------------- names as shown and written

# C0 and DEL, C1, and the bidirectional embeddings, overrides and isolates (plus the marks LRM, RLM, ALM): a file
# name holding them can recolour or clear a terminal (ANSI escapes) or show "gpj.exe" as "exe.jpg" (U+202E).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# What a spreadsheet reads as the start of a formula (OWASP's CSV-injection list).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def printable(text: object) -> str:
    """`text` with control and bidi characters escaped as \\xNN / \\uNNNN: safe to print or show."""
    def escape(m: re.Match) -> str:
        code = ord(m.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROL.sub(escape, str(text))


def csv_safe(cell: str) -> str:
    """A text cell that a spreadsheet will not run: one starting like a formula gets a leading single quote."""
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def distinct(names: list[str]) -> list[str]:
    """`names` with repeats told apart: the second "a.png" becomes "a.png#2", the third "a.png#3" (skipping any
    label the list already holds), so every row of a result names one sample. The first keeps its name."""
    taken, seen, out = set(names), {}, []
    for name in names:
        if name not in seen:
            seen[name] = 1
            out.append(name)
            continue
        n = seen[name]
        while True:
            n += 1
            label = f"{name}#{n}"
            if label not in taken:
                break
        seen[name] = n
        taken.add(label)
        out.append(label)
    return out
