"""The Simplex explorer's heavy results, computed once per server (Streamlit's caches are process-wide wherever
the cached function lives): the anchors encoded and reconstructed by each compared model, and `readout.readout`
of whole grids of weights (the heat maps, the mosaic, the edge strips), the draggable simplex's preview tiles and
the frames of the edges in motion, keyed by the checkpoint's path and modification time like `app.shared.caches`."""
from __future__ import annotations

import numpy as np
import streamlit as st

from app.shared import caches, images
from app.simplex.readout import decode_points, edge_frames as _edge_decodes, readout


@st.cache_data(show_spinner=False, max_entries=256)
def _encoded_anchors(path: str, mtime_ns: int, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    del mtime_ns  # only part of the cache key
    model = caches.model(path)
    Z = model.encode(X)
    return Z, model.decode(Z)


def encoded_anchors(entry: dict, X_anchors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E(X) and G(E(X)) of the anchors' raw samples (taken from one split and shown to every compared model, whose
    own splits may differ by seed), computed once per (model, anchors)."""
    return _encoded_anchors(entry["path"], caches.mtime(entry["path"]), np.ascontiguousarray(X_anchors))


@st.cache_data(show_spinner="Decoding the whole simplex…", max_entries=128)
def _simplex_field(path: str, mtime_ns: int, X_anchors: np.ndarray, weights: np.ndarray, keep_decoded: bool) -> dict:
    Z, _ = _encoded_anchors(path, mtime_ns, X_anchors)
    out = readout(caches.model(path), X_anchors, Z, weights)
    if not keep_decoded:
        out["decoded"] = None  # a fine heat map needs only the numbers: keep the cache small
    return out


def simplex_field(entry: dict, X_anchors: np.ndarray, weights: np.ndarray, keep_decoded: bool = True) -> dict:
    """`readout.readout` of a grid of weights (decoded interpolants, scores, D_inter's terms), computed once per
    (model, anchors, grid)."""
    return _simplex_field(entry["path"], caches.mtime(entry["path"]), np.ascontiguousarray(X_anchors),
                          np.ascontiguousarray(weights, dtype=np.float64), keep_decoded)


@st.cache_data(show_spinner="Decoding the preview grid…", max_entries=128)
def _preview_tiles(path: str, mtime_ns: int, X_anchors: np.ndarray, weights: np.ndarray, input_range: tuple,
                   thumb: int) -> list[str]:
    Z, _ = _encoded_anchors(path, mtime_ns, X_anchors)
    decoded = decode_points(caches.model(path), Z, weights)
    return [images.png_data_url(images.upscale(images.to_uint8_image(x, input_range), thumb)) for x in decoded]


def preview_tiles(entry: dict, X_anchors: np.ndarray, weights: np.ndarray, input_range, thumb: int = 0) -> list[str]:
    """PNG data URLs of the decoded interpolants at each row of `weights` (the drag component's preview grid),
    enlarged to about `thumb` pixels (0: the samples' own size; the browser enlarges them crisply), computed once
    per (model, anchors, grid) and server."""
    return _preview_tiles(entry["path"], caches.mtime(entry["path"]), np.ascontiguousarray(X_anchors),
                          np.ascontiguousarray(weights, dtype=np.float64),
                          tuple(float(v) for v in input_range), int(thumb))


@st.cache_data(show_spinner="Decoding along the edge…", max_entries=128)
def _edge_frames(path: str, mtime_ns: int, X_anchors: np.ndarray, a: int, b: int, k: int) -> tuple:
    Z, _ = _encoded_anchors(path, mtime_ns, X_anchors)
    return _edge_decodes(caches.model(path), Z, a, b, k)


def edge_frames(entry: dict, X_anchors: np.ndarray, a: int, b: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """`readout.edge_frames`: the weights (k, m) from anchor a to anchor b and the model's decodes there, computed
    once per (model, anchors, edge, k) and server."""
    return _edge_frames(entry["path"], caches.mtime(entry["path"]), np.ascontiguousarray(X_anchors), int(a), int(b),
                        int(k))


@st.cache_data(show_spinner="Drawing the animation…", max_entries=64)
def _edge_pictures(paths: tuple, mtimes: tuple, labels: tuple, X_anchors: np.ndarray, a: int, b: int, k: int,
                   duration_ms: int, input_range) -> dict:
    from app.simplex import animation

    del mtimes  # only part of the cache key
    decoded, W = [], None
    for path in paths:
        W, d = _edge_frames(path, caches.mtime(path), X_anchors, a, b, k)
        decoded.append(d)
    frames = animation.compose_frames(decoded, list(labels), [animation.weight_caption(w) for w in W], input_range)
    return {"gif": animation.gif_bytes(frames, duration_ms), "width": frames[0].size[0], "frames": len(frames),
            "strip": animation.strip_png(decoded, list(labels), [f"anchor {b + 1}: {w[b]:.2f}" for w in W],
                                         input_range)}


def edge_pictures(entries: list, labels: list, X_anchors: np.ndarray, a: int, b: int, k: int, duration_ms: int,
                  input_range) -> dict:
    """The edges in motion of every model in `entries` (`app.simplex.animation`): {"gif", "width", "frames",
    "strip"}, drawn once per (models, anchors, edge, frames, speed) and server, not on every page run."""
    paths = tuple(e["path"] for e in entries)
    return _edge_pictures(paths, tuple(caches.mtime(p) for p in paths), tuple(labels),
                          np.ascontiguousarray(X_anchors), int(a), int(b), int(k), int(duration_ms),
                          None if input_range is None else tuple(float(v) for v in input_range))
