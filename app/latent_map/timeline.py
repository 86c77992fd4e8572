"""A training timeline as a sequence of latent maps (pure: no Streamlit), and its figures. All snapshots are
placed on ONE PCA, fitted on the last snapshot (the trained encoder's principal axes), so the frames share their
axes and the motion between epochs is real rather than a new projection's sign flips and rotations."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from app.shared.analysis import pca_place, project
from app.shared.figures import ANOMALY_COLOUR, NORMAL_COLOUR, epoch_axis, titled_layout


def timeline_layout(epochs: np.ndarray, Z: np.ndarray, indices: np.ndarray, y: np.ndarray) -> dict:
    """epochs (T,), Z (T, n, d) latents of the test samples `indices` (n,), y (n,) their labels (1 = anomaly).
    Returns {"epochs", "indices", "y", "xy" (T, n, 2), "explained" (2,) of the last snapshot's PCA,
    "silhouette" (T,) of normal vs anomaly in the full latent space (NaN with a single label)}."""
    from sklearn.metrics import silhouette_score

    Z = np.asarray(Z, dtype=np.float64)
    y = np.asarray(y).astype(int)
    pca = project(Z[-1], "PCA")
    xy = np.stack([pca_place(pca, z) for z in Z])
    two_labels = len(np.unique(y)) == 2
    # a seeded sample of at most 500 keeps a long timeline to a second; the same sample for every epoch
    sample = dict(sample_size=min(len(y), 500), random_state=0)
    sil = np.array([float(silhouette_score(z, y, **sample)) if two_labels else np.nan for z in Z])
    return {"epochs": np.asarray(epochs), "indices": np.asarray(indices), "y": y, "xy": xy,
            "explained": np.asarray(pca["explained"]), "silhouette": sil}


def timeline_figure(layout: dict, height: int = 460) -> go.Figure:
    """A training timeline (`timeline_layout`) as an animated latent map: one Plotly frame per stored epoch, a
    play button and an epoch slider that scrub in the browser (no rerun), fixed axes."""
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
    frames = [dict(data=traces(t), name=str(int(e) + 1)) for t, e in enumerate(epochs)]
    return go.Figure(data=traces(last), frames=frames, layout=dict(
        height=height,
        xaxis=dict(range=[lo[0] - pad[0], hi[0] + pad[0]], showticklabels=False, zeroline=False,
                   title=dict(text=names[0])),
        yaxis=dict(range=[lo[1] - pad[1], hi[1] + pad[1]], showticklabels=False, zeroline=False,
                   title=dict(text=names[1])),
        # the legend top left, clear of the modebar (top right); the play button and slider take the bottom band
        margin=dict(l=10, r=10, t=30, b=110), legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0,
                                                          xanchor="left"),
        updatemenus=[dict(type="buttons", direction="left", x=0, y=0, xanchor="left", yanchor="top",
                          pad=dict(t=45), showactive=False,
                          # words, not "▶" / "❚❚": a glyph missing from the system's fonts is an empty box
                          buttons=[dict(label="Play", method="animate", args=[None, play]),
                                   dict(label="Pause", method="animate", args=[[None], step])])],
        sliders=[dict(active=last, x=0.2, len=0.8, y=0, yanchor="top", pad=dict(t=30),
                      currentvalue=dict(prefix="epoch ", font=dict(size=12)),
                      steps=[dict(label=str(int(e) + 1), method="animate", args=[[str(int(e) + 1)], step])
                             for e in epochs])]))


def timeline_silhouette(layout: dict, height: int = 220) -> go.Figure:
    """The silhouette of normal vs anomaly per stored epoch: does the latent space separate while training?"""
    epochs = np.asarray(layout["epochs"]) + 1  # stored from 0; shown from 1, as the slider and the Models page
    fig = go.Figure(go.Scatter(x=epochs, y=layout["silhouette"], mode="lines+markers",
                               hovertemplate="epoch %{x}: silhouette %{y:.3f}<extra></extra>"))
    epoch_axis(fig, int(epochs.max()) if len(epochs) else 1)
    fig.update_yaxes(title="silhouette")
    fig = titled_layout(fig, "Normal vs anomaly separation by epoch", height)
    fig.update_layout(margin=dict(l=10, r=10, t=40, b=10))
    return fig
