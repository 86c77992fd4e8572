"""Plotly figures of every page (pure: no Streamlit): latent maps and training timelines, ROC curves, score
histograms, feature bars and paths, loss curves and AUC bars (the simplex's figures: `app/simplex_figures.py`).
The paper's Fig. 2 colours: red = normal, blue = anomaly."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go


NORMAL_COLOUR = "#d62728"


ANOMALY_COLOUR = "#1f77b4"


INTERP_COLOURS = {0: "#7f7f7f", 2: "#ff7f0e", 3: "#2ca02c", "acai": "#9467bd"}


def interpolation_label(m) -> str:
    return {0: "no interpolation", 2: "2-point simplex", 3: "3-point simplex", "acai": "ACAI"}.get(
        m, f"{m}-point simplex")


def _layout(fig: go.Figure, title: str = "", height: int = 420, **kw) -> go.Figure:
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=height,
                      margin=dict(l=10, r=10, t=50, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"), **kw)
    return fig


def latent_figure(xy: np.ndarray, y: np.ndarray, classes: Sequence[str], scores: np.ndarray,
                  index: np.ndarray, colour_by: str = "anomaly", title: str = "",
                  extra_points: Optional[list[dict]] = None, height: int = 420, zoom: bool = False,
                  axis_titles: Optional[Sequence[str]] = None) -> go.Figure:
    """Scatter of a 2-D latent map. Hover: test index, class and anomaly score; customdata[0] is the test
    index, so a selection maps back to the sample. colour_by: "anomaly" (paper's colours) or "class".
    extra_points: [{"xy": (k, 2), "name", "symbol", "color"}] drawn on top (anchors, interpolant).
    zoom: axes on the 1-99% quantiles of the points (outliers fall outside the view).
    axis_titles: (x, y) titles, e.g. `axis_titles(projection)`: "PC1 (34.2%)". The legend sits under the plot."""
    y = np.asarray(y)
    classes = np.asarray(classes).astype(str)
    if colour_by == "class":
        groups = [(c, classes == c, None) for c in sorted(np.unique(classes), key=_natural)]
    else:
        groups = [("normal", y == 0, NORMAL_COLOUR), ("anomaly", y == 1, ANOMALY_COLOUR)]
    # numeric customdata (index, score) and the class as text: an object array would cost plotly a slow
    # element-by-element validation on every rerun
    hover = "#%{customdata[0]} · class %{text}<br>anomaly score %{customdata[1]:.3f}<extra>%{fullData.name}</extra>"
    numbers = np.stack([np.asarray(index, dtype=np.float64), np.asarray(scores, dtype=np.float64)], axis=1)
    traces = [dict(type="scatter", x=xy[mask, 0], y=xy[mask, 1], mode="markers", name=name, customdata=numbers[mask],
                   text=classes[mask], hovertemplate=hover,
                   marker=dict(size=6, opacity=0.75, color=colour, line=dict(width=0)))
              for name, mask, colour in groups if mask.any()]
    for p in extra_points or []:
        pxy = np.atleast_2d(p["xy"])
        traces.append(dict(type="scatter", x=pxy[:, 0], y=pxy[:, 1],
                           mode="markers+text" if p.get("text") else "markers", name=p["name"], text=p.get("text"),
                           textposition="top center", hoverinfo="name",
                           marker=dict(size=p.get("size", 14), symbol=p.get("symbol", "star"),
                                       color=p.get("color", "black"), line=dict(width=1, color="white"))))
    xt, yt = axis_titles or (None, None)
    xaxis = dict(showticklabels=False, title=dict(text=xt, standoff=4), zeroline=False)
    yaxis = dict(showticklabels=False, title=dict(text=yt, standoff=4), zeroline=False)
    if zoom:  # the bulk of the points: far outliers would otherwise squash the map into a corner
        for axis, col in ((xaxis, 0), (yaxis, 1)):
            lo, hi = np.quantile(xy[:, col], [0.01, 0.99])
            pad = 0.15 * (hi - lo or 1.0)
            axis["range"] = [lo - pad, hi + pad]
    rows = 1 + (len(traces) > 4) + (len(traces) > 8)  # about four legend entries fit a row of a narrow map
    # one constructor call (Streamlit sets click-to-select and the lasso/box tools)
    return go.Figure(data=traces, layout=dict(
        title=dict(text=title, font=dict(size=14)), height=height, xaxis=xaxis, yaxis=yaxis,
        legend=LEGEND_BELOW, margin=dict(l=10, r=10, t=40 if title else 30, b=30 + 22 * rows)))


# The legend in a band of its own under the plot: at the top it collides with the title and with the modebar
# that Streamlit shows on hover.
LEGEND_BELOW = dict(orientation="h", yref="container", yanchor="bottom", y=0.0, x=0, xanchor="left",
                    font=dict(size=11), itemsizing="constant")


def legend_below(fig: go.Figure, rows: int = 2) -> go.Figure:
    """The legend under the plot (LEGEND_BELOW) in a band `rows` rows tall."""
    fig.update_layout(legend=LEGEND_BELOW,
                      margin=dict(l=10, r=10, t=40 if fig.layout.title.text else 30, b=30 + 22 * rows))
    return fig


def point_customdata(point: dict) -> Optional[list]:
    """The customdata of a point of a Streamlit plotly selection as a list: numeric (typed) arrays arrive as
    {"0": a, "1": b, ...}, other arrays as lists."""
    cd = point.get("customdata")
    if isinstance(cd, dict):
        cd = [cd[k] for k in sorted(cd, key=int)]
    return None if cd is None else list(cd)


def axis_titles(projection: dict) -> tuple[str, str]:
    """Axis titles of a latent map: "PC1 (34.2%)" with PCA's explained variance, else "t-SNE 1" / "UMAP 1"."""
    method = projection.get("method", "")
    ratio = projection.get("explained")
    if method == "PCA" and ratio is not None and len(ratio) >= 2:
        return f"PC1 ({100 * ratio[0]:.1f}%)", f"PC2 ({100 * ratio[1]:.1f}%)"
    return f"{method} 1", f"{method} 2"


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
                  annotation_text=f"threshold {threshold:.3f}", annotation_position="top right")
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(title="anomaly score (higher = more anomalous)")
    fig.update_yaxes(title="density")
    return _layout(fig, "Scores of normal and anomalous test samples", 380)


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


