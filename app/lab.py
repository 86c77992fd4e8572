"""Pure helpers of the lab: no Streamlit in here, so every function is testable and cacheable on its own.

The method's maths lives in `core`; what is here is analysis and presentation around it: 2-D projections of
latents, the separation figures of the latent map (k-NN distance AUC, silhouette), simplex weights kept on the
simplex, image/PNG helpers, readers for user uploads, and the plotly figure builders of every page.
"""
from __future__ import annotations

import io
import math
from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go

# The paper's Fig. 2 colours: red = normal, blue = anomaly.
NORMAL_COLOUR = "#d62728"
ANOMALY_COLOUR = "#1f77b4"
INTERP_COLOURS = {0: "#7f7f7f", 2: "#ff7f0e", 3: "#2ca02c", "acai": "#9467bd"}
PROJECTIONS = ("PCA", "t-SNE", "UMAP")


def interpolation_label(m) -> str:
    return {0: "no interpolation", 2: "2-point simplex", 3: "3-point simplex", "acai": "ACAI"}.get(
        m, f"{m}-point simplex")


# ---------------------------------------------------------------- projections and separation


def subsample(n: int, max_n: Optional[int], seed: int = 0, stratify: Optional[np.ndarray] = None) -> np.ndarray:
    """Sorted indices of at most `max_n` of `n` items (all of them when n <= max_n), seeded; with `stratify`
    (labels) the anomalies keep their share, at least 1 of each label when possible."""
    if max_n is None or n <= max_n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    if stratify is None:
        return np.sort(rng.choice(n, max_n, replace=False))
    y = np.asarray(stratify)
    out = []
    for label in np.unique(y):
        idx = np.flatnonzero(y == label)
        k = max(1, int(round(max_n * len(idx) / n)))
        out.append(rng.choice(idx, min(k, len(idx)), replace=False))
    return np.sort(np.concatenate(out))


def project(Z: np.ndarray, method: str = "PCA", seed: int = 0) -> dict:
    """2-D coordinates of the rows of Z. Returns {"xy": (n, 2), "method", and for PCA "mean"/"components"
    (so that a new latent can be placed exactly: see `pca_place`)}. t-SNE is openTSNE (single-threaded),
    UMAP is umap-learn; both are seeded."""
    Z = np.asarray(Z, dtype=np.float64)
    if len(Z) < 3:
        raise ValueError(f"a projection needs at least 3 points, got {len(Z)}")
    if method == "PCA":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=seed).fit(Z)
        return {"method": method, "xy": pca.transform(Z), "mean": pca.mean_, "components": pca.components_,
                "explained": pca.explained_variance_ratio_}
    if method == "t-SNE":
        from openTSNE import TSNE

        perplexity = float(min(30.0, max(2.0, (len(Z) - 1) / 3.0)))
        emb = TSNE(n_components=2, perplexity=perplexity, n_jobs=1, random_state=seed, verbose=False).fit(Z)
        return {"method": method, "xy": np.asarray(emb)}
    if method == "UMAP":
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # umap warns that a random_state disables parallelism
            import umap

            reducer = umap.UMAP(n_components=2, n_neighbors=min(15, len(Z) - 1), random_state=seed, n_jobs=1)
            xy = reducer.fit_transform(Z)
        return {"method": method, "xy": np.asarray(xy, dtype=np.float64)}
    raise ValueError(f"unknown projection {method!r}; choose one of {PROJECTIONS}")


def pca_place(proj: dict, z: np.ndarray) -> np.ndarray:
    """Exact 2-D position of new latents `z` ((d,) or (k, d)) on a PCA map made by `project`."""
    if proj.get("method") != "PCA":
        raise ValueError("only a PCA map can place a new latent exactly")
    z = np.atleast_2d(np.asarray(z, dtype=np.float64))
    return (z - proj["mean"]) @ proj["components"].T


