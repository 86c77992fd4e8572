"""The Latent map's projector scatter: a Streamlit custom component (components v2: inline HTML, CSS and
JavaScript, no build step) drawing one model's 2-D map as SVG points, coloured as the page colours them (normal vs
anomaly, by class, or by anomaly score). Hovering a point shows its sample beside the pointer (a small PNG for an
image dataset, feature bars for a table); a click selects the point, a shift-click adds it to (or takes it out of)
the selection, which goes back to Python as the state value `selection` = {"indices": [...] in the order they were
picked, "focus": the clicked test index, "nonce"}.

The samples travel apart from the points: a second component, the store (`mount_store`), holds the thumbnails (PNG
data URLs) or feature bars of the points shown and publishes them in `window.__maesiMapSamples[store]`; its `data`
stays identical while the selection changes, so the samples are sent once per sample of the test set, while each
map's own `data` (coordinates, colours, the selection) is small. Everything the user sees comes from `data`; these
strings are constants.
"""
from __future__ import annotations

import functools
from typing import Optional, Sequence

import numpy as np

NAME = "maesi_latent_projector"
STORE_NAME = "maesi_latent_samples"
MAX_SAMPLES = 2000  # points whose sample travels to the browser (the page shows at most this many by default)
CLASS_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"]
VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]

HTML = """
<div class="lmp">
  <svg class="lmp-svg" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 400 400"></svg>
  <div class="lmp-legend"></div>
  <div class="lmp-tip" hidden></div>
</div>
"""

CSS = """
.lmp { font-family: var(--st-font, sans-serif); font-size: 0.8rem; color: var(--st-text-color, #31333f);
       user-select: none; -webkit-user-select: none; }
.lmp-svg { display: block; width: 100%; max-height: 430px; border: 1px solid #e6e6e6; border-radius: 0.3rem; }
.lmp-point { stroke: none; opacity: 0.8; cursor: pointer; }
.lmp-point:hover { stroke: #000; stroke-width: 1; opacity: 1; }
.lmp-point.selected { stroke: #000; stroke-width: 2; opacity: 1; }
.lmp-point.focus { stroke: #ffbf00; stroke-width: 2.5; }
.lmp-axis { font-size: 11px; fill: #666; }
.lmp-legend { display: flex; flex-wrap: wrap; gap: 0.2rem 0.8rem; margin-top: 0.2rem; }
.lmp-legend span::before { content: ""; display: inline-block; width: 0.6rem; height: 0.6rem; border-radius: 50%;
                           margin-right: 0.25rem; background: var(--c); }
.lmp-tip { position: fixed; z-index: 1000; pointer-events: none; background: white; border: 1px solid #999;
           border-radius: 0.3rem; padding: 0.25rem; box-shadow: 0 2px 6px rgba(0, 0, 0, 0.25); max-width: 260px; }
.lmp-tip img { display: block; width: 96px; height: 96px; image-rendering: pixelated; }
.lmp-tip .lmp-bars { display: block; width: 240px; height: 90px; }
.lmp-store { display: none; }
"""

