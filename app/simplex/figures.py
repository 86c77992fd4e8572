"""The Simplex explorer's figures (pure: no Streamlit): a ternary heat map of a readout field over the whole
simplex, the triangular mosaic of decoded interpolants as a clickable image, the profile along the segment of
m = 2, and decoded features along an edge. Every clickable point carries its weights as customdata, which
`weights.weights_from_selection` reads back."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go

from app.shared.figures import LEGEND_BELOW, titled_layout
from app.simplex.weights import normalise

# Streamlit's plotly_chart reports clicks as selections; "event+select" makes a single click select one point.
CLICKABLE = dict(clickmode="event+select")


def _weights_text(W: np.ndarray) -> list[str]:
    return ["w = (" + ", ".join(f"{v:.2f}" for v in row) + ")" for row in W]


def tick_format(values) -> str:
    """One d3 format for every tick of a colour bar over `values`: fixed decimals, as many as the ticks' spacing
    needs (about a fifth of the range), or exponents for very large or very small values throughout. Plotly's
    ".3g" wrote "500" beside "1.00e+3" on one bar."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not len(v):
        return ".3g"
    largest = float(np.max(np.abs(v)))
    if largest >= 1e6 or 0 < largest < 1e-3:
        return ".2e"
    spacing = (float(v.max()) - float(v.min())) / 5 or largest or 1.0
    return f".{int(np.clip(-np.floor(np.log10(spacing)), 0, 6))}f"


# the margin under a heat map: the lower vertices' labels, then the colour bar with its ticks and title
COLOUR_BAR_BAND = 95


def ternary_heatmap(weights: np.ndarray, values: Optional[np.ndarray], current: Optional[Sequence[float]], *,
                    labels: Sequence[str] = ("anchor 1", "anchor 2", "anchor 3"), colour_title: str = "",
                    flagged: Optional[np.ndarray] = None, extra_hover: Optional[dict] = None, step: float = 0.05,
                    height: int = 300, title: str = "") -> go.Figure:
    """The 2-simplex as a field of clickable hexagons coloured by `values` (one per row of `weights`; Viridis over
    their own range, so the structure shows even when every value is below the threshold), the current weights
    as a star (current None: no star; the draggable simplex shows them). flagged: cells outlined in red (interpolants the model flags as anomalies). values None: a plain
    grid (a model without that field). extra_hover: {name: (k,) values} added to each cell's hover."""
    W = np.asarray(weights, dtype=np.float64)
    hover = _weights_text(W)
    for name, vals in (extra_hover or {}).items():
        if vals is not None:
            hover = [f"{h}<br>{name} {v:.3f}" for h, v in zip(hover, np.asarray(vals))]
    if flagged is not None:
        hover = [h + ("<br><b>flagged: above the threshold</b>" if f else "") for h, f in zip(hover, flagged)]
    # hexagons tile the triangular lattice: about one lattice spacing wide in a ~200 px triangle
    size = max(6.0, min(18.0, 200.0 * step * 1.5))
    if values is None:
        marker = dict(size=size, symbol="hexagon", color="#d5dce8", line=dict(width=0))
    else:
        # the colour bar at the figure's bottom edge with its title under it: above the bar, the title ran into
        # the labels of the two lower vertices
        marker = dict(size=size, symbol="hexagon", color=np.asarray(values, dtype=np.float64), colorscale="Viridis",
                      line=dict(width=0), colorbar=dict(title=dict(text=colour_title, side="bottom"), orientation="h",
                                                        thickness=8, len=0.9, yref="container", y=0, yanchor="bottom",
                                                        tickformat=tick_format(values), nticks=5))
    traces = [dict(type="scatterternary", a=W[:, 0], b=W[:, 1], c=W[:, 2], mode="markers", customdata=W,
                   text=hover, marker=marker, name="cells", hovertemplate="%{text}<extra></extra>")]
    if flagged is not None and np.any(flagged):  # outlines on top; not hoverable, so clicks reach the cells
        F = W[np.asarray(flagged, dtype=bool)]
        traces.append(dict(type="scatterternary", a=F[:, 0], b=F[:, 1], c=F[:, 2], mode="markers", name="flagged",
                           hoverinfo="skip", marker=dict(size=size * 0.8, symbol="hexagon-open", color="#d62728",
                                                         line=dict(width=1.5))))
    if current is not None:
        w = normalise(current)
        traces.append(dict(type="scatterternary", a=[w[0]], b=[w[1]], c=[w[2]], mode="markers",
                           name="current weights", hovertemplate="current w = (%{a:.2f}, %{b:.2f}, %{c:.2f})<extra></extra>",
                           marker=dict(size=16, symbol="star", color="#ffbf00", line=dict(width=1.5, color="black"))))
    axis = dict(min=0, linewidth=1.5, ticks="", showticklabels=False, showgrid=False)
    # one constructor call: nested update_layout calls cost plotly several times more (this runs per weight change)
    return go.Figure(data=traces, layout=dict(
        ternary=dict(sum=1, aaxis=dict(title=dict(text=labels[0]), **axis),
                     baxis=dict(title=dict(text=labels[1]), **axis), caxis=dict(title=dict(text=labels[2]), **axis)),
        title=dict(text=title, font=dict(size=13), x=0, xanchor="left"), showlegend=False, height=height,
        margin=dict(l=30, r=30, t=45 if title else 30, b=COLOUR_BAR_BAND if values is not None else 25), **CLICKABLE))