def knn_distance_scores(Z_train: np.ndarray, Z_test: np.ndarray, k: int = 5) -> np.ndarray:
    """Mean Euclidean distance of each test latent to its k nearest TRAIN latents (higher = more anomalous)."""
    from sklearn.neighbors import NearestNeighbors

    k = int(max(1, min(k, len(Z_train))))
    nn = NearestNeighbors(n_neighbors=k).fit(np.asarray(Z_train, dtype=np.float64))
    dist, _ = nn.kneighbors(np.asarray(Z_test, dtype=np.float64))
    return dist.mean(axis=1)


def separation(Z_train: np.ndarray, Z_test: np.ndarray, y_test: np.ndarray, k: int = 5) -> dict:
    """How well the latent space separates anomalies: the AUC of a k-NN distance score (kNN fitted on train
    latents, scoring test latents) and the silhouette of the normal/anomaly labelling of the test latents.
    Values are NaN when the test set lacks one of the two labels."""
    from sklearn.metrics import silhouette_score

    from core.evaluation.metrics import auc

    y = np.asarray(y_test).astype(int)
    out = {"knn_auc": math.nan, "silhouette": math.nan, "k": k}
    if len(np.unique(y)) < 2:
        return out
    out["knn_auc"] = auc(y, knn_distance_scores(Z_train, Z_test, k))
    out["silhouette"] = float(silhouette_score(np.asarray(Z_test, dtype=np.float64), y))
    return out


# ---------------------------------------------------------------- simplex weights


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


def weights_from_selection(selection) -> Optional[np.ndarray]:
    """Simplex weights from a plotly selection of the barycentric triangle (st.plotly_chart's on_select
    state): the first selected point's customdata (a, b, c), or its ternary coordinates. None if empty."""
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
    cd = p.get("customdata")
    if isinstance(cd, dict):  # typed arrays arrive as {"0": a, "1": b, "2": c}
        cd = [cd[k] for k in sorted(cd, key=lambda k: int(k))]
    if cd is not None and len(cd) >= 3:
        return normalise(list(cd)[:3])
    return None


def line_weights(steps: int) -> np.ndarray:
    """(steps, 2) weights from anchor 1 to anchor 2: (1, 0), ..., (0, 1)."""
    t = np.linspace(0.0, 1.0, steps)
    return np.stack([1.0 - t, t], axis=1)


def mix_latents(Z_anchors: np.ndarray, weights) -> np.ndarray:
    """sum_i w_i z_i (Eq. 3) from latents encoded once: `core.model.MirroredAE.mix_latents`."""
    from core.model import MirroredAE

    return MirroredAE.mix_latents(Z_anchors, weights)


# ---------------------------------------------------------------- thresholds


