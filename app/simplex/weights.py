"""Simplex weights for the lab (pure: no Streamlit): weights kept on the simplex while a slider moves, the
barycentric grid and the draggable simplex's preview grid, the triangular mosaic's grid, a ternary-plot selection
read back as weights, and the latent mixture of Eq. 3."""
from __future__ import annotations

from typing import Optional

import numpy as np

from app.shared.figures import point_customdata


def normalise(w) -> np.ndarray:
    """Non-negative weights summing to exactly 1 (uniform when all are zero)."""
    w = np.clip(np.asarray(w, dtype=np.float64).ravel(), 0.0, None)
    s = w.sum()
    if not np.isfinite(s) or s <= 0:
        return np.full(len(w), 1.0 / len(w))
    w = w / s
    w[-1] = max(0.0, 1.0 - w[:-1].sum())  # exact sum despite rounding
    return w / w.sum()


def rebalance(weights, changed: int, value: float) -> np.ndarray:
    """Weight `changed` set to `value` (clipped to [0, 1]); the others rescaled in proportion so that the
    vector stays on the simplex (shared equally when they were all zero)."""
    w = np.asarray(weights, dtype=np.float64).ravel().copy()
    m = len(w)
    v = float(np.clip(value, 0.0, 1.0))
    if m == 1:
        return np.ones(1)
    others = [i for i in range(m) if i != changed]
    rest = w[others].clip(0, None)
    if rest.sum() <= 1e-12:
        w[others] = (1.0 - v) / (m - 1)
    else:
        w[others] = rest / rest.sum() * (1.0 - v)
    w[changed] = v
    return normalise(w)


def barycentric_grid(step: float = 0.05) -> np.ndarray:
    """Points (a, b, c) of the 2-simplex on a regular grid of the given step, including the vertices."""
    n = int(round(1.0 / step))
    pts = [(i / n, j / n, (n - i - j) / n) for i in range(n + 1) for j in range(n + 1 - i)]
    return np.array(pts, dtype=np.float64)


def preview_grid(m: int, divisions: int = 20) -> np.ndarray:
    """The grid the draggable simplex previews (m = 3: `barycentric_grid`, 231 points at 1/20; m = 2: the segment's
    21 points), each row a weight vector whose entries are multiples of 1/divisions."""
    if m == 3:
        return barycentric_grid(1.0 / divisions)
    if m == 2:
        return line_weights(divisions + 1)
    raise ValueError(f"the simplex explorer takes m = 2 or 3 anchors, got {m}")


def weights_from_selection(selection) -> Optional[np.ndarray]:
    """Simplex weights from a plotly selection of the barycentric triangle (st.plotly_chart's on_select
    state): the first selected point's customdata (the weights: (a, b, c), or (w1, w2) on a segment), or its
    ternary coordinates. None if empty."""
    if selection is None:
        return None
    sel = selection.get("selection", selection) if isinstance(selection, dict) else getattr(selection, "selection", None)
    if sel is None:
        return None
    points = sel.get("points", []) if isinstance(sel, dict) else getattr(sel, "points", [])
    if not points:
        return None
    p = points[0]
    if all(p.get(k) is not None for k in ("a", "b", "c")):  # a ternary point's own coordinates
        return normalise([p["a"], p["b"], p["c"]])
    cd = point_customdata(p)
    if cd is not None and len(cd) >= 2:  # the weights themselves: 3 on a triangle, 2 on a segment
        return normalise(cd)
    return None


def line_weights(steps: int) -> np.ndarray:
    """(steps, 2) weights from anchor 1 to anchor 2: (1, 0), ..., (0, 1)."""
    t = np.linspace(0.0, 1.0, steps)
    return np.stack([1.0 - t, t], axis=1)


def mix_latents(Z_anchors: np.ndarray, weights) -> np.ndarray:
    """sum_i w_i z_i (Eq. 3) from latents encoded once: `core.estimator.MirroredAE.mix_latents`."""
    from core.estimator import MirroredAE

    return MirroredAE.mix_latents(Z_anchors, weights)


def triangle_weights(per_edge: int) -> np.ndarray:
    """(K, 3) weights of a triangular grid with `per_edge` points on each edge, row by row as a ternary plot
    draws them: row 0 is vertex 1 (top); row r holds r + 1 points from the vertex-2 side (left) to the vertex-3
    side (right); the last row is the edge between vertices 2 and 3. K = per_edge (per_edge + 1) / 2."""
    n = int(per_edge) - 1
    if n < 1:
        raise ValueError(f"a triangle needs at least 2 points per edge, got {per_edge}")
    rows = [((n - r) / n, (r - j) / n, j / n) for r in range(n + 1) for j in range(r + 1)]
    return np.array(rows, dtype=np.float64)