JS = r"""
const NS = "http://www.w3.org/2000/svg";
const SIZE = 400, PAD = 12;

function node(tag, attrs, parent) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (parent) parent.appendChild(el);
  return el;
}

function bars(values, names) {
  const svg = node("svg", { class: "lmp-bars", viewBox: "0 0 240 90" });
  const w = 240 / Math.max(values.length, 1);
  values.forEach((v, i) => {
    const h = Math.max(1, 80 * v);
    const bar = node("rect", { x: i * w + 0.5, y: 84 - h, width: Math.max(w - 1, 1), height: h, fill: "#3182bd" }, svg);
    node("title", {}, bar).textContent = `${names[i]}: ${v.toFixed(2)}`;
  });
  node("line", { x1: 0, y1: 84.5, x2: 240, y2: 84.5, stroke: "#999" }, svg);
  return svg;
}

class Projector {
  constructor(parent) {
    this.root = parent.querySelector(".lmp");
    this.svg = parent.querySelector(".lmp-svg");
    this.tip = parent.querySelector(".lmp-tip");
    this.legend = parent.querySelector(".lmp-legend");
    this.selected = [];
    this.focus = null;
    this.svg.addEventListener("pointermove", (e) => this.hover(e));
    this.svg.addEventListener("pointerleave", () => { this.tip.hidden = true; });
    this.svg.addEventListener("click", (e) => this.click(e));
  }

  update(data, setStateValue) {
    this.setStateValue = setStateValue;
    this.data = data;
    const layout = JSON.stringify([data.xy, data.colours, data.view, data.axes]);
    if (layout !== this.layout) this.build(data, layout);
    const server = JSON.stringify([data.selected, data.focus]);
    if (server !== this.server) {  // the server's selection (from this map or another): adopt it
      this.server = server;
      this.selected = data.selected.slice();
      this.focus = data.focus;
    }
    this.mark();
  }

  build(data, layout) {
    this.layout = layout;
    this.svg.replaceChildren();
    const [x0, x1, y0, y1] = data.view;
    const sx = (SIZE - 2 * PAD) / (x1 - x0 || 1), sy = (SIZE - 2 * PAD) / (y1 - y0 || 1);
    node("text", { x: SIZE / 2, y: SIZE - 2, "text-anchor": "middle", class: "lmp-axis" }, this.svg)
      .textContent = data.axes[0];
    node("text", { x: 10, y: SIZE / 2, "text-anchor": "middle", class: "lmp-axis",
                   transform: `rotate(-90 10 ${SIZE / 2})` }, this.svg).textContent = data.axes[1];
    this.circles = new Map();
    for (const row of data.order) {
      const [x, y] = data.xy[row];
      if (x < x0 || x > x1 || y < y0 || y > y1) continue;  // zoomed out of the view
      const c = node("circle", { cx: (PAD + (x - x0) * sx).toFixed(1), cy: (SIZE - PAD - (y - y0) * sy).toFixed(1),
                                 r: 3.5, fill: data.colours[row], class: "lmp-point" }, this.svg);
      c.dataset.row = row;
      c.dataset.index = data.index[row];
      this.circles.set(data.index[row], c);
    }
    this.legend.replaceChildren(...data.legend.map(([name, colour]) => {
      const item = document.createElement("span");
      item.style.setProperty("--c", colour);
      item.textContent = name;
      return item;
    }));
  }

  mark() {
    for (const c of this.root.querySelectorAll(".lmp-point.selected")) c.classList.remove("selected", "focus");
    for (const j of this.selected) {
      const c = this.circles.get(j);
      if (!c) continue;
      c.classList.add("selected");
      c.classList.toggle("focus", j === this.focus);
      this.svg.appendChild(c);  // on top
    }
    this.root.dataset.selected = JSON.stringify(this.selected);
    this.root.dataset.focus = this.focus === null ? "" : String(this.focus);
  }

  hover(e) {
    const c = e.target.closest ? e.target.closest(".lmp-point") : null;
    if (!c) { this.tip.hidden = true; return; }
    const row = Number(c.dataset.row), d = this.data;
    const store = (window.__maesiMapSamples || {})[d.store] || {};
    const head = document.createElement("div");
    head.textContent = `#${d.index[row]} · ${d.labels[row]} · score ${d.scores[row].toFixed(3)}`;
    const parts = [head];
    if (store.thumbs && store.thumbs[row]) {
      const img = document.createElement("img");
      img.src = store.thumbs[row];
      img.alt = `sample #${d.index[row]}`;
      parts.push(img);
    } else if (store.bars && store.bars[row]) {
      parts.push(bars(store.bars[row], store.names));
    }
    this.tip.replaceChildren(...parts);
    this.tip.hidden = false;
    const w = this.tip.offsetWidth, h = this.tip.offsetHeight;
    const left = e.clientX + 14 + w > window.innerWidth ? e.clientX - 14 - w : e.clientX + 14;
    const top = e.clientY + 14 + h > window.innerHeight ? e.clientY - 14 - h : e.clientY + 14;
    this.tip.style.left = `${Math.max(0, left)}px`;
    this.tip.style.top = `${Math.max(0, top)}px`;
  }

  click(e) {
    const c = e.target.closest ? e.target.closest(".lmp-point") : null;
    if (!c) return;
    const j = Number(c.dataset.index);
    if (e.shiftKey) {
      const at = this.selected.indexOf(j);
      if (at >= 0) this.selected.splice(at, 1); else this.selected.push(j);
    } else {
      this.selected = [j];
    }
    this.focus = this.selected.includes(j) ? j : (this.selected[this.selected.length - 1] ?? null);
    this.mark();
    this.setStateValue("selection", { indices: this.selected.slice(), focus: this.focus,
                                      nonce: Date.now() + Math.random() });
  }
}

function store(data) {
  window.__maesiMapSamples = window.__maesiMapSamples || {};
  window.__maesiMapSamples[data.store] = data;
}

export default function (component) {
  const { parentElement, data, setStateValue } = component;
  if (data.kind === "store") { store(data); return; }
  let projector = parentElement.__maesiProjector;
  if (!projector) {
    projector = new Projector(parentElement);
    parentElement.__maesiProjector = projector;
  }
  projector.update(data, setStateValue);
}
"""

STORE_HTML = '<div class="lmp-store"></div>'


