"""Training figures of the Models page (pure: no Streamlit): the losses and the training-health curves
(core.training.health) per epoch, on an integer epoch axis.

A running job's chart also draws its per-step losses as thin lines at fractional epochs, so the chart is a line
from the first steps on rather than one dot per finished epoch.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.shared.figures import epoch_axis

LOSS_KEYS = ("critic", "eg", "d_recon", "d_inter", "adv", "inter", "latent_reg", "gp", "loss_feat")
# the model-selection loss, a feature distance ten times the others' size: on their axis it flattened them all
OWN_AXIS = ("loss_feat",)
HEALTH_PANELS = (  # (title, history keys, reference line key in core.training.health.THRESHOLDS or None); hover says more
    ("recon_ratio", ("recon_ratio",), "collapsed_recon_ratio"),
    ("output_spread", ("output_spread",), "collapsed_output_spread"),
    ("e_change, g_change", ("e_change", "g_change"), "untrained_weight_change"),
    ("latent_norm (dashed: √d)", ("latent_norm",), None),
    ("w_estimate", ("w_estimate",), None),
)
MEANINGS = {
    "recon_ratio": "reconstruction MSE over that of predicting the training mean (1 = no better)",
    "output_spread": "spread of G(E(x)) across samples over the data's (0 = one output for all)",
    "e_change": "relative change of E's weights since initialisation",
    "g_change": "relative change of G's weights since initialisation",
    "latent_norm": "mean ||E(x)||",
    "w_estimate": "the critic's Wasserstein estimate E[D(x,x)] - E[D(x,G(E(x)))]",
}
_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf")


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _series(values: Sequence) -> tuple[list[int], list[Optional[float]]]:
    """x = epochs 1..n, y with non-finite values as gaps."""
    return list(range(1, len(values) + 1)), [float(v) if _finite(v) else None for v in values]


def loss_curves(history: dict, planned_epochs: Optional[int] = None, live: Sequence = (),
                keys: Sequence[str] = LOSS_KEYS, height: int = 420) -> go.Figure:
    """Per-epoch mean losses (markers joined by lines at epochs 1, 2, ...), and for a running job its recent
    per-step losses `live` [(fractional epoch, {name: value})] as thin lines. The axis spans the planned epochs.
    The losses of OWN_AXIS are drawn against a second y axis, on the right."""
    fig = go.Figure()
    n = 0
    for i, k in enumerate(k for k in keys if any(_finite(v) for v in history.get(k) or [])):
        colour = _COLOURS[i % len(_COLOURS)]
        x, y = _series(history[k])
        if k in OWN_AXIS:
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=f"{k} (right axis)", yaxis="y2",
                                     line=dict(color=colour, dash="dot"), marker=dict(size=5), connectgaps=False,
                                     hovertemplate=f"{k}, epoch %{{x}}: %{{y:.4g}}<extra></extra>"))
            n = max(n, len(x))
            continue
        n = max(n, len(x))
        steps = [(t, row[k]) for t, row in live if _finite(row.get(k))]
        if steps:
            fig.add_trace(go.Scatter(x=[t for t, _ in steps], y=[v for _, v in steps], mode="lines",
                                     name=f"{k} (steps)", line=dict(width=1, color=colour), opacity=0.35,
                                     showlegend=False,
                                     hovertemplate=f"{k} at epoch %{{x:.2f}}: %{{y:.4g}}<extra></extra>"))
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=k, line=dict(color=colour),
                                 marker=dict(size=5), connectgaps=False,
                                 hovertemplate=f"{k}, epoch %{{x}}: %{{y:.4g}}<extra></extra>"))
    if not fig.data and live:  # the first epoch of a running job: only its steps so far
        for i, k in enumerate(sorted({k for _, row in live for k in row})):
            steps = [(t, row[k]) for t, row in live if _finite(row.get(k))]
            fig.add_trace(go.Scatter(x=[t for t, _ in steps], y=[v for _, v in steps], mode="lines", name=k,
                                     line=dict(width=1.5, color=_COLOURS[i % len(_COLOURS)])))
    epoch_axis(fig, max(n, planned_epochs or 0, max((t for t, _ in live), default=0)))
    fig.update_yaxes(title_text="loss")
    own = [k for k in OWN_AXIS if any(_finite(v) for v in history.get(k) or [])]
    if own:
        fig.update_layout(yaxis2=dict(title=dict(text=", ".join(own), standoff=4), overlaying="y", side="right",
                                      showgrid=False, automargin=True, tickmode="auto", nticks=6))
    fig.update_layout(title=dict(text="Training losses per epoch", font=dict(size=14)), height=height,
                      margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", yanchor="top", y=-0.25, x=0, xanchor="left"))
    return fig


def has_health_curves(history: dict) -> bool:
    return any(_finite(v) for k in ("recon_ratio", "output_spread", "e_change") for v in history.get(k) or [])


def health_curves(history: dict, thresholds: Optional[dict] = None, latent_dim: Optional[int] = None,
                  planned_epochs: Optional[int] = None, height: int = 420) -> go.Figure:
    """The training-health figures per epoch (core.training.health): one small panel each, with the verdict's
    thresholds as dashed lines and sqrt(latent_dim), the radius the latent regulariser allows, beside the latent
    norm."""
    thresholds = thresholds or {}
    fig = make_subplots(rows=2, cols=3, subplot_titles=[p[0] for p in HEALTH_PANELS], horizontal_spacing=0.08,
                        vertical_spacing=0.2)
    n, lines = 0, []
    for i, (_, keys, ref) in enumerate(HEALTH_PANELS):
        row, col = divmod(i, 3)
        where = dict(row=row + 1, col=col + 1)
        for j, k in enumerate(keys):
            if not any(_finite(v) for v in history.get(k) or []):
                continue
            x, y = _series(history[k])
            n = max(n, len(x))
            fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=k, marker=dict(size=4),
                                     line=dict(color=_COLOURS[j]), showlegend=len(keys) > 1,
                                     hovertemplate=f"{k}, epoch %{{x}}: %{{y:.4g}}<br>{MEANINGS.get(k, '')}"
                                                   "<extra></extra>"), **where)
        radius = math.sqrt(latent_dim) if "latent_norm" in keys and latent_dim else None
        level = thresholds.get(ref) if ref else radius
        if _finite(level):  # one layout shape per panel, set at once: add_hline per panel cost 0.2 s per draw
            axis = "" if i == 0 else str(i + 1)
            lines.append(dict(type="line", xref=f"x{axis} domain", x0=0, x1=1, yref=f"y{axis}", y0=level, y1=level,
                              line=dict(dash="dash", width=1, color="#888")))
    fig.update_layout(shapes=lines)
    for i in range(len(HEALTH_PANELS)):
        # "epoch" only under a panel with none below it: the top row's titles sat on the subplot titles under
        # them; five ticks at most, so that a narrow panel's labels stay upright
        epoch_axis(fig, max(n, planned_epochs or 0), max_ticks=5, title=i + 3 >= len(HEALTH_PANELS),
                   row=i // 3 + 1, col=i % 3 + 1)
    fig.update_annotations(font_size=12)
    fig.update_layout(title=dict(text="Training health per epoch (dashed: the verdict's thresholds)",
                                 font=dict(size=14)), height=height, margin=dict(l=10, r=10, t=70, b=10),
                      legend=dict(orientation="h", yanchor="top", y=-0.15, x=1, xanchor="right"))
    return fig
