"""The Latent map's panels (Streamlit): the sample inspector beside the maps, the labelled thumbnails of a
selection, and the training timeline of runs that stored one (projected once per server and timeline file). The
page (`app/latent_map/page.py`) draws the maps and passes each model's `MapPanel`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import pandas as pd
import streamlit as st

from app.latent_map import keys, timeline
from app.shared import caches, display, figures, images
from app.shared.labels import interpolation_label

THUMBS_PER_ROW = 6
MAX_THUMBS = 12


@dataclass
class MapPanel:
    """One model's map: its entry, model, protocol split, test scores and test class names."""
    entry: dict
    model: object
    split: object
    scores: np.ndarray
    classes: np.ndarray

    @property
    def title(self) -> str:
        return interpolation_label(self.entry["interpolation"])


def _sample_line(panels: list[MapPanel], j: int) -> str:
    p0 = panels[0]
    kind = "anomaly" if p0.split.y_test[j] == 1 else "normal"
    return f"#{j} · class {p0.classes[j]} · {kind}"


def inspector(panels: list[MapPanel], selected: list[int], tabular: bool, feature_names) -> None:
    """The clicked (or chosen) sample beside the maps: the sample, each model's reconstruction and score.
    Streamlit's charts report clicks and selections, not hovers, so the inspector follows the last click."""
    st.markdown("##### Sample")
    if not selected:
        st.caption("Click a point on any map (shift-click to add more) to see the sample here with each "
                   "model's reconstruction and score. Hovering shows its index, class and score.")
        return
    j = int(st.selectbox("Selected sample", selected, key=keys.INSPECTED, format_func=lambda i: _sample_line(panels, i))
            if len(selected) > 1 else selected[0])
    p0 = panels[0]
    x = p0.split.X_test[j]
    if tabular:
        names = feature_names or [f"f{i}" for i in range(len(x))]
        series = {"sample": x, **{f"reconstruction ({p.title})": p.model.reconstruct(x[None])[0] for p in panels}}
        display.show_figure(figures.feature_bars(names, series, _sample_line(panels, j)), key=keys.INSPECTED_BARS)
    else:
        rng = p0.model.config_.input_range
        with st.container(key=keys.INSPECTED_IMAGE):
            display.show_png(images.upscale(images.to_uint8_image(x, rng), 160),
                             caption=f"**{_sample_line(panels, j)}**")
        recon = [p.model.reconstruct(x[None])[0] for p in panels]
        display.show_png(images.image_grid([recon], rng, cell=72),
                         caption="reconstructions G(E(x)) by " + ", ".join(p.entry["name"] for p in panels))
    st.dataframe(pd.DataFrame({"model": [p.entry["name"] for p in panels],
                               "score": [float(p.scores[j]) for p in panels],
                               "flagged": [bool(p.scores[j] > p.model.threshold_) for p in panels]}),
                 hide_index=True, column_config={"score": st.column_config.NumberColumn(format="%.3f"),
                                                 "flagged": st.column_config.CheckboxColumn(
                                                     "> thr.", help="above the model's threshold")})


def thumbnails(panels: list[MapPanel], selected: list[int], tabular: bool) -> None:
    """The selection as labelled thumbnails: each sample over its reconstructions, with its index, class and
    every model's score."""
    show = selected[:MAX_THUMBS]
    p0 = panels[0]
    st.markdown(f"##### {len(selected)} selected sample(s)" + (f", the first {len(show)}" if len(selected) > len(show)
                                                                  else "") + ": ringed on every map")
    if tabular:
        st.dataframe(pd.DataFrame({"test index": show, "class": p0.classes[show], "anomaly": p0.split.y_test[show],
                                   **{f"score {p.title}": p.scores[show] for p in panels}}), hide_index=True,
                     column_config={f"score {p.title}": st.column_config.NumberColumn(format="%.3f")
                                    for p in panels})
        return
    st.caption("Each tile: the sample (top), then its reconstruction by " + ", ".join(p.entry["name"] for p in panels)
               + "; below it the test index, the class and the models' scores in that order.")
    X = p0.split.X_test[show]
    recons = [p.model.reconstruct(X) for p in panels]
    rng = p0.model.config_.input_range
    for start in range(0, len(show), THUMBS_PER_ROW):
        cols = st.columns(THUMBS_PER_ROW)
        for col, k in zip(cols, range(start, min(start + THUMBS_PER_ROW, len(show)))):
            j = show[k]
            column = [[X[k]]] + [[r[k]] for r in recons]
            scores = " / ".join(f"{p.scores[j]:.2f}" for p in panels)
            display.show_png(images.image_grid(column, rng, cell=64), target=col,
                             caption=f"**#{j}** · class {p0.classes[j]}  \nscores {scores}")


