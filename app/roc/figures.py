"""The ROC page's figures (pure: no Streamlit): ROC curves with the AUC in the legend, the per-class AUC (or
F1) bars beside the paper's figures, and the score histogram of normal and anomalous test samples."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from app.shared.figures import ANOMALY_COLOUR, NORMAL_COLOUR, titled_layout
from app.shared.labels import INTERPOLATION_COLOURS

# the bars' colour by the interpolation a column name mentions (the ROC table's column names)
_COLUMN_COLOURS = (("none", INTERPOLATION_COLOURS[0]), ("2-point", INTERPOLATION_COLOURS[2]),
                   ("3-point", INTERPOLATION_COLOURS[3]), ("ACAI", INTERPOLATION_COLOURS["acai"]))


def roc_figure(curves: list[dict]) -> go.Figure:
    """ROC curves [{"name", "fpr", "tpr", "auc", "dash"?, "color"?}] with the AUC in the legend."""
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
    fig = titled_layout(fig, "ROC on the test set", 460)
    fig.update_layout(legend=dict(orientation="v", yanchor="bottom", y=0.02, x=0.98, xanchor="right",
                                  bgcolor="rgba(255,255,255,0.7)"))
    return fig


def score_histogram(scores: np.ndarray, y: np.ndarray, threshold: float, bins: int = 40) -> go.Figure:
    """Overlaid density histograms of the normal (y = 0) and anomalous (y = 1) scores on the same `bins` bins,
    each legend entry with its count, and the threshold as a dashed line."""
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
    return titled_layout(fig, "Scores of normal and anomalous test samples", 380)


def auc_bars(df, value_cols: Sequence[str], title: str) -> go.Figure:
    """Grouped bars: one group per anomaly class (df["class"]), one bar per column of value_cols; the paper's
    columns hatched and lighter."""
    fig = go.Figure()
    for col in value_cols:
        if col not in df or df[col].isna().all():
            continue
        colour = next((c for key, c in _COLUMN_COLOURS if key in col), None)
        fig.add_trace(go.Bar(x=df["class"].astype(str), y=df[col], name=col, marker_color=colour,
                             marker_pattern_shape="/" if col.startswith("paper") else None,
                             opacity=0.55 if col.startswith("paper") else 1.0))
    fig.update_layout(barmode="group")
    fig.update_xaxes(title="anomaly class", type="category")
    fig.update_yaxes(title=title, range=[0, 1.02])
    fig = titled_layout(fig, "", 400)
    fig.update_layout(legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0), margin=dict(t=60))
    return fig
