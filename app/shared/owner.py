"""Who started a training job: an owner token that survives page reloads, so a reloaded page shows its own jobs
with their progress and Stop button (app/shared/jobs.py keeps the token with each job).

The token lives in a cookie (COOKIE), not in the page's URL: a cookie survives reloads, page changes and other
tabs of the same browser, and is never copied along with a shared link (a `?owner=` query parameter would hand
the Stop button to whoever receives the link). Streamlit can read cookies (`st.context.cookies`, sent by the
browser when the page connects) but not set them, so a new token is written by a one-line script in the page
(`st.html(..., unsafe_allow_javascript=True)`); a session keeps its token in `st.session_state` meanwhile. The
token is random (128 bits) and only compared for equality.
"""
from __future__ import annotations

import re
import secrets

import streamlit as st

from app.shared import keys

COOKIE = "maesi_owner"
MAX_AGE_S = 30 * 24 * 3600
_TOKEN = re.compile(r"^[0-9a-f]{32}$")


def browser_cookie() -> str:
    """The owner cookie the browser sent when this session connected ("" when none, or no browser)."""
    try:
        value = st.context.cookies.get(COOKIE, "")
    except Exception:  # noqa: BLE001: no browser context (AppTest, bare mode)
        return ""
    return value if isinstance(value, str) and _TOKEN.match(value) else ""


def owner_token() -> str:
    """This browser's owner token: the cookie's, else the session's, else a new one (written by `remember`)."""
    ss = st.session_state
    if not ss.get(keys.OWNER):
        ss[keys.OWNER] = browser_cookie() or secrets.token_hex(16)
    return ss[keys.OWNER]


def remember() -> None:
    """Write the token into the browser's cookie when the browser does not hold it yet (once per session)."""
    token = owner_token()
    if browser_cookie() == token or st.session_state.get(keys.OWNER_WRITTEN) == token:
        return
    st.session_state[keys.OWNER_WRITTEN] = token
    st.html(f"<script>document.cookie = '{COOKIE}={token}; path=/; max-age={MAX_AGE_S}; SameSite=Strict';</script>",
            unsafe_allow_javascript=True)
