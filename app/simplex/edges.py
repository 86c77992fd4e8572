"""Edges in motion (Streamlit): play the interpolation along one edge of the simplex for every compared model, as
an animated GIF in the page, and download it as a GIF and as a PNG strip. The decodes and the pictures
(`app.simplex.animation`, pure Pillow) come from `readout_cache.edge_pictures`, drawn once per (models, anchors,
edge, frames, speed) and server. A fragment: changing the edge, the frames or the speed reruns this alone."""
from __future__ import annotations

import streamlit as st

from app.simplex import animation, keys, readout_cache

ss = st.session_state
FRAMES = (2, 60, 16)  # the number of frames: min, max, default
DURATION = (20, 2000, 120)  # milliseconds per frame: min, max, default


def edge_choices(m: int) -> list[tuple[int, int]]:
    """The edges between two anchors, counted from 0: the segment for m = 2, the triangle's three sides for m = 3."""
    return [(0, 1)] if m == 2 else [(0, 1), (1, 2), (0, 2)]


def _controls(m: int) -> tuple[tuple[int, int], int, int]:
    pairs = edge_choices(m)
    if ss.get(keys.MOTION_EDGE) not in pairs:  # first visit, or m changed
        ss[keys.MOTION_EDGE] = pairs[0]
    c1, c2, c3 = st.columns([1.2, 2, 1.5])
    edge = c1.selectbox("Edge", pairs, key=keys.MOTION_EDGE, format_func=lambda p: f"{p[0] + 1} → {p[1] + 1}",
                        help="The two anchors the animation travels between: from the first (weight 1) to the "
                             "second (weight 1); the other anchor's weight stays 0.")
    k = c2.slider("Frames along the edge", FRAMES[0], FRAMES[1], FRAMES[2], key=keys.MOTION_FRAMES,
                  help="How many evenly spaced weights the animation shows, both anchors included.")
    ms = c3.number_input("Milliseconds per frame", DURATION[0], DURATION[1], DURATION[2], step=10,
                         key=keys.MOTION_DURATION, help="How long each frame of the animation stays on screen.")
    return edge, int(k), int(ms)


@st.fragment
def edge_animation(scene) -> None:
    """The chosen edge played for every model of the scene (images only), with its two downloads."""
    (a, b), k, ms = _controls(scene.m)
    labels = [v.title for v in scene.views]
    pictures = readout_cache.edge_pictures([v.entry for v in scene.views], labels, scene.X, a, b, k, ms,
                                           scene.input_range)
    gif, strip = pictures["gif"], pictures["strip"]
    ss[keys.MOTION_SIZES] = {"frames": pictures["frames"], "models": len(labels), "gif_bytes": len(gif),
                             "png_bytes": len(strip)}
    left, right = st.columns([3, 2])
    with left.container(key=keys.MOTION_PLAYER):
        st.image(gif, width=pictures["width"])  # the GIF's own width: Streamlit keeps its frames, so it plays
    right.caption(f"From anchor {a + 1} (its weight 1 at the start) to anchor {b + 1}, in {k} steps, "
                  f"{ms} ms each, looping. Every compared model decodes the same mixtures of the same anchors' "
                  "latents, side by side.")
    right.download_button("Download the animation (GIF)", gif, file_name=animation.edge_file_name(a, b, "gif"),
                          mime="image/gif", key=keys.MOTION_GIF, on_click="ignore",
                          help="The animation as an animated GIF, one frame per weight, looping for ever.")
    right.download_button("Download the strip (PNG)", strip, file_name=animation.edge_file_name(a, b, "png"),
                          mime="image/png", key=keys.MOTION_PNG, on_click="ignore",
                          help="All the frames at once: one row per model, one column per weight, with "
                               f"anchor {b + 1}'s weight under each column.")