def colours_of(y: np.ndarray, classes: Sequence[str], scores: np.ndarray,
               colour_by: str) -> tuple[list[str], list[list[str]]]:
    """Each point's colour and the legend [[name, colour]], as `app.shared.figures.latent_figure` colours them."""
    from app.shared.figures import ANOMALY_COLOUR, NORMAL_COLOUR
    from app.shared.labels import natural_key

    classes = np.asarray(classes).astype(str)
    if colour_by == "class":
        names = sorted(np.unique(classes), key=natural_key)
        lookup = {c: CLASS_COLOURS[i % len(CLASS_COLOURS)] for i, c in enumerate(names)}
        return [lookup[c] for c in classes], [[c, lookup[c]] for c in names]
    if colour_by == "score":
        s = np.asarray(scores, dtype=np.float64)
        lo, hi = np.nanmin(s), np.nanmax(s)
        t = np.clip(np.nan_to_num((s - lo) / (hi - lo or 1.0)), 0, 1) * (len(VIRIDIS) - 1)
        return [VIRIDIS[int(round(v))] for v in t], [[f"score {lo:.2f}", VIRIDIS[0]], [f"score {hi:.2f}", VIRIDIS[-1]]]
    y = np.asarray(y)
    legend = [[n, c] for n, c, m in (("normal", NORMAL_COLOUR, y == 0), ("anomaly", ANOMALY_COLOUR, y == 1)) if m.any()]
    return [ANOMALY_COLOUR if v == 1 else NORMAL_COLOUR for v in y], legend


def view_of(xy: np.ndarray, zoom: bool) -> list[float]:
    """[x0, x1, y0, y1]: every point, or (zoom) the 1-99% quantiles, padded."""
    q = [0.01, 0.99] if zoom else [0.0, 1.0]
    out = []
    for col in (0, 1):
        lo, hi = np.quantile(xy[:, col], q)
        pad = (0.15 if zoom else 0.04) * (hi - lo or 1.0)
        out += [float(lo - pad), float(hi + pad)]
    return out


def map_data(xy: np.ndarray, y: np.ndarray, classes: Sequence[str], scores: np.ndarray, index: np.ndarray,
             colour_by: str, zoom: bool, axes: Sequence[str], store: str, selected: Sequence[int],
             focus: Optional[int]) -> dict:
    """One map's `data`: rows in the order of `index` (the test indices shown), anomalies drawn last."""
    colours, legend = colours_of(y, classes, scores, colour_by)
    y = np.asarray(y)
    kinds = np.where(y == 1, "anomaly", "normal")
    labels = [f"class {c} · {k}" for c, k in zip(np.asarray(classes).astype(str), kinds)]
    return {"kind": "map", "store": store, "xy": np.round(np.asarray(xy, dtype=np.float64), 5).tolist(),
            "index": [int(j) for j in index], "colours": colours, "legend": legend, "labels": labels,
            "scores": [float(s) for s in np.asarray(scores, dtype=np.float64)],
            "order": np.argsort(y == 1, kind="stable").tolist(), "view": view_of(np.asarray(xy), zoom),
            "axes": list(axes), "selected": [int(j) for j in selected],
            "focus": None if focus is None else int(focus)}


def store_data(store: str, X: np.ndarray, tabular: bool, input_range=None, names=None) -> dict:
    """The samples of the points shown (rows in the map's order, at most MAX_SAMPLES): PNG data URLs of the
    images enlarged to about 64 px, or each row's features scaled to [0, 1] over the points shown."""
    from app.shared import images

    X = np.asarray(X)[:MAX_SAMPLES]
    if tabular:
        F = X.reshape(len(X), -1).astype(np.float64)
        lo, hi = F.min(axis=0), F.max(axis=0)
        scaled = np.round((F - lo) / np.where(hi > lo, hi - lo, 1.0), 3)
        return {"kind": "store", "store": store, "bars": scaled.tolist(),
                "names": list(names) if names is not None else [f"f{i}" for i in range(F.shape[1])]}
    thumbs = [images.png_data_url(images.upscale(images.to_uint8_image(x, input_range), 64)) for x in X]
    return {"kind": "store", "store": store, "thumbs": thumbs}


@functools.cache
def _renderer():
    import streamlit as st

    return st.components.v2.component(NAME, html=HTML, css=CSS, js=JS)


@functools.cache
def _store_renderer():
    import streamlit as st

    return st.components.v2.component(STORE_NAME, html=STORE_HTML, css=CSS, js=JS)


def mount(data: dict, key: str, on_change) -> None:
    """One model's map (`map_data`); `on_change` runs when the user's selection changes (`sent_selection`)."""
    _renderer()(key=key, data=data, on_selection_change=on_change)


def mount_store(data: dict, key: str) -> None:
    """The samples of a map's points (`store_data`), published in the browser for every map that names it."""
    _store_renderer()(key=key, data=data)


def sent_selection(value) -> Optional[tuple[list[int], Optional[int]]]:
    """(indices in picking order, the clicked one) from a map's session value, None when absent."""
    sent = value.get("selection") if hasattr(value, "get") else None
    if not isinstance(sent, dict) or not isinstance(sent.get("indices"), (list, tuple)):
        return None
    focus = sent.get("focus")
    return [int(j) for j in sent["indices"]], (None if focus is None else int(focus))