def threshold_table(y: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    """Precision, recall, F1 (core.evaluation.metrics.prf_at) of flagging scores > threshold, plus counts."""
    from core.evaluation.metrics import prf_at

    flagged = np.asarray(scores) > threshold
    out = prf_at(y, flagged)
    out.update(flagged=int(flagged.sum()), n=int(len(flagged)))
    return out


# ---------------------------------------------------------------- images


def to_uint8_image(x: np.ndarray, input_range=(0.0, 255.0)) -> np.ndarray:
    """One sample (C, H, W) (or (H, W)) in raw units to an (H, W) or (H, W, 3) uint8 image."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 3:
        x = x[0] if x.shape[0] == 1 else x.transpose(1, 2, 0)
    lo, hi = float(input_range[0]), float(input_range[1])
    return (np.clip((x - lo) / (hi - lo), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def upscale(img: np.ndarray, min_size: int = 96) -> np.ndarray:
    """Nearest-neighbour enlargement so that tiny images (8x8 digits) stay crisp in the browser."""
    f = max(1, int(math.ceil(min_size / max(img.shape[0], img.shape[1]))))
    return img.repeat(f, axis=0).repeat(f, axis=1) if f > 1 else img


def png_bytes(img: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


def png_data_url(img: np.ndarray) -> str:
    import base64

    return "data:image/png;base64," + base64.b64encode(png_bytes(img)).decode()


def image_grid(rows: Sequence[Sequence[np.ndarray]], input_range, cell: int = 64, pad: int = 2,
               background: int = 255) -> np.ndarray:
    """Samples (C, H, W) arranged in rows (Fig. 4 style), each enlarged to about `cell` pixels; uint8 image."""
    rows = [list(r) for r in rows if len(r)]
    if not rows:
        return np.full((cell, cell), background, np.uint8)
    tiles = [[upscale(to_uint8_image(x, input_range), cell) for x in r] for r in rows]
    h, w = tiles[0][0].shape[:2]
    colour = tiles[0][0].ndim == 3
    ncols = max(len(r) for r in tiles)
    shape = (len(tiles) * (h + pad) + pad, ncols * (w + pad) + pad) + ((3,) if colour else ())
    out = np.full(shape, background, np.uint8)
    for i, r in enumerate(tiles):
        for j, t in enumerate(r):
            y0, x0 = pad + i * (h + pad), pad + j * (w + pad)
            out[y0:y0 + h, x0:x0 + w] = t
    return out


# ---------------------------------------------------------------- user uploads


def read_table_upload(name: str, data: bytes, n_features: int, feature_names: Optional[Sequence[str]] = None
                      ) -> tuple[np.ndarray, list[str]]:
    """A CSV or NPY upload as an (n, n_features) float array and row names; ValueError naming the problem
    (wrong number of columns, text columns, missing values, wrong dimensions)."""
    lower = name.lower()
    if lower.endswith(".npy"):
        try:
            X = np.load(io.BytesIO(data), allow_pickle=False)
        except Exception as e:  # noqa: BLE001 (numpy raises several types for a bad file)
            raise ValueError(f"{name}: not a readable .npy file ({e})") from None
        if X.ndim == 1 and len(X) == n_features:
            X = X[None]
        if X.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D array (samples, {n_features} features), got shape {X.shape}")
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
            raise ValueError(f"{name}: expected numbers, got dtype {X.dtype}")
        names = [str(i) for i in range(len(X))]
    elif lower.endswith(".csv") or lower.endswith(".txt"):
        import pandas as pd

        try:
            df = pd.read_csv(io.BytesIO(data))
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"{name}: not a readable CSV file ({e})") from None
        header_numeric = all(_is_number(c) for c in df.columns)
        if header_numeric:  # no header row: the first row is data
            df = pd.read_csv(io.BytesIO(data), header=None)
        elif feature_names is not None and set(feature_names) <= set(map(str, df.columns)):
            df = df[[*feature_names]]  # named columns: pick and order the model's features
        text_cols = [str(c) for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
        if text_cols:
            raise ValueError(f"{name}: column(s) {', '.join(text_cols[:5])} are not numeric")
        X = df.to_numpy(dtype=np.float64)
        names = [str(i) for i in range(len(X))]
    else:
        raise ValueError(f"{name}: expected a .csv or .npy file")
    if len(X) == 0:
        raise ValueError(f"{name}: no rows")
    if X.shape[1] != n_features:
        raise ValueError(f"{name}: has {X.shape[1]} columns but the model takes {n_features} features")
    bad = np.flatnonzero(~np.isfinite(X.astype(np.float64)).all(axis=1))
    if len(bad):
        raise ValueError(f"{name}: row(s) {', '.join(map(str, bad[:5]))} contain missing or infinite values")
    return X.astype(np.float32), names


def check_image_array(name: str, X: np.ndarray, input_shape: Sequence[int]) -> np.ndarray:
    """An .npy of images checked against the model's (C, H, W); ValueError naming what differs."""
    C, H, W = (int(v) for v in input_shape)
    if X.ndim == 2 and (H, W) == X.shape and C == 1:
        X = X[None, None]
    elif X.ndim == 3 and X.shape[1:] == (H, W) and C == 1:
        X = X[:, None]
    if X.ndim != 4:
        raise ValueError(f"{name}: expected images of shape (N, {C}, {H}, {W}), got shape {X.shape}")
    if X.shape[1] != C:
        raise ValueError(f"{name}: images have {X.shape[1]} channel(s) but the model takes {C}")
    if X.shape[2:] != (H, W):
        raise ValueError(f"{name}: images are {X.shape[2]}x{X.shape[3]} but the model takes {H}x{W}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return X


def _is_number(s) -> bool:
    try:
        float(s)
        return True
    except (TypeError, ValueError):
        return False


# ---------------------------------------------------------------- figures


def _layout(fig: go.Figure, title: str = "", height: int = 420, **kw) -> go.Figure:
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=height,
                      margin=dict(l=10, r=10, t=50, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"), **kw)
    return fig


def latent_figure(xy: np.ndarray, y: np.ndarray, classes: Sequence[str], scores: np.ndarray,
                  index: np.ndarray, colour_by: str = "anomaly", title: str = "",
                  extra_points: Optional[list[dict]] = None, height: int = 420, zoom: bool = False) -> go.Figure:
    """Scatter of a 2-D latent map. Hover: test index, class and anomaly score; customdata[0] is the test
    index, so a selection maps back to the sample. colour_by: "anomaly" (paper's colours) or "class".
    extra_points: [{"xy": (k, 2), "name", "symbol", "color"}] drawn on top (anchors, interpolant).
    zoom: axes on the 1-99% quantiles of the points (outliers fall outside the view)."""
    fig = go.Figure()
    y = np.asarray(y)
    classes = np.asarray(classes).astype(str)
    if colour_by == "class":
        groups = [(c, classes == c, None) for c in sorted(np.unique(classes), key=_natural)]
    else:
        groups = [("normal", y == 0, NORMAL_COLOUR), ("anomaly", y == 1, ANOMALY_COLOUR)]
    hover = "#%{customdata[0]} · class %{customdata[1]}<br>anomaly score %{customdata[2]:.4g}<extra>%{fullData.name}</extra>"
    for name, mask, colour in groups:
        if not mask.any():
            continue
        cd = np.stack([np.asarray(index)[mask].astype(object), classes[mask].astype(object),
                       np.asarray(scores)[mask].astype(object)], axis=1)
        fig.add_trace(go.Scatter(x=xy[mask, 0], y=xy[mask, 1], mode="markers", name=name, customdata=cd,
                                 hovertemplate=hover,
                                 marker=dict(size=6, opacity=0.75, color=colour, line=dict(width=0))))
    for p in extra_points or []:
        pxy = np.atleast_2d(p["xy"])
        fig.add_trace(go.Scatter(x=pxy[:, 0], y=pxy[:, 1], mode="markers+text" if p.get("text") else "markers",
                                 name=p["name"], text=p.get("text"), textposition="top center",
                                 hoverinfo="name", marker=dict(size=p.get("size", 14), symbol=p.get("symbol", "star"),
                                                               color=p.get("color", "black"),
                                                               line=dict(width=1, color="white"))))
    fig.update_xaxes(showticklabels=False, title=None, zeroline=False)
    fig.update_yaxes(showticklabels=False, title=None, zeroline=False)
    if zoom:  # the bulk of the points: far outliers would otherwise squash the map into a corner
        for axis, col in ((fig.update_xaxes, 0), (fig.update_yaxes, 1)):
            lo, hi = np.quantile(xy[:, col], [0.01, 0.99])
            pad = 0.15 * (hi - lo or 1.0)
            axis(range=[lo - pad, hi + pad])
    return _layout(fig, title, height)  # Streamlit sets click-to-select and the lasso/box tools


def _natural(s: str):
    return (0, int(s), s) if s.lstrip("-").isdigit() else (1, 0, s)


def roc_figure(curves: list[dict]) -> go.Figure:
    """ROC curves [{"name", "fpr", "tpr", "auc", "dash"?}] with the AUC in the legend."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="#bbbbbb"),
                             name="chance (0.5)", hoverinfo="skip"))
    for c in curves:
        fig.add_trace(go.Scatter(x=c["fpr"], y=c["tpr"], mode="lines", name=f"{c['name']} (AUC {c['auc']:.3f})",
                                 line=dict(width=2.5 if not c.get("dash") else 1.5, dash=c.get("dash"),
                                           color=c.get("color")),
                                 hovertemplate="FPR %{x:.3f}, TPR %{y:.3f}<extra>" + c["name"] + "</extra>"))
    fig.update_xaxes(title="false positive rate", range=[0, 1])
    fig.update_yaxes(title="true positive rate", range=[0, 1.01])
    fig = _layout(fig, "ROC on the test set", 460)
    fig.update_layout(legend=dict(orientation="v", yanchor="bottom", y=0.02, x=0.98, xanchor="right",
                                  bgcolor="rgba(255,255,255,0.7)"))
    return fig


def score_histogram(scores: np.ndarray, y: np.ndarray, threshold: float, bins: int = 40) -> go.Figure:
    scores, y = np.asarray(scores), np.asarray(y)
    edges = np.histogram_bin_edges(scores, bins=bins)
    fig = go.Figure()
    for name, mask, colour in (("normal", y == 0, NORMAL_COLOUR), ("anomaly", y == 1, ANOMALY_COLOUR)):
        fig.add_trace(go.Histogram(x=scores[mask], name=f"{name} ({int(mask.sum())})", opacity=0.6,
                                   marker_color=colour, histnorm="probability density",
                                   xbins=dict(start=edges[0], end=edges[-1], size=edges[1] - edges[0])))
    fig.add_vline(x=threshold, line=dict(color="black", dash="dash"),
                  annotation_text=f"threshold {threshold:.4g}", annotation_position="top right")
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title="anomaly score (higher = more anomalous)")
    fig.update_yaxes(title="density")
    return _layout(fig, "Scores of normal and anomalous test samples", 380)


def ternary_figure(weights: Sequence[float], labels: Sequence[str] = ("anchor 1", "anchor 2", "anchor 3"),
                   step: float = 0.05) -> go.Figure:
    """The barycentric triangle: a grid of clickable points (customdata = their weights) and the current
    weights as a star."""
    grid = barycentric_grid(step)
    fig = go.Figure()
    fig.add_trace(go.Scatterternary(
        a=grid[:, 0], b=grid[:, 1], c=grid[:, 2], mode="markers", name="click a point", customdata=grid,
        marker=dict(size=9, color="#c7d3e6", line=dict(width=0.5, color="#8da0c0")),
        hovertemplate="w = (%{a:.2f}, %{b:.2f}, %{c:.2f})<extra></extra>"))
    w = normalise(weights)
    fig.add_trace(go.Scatterternary(a=[w[0]], b=[w[1]], c=[w[2]], mode="markers", name="current weights",
                                    marker=dict(size=18, symbol="star", color="#d62728",
                                                line=dict(width=1, color="black")),
                                    hovertemplate="current (%{a:.2f}, %{b:.2f}, %{c:.2f})<extra></extra>"))
    axis = dict(min=0, linewidth=2, ticks="", showticklabels=False, showgrid=True)
    fig.update_layout(ternary=dict(sum=1, aaxis=dict(title=dict(text=labels[0]), **axis),
                                   baxis=dict(title=dict(text=labels[1]), **axis),
                                   caxis=dict(title=dict(text=labels[2]), **axis)),
                      showlegend=False, clickmode="event+select", height=330,
                      margin=dict(l=40, r=40, t=40, b=30))
    return fig


SERIES_COLOURS = ["#9ecae1", "#6baed6", "#3182bd", "#08519c"]


def feature_bars(feature_names: Sequence[str], series: dict, title: str = "") -> go.Figure:
    """Grouped bars of feature vectors {name: (F,) values} (tabular decoded samples); a series named
    "interpolant" or "reconstruction" is drawn in a strong colour, the others in blues."""
    fig = go.Figure()
    for i, (name, values) in enumerate(series.items()):
        strong = name in ("interpolant", "reconstruction")
        fig.add_trace(go.Bar(x=list(feature_names), y=np.asarray(values).ravel(), name=name,
                             marker_color="#ff7f0e" if strong else SERIES_COLOURS[i % len(SERIES_COLOURS)]))
    fig.update_layout(barmode="group")
    fig.update_xaxes(title=None, type="category")
    fig.update_yaxes(title="value (raw units)")
    fig = _layout(fig, title, 380)
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"),
                      margin=dict(t=60))
    return fig


def feature_paths(feature_names: Sequence[str], t: np.ndarray, values: np.ndarray, xlabel: str) -> go.Figure:
    """Decoded features along a path (values (steps, F)): one line per feature up to 12 features, else a heatmap
    with each feature scaled to its own range along the path (hover shows raw values)."""
    values = np.asarray(values)
    fig = go.Figure()
    if values.shape[1] <= 12:
        for j, name in enumerate(feature_names):
            fig.add_trace(go.Scatter(x=t, y=values[:, j], mode="lines+markers", name=str(name)))
        fig.update_yaxes(title="value (raw units)")
        height = 340
    else:
        lo, hi = values.min(axis=0), values.max(axis=0)
        rel = (values - lo) / np.where(hi > lo, hi - lo, 1.0)
        fig.add_trace(go.Heatmap(z=rel.T, x=t, y=list(map(str, feature_names)), customdata=values.T,
                                 colorscale="Viridis", colorbar=dict(title=dict(text="relative")),
                                 hovertemplate="%{y} at %{x:.2f}: %{customdata:.4g}<extra></extra>"))
        height = max(300, min(900, 12 * values.shape[1]))
    fig.update_xaxes(title=xlabel)
    return _layout(fig, "Decoded features along the line", height)


def loss_figure(history: dict, keys: Sequence[str] = ("critic", "eg", "d_inter", "adv", "inter", "latent_reg",
                                                       "loss_feat")) -> go.Figure:
    """Per-epoch training losses (a model's history_ or a running job's)."""
    fig = go.Figure()
    for k in keys:
        vals = history.get(k)
        if not vals:
            continue
        ys = [v if v is not None else None for v in vals]
        if all(v is None for v in ys):
            continue
        fig.add_trace(go.Scatter(x=list(range(1, len(ys) + 1)), y=ys, mode="lines+markers", name=k,
                                 marker=dict(size=4), connectgaps=False))
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title="loss")
    return _layout(fig, "Training losses per epoch", 320)


def auc_bars(df, value_cols: Sequence[str], title: str) -> go.Figure:
    """Grouped bars: one group per anomaly class (df["class"]), one bar per column of value_cols."""
    fig = go.Figure()
    for col in value_cols:
        if col not in df or df[col].isna().all():
            continue
        colour = next((c for key, c in (("none", INTERP_COLOURS[0]), ("2-point", INTERP_COLOURS[2]),
                                        ("3-point", INTERP_COLOURS[3]), ("ACAI", INTERP_COLOURS["acai"]))
                       if key in col), None)
        fig.add_trace(go.Bar(x=df["class"].astype(str), y=df[col], name=col, marker_color=colour,
                             marker_pattern_shape="/" if col.startswith("paper") else None,
                             opacity=0.55 if col.startswith("paper") else 1.0))
    fig.update_layout(barmode="group")
    fig.update_xaxes(title="anomaly class", type="category")
    fig.update_yaxes(title=title, range=[0, 1.02])
    fig = _layout(fig, "", 400)
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0), margin=dict(t=60))
    return fig
