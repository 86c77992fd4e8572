"""No traceback or server path ever reaches a user: pages run inside `page_guard`, fragments are wrapped with
`guarded`, and messages built from exceptions go through `user_text`.

A failure shows one line with a short reference; the traceback goes to the server's log (logger "maesi.app")
under the same reference, so an operator can find it. Streamlit's control flow (st.stop, st.rerun,
st.switch_page) raises BaseExceptions, which pass through untouched.
"""
from __future__ import annotations

import functools
import logging
import secrets
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

LOG = logging.getLogger("maesi.app")


def user_text(error, runs_dir=None) -> str:
    """An exception (or text) as one line for users: no object reprs, paths inside the runs folder relative to
    it, any other path reduced to its file name (core.data.messages.plain)."""
    from core.data.messages import plain

    text = str(error) if isinstance(error, BaseException) else str(error)
    if runs_dir is not None:
        for root in {str(Path(runs_dir)), str(Path(runs_dir).resolve())}:
            text = text.replace(root.rstrip("/") + "/", "")
    return plain(text) if text else type(error).__name__


def without_paths(text: str) -> str:
    """Multi-line text (e.g. a dataset's setup instructions) with every server path reduced to its last part."""
    from core.data.messages import plain

    return "\n".join(plain(line) for line in str(text).splitlines())


def report(error: BaseException, where: str) -> str:
    """Log `error`'s traceback under a new reference; returns the reference."""
    ref = secrets.token_hex(3)
    LOG.error("maesi lab: %s failed (reference %s)", where, ref, exc_info=error)
    return ref


def show_failure(error: BaseException, where: str) -> None:
    ref = report(error, where)
    # The exception's own text stays in the log: it is written for programmers ("'NoneType' object has ...").
    st.error(f"**Something went wrong in {where}.** The details are in the server's log under reference `{ref}`; "
             "the other pages still work.")


@contextmanager
def page_guard(where: str):
    """Run a page (or any block) so that an exception becomes one line on the page and a logged traceback."""
    try:
        yield
    except Exception as error:  # noqa: BLE001: the last line of defence; Streamlit's control flow is not Exception
        show_failure(error, where)


def guarded(where: str):
    """Decorator: the function (e.g. a fragment) runs inside `page_guard(where)`."""
    def wrap(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs):
            with page_guard(where):
                return fn(*args, **kwargs)
        return run
    return wrap
