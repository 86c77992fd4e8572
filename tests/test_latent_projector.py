"""The Latent map's projector (app/latent_map/scatter_component.py, projector.py) with Streamlit's AppTest on the
shipped digits checkpoints: each map is the projector component (its code the module's constants, the user's data
in `data` only, the samples sent by a store component of their own), a click / shift-click arriving as the
component's state becomes the lab's selection, the user's ordered anchors reach the Simplex explorer through
`app.shared.keys.MAP_SELECTION`, and the clicked point's nearest neighbours in latent space are listed.
Browser checks: tests/test_browser_projector.py."""
import json
import os
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app" / "main.py"

if not (ROOT / "checkpoints" / "manifest.json").exists():
    pytest.skip("checkpoints/manifest.json is missing: train the shipped checkpoints first", allow_module_level=True)

from streamlit.testing.v1 import AppTest  # noqa: E402

from app.latent_map import scatter_component  # noqa: E402

HERE = {"dataset": "digits", "anomaly_class": 0}


@pytest.fixture(autouse=True)
def lab_env(tmp_path, monkeypatch):
    monkeypatch.setenv("MAESI_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("MAESI_DATA", str(tmp_path / "no-data"))
    import torch

    torch.set_num_threads(1)


def no_errors(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def start(selected=None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=180)
    if selected is not None:
        at.session_state["map_selected"] = dict(HERE, indices=selected)
    at.run()
    no_errors(at)
    return at


def components(at, name: str) -> list:
    found = [c.proto for c in at.get("bidi_component") if c.proto.component_name == name]
    for proto in found:  # the code is the module's constants: the user's data travel in `data` only
        assert (proto.html_content, proto.css_content, proto.js_content) == (
            (scatter_component.HTML if name == scatter_component.NAME else scatter_component.STORE_HTML),
            scatter_component.CSS, scatter_component.JS)
    return found


def maps(at) -> list[dict]:
    return [json.loads(p.json) for p in components(at, scatter_component.NAME)]


def pick(at, indices: list[int], focus: int) -> None:
    """What a click (or shift-click) on the first map does on the server: the component's state value, then its
    callback (`projector.on_pick`, run here on a plain dict: AppTest cannot press a custom component)."""
    from app.latent_map import projector

    chart = "map-0-digits-c0-m0"  # keys.map_chart(0, the first shipped model)
    state = {chart: {"selection": {"indices": indices, "focus": focus, "nonce": 1.0}}}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(projector, "ss", state)
        projector.on_pick(chart, HERE)
    assert state["map_inspect"] == focus  # the clicked point becomes the inspected one
    at.session_state["map_selected"] = state["map_selected"]
    at.run()  # AppTest checks a widget's value against its last options: the new selection first
    if len(indices) > 1:
        at.selectbox(key="map_inspect").set_value(state["map_inspect"])


def anchors_shown(at) -> list[int]:
    """The Simplex explorer's anchors, as its anchor captions name them ("**anchor 1**: test #12 (...)")."""
    found = {}
    for m in list(at.markdown) + list(at.caption):
        v = m.value
        if v.startswith("**anchor ") and "test #" in v:
            found.setdefault(int(v.split("**anchor ")[1].split("**")[0]), int(v.split("test #")[1].split(" ")[0]))
    return [found[k] for k in sorted(found)]


def test_each_map_is_a_projector_with_its_samples_sent_once():
    at = start()
    data = maps(at)
    assert len(data) == 3
    for d in data:
        assert len(d["xy"]) == len(d["index"]) == len(d["colours"]) == len(d["scores"])
        assert set(d["colours"]) <= {"#d62728", "#1f77b4"}  # normal vs anomaly, the paper's colours
        assert d["axes"][0].startswith("PC1 (") and d["selected"] == [] and d["focus"] is None
    stores = [json.loads(p.json) for p in components(at, scatter_component.STORE_NAME)]
    assert len(stores) == 1 and {d["store"] for d in data} == {stores[0]["store"]}  # one split: one store
    thumbs = stores[0]["thumbs"]
    assert len(thumbs) == len(data[0]["index"]) and thumbs[0].startswith("data:image/png;base64,")
    before = components(at, scatter_component.STORE_NAME)[0].json
    at.session_state["map_selected"] = dict(HERE, indices=[data[0]["index"][0]])
    at.run()
    assert components(at, scatter_component.STORE_NAME)[0].json == before  # identical: not sent again
    assert maps(at)[0]["selected"] == [data[0]["index"][0]]
    at.radio(key="map_colour").set_value("score").run()
    no_errors(at)
    assert len(set(maps(at)[0]["colours"])) > 2


def test_a_click_then_shift_clicks_order_the_anchors_handed_to_the_simplex_explorer():
    at = start()
    first = maps(at)[0]["index"]
    a, b, c = first[10], first[20], first[30]
    for picked, focus in (([a], a), ([a, b], b), ([a, b, c], c)):  # a click, then two shift-clicks
        pick(at, picked, focus)
        at.run()
        no_errors(at)
    assert at.session_state["map_selected"] == dict(HERE, indices=[a, b, c])
    assert all(d["selected"] == [a, b, c] and d["focus"] == c for d in maps(at))  # ringed on every map
    assert at.selectbox(key="map_inspect").value == c  # the clicked point is the inspected one
    anchors = at.multiselect(key="map_anchors")
    assert anchors.value == [a, b, c]  # selection order by default
    anchors.set_value([c, a]).run()
    at.button(key="map_hand_over").click().run()
    no_errors(at)
    assert at.session_state["map_selected"]["indices"] == [c, a, b]  # the user's order first, same selection
    assert sorted(maps(at)[0]["selected"]) == sorted([a, b, c])
    at.switch_page("simplex/page.py").run()
    at.radio(key="sx_source").set_value("latent map selection").run()
    at.radio(key="sx_m").set_value(2).run()
    no_errors(at)
    assert anchors_shown(at) == [c, a]
    pick(at, [b], b)  # a plain click: only that point
    assert at.session_state["map_selected"]["indices"] == [b]


def test_the_clicked_point_lists_its_nearest_neighbours_in_latent_space():
    from app.shared import caches

    at = start()
    idx = maps(at)[0]["index"]
    j = idx[5]
    pick(at, [j], j)
    at.run()
    no_errors(at)

    lists = [m.value for m in at.markdown if m.value.startswith("**8 nearest to #")]
    assert len(lists) == 3 and all(f"#{j}**" in v for v in lists)
    listed = [c.value for c in at.caption if c.value.count("#") == 8]
    assert len(listed) == 3
    near = [int(t.split(" ")[0][1:]) for t in listed[0].split(" · ")]
    assert j not in near and len(set(near)) == 8 and set(near) <= set(idx)
    # Euclidean on the model's latents (not on the 2-D map): recompute them
    entry = caches.entry_of(at.multiselect(key="models").value[0])
    got_idx, Z = caches.latents(entry, "test", 1000)
    row = int(np.flatnonzero(got_idx == j)[0])
    d = np.linalg.norm(Z - Z[row], axis=1)
    d[row] = np.inf
    assert near == [int(got_idx[r]) for r in np.argsort(d, kind="stable")[:8]]
