"""Command line: `python -m core {train,score,data,reproduce} ...`; `python -m core CMD --help` explains every flag.

Every command returns its exit code: 0 on success, 1 when the work ran but something in it failed (a diverged
run, a failed grid cell, a checksum mismatch), 2 for a usage or input error, 130 when interrupted. An error is one
line on stderr, never a traceback (set MAESI_DEBUG=1 to see one).
"""
from __future__ import annotations

import os
import sys

COMMANDS = {
    "train": "train a model under a dataset's protocol and print its test metrics and training health",
    "score": "score a file (CSV, NPY, images, a folder or a zip) with a trained checkpoint",
    "data": "list, download and verify datasets",
    "reproduce": "run a reproduction grid of the paper's experiments and write the reports",
}


def _usage() -> str:
    lines = ["usage: python -m core {" + ",".join(COMMANDS) + "} ...", "",
             "maesi: mirrored adversarial autoencoders with m-point simplex interpolation for anomaly detection.", ""]
    lines += [f"  {name:<10} {text}" for name, text in COMMANDS.items()]
    return "\n".join(lines + ["", "python -m core COMMAND --help explains every flag."])


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"error: unknown command {command!r}; choose one of {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    from importlib import import_module

    module = import_module(f".{command}", __name__)
    previous = _interrupt_on_sigterm()
    try:
        return module.main(rest)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except SystemExit as e:  # argparse: --help (0) or a usage error (2), already printed
        return int(e.code or 0) if isinstance(e.code, int) or e.code is None else 2
    except Exception as e:  # noqa: BLE001: one line, never a traceback
        if os.environ.get("MAESI_DEBUG"):
            raise
        print(f"error: {one_line(e)}", file=sys.stderr)
        return 2
    finally:
        if previous is not None:
            import signal

            signal.signal(signal.SIGTERM, previous)


def _interrupt_on_sigterm():
    """SIGTERM (a shutdown, `kill`) becomes a KeyboardInterrupt, so training keeps its best weights and saves them
    with status "interrupted", and a grid keeps its finished cells, exactly as on Ctrl-C. Returns the previous
    handler (None when not in the main thread, where signals cannot be handled)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        raise KeyboardInterrupt

    return signal.signal(signal.SIGTERM, handler)


def one_line(e: BaseException) -> str:
    """An exception as one line: its message (type name for the unexpected kinds), newlines folded."""
    expected = isinstance(e, (ValueError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError))
    text = str(e) if expected else f"{type(e).__name__}: {e}"
    return " ".join(text.split()) or type(e).__name__
