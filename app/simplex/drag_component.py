"""The Simplex explorer's draggable simplex: a Streamlit custom component (components v2: inline HTML, CSS and
JavaScript, no build step). A triangle for m = 3 anchors or a segment for m = 2, its vertices labelled with the
anchors' thumbnails, and a point the user drags (pointer events: mouse, pen and touch) or moves with the arrow
keys (the component focused; Shift for a larger step), the weights shown as numbers that can be typed.

Every move is published in the browser (the window event `preview_component.EVENT`), where the previews
component shows each model's decode of the nearest grid point at once: no round trip to the server. On release
(and 250 ms after the last arrow key, or on a typed value) the exact weights go back to Python as the state value
`weights` = {"w": [...], "nonce": ...}; the server stores them in the session (`app.simplex.state`) and shows
the exact decode, its score and D_inter's readout.

`data["rev"]` changes when the weights change on the server by other means (a slider, a click on a heat map, a new
number of anchors): the component then adopts `data["weights"]`; otherwise it keeps its own, which may be ahead of
the server. Everything the user sees comes from `data`; these strings are constants.
"""
from __future__ import annotations

import functools

NAME = "maesi_simplex_drag"

HTML = """
<div class="sxd" tabindex="0" role="group"
     aria-label="Simplex weights: drag the point, or use the arrow keys (Shift: a larger step)">
  <svg class="sxd-svg" xmlns="http://www.w3.org/2000/svg"></svg>
  <div class="sxd-weights"></div>
</div>
"""

CSS = """
.sxd { font-family: var(--st-font, sans-serif); font-size: 0.85rem; color: var(--st-text-color, #31333f);
       outline: none; border-radius: 0.5rem; padding: 0.25rem; user-select: none; -webkit-user-select: none; }
.sxd:focus-visible, .sxd:focus { box-shadow: 0 0 0 2px var(--st-primary-color, #1c6dd0); }
.sxd-svg { display: block; width: 100%; max-width: 300px; margin: 0 auto; touch-action: none; cursor: crosshair; }
.sxd-shape { fill: rgba(28, 109, 208, 0.06); stroke: #555; stroke-width: 1.5; }
.sxd-segment { stroke: #555; stroke-width: 3; stroke-linecap: round; }
.sxd-hit { fill: transparent; stroke: transparent; stroke-width: 24; }
.sxd-thumb-frame { fill: white; stroke: #999; stroke-width: 1; }
.sxd-thumb { image-rendering: pixelated; }
.sxd-label { font-size: 12px; fill: #444; }
.sxd-point { fill: #ffbf00; stroke: black; stroke-width: 1.5; cursor: grab; }
.sxd.dragging .sxd-point { cursor: grabbing; r: 11; }
.sxd-weights { display: grid; grid-template-columns: repeat(auto-fit, minmax(3.2rem, 1fr)); gap: 0.3rem;
               margin-top: 0.3rem; }
.sxd-weights label { display: flex; flex-direction: column; align-items: center; font-size: 0.75rem; }
.sxd-weights input { width: 100%; box-sizing: border-box; font: inherit; font-size: 0.8rem; padding: 0.1rem 0.15rem;
                     border: 1px solid var(--st-border-color, #ccc); border-radius: 0.25rem; }
"""

