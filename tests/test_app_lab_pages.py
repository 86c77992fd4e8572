"""The lab's round-2 pages with Streamlit's AppTest on the shipped digits checkpoints: the Simplex explorer's
comparison of every selected model and its whole-simplex views, the Latent map's inspector, axes and timeline,
the ROC table's mean, health badges and the Streamlit settings. Browser checks: tests/test_browser.py."""
import os
import tomllib
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app" / "main.py"
CHECKPOINTS = ROOT / "checkpoints"

if not (CHECKPOINTS / "manifest.json").exists():
    pytest.skip("checkpoints/manifest.json is missing: train the shipped checkpoints first", allow_module_level=True)

from streamlit.testing.v1 import AppTest  # noqa: E402

from app_testing import open_tab, set_tab  # noqa: E402


@pytest.fixture(scope="module")
def run_with_timeline(tmp_path_factory):
    """A 3-epoch digits run (class 0) that stored a training timeline, in a runs folder of its own."""
    import torch

    from core import MirroredAE
    from core.evaluation.protocols import split_for
    from core.training.timeline import TimelineCallback, save_timeline

    torch.set_num_threads(1)
    runs = tmp_path_factory.mktemp("runs")
    sp = split_for("digits", 0, 0)
    idx = np.arange(120)
    model = MirroredAE(preset="digits", interpolation=3, epochs=3, device="cpu", threads=1)
    cb = TimelineCallback(model, sp.X_test[idx], every=1)
    model.fit(sp.X_train[:300], callbacks=[cb])
    path = model.save(runs / "digits-c0-timeline", extra={"dataset": "digits", "anomaly_class": 0})
    save_timeline(runs / "digits-c0-timeline", cb.epochs, cb.latents, idx)
    return runs, str(Path(path).resolve()), model.health_.get("verdict")


@pytest.fixture(autouse=True)
def lab_env(tmp_path, monkeypatch):
    monkeypatch.setenv("MAESI_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("MAESI_DATA", str(tmp_path / "no-data"))
    import torch

    torch.set_num_threads(1)


def page(name=None, session=None, tab=None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=180)
    for k, v in (session or {}).items():
        at.session_state[k] = v
    at.run()
    if tab:  # after the first run: the first page's run would reset a tab it does not draw
        set_tab(at, name, tab)
    if name:
        at.switch_page(f"{name}/page.py").run()
    no_errors(at)
    return at


def no_errors(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def charts(at) -> list:
    return at.get("plotly_chart")


def drag_data(at) -> dict:
    """The data the page gave the draggable simplex and its previews (custom components: AppTest renders nothing for
    them), merged."""
    import json

    from app.simplex import drag_component, preview_component

    merged = {}
    found = {c.proto.component_name: c.proto for c in at.get("bidi_component")}
    assert sorted(found) == sorted([drag_component.NAME, preview_component.NAME])
    for module in (drag_component, preview_component):
        proto = found[module.NAME]
        # the components' code is the modules' constants: the user's data travel in `data` only
        assert (proto.html_content, proto.css_content, proto.js_content) == (module.HTML, module.CSS, module.JS)
        merged.update(json.loads(proto.json))
    assert preview_component.EVENT in drag_component.JS  # where the two meet in the browser
    return merged


def previews_json(at) -> str:
    from app.simplex import preview_component

    return next(c.proto.json for c in at.get("bidi_component") if c.proto.component_name == preview_component.NAME)


def png_pixels(url: str) -> np.ndarray:
    import base64
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))), dtype=np.int16)


def figure_json(chart) -> dict:
    import json

    return json.loads(chart.proto.spec)


def array(value) -> np.ndarray:
    """A figure's data array: a list, or plotly's typed array {"dtype", "bdata" (base64), "shape"?}."""
    import base64

    if isinstance(value, dict) and "bdata" in value:
        out = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        shape = value.get("shape")
        return out.reshape([int(n) for n in str(shape).split(",")]) if shape else out
    return np.asarray(value)