def mosaic_figure(png_url: str, size: tuple[int, int], centres: np.ndarray, weights: np.ndarray,
                  scores: Optional[np.ndarray] = None, height: int = 320, title: str = "") -> go.Figure:
    """The triangular mosaic (a PNG data URL of `size` (width, height) pixels) with an invisible clickable point
    at each tile's centre (customdata = the tile's weights): a click on a tile sets the weights."""
    W = np.asarray(weights, dtype=np.float64)
    hover = _weights_text(W)
    if scores is not None:
        hover = [f"{h}<br>anomaly score {s:.3f}" for h, s in zip(hover, scores)]
    width_px, height_px = size
    traces = [dict(type="image", source=png_url, x0=0, y0=0, dx=1, dy=1, hoverinfo="skip"),
              # transparent markers: plotly still hovers and selects them, so the tile itself is the click target
              dict(type="scatter", x=centres[:, 0], y=centres[:, 1], mode="markers", customdata=W, text=hover,
                   marker=dict(size=22, color="rgba(0,0,0,0)"), name="tiles", hovertemplate="%{text}<extra></extra>")]
    return go.Figure(data=traces, layout=dict(
        xaxis=dict(visible=False, range=[0, width_px]),
        yaxis=dict(visible=False, range=[height_px, 0], scaleanchor="x"),
        height=height, margin=dict(l=5, r=5, t=35 if title else 5, b=5), showlegend=False,
        title=dict(text=title, font=dict(size=13), x=0, xanchor="left"), hoverdistance=40, plot_bgcolor="white",
        **CLICKABLE))


def segment_profile(weights: np.ndarray, score: np.ndarray, threshold: float, current: Optional[Sequence[float]],
                    realism: Optional[np.ndarray] = None, height: int = 300, title: str = "") -> go.Figure:
    """m = 2: the anomaly score (and, with a critic, Σ wᵢ D_inter² on a second axis) along the segment from
    anchor 1 to anchor 2; a click on a point sets the weights; the current weights as a vertical line (none when
    `current` is None), the model's threshold as a dashed one."""
    W = np.asarray(weights, dtype=np.float64)
    t = W[:, 1]
    point = "w = (%{customdata[0]:.2f}, %{customdata[1]:.2f})<br>"
    traces = [dict(type="scatter", x=t, y=score, mode="lines+markers", name="anomaly score", customdata=W,
                   marker=dict(size=9), line=dict(color="#1f77b4"),
                   hovertemplate=point + "anomaly score %{y:.3f}<extra></extra>")]
    layout = dict(xaxis=dict(title=dict(text="weight of anchor 2 (0 = anchor 1, 1 = anchor 2)"), range=[-0.03, 1.03]),
                  yaxis=dict(title=dict(text="anomaly score")), height=height,
                  margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                  title=dict(text=title, font=dict(size=13), x=0, xanchor="left"),
                  legend=dict(orientation="h", yanchor="top", y=-0.25, x=0), **CLICKABLE)
    if realism is not None:
        traces.append(dict(type="scatter", x=t, y=realism, mode="lines+markers", name="Σ wᵢ D_inter²", customdata=W,
                           yaxis="y2", marker=dict(size=7, symbol="diamond"), line=dict(color="#2ca02c"),
                           hovertemplate=point + "Σ wᵢ D_inter² %{y:.3f}<extra></extra>"))
        layout["yaxis2"] = dict(title=dict(text="Σ wᵢ D_inter² (lower = realistic)"), overlaying="y", side="right",
                                showgrid=False, rangemode="tozero")
    layout["shapes"] = [dict(type="line", xref="paper", x0=0, x1=1, yref="y", y0=threshold, y1=threshold,
                             line=dict(color="black", dash="dash"))]
    if current is not None:
        now = float(normalise(current)[1])
        layout["shapes"].append(dict(type="line", xref="x", x0=now, x1=now, yref="paper", y0=0, y1=1,
                                     line=dict(color="#ffbf00", width=3)))
    layout["annotations"] = [dict(text=f"threshold {threshold:.3f}", xref="paper", x=0, xanchor="left", yref="y",
                                  y=threshold, yanchor="bottom", showarrow=False)]
    return go.Figure(data=traces, layout=layout)


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
    return titled_layout(fig, "Decoded features along the line", height)


def legend_below(fig: go.Figure, rows: int = 2) -> go.Figure:
    """The legend under the plot (LEGEND_BELOW) in a band `rows` rows tall: in a model's narrow column a legend
    above the plot would cover the title and the modebar."""
    fig.update_layout(legend=LEGEND_BELOW,
                      margin=dict(l=10, r=10, t=40 if fig.layout.title.text else 30, b=30 + 22 * rows))
    return fig
