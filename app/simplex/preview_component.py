"""The draggable simplex's previews: a Streamlit custom component (components v2, inline HTML, CSS and JavaScript)
that shows, for each compared model, its decode of the preview-grid point nearest to the weights the draggable
simplex (`drag_component`) publishes in the browser while its point moves: no round trip to the server.

Its `data` holds only what changes with the models and the anchors: the grid (`data["grid"]`, each point's
weights times `data["n"]`) and per model a title and one PNG data URL per grid point. A rerun that leaves them
alone re-sends an identical element, which Streamlit's message cache (`global.minCachedMessageSize`) replaces by a
reference to the copy the browser holds: the tiles cross the network once per (models, anchors), not per weight
change. The two components meet in the page through the window event EVENT (and the last weights kept in
`window.__maesiSimplexWeights`), since either may render first. These strings are constants.
"""
from __future__ import annotations

import functools

NAME = "maesi_simplex_previews"
EVENT = "maesi-simplex-weights"  # the draggable simplex's JS dispatches it on window with {w, note}

HTML = """
<div class="sxp">
  <div class="sxp-status" aria-live="polite"></div>
  <div class="sxp-previews"></div>
</div>
"""

CSS = """
.sxp { font-family: var(--st-font, sans-serif); color: var(--st-text-color, #31333f); }
.sxp-status { text-align: center; color: #666; font-size: 0.75rem; min-height: 1.1em; margin: 0 0 0.2rem; }
.sxp-previews { display: flex; gap: 0.3rem; justify-content: center; }
.sxd-preview { margin: 0; text-align: center; position: relative; flex: 1 1 0; min-width: 36px; max-width: 80px; }
.sxd-preview img { width: 100%; aspect-ratio: 1; image-rendering: pixelated; border: 1px dashed #999;
                   box-sizing: border-box; display: block; }
.sxp.dragging .sxd-preview img { border-color: var(--st-primary-color, #1c6dd0); }
.sxd-preview figcaption { font-size: 0.65rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.sxd-tag { position: absolute; top: 1px; left: 1px; font-size: 0.6rem; background: rgba(255, 255, 255, 0.85);
           padding: 0 2px; border-radius: 2px; color: #333; }
"""

JS = r"""
const EVENT = "maesi-simplex-weights";

// the nearest point of the grid whose coordinates are multiples of 1/n: round, then fix the sum
function nearest(w, n) {
  const x = w.map((v) => v * n);
  const r = x.map(Math.round);
  let d = n - r.reduce((a, b) => a + b, 0);
  while (d !== 0) {
    let best = -1;
    for (let i = 0; i < r.length; i++) {
      const res = x[i] - r[i];
      if (d > 0 ? best < 0 || res > x[best] - r[best] : r[i] > 0 && (best < 0 || res < x[best] - r[best])) best = i;
    }
    r[best] += Math.sign(d);
    d -= Math.sign(d);
  }
  return r;
}

class Previews {
  constructor(parent) {
    this.root = parent.querySelector(".sxp");
    this.status = parent.querySelector(".sxp-status");
    this.box = parent.querySelector(".sxp-previews");
    this.listener = (e) => this.show(e.detail);
    window.addEventListener(EVENT, this.listener);
  }

  update(data) {
    if (data.grid_id !== this.gridId) {
      this.gridId = data.grid_id;
      this.n = data.n;
      this.m = data.grid.length ? data.grid[0].length : 0;
      this.index = new Map(data.grid.map((g, k) => [g.join(","), k]));
      this.tiles = data.models.map((model) => model.tiles);
      this.shown = -1;
      const figures = data.models.map((model, i) => {
        const fig = document.createElement("figure");
        fig.className = "sxd-preview";
        const img = document.createElement("img");
        img.dataset.model = String(i);
        img.alt = `${model.title}: preview`;
        const tag = document.createElement("span");
        tag.className = "sxd-tag";
        tag.textContent = "preview";
        const caption = document.createElement("figcaption");
        caption.textContent = model.title;
        caption.title = model.title;
        fig.append(img, tag, caption);
        return fig;
      });
      this.box.replaceChildren(...figures);
      this.images = figures.map((fig) => fig.querySelector("img"));
    }
    if (window.__maesiSimplexWeights) this.show(window.__maesiSimplexWeights);
  }

  show(detail) {
    const w = detail && detail.w;
    if (!this.index || !Array.isArray(w) || w.length !== this.m) return;  // another m: its grid is on its way
    const g = nearest(w, this.n);
    const k = this.index.get(g.join(","));
    if (k === undefined) return;
    if (k !== this.shown) {
      this.shown = k;
      this.images.forEach((img, i) => { img.src = this.tiles[i][k]; });
      this.root.dataset.preview = String(k);
    }
    this.root.classList.toggle("dragging", detail.note === "dragging");
    const point = "(" + g.map((v) => (v / this.n).toFixed(2)).join(", ") + ")";
    this.status.textContent = (detail.note === "sent" ? "Sent: the exact decodes are beside; previews" : "Previews")
      + ` at the grid point ${point}`;
  }
}

export default function (component) {
  const { parentElement, data } = component;
  // Streamlit calls this again with every new `data` on the same element: one controller per element
  let previews = parentElement.__maesiPreviews;
  if (!previews) {
    previews = new Previews(parentElement);
    parentElement.__maesiPreviews = previews;
  }
  previews.update(data);
  return () => window.removeEventListener(EVENT, previews.listener);
}
"""


@functools.cache
def _renderer():
    import streamlit as st

    return st.components.v2.component(NAME, html=HTML, css=CSS, js=JS)


def mount(data: dict, key: str) -> None:
    """The previews with `data` = {"grid_id", "n", "grid", "models": [{"title", "tiles"}]}: keep it identical
    between reruns that change only the weights, so that Streamlit sends it once."""
    _renderer()(key=key, data=data)