# ------------------------------------------------------------------ simplex: the comparison


def test_compare_mode_decodes_the_same_anchors_and_weights_with_every_model():
    at = page("simplex")
    assert at.radio(key="sx_view").value == "compare"  # three models selected: compared by default
    compared = at.session_state["simplex_compare"]
    assert [Path(p).stem for p in compared] == ["digits-c0-m0", "digits-c0-m2", "digits-c0-m3"]
    before = {p: r["decoded"].copy() for p, r in compared.items()}
    assert len([m for m in at.metric if m.label == "anomaly score of the interpolant"]) == 3
    # D_inter: a table for the simplex models, "—" for the model without a simplex critic
    tables = [t.value for t in at.table if "D_inter(xᵢ, x̂)" in t.value.columns]
    assert len(tables) == 2  # a static table: it draws far faster than a dataframe, and it redraws per release
    critics = [r["d_inter"] for r in compared.values() if r["d_inter"] is not None]
    for table, d in zip(tables, critics):
        assert table["D_inter(xᵢ, x̂)"].tolist() == [f"{v:.3f}" for v in d]
        assert list(table.index) == ["anchor 1", "anchor 2", "anchor 3"]
    assert any(c.value.startswith("D_inter: —") for c in at.caption)
    assert compared[next(p for p in compared if p.endswith("m0.safetensors"))]["d_inter"] is None

    at.slider(key="sx_w0").set_value(0.8).run()  # one weight change ...
    no_errors(at)
    after = at.session_state["simplex_compare"]
    assert all(not np.allclose(before[p], after[p]["decoded"]) for p in before)  # ... every model decodes anew
    assert np.allclose(at.session_state["sx_weights"], [0.8, 0.1, 0.1])

    # the draggable simplex: the anchors' thumbnails and every model's decodes on the 0.05 grid, sent once per
    # (model, anchors) with the current weights; a release stores the weights, and the exact decodes follow
    data = drag_data(at)
    assert data["m"] == 3 and len(data["grid"]) == 231 and len(data["thumbs"]) == 3
    assert [len(m["tiles"]) for m in data["models"]] == [231] * 3 and np.allclose(data["weights"], [0.8, 0.1, 0.1])
    tiles = previews_json(at)
    at.session_state["sx_weights"] = np.array([0.1, 0.6, 0.3])  # what the component's callback stores
    at.run()
    no_errors(at)
    assert previews_json(at) == tiles  # an identical element: Streamlit sends a reference, not the tiles again
    released = at.session_state["simplex_compare"]
    assert all(not np.allclose(after[p]["decoded"], released[p]["decoded"]) for p in after)
    assert np.allclose(drag_data(at)["weights"], [0.1, 0.6, 0.3])
    # the preview at a grid point is that point's decode (one pixel level of rounding apart at most)
    from app.shared import images

    k = data["grid"].index([2, 12, 6])
    for model, (p, r) in zip(data["models"], released.items()):
        assert np.abs(png_pixels(model["tiles"][k]) - images.to_uint8_image(r["decoded"], (0.0, 16.0))).max() <= 1


