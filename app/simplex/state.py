"""The simplex explorer's weights in the session: one exact vector in `st.session_state[keys.WEIGHTS]`, of which
the sliders, the nudge buttons and every clickable chart (heat maps, mosaics, the segment profile) are views.

Clickable charts are keyed with a revision number that every weight change bumps: a fresh chart drops its old
selection, so the next click on the same cell counts again and no stale highlight remains.
"""
from __future__ import annotations

import functools

import numpy as np
import streamlit as st

from app.simplex import keys, weights

ss = st.session_state
NUDGE = 0.05  # the buttons' step: one heat-map cell; a focused slider's arrow keys move by 0.01
UP_KEYS, DOWN_KEYS = ("Q", "W", "E"), ("A", "S", "D")  # a keyboard's top and home rows: + and − per weight


def init(m: int) -> np.ndarray:
    """The current weights, reset to the centre of the simplex when the number of anchors changes."""
    if ss.get(keys.WEIGHTS_COUNT) != m or len(ss.get(keys.WEIGHTS, [])) != m:
        ss[keys.WEIGHTS] = np.full(m, 1.0 / m)
        ss[keys.WEIGHTS_COUNT] = m
        for i in range(m):
            ss[keys.weight_slider(i)] = float(ss[keys.WEIGHTS][i])
    for i in range(m):
        ss.setdefault(keys.weight_slider(i), float(ss[keys.WEIGHTS][i]))
    return ss[keys.WEIGHTS]


def current() -> np.ndarray:
    """A copy of the current weights."""
    return np.array(ss[keys.WEIGHTS])


def set_weights(w) -> None:
    ss[keys.WEIGHTS] = weights.normalise(w)
    for i in range(len(ss[keys.WEIGHTS])):
        ss[keys.weight_slider(i)] = float(ss[keys.WEIGHTS][i])
    ss[keys.PICK_REVISION] = ss.get(keys.PICK_REVISION, 0) + 1


def _on_slider(i: int) -> None:
    set_weights(weights.rebalance(ss[keys.WEIGHTS], i, ss[keys.weight_slider(i)]))


def _on_nudge(i: int, delta: float) -> None:
    set_weights(weights.nudge(ss[keys.WEIGHTS], i, delta))


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


def weight_controls(m: int, labels) -> None:
    """A slider per weight (arrow keys move it by 0.01) and −/+ buttons that move the weights by NUDGE toward
    or away from a vertex, the others following in proportion."""
    for i in range(m):
        st.slider(f"w{i + 1} · {labels[i]}", 0.0, 1.0, step=0.01, key=keys.weight_slider(i), format="%.2f",
                  on_change=_on_slider, args=(i,))
        minus, plus = st.columns(2, gap="small")
        minus.button(f"−{NUDGE:.2f}", key=keys.nudge_down(i), on_click=_on_nudge, args=(i, -NUDGE),
                     help=f"w{i + 1} − {NUDGE:.2f}: away from {labels[i]} (key {DOWN_KEYS[i]})",
                     shortcut=DOWN_KEYS[i], width="stretch")
        plus.button(f"+{NUDGE:.2f}", key=keys.nudge_up(i), on_click=_on_nudge, args=(i, NUDGE),
                    help=f"w{i + 1} + {NUDGE:.2f}: toward {labels[i]} (key {UP_KEYS[i]})", shortcut=UP_KEYS[i],
                    width="stretch")
    st.caption("Keys: " + ", ".join(f"{UP_KEYS[i]}/{DOWN_KEYS[i]} move w{i + 1} by ±{NUDGE:.2f}" for i in range(m))
               + "; the arrow keys move a focused slider by 0.01.")