def timeline_figure(layout: dict, height: int = 460) -> go.Figure:
    """A training timeline (`app.timeline_maps.timeline_layout`) as an animated latent map: one Plotly frame per
    stored epoch, a play button and an epoch slider that scrub in the browser (no rerun), fixed axes."""
    xy, y, epochs, idx = layout["xy"], layout["y"], layout["epochs"], layout["indices"]
    groups = [("normal", y == 0, NORMAL_COLOUR), ("anomaly", y == 1, ANOMALY_COLOUR)]
    hover = "#%{customdata} · epoch %{meta}<extra>%{fullData.name}</extra>"

    def traces(t: int) -> list:
        return [dict(type="scatter", x=xy[t, m, 0], y=xy[t, m, 1], mode="markers", name=name, customdata=idx[m],
                     meta=int(epochs[t]) + 1, hovertemplate=hover,
                     marker=dict(size=6, opacity=0.75, color=colour, line=dict(width=0)))
                for name, m, colour in groups if m.any()]

    last = len(epochs) - 1
    lo, hi = np.quantile(xy.reshape(-1, 2), [0.005, 0.995], axis=0)  # every frame inside the same view
    pad = 0.1 * (hi - lo + 1e-9)
    ex = layout.get("explained")
    names = (f"PC1 ({100 * ex[0]:.1f}%)", f"PC2 ({100 * ex[1]:.1f}%)") if ex is not None else ("PC1", "PC2")
    step = dict(mode="immediate", frame=dict(duration=0, redraw=False), transition=dict(duration=0))
    play = dict(frame=dict(duration=400, redraw=False), fromcurrent=True, transition=dict(duration=150))
    # one constructor call with plain dicts: a long timeline has many frames, and plotly's per-property
    # validation of graph objects would cost more than the rest of the page
    return go.Figure(data=traces(last), frames=[dict(data=traces(t), name=str(int(e) + 1)) for t, e in enumerate(epochs)],
                     layout=dict(
        height=height, xaxis=dict(range=[lo[0] - pad[0], hi[0] + pad[0]], showticklabels=False, zeroline=False,
                                  title=dict(text=names[0])),
        yaxis=dict(range=[lo[1] - pad[1], hi[1] + pad[1]], showticklabels=False, zeroline=False,
                   title=dict(text=names[1])),
        # the legend top left, clear of the modebar (top right); the play button and slider take the bottom band
        margin=dict(l=10, r=10, t=30, b=110), legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0,
                                                          xanchor="left"),
        updatemenus=[dict(type="buttons", direction="left", x=0, y=0, xanchor="left", yanchor="top",
                          pad=dict(t=45), showactive=False,
                          buttons=[dict(label="▶ play", method="animate", args=[None, play]),
                                   dict(label="❚❚", method="animate", args=[[None], step])])],
        sliders=[dict(active=last, x=0.2, len=0.8, y=0, yanchor="top", pad=dict(t=30),
                      currentvalue=dict(prefix="epoch ", font=dict(size=12)),
                      steps=[dict(label=str(int(e) + 1), method="animate", args=[[str(int(e) + 1)], step])
                             for e in epochs])]))


def timeline_silhouette(layout: dict, height: int = 220) -> go.Figure:
    """The silhouette of normal vs anomaly per stored epoch: does the latent space separate while training?"""
    fig = go.Figure(go.Scatter(x=np.asarray(layout["epochs"]) + 1, y=layout["silhouette"], mode="lines+markers",
                               hovertemplate="epoch %{x}: silhouette %{y:.3f}<extra></extra>"))
    fig.update_xaxes(title="epoch", tickformat="d")
    fig.update_yaxes(title="silhouette")
    fig = _layout(fig, "Normal vs anomaly separation by epoch", height)
    fig.update_layout(margin=dict(l=10, r=10, t=40, b=10))
    return fig