def test_the_whole_simplex_heat_maps_mosaics_and_edge_strips():
    at = page("simplex")
    assert [t.label for t in at.tabs] == ["The whole simplex", "Decoded mosaic", "Along the edges", "Edges in motion"]
    ternary = [figure_json(c) for c in charts(at)]
    assert len(ternary) == 3 and all(f["data"][0]["type"] == "scatterternary" for f in ternary)  # one per model
    open_tab(at, "simplex", "Decoded mosaic")
    mosaics = [figure_json(c) for c in charts(at)]  # only the open tab runs: the heat maps are gone
    assert len(mosaics) == 3 and all(f["data"][0]["type"] == "image" for f in mosaics)  # a decoded triangle each
    ternary = ternary[:]
    cells = ternary[0]["data"][0]
    assert len(array(cells["a"])) == 231  # step 0.05
    assert np.allclose(array(cells["customdata"]).sum(axis=1), 1)  # each cell carries its weights
    assert array(mosaics[0]["data"][1]["customdata"]).shape == (36, 3)  # 8 decoded interpolants per edge
    # the critic's field: a plain grid and a dash for the model without a critic
    open_tab(at, "simplex", "The whole simplex")
    at.radio(key="sx_field").set_value("realism").run()
    no_errors(at)
    titles = [figure_json(c)["layout"].get("title", {}).get("text", "") for c in charts(at)]
    assert sum("no simplex critic" in (t or "") for t in titles) == 1
    # three edges x nine decodings per model, as images
    open_tab(at, "simplex", "Along the edges")
    strips = [img for img in at.image]
    assert len(strips) >= 3 + 3 + 3  # anchors, decoded interpolants, edge strips
    # m = 2: the segment's profile instead of a triangle, and no mosaic
    open_tab(at, "simplex", "The whole simplex")
    at.radio(key="sx_m").set_value(2).run()
    no_errors(at)
    assert "Decoded mosaic" not in [t.label for t in at.tabs]
    figs = [figure_json(c) for c in charts(at)]
    assert len(figs) == 3 and all(f["data"][0]["type"] == "scatter" for f in figs)
    assert len(at.session_state["sx_weights"]) == 2
    data = drag_data(at)  # a segment: 21 grid points
    assert data["m"] == 2 and len(data["grid"]) == 21 and [len(m["tiles"]) for m in data["models"]] == [21] * 3


def test_one_model_mode_keeps_the_map_and_a_heat_map_picker():
    at = page("simplex")
    at.radio(key="sx_view").set_value("one").run()
    no_errors(at)
    assert Path(at.selectbox(key="sx_model").value).stem == "digits-c0-m3"
    assert len(at.session_state["simplex_compare"]) == 1
    kinds = [figure_json(c)["data"][0]["type"] for c in charts(at)]
    assert kinds.count("scatterternary") == 1 and kinds.count("image") == 1 and "scatter" in kinds


# ------------------------------------------------------------------ latent map


def test_latent_map_axes_legend_inspector_and_thumbnails():
    at = page(session={"map_selected": {"dataset": "digits", "anomaly_class": 0, "indices": [3, 4, 5]}})
    import json

    from app.latent_map import scatter_component

    maps = [json.loads(c.proto.json) for c in at.get("bidi_component")
            if c.proto.component_name == scatter_component.NAME]  # the projector maps (custom components)
    assert len(maps) == 3
    for m in maps:
        assert m["axes"][0].startswith("PC1 (") and m["axes"][0].endswith("%)")
        assert [name for name, _ in m["legend"]] == ["normal", "anomaly"]  # under the map, as HTML
        assert m["selected"] == [3, 4, 5]  # ringed on every map
    # the inspector: the first selected sample, its reconstructions and every model's score
    assert at.selectbox(key="map_inspect").value == 3
    scores = next(df.value for df in at.dataframe if "flagged" in df.value.columns)
    assert len(scores) == 3
    # labelled thumbnails: index, class, scores
    thumbs = [c.value for c in at.caption if c.value.startswith("**#") and "scores" in c.value]
    assert len(thumbs) == 3 and "class" in thumbs[0] and "scores" in thumbs[0]
    at.selectbox(key="map_inspect").set_value(5).run()
    no_errors(at)
    assert any("#5 · class" in c.value for c in at.caption)
    # shipped checkpoints store no timeline: a short note
    assert any("stored a training timeline" in c.value for c in at.caption)


