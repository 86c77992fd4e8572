"""The lab's defects of issue 20 ("Measured"), each pinned by a test that failed before its fix: the ROC page's
baselines and per-class table, raw "None"s, the training charts' axes and layout, the simplex heat map's colour
bar, the training form across a reload, the Score page's unread files, the Models table's size and emoji glyphs.
AppTest on the shipped digits checkpoints where the page matters; the pure figure and table helpers otherwise."""
import ast
import io
import json
import os
import unicodedata
import zipfile
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from app_testing import CHECKPOINTS, ROOT, lab_env, no_errors, open_tab, run_app  # noqa: E402,F401

from app.latent_map import timeline  # noqa: E402
from app.models import table as models_table, training_figures  # noqa: E402
from app.roc import baselines, tables  # noqa: E402
from app.shared.labels import INTERPOLATION_COLOURS  # noqa: E402
from app.simplex import figures as simplex_figures, weights  # noqa: E402


def _shipped(dataset: str) -> list[dict]:
    from core.checkpoints.manifest import load_manifest

    return [dict(e, source="shipped") for e in load_manifest(CHECKPOINTS) if e["dataset"] == dataset]


def _per_class(dataset: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the ROC page's per-class table with its mean row, the paper's printed means), as the page builds them."""
    table, paper_mean = tables.ours_per_class(_shipped(dataset), tabular=False), pd.DataFrame()
    paper = tables.paper_per_class(dataset, tabular=False)
    if paper is not None:
        paper_table, paper_mean = paper
        table = table.merge(paper_table, on="class", how="outer")
    return tables.with_means(table, paper_mean), paper_mean


# ------------------------------------------------------------------ 1. ROC baselines (and 2.: the table as text)


def test_every_baseline_has_a_readable_label_and_a_colour_no_model_takes():
    from core.evaluation.methods import BASELINES

    assert set(baselines.options(BASELINES)) == set(BASELINES)
    assert all(baselines.label(n) != n for n in BASELINES)  # no raw id such as "pyod-knn" or "mean-distance"
    assert "pyod-iforest" in baselines.DEFAULT and set(baselines.DEFAULT) <= set(BASELINES)
    colours = [baselines.colour(n, BASELINES) for n in BASELINES]
    assert len(set(colours)) == len(BASELINES)
    assert not set(colours) & set(INTERPOLATION_COLOURS.values())


def test_the_roc_page_draws_isolation_forest_by_default_in_a_baseline_colour():
    at = run_app("roc")
    no_errors(at)
    chooser = at.multiselect(key="roc_baselines")
    assert "pyod-iforest" in chooser.value
    assert "Isolation Forest" in chooser.options and not any(o.startswith("pyod-") for o in chooser.options)
    roc = json.loads(next(c for c in at.get("plotly_chart") if "ROC" in c.proto.spec).proto.spec)
    dashed = [t for t in roc["data"] if t["line"].get("dash") == "dash"]
    assert any(t["name"].startswith("Isolation Forest") for t in dashed)
    assert not {t["line"]["color"] for t in dashed} & set(INTERPOLATION_COLOURS.values())
    open_tab(at, "roc", "Per class")
    per_class = next(df.value for df in at.dataframe if "class" in df.value.columns)
    assert per_class.drop(columns=["class"]).map(lambda v: isinstance(v, str)).all().all()  # "0.979", or "—"


# ------------------------------------------------------------------ 2. and 3. the per-class table, "None"


def test_the_mnist_per_class_table_shows_dashes_and_compares_its_mean_over_the_same_classes():
    table, paper_mean = _per_class("mnist")  # our checkpoints: the demo class only; the paper: all ten classes
    (demo,) = {str(e["anomaly_class"]) for e in _shipped("mnist")}
    paper_table, _ = tables.paper_per_class("mnist", tabular=False)
    paper_demo = float(paper_table.loc[paper_table["class"].astype(str) == demo, "paper 3-point"].iloc[0])
    shown = tables.shown_table(table)
    cells = shown.drop(columns=["class"]).to_numpy().ravel()
    assert all(isinstance(c, str) for c in cells) and tables.MISSING in cells
    assert not any(c in ("None", "nan", "NaN") for c in cells)
    mean = shown.iloc[0]
    assert mean["class"] == f"mean (class {demo})"  # first, and it says which classes it averages
    class_row = shown[shown["class"] == demo].iloc[0]
    assert mean["paper 3-point"] == class_row["paper 3-point"] == f"{paper_demo:.3f}"  # not the ten-class 0.979
    note = tables.means_note(table, paper_mean)
    assert f"class {demo}" in note and "0.979" in note


def test_the_digits_mean_row_still_averages_every_class():
    table, _ = _per_class("digits")
    shown = tables.shown_table(table)
    assert shown.iloc[0]["class"] == "mean" and len(shown) == 11
    ours = pd.to_numeric(shown.iloc[1:]["3-point"])
    assert shown.iloc[0]["3-point"] == f"{ours.mean():.3f}"


def _store_run(runs: Path, name: str, **sidecar) -> None:
    from core.checkpoints.store import load_bytes_checkpoint

    meta = json.loads((CHECKPOINTS / "digits-c0-m3.json").read_text())
    meta.update(weights_file=f"{name}.safetensors", **sidecar)
    load_bytes_checkpoint((CHECKPOINTS / "digits-c0-m3.safetensors").read_bytes(), json.dumps(meta).encode(), runs)


def test_the_models_page_says_no_selected_epoch_and_shows_the_whole_table(lab_env, monkeypatch):
    """Defects 2 and 11: "selected epoch None"; a table in a ten-row box with its long names cut."""
    import streamlit as st

    long_name = "digits-class-0-three-point-simplex-with-a-long-descriptive-run-name"
    _store_run(lab_env / "runs", long_name, selected_epoch=None)
    heights, dataframe = [], st.dataframe

    def spy(data=None, *args, **kwargs):  # the height Streamlit's element tree does not keep
        heights.append((len(data) if isinstance(data, pd.DataFrame) else None, kwargs.get("height")))
        return dataframe(data, *args, **kwargs)

    monkeypatch.setattr(st, "dataframe", spy)
    at = run_app("models")
    at.selectbox(key="models_pick").set_value(f"{long_name} (yours)").run()
    no_errors(at)
    details = " ".join(m.value for m in at.markdown)
    assert "None" not in details and "no selected epoch recorded" in details
    assert models_table.selected_epoch_text(58) == "selected epoch 59"  # counted from 1, as the charts' axis
    rows, height = heights[0]
    assert rows == 31 and height >= 38 + 35 * 20  # 30 shipped digits checkpoints and the run: 20 rows in view
    name_column = json.loads(at.dataframe[0].proto.columns)["name"]
    assert name_column["width"] >= 8 * len(long_name)


# ------------------------------------------------------------------ 4., 5. and 6. the training charts


def _titles_below(fig, axis_index: int):
    """The subplot titles (annotations) that sit below subplot `axis_index` (1-based) in its column."""
    x_axis = fig.layout[f"xaxis{axis_index if axis_index > 1 else ''}"]
    y_axis = fig.layout[f"yaxis{axis_index if axis_index > 1 else ''}"]
    return [a for a in fig.layout.annotations
            if x_axis.domain[0] <= a.x <= x_axis.domain[1] and a.y < y_axis.domain[0]]


def test_health_panels_keep_their_axis_titles_clear_of_the_subplot_titles_below():
    from core.training.health import THRESHOLDS

    history = json.loads((CHECKPOINTS / "digits-c0-m3.json").read_text())["history"]
    fig = training_figures.health_curves(history, THRESHOLDS, latent_dim=16, planned_epochs=60)
    n_panels = len(training_figures.HEALTH_PANELS)
    for i in range(1, n_panels + 1):
        axis = fig.layout[f"xaxis{i if i > 1 else ''}"]
        titled = bool(axis.title.text)
        assert titled != bool(_titles_below(fig, i)), f"panel {i}: an axis title above another panel's title"
        assert axis.dtick >= 60 / 5  # five ticks at most: a narrow panel's labels stay upright
    assert sum(bool(fig.layout[f"xaxis{i if i > 1 else ''}"].title.text) for i in range(1, n_panels + 1)) == 3


def _ticks(axis, last: float) -> list[float]:
    assert axis.tickmode == "linear"
    return [axis.tick0 + k * axis.dtick for k in range(int(last // axis.dtick) + 2)]


def test_epoch_axes_tick_whole_epochs_only():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(30), np.ones(10)]
    lay = timeline.timeline_layout(np.array([0, 1, 2]), rng.normal(size=(3, 40, 4)) + y[:, None], np.arange(40), y)
    silhouette = timeline.timeline_silhouette(lay)  # three epochs: plotly put ticks at 1, 1.5, 2, 2.5, 3
    assert all(float(t).is_integer() for t in _ticks(silhouette.layout.xaxis, 3))
    live = [(0.25, {"critic": 2.0}), (0.5, {"critic": 1.5}), (1.75, {"critic": 1.0})]
    losses = training_figures.loss_curves({"critic": [1.0]}, planned_epochs=3, live=live)
    assert all(float(t).is_integer() for t in _ticks(losses.layout.xaxis, 3))


def test_loss_feat_has_an_axis_of_its_own():
    history = json.loads((CHECKPOINTS / "digits-c0-m3.json").read_text())["history"]
    fig = training_figures.loss_curves(history, planned_epochs=60)
    on_right = [t.name for t in fig.data if t.yaxis == "y2"]
    assert on_right == ["loss_feat (right axis)"]
    assert {t.yaxis for t in fig.data if t.name != "loss_feat (right axis)"} <= {None, "y"}
    assert fig.layout.yaxis2.overlaying == "y" and fig.layout.yaxis2.side == "right"
    assert "loss_feat" in fig.layout.yaxis2.title.text


# ------------------------------------------------------------------ 7. the simplex heat map's colour bar


@pytest.mark.parametrize("low, high", [(3.0, 1500.0), (0.002, 0.0023), (0.4, 0.9), (2e6, 9e6)])
def test_the_colour_bar_writes_every_tick_in_one_format(low, high):
    fmt = simplex_figures.tick_format(np.linspace(low, high, 50))
    assert not fmt.endswith("g")  # ".3g" wrote "500" beside "1.00e+3"
    ticks = np.linspace(low, high, 5)
    written = [format(t, fmt) for t in ticks]
    assert len({("e" in w, len(w.split(".")[-1]) if "." in w else 0) for w in written}) == 1
    assert len(set(written)) == len(written)  # precise enough to tell the ticks apart


def test_the_colour_bar_title_sits_under_the_bar_clear_of_the_vertex_labels():
    grid = weights.barycentric_grid(0.05)
    fig = simplex_figures.ternary_heatmap(grid, 3 + 1500 * grid[:, 1] ** 2, [0.2, 0.3, 0.5],
                                          colour_title="critic: Σ wᵢ D_inter²", height=290)
    bar = fig.data[0].marker.colorbar
    assert bar.title.side == "bottom" and bar.yref == "container" and bar.y == 0 and bar.yanchor == "bottom"
    assert fig.layout.margin.b >= 90  # the lower vertices' labels above the bar, inside the bottom margin


# ------------------------------------------------------------------ 8. the training form across a reload


def test_a_reload_refills_the_training_form_with_the_last_submitted_values(lab_env, monkeypatch):
    from app.models import form_memory
    from app.shared import jobs, owner

    monkeypatch.setattr(form_memory, "_LAST", {})  # the server's memory, as a fresh server holds it
    monkeypatch.setattr(owner, "browser_cookie", lambda: "0f" * 16)
    started = []
    monkeypatch.setattr(jobs, "start", lambda spec, runs, owner="": started.append(spec) or SimpleNamespace(id=1))
    at = run_app("models", tab="Train a model")
    at.selectbox(key="train_class").set_value(4)
    at.selectbox(key="train_m").set_value(2)
    at.number_input(key="train_seed").set_value(5)
    at.number_input(key="train_epochs").set_value(7).run()
    at.button(key="train_start").click().run()
    no_errors(at)
    assert [(s.anomaly_class, s.interpolation, s.seed, s.epochs) for s in started] == [(4, 2, 5, 7)]

    reloaded = run_app("models", tab="Train a model")  # a new session with the same cookie: what a reload is
    no_errors(reloaded)
    assert reloaded.selectbox(key="train_class").value == 4 and reloaded.selectbox(key="train_m").value == 2
    assert reloaded.number_input(key="train_seed").value == 5
    assert reloaded.number_input(key="train_epochs").value == 7
    assert reloaded.number_input(key="train_lr").value == 5e-4  # the preset's, as submitted

    monkeypatch.setattr(owner, "browser_cookie", lambda: "f0" * 16)  # another browser starts from the defaults
    other = run_app("models", tab="Train a model")
    assert other.number_input(key="train_seed").value == 0 and other.number_input(key="train_epochs").value != 7


# ------------------------------------------------------------------ 9. and 10. files the Score page does not read


def _png() -> bytes:
    from core.data import load_dataset

    from app.shared import images

    return images.png_bytes(images.to_uint8_image(load_dataset("digits").X_test[0], (0, 16)))


def test_the_score_page_lists_a_zips_non_image_member_with_its_reason():
    at = run_app("score")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("digit.png", _png())
        zf.writestr("notes.txt", "what these are")
    at.file_uploader(key="score_files").set_value([("batch.zip", buf.getvalue(), "application/zip")]).run()
    assert not at.exception and len(at.session_state["score_result"]) == 1  # the image is scored ...
    listed = " ".join(e.value for e in at.error)  # ... and the text file listed with its reason
    assert "`batch.zip/notes.txt`: not a file type read here (.txt" in listed


def test_the_score_page_says_an_image_model_takes_no_table():
    at = run_app("score")
    uploader = at.get("file_uploader")[0]
    assert ".csv" in list(uploader.proto.type)  # let through, so that the page can say what is wrong with it
    at.file_uploader(key="score_files").set_value([("table.csv", b"1,2,3\n4,5,6\n", "text/csv")]).run()
    assert not at.exception
    listed = " ".join(e.value for e in at.error)
    assert "`table.csv`: a table, but this model takes images" in listed and "(N, 1, 8, 8)" in listed
    assert any("Nothing could be scored" in i.value for i in at.info)


# ------------------------------------------------------------------ 12. words, not emoji, on buttons


def _is_glyph(ch: str) -> bool:
    """A pictograph or dingbat ("⏹", "▶", "⚡"): category So, which an emoji-less system draws as an empty box."""
    return unicodedata.category(ch) == "So"


def _button_labels() -> list[tuple[str, str]]:
    """(file, literal text) of the label of every Streamlit button call in app/ (st.button, x.download_button,
    ...): its first argument or label=, the literal parts of an f-string included."""
    found = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr.endswith("button")):
                continue
            label = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "label"), None)
            parts = label.values if isinstance(label, ast.JoinedStr) else [label]
            text = "".join(p.value for p in parts if isinstance(p, ast.Constant) and isinstance(p.value, str))
            found.append((str(path.relative_to(ROOT)), text))
    return found


def test_buttons_and_status_marks_are_words_not_emoji():
    labels = _button_labels()
    assert len(labels) > 20 and any(text == "Stop" for _, text in labels)
    assert not [(f, t) for f, t in labels if any(map(_is_glyph, t))]
    lay = {"epochs": np.array([0, 1]), "indices": np.arange(4), "y": np.array([0, 0, 1, 1]),
           "xy": np.zeros((2, 4, 2)), "explained": np.array([0.5, 0.2])}
    animation = timeline.timeline_figure(lay).layout.updatemenus[0].buttons
    assert [b.label for b in animation] == ["Play", "Pause"]
    assert not any(map(_is_glyph, "".join(models_table.STATUS_MARKS.values())))
    assert models_table.status_mark({"status": "stopped"}) == "stopped early"
