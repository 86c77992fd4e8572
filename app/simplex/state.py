"""The simplex explorer's weights in the session: one exact vector in `st.session_state[keys.WEIGHTS]`, of which
the draggable simplex (`drag_component`), the sliders and every clickable chart (heat maps, mosaics, the segment
profile) are views.

Clickable charts are keyed with a revision number that every weight change bumps: a fresh chart drops its old
selection, so the next click on the same cell counts again and no stale highlight remains. The draggable simplex
gets another revision, bumped by every change that did not come from it: it adopts the server's weights only then,
so arrow keys pressed while the server decodes earlier weights are never undone.
"""
from __future__ import annotations

import functools
from typing import Optional

import numpy as np
import streamlit as st

from app.simplex import drag_component, keys, preview_component, weights

ss = st.session_state
KEY_STEP, BIG_STEP = 0.01, 0.05  # the draggable simplex's arrow keys (with Shift: one heat-map cell)


def init(m: int) -> np.ndarray:
    """The current weights, reset to the centre of the simplex when the number of anchors changes."""
    if ss.get(keys.WEIGHTS_COUNT) != m or len(ss.get(keys.WEIGHTS, [])) != m:
        ss[keys.WEIGHTS] = np.full(m, 1.0 / m)
        ss[keys.WEIGHTS_COUNT] = m
        ss[keys.DRAG_REVISION] = ss.get(keys.DRAG_REVISION, 0) + 1
        for i in range(m):
            ss[keys.weight_slider(i)] = float(ss[keys.WEIGHTS][i])
    for i in range(m):
        ss.setdefault(keys.weight_slider(i), float(ss[keys.WEIGHTS][i]))
    return ss[keys.WEIGHTS]


def current() -> np.ndarray:
    """A copy of the current weights."""
    return np.array(ss[keys.WEIGHTS])


def set_weights(w, from_drag: bool = False) -> None:
    """Store new weights (kept on the simplex); the sliders follow, and so does the draggable simplex unless the
    weights came from it."""
    ss[keys.WEIGHTS] = weights.normalise(w)
    for i in range(len(ss[keys.WEIGHTS])):
        ss[keys.weight_slider(i)] = float(ss[keys.WEIGHTS][i])
    ss[keys.PICK_REVISION] = ss.get(keys.PICK_REVISION, 0) + 1
    if not from_drag:
        ss[keys.DRAG_REVISION] = ss.get(keys.DRAG_REVISION, 0) + 1


def _on_slider(i: int) -> None:
    set_weights(weights.rebalance(ss[keys.WEIGHTS], i, ss[keys.weight_slider(i)]))


def _on_drag(key: str) -> None:
    w = drag_component.sent_weights(ss.get(key))
    if w is not None and len(w) == len(ss[keys.WEIGHTS]):
        set_weights(w, from_drag=True)


def _on_pick(key: str) -> None:
    w = weights.weights_from_selection(ss.get(key))
    if w is not None and len(w) == len(ss[keys.WEIGHTS]):
        set_weights(w)


def pick_key(name: str) -> str:
    """The key of a clickable chart: its name and the current revision."""
    return f"{name}-{ss.get(keys.PICK_REVISION, 0)}"


def pick_args(key: str) -> dict:
    """Keyword arguments of st.plotly_chart that make a click on a point set the weights."""
    return dict(on_select=functools.partial(_on_pick, key), selection_mode="points")


def drag_control(m: int, data: dict) -> None:
    """The draggable simplex (`drag_component`): `data` holds the anchors' labels and thumbnails; the current
    weights and the revision are added here. Renders nothing in AppTest."""
    data = dict(data, m=m, weights=[float(v) for v in ss[keys.WEIGHTS]], rev=ss.get(keys.DRAG_REVISION, 0),
                key_step=KEY_STEP, big_step=BIG_STEP)
    key = keys.drag(m)
    drag_component.mount(data, key=key, on_change=functools.partial(_on_drag, key))


def weight_controls(m: int, labels, drag_data: dict, preview_data: Optional[dict] = None) -> None:
    """The draggable simplex, its previews (`preview_component`, for images), then a slider per weight (a focused
    slider's arrow keys move it by 0.01; the others follow in proportion)."""
    drag_control(m, drag_data)
    if preview_data is not None:
        preview_component.mount(preview_data, key=keys.PREVIEWS)
    for i in range(m):
        st.slider(f"w{i + 1} · {labels[i]}", 0.0, 1.0, step=0.01, key=keys.weight_slider(i), format="%.2f",
                  on_change=_on_slider, args=(i,))
    st.caption(f"Drag the point, or click it and use the arrow keys (±{KEY_STEP:.2f}; with Shift ±{BIG_STEP:.2f}); "
               + ("the small pictures are previews at the nearest grid point, the exact decode follows on release."
                  if preview_data is not None else "the exact decode follows on release."))