def timeline_section(entries: list[dict]) -> None:
    """Runs that stored a training timeline: their test latents by epoch on one PCA, animated (Plotly frames:
    play, or drag the epoch slider; no rerun), with the run's health verdict beside it."""
    from core.training.health import describe

    st.markdown("##### Training timeline", help="Snapshots of a fixed sample of test latents taken while the model "
                "trained (core.training.timeline), all placed on the PCA of the last snapshot so that the axes "
                "stay put.")
    layouts = [(e, stored_timeline_layout(e)) for e in entries]
    with_timeline = [(e, lay) for e, lay in layouts if lay is not None]
    if not with_timeline:
        st.caption("None of the selected models stored a training timeline (snapshots of its test latents while "
                   "training). Runs trained on the **Models** page store one; the shipped checkpoints do not.")
        return
    missing = [e["name"] for e, lay in layouts if lay is None]
    if missing:
        st.caption("No timeline stored for " + ", ".join(f"`{n}`" for n in missing) + ".")
    for i, (entry, lay) in enumerate(with_timeline):
        title = interpolation_label(entry["interpolation"])
        st.markdown(f"**{title}** · `{entry['name']}` {display.health_badges(entry)}")
        if "error" in lay:
            st.warning(f"The timeline of {entry['name']} cannot be read: {lay['error']}")
            continue
        left, right = st.columns([1.6, 1])
        with left:
            display.show_figure(timeline.timeline_figure(lay), key=keys.timeline_chart(i, entry["name"]))
            st.caption(f"{len(lay['epochs'])} snapshots of {lay['xy'].shape[1]} test latents, epochs "
                       f"{int(lay['epochs'][0]) + 1} to {int(lay['epochs'][-1]) + 1}. *Play* plays them; the slider "
                       "scrubs. Red = normal, blue = anomaly.")
        with right:
            health = caches.model(entry["path"]).health_ or {}  # loaded already for its map
            verdict = health.get("verdict") or "not recorded"
            st.metric("training health", verdict, help="core.training.health: ok, untrained (E and G barely moved), "
                      "collapsed (reconstruction no better than the mean, or no spread), or diverged.")
            st.caption(describe(health))
            if np.isfinite(lay["silhouette"]).any():
                display.show_figure(timeline.timeline_silhouette(lay),
                                    key=keys.timeline_silhouette_chart(i, entry["name"]))
            else:  # one label only (data without anomalies): there is no separation to follow
                st.caption("No normal-vs-anomaly separation by epoch: the test sample holds no labelled anomaly.")


@st.cache_data(show_spinner="Projecting the training timeline…", max_entries=32)
def _stored_timeline_layout(path: str, mtime_ns: int, timeline_mtime_ns: int) -> Optional[dict]:
    from core.training.timeline import TimelineError, load_timeline

    del mtime_ns, timeline_mtime_ns  # only part of the cache key
    try:
        epochs, Z, idx = load_timeline(path)
    except TimelineError as e:
        return None if "has no timeline" in str(e) else {"error": str(e)}
    y = caches.split_for(caches.entry_of(path)).y_test
    if idx.max(initial=-1) >= len(y):
        return {"error": "the timeline's test indices do not fit this run's test split"}
    return timeline.timeline_layout(epochs, Z, idx, y[idx])


def stored_timeline_layout(entry: dict) -> Optional[dict]:
    """The run's stored training timeline projected on one PCA (`timeline.timeline_layout`): None when the run has
    none, {"error": ...} when its file is unreadable; once per server, checkpoint and timeline file."""
    from core.training.timeline import timeline_path

    return _stored_timeline_layout(entry["path"], caches.mtime(entry["path"]),
                                   caches.mtime(str(timeline_path(entry["path"]))))