def test_latent_map_scrubs_a_stored_timeline_with_the_runs_health(run_with_timeline, monkeypatch):
    runs, path, verdict = run_with_timeline
    monkeypatch.setenv("MAESI_RUNS", str(runs))
    at = page()
    at.multiselect(key="models").set_value(at.multiselect(key="models").value + [path]).run()
    no_errors(at)
    timeline = next(figure_json(c) for c in charts(at) if figure_json(c).get("frames"))
    assert [f["name"] for f in timeline["frames"]] == ["1", "2", "3"]  # one frame per stored epoch
    assert [s["label"] for s in timeline["layout"]["sliders"][0]["steps"]] == ["1", "2", "3"]
    assert timeline["layout"]["updatemenus"][0]["buttons"][0]["method"] == "animate"
    assert next(m.value for m in at.metric if m.label == "training health") == verdict
    assert any("No timeline stored for" in c.value for c in at.caption)  # the shipped three
    if verdict != "ok":  # a 3-epoch run is usually not healthy: its badge is on its map's header
        assert any(f"health: {verdict}" in m.value and "digits-c0-timeline" in m.value for m in at.markdown)


# ------------------------------------------------------------------ ROC, badges, settings


def test_roc_table_shows_its_mean_first_with_three_decimals():
    at = page("roc", tab="Per class")
    table = next(df for df in at.dataframe if "class" in df.value.columns)
    assert table.value["class"].iloc[0] == "mean"  # first: visible without scrolling the table
    open_tab(at, "roc", "Threshold and samples (Fig. 4)")
    slider = next(s for s in at.slider if s.key and s.key.startswith("thr-"))
    assert slider.proto.format == "%.3f"


def test_health_badges_mark_unhealthy_and_below_chance_models():
    from app.shared import display

    sick = {"name": "x", "path": "/nonexistent", "health": {"verdict": "collapsed"}, "metrics": {"auc": 0.35}}
    assert "health: collapsed" in display.health_badges(sick) and "below chance" in display.health_badges(sick)
    assert display.health_mark(sick) == " · ⚠ collapsed · ⚠ AUC below chance"
    well = {"name": "y", "path": "/nonexistent", "health": {"verdict": "ok"}, "metrics": {"auc": 0.9}}
    assert display.health_badges(well) == "" and display.health_mark(well) == ""


def test_streamlit_settings_hide_deploy_and_usage_statistics():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["toolbarMode"] in ("viewer", "minimal")  # both hide the Deploy button
    assert config["browser"]["gatherUsageStats"] is False


def test_edges_in_motion_play_and_download_every_models_edge():
    at = page("simplex", tab="Edges in motion")
    assert at.session_state["sx_motion_sizes"]["frames"] == 16  # the default
    assert at.session_state["sx_motion_sizes"]["models"] == 3  # the three digits models compared
    assert at.selectbox(key="sx_motion_edge").options == ["1 → 2", "2 → 3", "1 → 3"]
    buttons = {b.proto.label: b.proto for b in at.get("download_button")}
    assert {"Download the animation (GIF)", "Download the strip (PNG)"} <= set(buttons)
    assert buttons["Download the animation (GIF)"].url and buttons["Download the strip (PNG)"].url
    # fewer frames, another edge, a slower speed: the section follows
    at.slider(key="sx_motion_frames").set_value(5).run()
    at.selectbox(key="sx_motion_edge").set_value((1, 2)).run()
    at.number_input(key="sx_motion_ms").set_value(300).run()
    no_errors(at)
    assert at.session_state["sx_motion_sizes"]["frames"] == 5
    open_tab(at, "simplex", "Along the edges")  # another view, then back: the settings are kept
    open_tab(at, "simplex", "Edges in motion")
    assert at.slider(key="sx_motion_frames").value == 5 and at.number_input(key="sx_motion_ms").value == 300
    # m = 2: the segment is the only edge
    at.radio(key="sx_m").set_value(2).run()
    no_errors(at)
    assert at.selectbox(key="sx_motion_edge").options == ["1 → 2"]
    assert at.session_state["sx_motion_sizes"]["frames"] == 5
