"""Plotly figures that several pages draw (pure: no Streamlit): the latent map (the Latent map and the Simplex
explorer), its axis titles and selections, feature bars (tabular samples on three pages) and the whole-number
epoch axis of the training charts (Models, Latent map). A figure only one page draws lives in that page's package
(`app/roc/figures.py`, `app/simplex/figures.py`, `app/latent_map/timeline.py`). The paper's Fig. 2 colours:
red = normal, blue = anomaly."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go

from app.shared.labels import natural_key

NORMAL_COLOUR = "#d62728"
ANOMALY_COLOUR = "#1f77b4"


def epoch_axis(fig: go.Figure, last_epoch: int, max_ticks: int = 10, title: bool = True, **where) -> None:
    """An epoch axis from 0 to `last_epoch` with whole-number ticks only, every k-th epoch so that at most
    `max_ticks` fit. `tickformat="d"` alone is not enough: plotly's own ticks fall on half epochs for short runs,
    and "d" rounds them into "1 2 2 3 3". `where`: the subplot (row=, col=)."""
    n = max(int(last_epoch), 1)
    fig.update_xaxes(title_text="epoch" if title else None, title_standoff=4, range=[0, n + 0.5],
                     tickmode="linear", tick0=0, dtick=max(1, math.ceil(n / max_ticks)), tickformat="d", **where)


def titled_layout(fig: go.Figure, title: str = "", height: int = 420, **kw) -> go.Figure:
    """The lab's common layout: a small title, tight margins, the legend top right."""
    fig.update_layout(title=dict(text=title, font=dict(size=14)), height=height,
                      margin=dict(l=10, r=10, t=50, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"), **kw)
    return fig


def latent_figure(xy: np.ndarray, y: np.ndarray, classes: Sequence[str], scores: np.ndarray,
                  index: np.ndarray, colour_by: str = "anomaly", title: str = "",
                  extra_points: Optional[list[dict]] = None, height: int = 420, zoom: bool = False,
                  axis_titles: Optional[Sequence[str]] = None) -> go.Figure:
    """Scatter of a 2-D latent map. Hover: test index, class and anomaly score; customdata[0] is the test
    index, so a selection maps back to the sample. colour_by: "anomaly" (paper's colours), "class" or "score"
    (a colour scale of the anomaly score: for data without labels).
    extra_points: [{"xy": (k, 2), "name", "symbol", "color"}] drawn on top (anchors, interpolant).
    zoom: axes on the 1-99% quantiles of the points (outliers fall outside the view).
    axis_titles: (x, y) titles, e.g. `axis_titles(projection)`: "PC1 (34.2%)". The legend sits under the plot."""
    y = np.asarray(y)
    classes = np.asarray(classes).astype(str)
    if colour_by == "class":
        groups = [(c, classes == c, None) for c in sorted(np.unique(classes), key=natural_key)]
    elif colour_by == "score":  # unlabelled data: one trace, the anomaly score as the colour
        groups = [("anomaly score", np.ones(len(y), bool), None)]
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
    if colour_by == "score" and traces:
        traces[0]["marker"].update(color=np.asarray(scores, dtype=np.float64), colorscale="Viridis",
                                   colorbar=dict(title=dict(text="score"), thickness=10))
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
    fig = titled_layout(fig, title, 380)
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"),
                      margin=dict(t=60))
    return fig