JS = r"""
const NS = "http://www.w3.org/2000/svg";
const EVENT = "maesi-simplex-weights";  // preview_component.EVENT
const THUMB = 34;
// viewBox, vertices (m = 3: top, bottom left, bottom right; m = 2: left, right) and the thumbnails' centres
const GEOMETRY = {
  3: { box: [280, 286], v: [[140, 56], [38, 232], [242, 232]], t: [[140, 22], [38, 264], [242, 264]] },
  2: { box: [280, 118], v: [[40, 84], [240, 84]], t: [[40, 36], [240, 36]] },
};
// arrow key -> direction of the move in weight space (sums to 0: the weights stay on the simplex)
const DIRECTIONS = {
  3: { ArrowRight: [0, -1, 1], ArrowLeft: [0, 1, -1], ArrowUp: [1, -0.5, -0.5], ArrowDown: [-1, 0.5, 0.5] },
  2: { ArrowRight: [-1, 1], ArrowUp: [-1, 1], ArrowLeft: [1, -1], ArrowDown: [1, -1] },
};

function svg(tag, attrs, parent) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

function onSimplex(w) {
  const c = w.map((v) => (Number.isFinite(v) && v > 0 ? v : 0));
  const s = c.reduce((a, b) => a + b, 0);
  return s > 0 ? c.map((v) => v / s) : c.map(() => 1 / c.length);
}

class Simplex {
  constructor(parent) {
    this.root = parent.querySelector(".sxd");
    this.svg = parent.querySelector(".sxd-svg");
    this.weightsBox = parent.querySelector(".sxd-weights");
    this.dragging = false;
    this.timer = null;
    this.rev = undefined;
    this.svg.addEventListener("pointerdown", (e) => this.down(e));
    this.svg.addEventListener("pointermove", (e) => this.dragging && this.moveTo(e));
    this.svg.addEventListener("pointerup", (e) => this.up(e));
    this.svg.addEventListener("pointercancel", (e) => this.up(e));
    this.root.addEventListener("keydown", (e) => this.key(e));
  }

  update(data, setStateValue) {
    this.setStateValue = setStateValue;
    const layout = JSON.stringify([data.m, data.labels, data.thumbs]);
    if (layout !== this.layout) this.buildShape(data, layout);
    if (data.rev !== this.rev) {  // the server's weights changed by other means: follow them
      this.rev = data.rev;
      if (!this.dragging && this.timer === null) this.w = onSimplex(data.weights);
    }
    if (!this.w || this.w.length !== data.m) this.w = onSimplex(data.weights);
    this.keyStep = data.key_step;
    this.bigStep = data.big_step;
    this.render(this.dragging ? "dragging" : "");
  }

  buildShape(data, layout) {
    this.layout = layout;
    this.m = data.m;
    this.geo = GEOMETRY[data.m];
    const [W, H] = this.geo.box;
    this.svg.replaceChildren();
    this.svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    const v = this.geo.v;
    if (this.m === 3) {
      const pts = v.map((p) => p.join(",")).join(" ");
      svg("polygon", { points: pts, class: "sxd-hit" }, this.svg);
      svg("polygon", { points: pts, class: "sxd-shape" }, this.svg);
    } else {
      svg("line", { x1: v[0][0], y1: v[0][1], x2: v[1][0], y2: v[1][1], class: "sxd-hit" }, this.svg);
      svg("line", { x1: v[0][0], y1: v[0][1], x2: v[1][0], y2: v[1][1], class: "sxd-segment" }, this.svg);
    }
    this.geo.t.forEach(([x, y], i) => {
      const thumb = data.thumbs && data.thumbs[i];
      if (thumb) {
        const at = { x: x - THUMB / 2, y: y - THUMB / 2, width: THUMB, height: THUMB };
        svg("rect", { ...at, class: "sxd-thumb-frame" }, this.svg);
        const img = svg("image", { ...at, class: "sxd-thumb" }, this.svg);
        img.setAttribute("href", thumb);
        const label = svg("text", { x: x + THUMB / 2 + 3, y: y + 4, class: "sxd-label" }, this.svg);
        label.textContent = String(i + 1);
      } else {
        const label = svg("text", { x, y: y + 4, "text-anchor": "middle", class: "sxd-label" }, this.svg);
        label.textContent = data.labels[i];
      }
    });
    this.point = svg("circle", { r: 9, class: "sxd-point" }, this.svg);
    this.inputs = data.labels.map((name, i) => {
      const label = document.createElement("label");
      label.title = name;
      label.append(`w${i + 1}`);
      const input = document.createElement("input");
      Object.assign(input, { type: "number", min: "0", max: "1", step: "0.01" });
      input.setAttribute("aria-label", `w${i + 1}: weight of ${name}`);
      input.addEventListener("change", () => this.typed(i, parseFloat(input.value)));
      label.appendChild(input);
      return label;
    });
    this.weightsBox.replaceChildren(...this.inputs);
    this.inputs = this.inputs.map((label) => label.querySelector("input"));
  }

  render(note) {
    const w = this.w;
    const p = [0, 1].map((k) => this.geo.v.reduce((s, v, i) => s + w[i] * v[k], 0));
    this.point.setAttribute("cx", p[0].toFixed(2));
    this.point.setAttribute("cy", p[1].toFixed(2));
    const active = this.root.getRootNode().activeElement;
    this.inputs.forEach((input, i) => { if (input !== active) input.value = w[i].toFixed(3); });
    this.root.dataset.weights = JSON.stringify(w);
    // for the previews component (which may render before or after this one)
    window.__maesiSimplexWeights = { w: w.slice(), note };
    window.dispatchEvent(new CustomEvent(EVENT, { detail: window.__maesiSimplexWeights }));
  }

  coordinates(e) {
    const pt = new DOMPoint(e.clientX, e.clientY).matrixTransform(this.svg.getScreenCTM().inverse());
    const v = this.geo.v;
    if (this.m === 2) {
      const t = Math.min(1, Math.max(0, (pt.x - v[0][0]) / (v[1][0] - v[0][0])));
      return [1 - t, t];
    }
    const [A, B, C] = v;
    const det = (B[1] - C[1]) * (A[0] - C[0]) + (C[0] - B[0]) * (A[1] - C[1]);
    const a = ((B[1] - C[1]) * (pt.x - C[0]) + (C[0] - B[0]) * (pt.y - C[1])) / det;
    const b = ((C[1] - A[1]) * (pt.x - C[0]) + (A[0] - C[0]) * (pt.y - C[1])) / det;
    return onSimplex([a, b, 1 - a - b]);
  }

  down(e) {
    if (e.pointerType === "mouse" && e.button !== 0) return;
    e.preventDefault();
    this.root.focus({ preventScroll: true });
    this.dragging = true;
    this.root.classList.add("dragging");
    this.svg.setPointerCapture(e.pointerId);
    this.moveTo(e);
  }

  moveTo(e) {
    this.w = this.coordinates(e);
    this.render("dragging");
  }

  up(e) {
    if (!this.dragging) return;
    this.dragging = false;
    this.root.classList.remove("dragging");
    if (this.svg.hasPointerCapture(e.pointerId)) this.svg.releasePointerCapture(e.pointerId);
    if (e.type === "pointerup") this.w = this.coordinates(e);
    this.commit();
  }

  key(e) {
    if ((e.target && e.target.tagName === "INPUT") || e.ctrlKey || e.metaKey || e.altKey) return;
    const d = DIRECTIONS[this.m][e.key];
    if (!d) return;
    e.preventDefault();
    e.stopPropagation();
    // a fixed step along d, shortened only where a weight would fall below 0
    let t = e.shiftKey ? this.bigStep : this.keyStep;
    d.forEach((di, i) => { if (di < 0) t = Math.min(t, this.w[i] / -di); });
    this.w = this.w.map((v, i) => Math.max(0, v + t * d[i]));
    this.render("keys");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.commit(), 250);
  }

  typed(i, value) {
    if (!Number.isFinite(value)) return this.render("");
    const v = Math.min(1, Math.max(0, value));
    const rest = this.w.reduce((s, x, j) => (j === i ? s : s + x), 0);
    // the other weights keep their proportions (shared equally when they were all 0)
    this.w = this.w.map((x, j) => (j === i ? v : rest > 1e-12 ? (x / rest) * (1 - v) : (1 - v) / (this.m - 1)));
    this.commit();
  }

  commit() {
    clearTimeout(this.timer);
    this.timer = null;
    this.render("sent");
    this.setStateValue("weights", { w: this.w.slice(), nonce: Date.now() + Math.random() });
  }
}

export default function (component) {
  const { parentElement, data, setStateValue } = component;
  // Streamlit calls this again with every new `data` on the same element: one controller per element
  let simplex = parentElement.__maesiSimplex;
  if (!simplex) {
    simplex = new Simplex(parentElement);
    parentElement.__maesiSimplex = simplex;
  }
  simplex.update(data, setStateValue);
  return () => clearTimeout(simplex.timer);
}
"""


@functools.cache
def _renderer():
    import streamlit as st

    return st.components.v2.component(NAME, html=HTML, css=CSS, js=JS)


def mount(data: dict, key: str, on_change) -> None:
    """The draggable simplex with `data` (see the module's docstring and `app.simplex.state.drag_control`);
    `on_change` runs when the component sends new weights (read them with `sent_weights`)."""
    _renderer()(key=key, data=data, on_weights_change=on_change)


def sent_weights(value) -> list | None:
    """The weights in a component's session value ({"weights": {"w": [...], "nonce": ...}}), None when absent."""
    sent = value.get("weights") if hasattr(value, "get") else None
    w = sent.get("w") if isinstance(sent, dict) else None
    return list(w) if isinstance(w, (list, tuple)) else None
