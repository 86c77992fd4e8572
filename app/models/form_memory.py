"""The training form's last submitted values per owner (a browser's token, app/shared/owner.py), kept by the server
so that a reloaded page, which is a new session with empty session state, refills the form instead of starting
over from the defaults. Kept in memory, as the jobs are: a server restart forgets both."""
from __future__ import annotations

import threading

MAX_OWNERS = 1000  # the least recently submitting browsers are forgotten first
_LOCK = threading.Lock()  # the sessions of several browsers run in threads of one server
_LAST: dict[str, dict] = {}


def remember(owner: str, values: dict) -> None:
    """Keep `values` (widget key -> value) as `owner`'s last submitted form."""
    if not owner:
        return
    with _LOCK:
        _LAST.pop(owner, None)
        _LAST[owner] = dict(values)
        while len(_LAST) > MAX_OWNERS:
            del _LAST[next(iter(_LAST))]


def recall(owner: str) -> dict:
    """`owner`'s last submitted form values ({} when none)."""
    with _LOCK:
        return dict(_LAST.get(owner, {}))
