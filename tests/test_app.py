"""The Streamlit lab, page by page, with Streamlit's AppTest on the shipped digits checkpoints.

Every page must render without an exception, and its main widgets must change what is shown. Skips (with the
reason) when the shipped checkpoints' manifest is missing. PCA projections except for one small t-SNE/UMAP run.
"""
import io
import os
import zipfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402


from app_testing import (APP, AppTest, lab_env, metric, no_errors, open_tab, run_app,  # noqa: E402,F401
                         separation_figures)


# ------------------------------------------------------------------ shared sidebar and latent map


def test_starts_on_the_latent_map_with_the_three_shipped_models():
    at = run_app()
    no_errors(at)
    assert at.title[0].value == "Latent map"
    assert at.selectbox(key="dataset").value == "digits"
    chosen = at.multiselect(key="models").value
    assert [Path(p).stem for p in chosen] == ["digits-c0-m0", "digits-c0-m2", "digits-c0-m3"]
    figures = separation_figures(at)
    assert len(figures) == 3 and all(0.5 < f["knn_auc"] <= 1 for f in figures)
    assert all(-1 <= f["silhouette"] <= 1 for f in figures)
    assert sum("k-NN AUC **" in m.value for m in at.markdown) == 3


def test_a_map_selection_is_ringed_and_shown_with_its_reconstructions():
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.session_state["map_selected"] = {"dataset": "digits", "anomaly_class": 0, "indices": [3, 4, 5]}
    at.run()
    no_errors(at)
    assert any("3 selected sample(s)" in m.value for m in at.markdown)
    # the inspector (the sample, the reconstructions), each model's nearest neighbours of the inspected sample and
    # one labelled thumbnail per selected sample
    assert len(at.image) == 2 + 3 + 3
    assert any(c.value.startswith("**#3**") for c in at.caption)


def test_sidebar_class_change_and_map_widgets():
    at = run_app()
    before = [f["model_auc"] for f in separation_figures(at)]
    at.selectbox(key="anomaly_class").set_value(1).run()
    no_errors(at)
    assert [Path(p).stem for p in at.multiselect(key="models").value] == ["digits-c1-m0", "digits-c1-m2",
                                                                          "digits-c1-m3"]
    assert [f["model_auc"] for f in separation_figures(at)] != before
    at.radio(key="map_colour").set_value("class").run()
    no_errors(at)
    at.number_input(key="map_k").set_value(10).run()
    no_errors(at)
    # t-SNE and UMAP once, on a small sample
    at.select_slider(key="map_n").set_value(250).run()
    for method in ("t-SNE", "UMAP"):
        at.radio(key="map_method").set_value(method).run()
        no_errors(at)
        assert len(separation_figures(at)) == 3


# ------------------------------------------------------------------ simplex explorer


def shown_interpolant(at) -> np.ndarray:
    """The decoded interpolant of the one model the Simplex explorer shows (its readout of the current weights)."""
    (readout,) = at.session_state["simplex_compare"].values()
    return np.array(readout["decoded"])


def test_simplex_weight_changes_the_decoded_image():
    at = run_app("simplex")
    at.radio(key="sx_view").set_value("one").run()  # one model (the comparison: tests/test_app_lab_pages.py)
    no_errors(at)
    assert at.title[0].value == "Simplex explorer"
    assert Path(at.selectbox(key="sx_model").value).stem == "digits-c0-m3"
    x0 = shown_interpolant(at)
    assert x0.shape == (1, 8, 8)
    assert np.allclose(at.session_state["sx_weights"], 1 / 3)
    at.slider(key="sx_w0").set_value(0.8).run()
    no_errors(at)
    w = at.session_state["sx_weights"]
    assert np.isclose(w.sum(), 1) and np.isclose(w[0], 0.8) and np.isclose(w[1], w[2])  # kept on the simplex
    assert np.isclose(at.slider(key="sx_w1").value, 0.1)  # the other sliders follow
    x1 = shown_interpolant(at)
    assert not np.allclose(x0, x1)
    # D_inter of the 3-point model: one row per anchor
    d_inter = [t.value for t in at.table if "D_inter(xᵢ, x̂)" in t.value.columns]
    assert len(d_inter) == 1 and len(d_inter[0]) == 3
    # the interpolant at a vertex is the anchor's reconstruction
    at.slider(key="sx_w2").set_value(1.0).run()
    assert np.allclose(at.session_state["sx_weights"], [0, 0, 1])


def test_simplex_two_anchors_other_sources_and_a_model_without_critic():
    at = run_app("simplex")
    at.radio(key="sx_view").set_value("one").run()
    at.radio(key="sx_m").set_value(2).run()
    no_errors(at)
    assert len(at.session_state["sx_weights"]) == 2
    at.radio(key="sx_source").set_value("by class").run()
    no_errors(at)
    at.radio(key="sx_source").set_value("by index").run()
    at.number_input(key="sx_idx0").set_value(0).run()
    no_errors(at)
    x0 = shown_interpolant(at)
    at.number_input(key="sx_idx0").set_value(1).run()
    assert not np.allclose(x0, shown_interpolant(at))  # another anchor, another interpolant
    m0 = next(p for p in at.multiselect(key="models").value if p.endswith("-m0.safetensors"))
    at.selectbox(key="sx_model").set_value(m0).run()
    no_errors(at)
    assert any("no simplex critic" in c.value for c in at.caption)


def test_simplex_uses_points_selected_on_the_map():
    at = run_app("simplex")
    at.session_state["map_selected"] = {"dataset": "digits", "anomaly_class": 0, "indices": [5, 6, 7, 8]}
    at.radio(key="sx_source").set_value("latent map selection").run()
    no_errors(at)
    assert any("selected on the Latent map" in c.value for c in at.caption)


# ------------------------------------------------------------------ ROC and ablation


def test_roc_page_threshold_changes_precision_and_recall():
    at = run_app("roc")
    no_errors(at)
    assert at.title[0].value == "ROC and ablation"
    assert [t.label for t in at.tabs] == ["ROC curves", "Per class", "Threshold and samples (Fig. 4)"]
    assert not at.dataframe and not at.slider  # only the open tab runs
    open_tab(at, "roc", "Per class")
    table = next(df.value for df in at.dataframe if "class" in df.value.columns)
    assert {"none", "2-point", "3-point"} <= set(table.columns)
    assert len(table) >= 10  # the ten digits classes (and a mean row)
    open_tab(at, "roc", "Threshold and samples (Fig. 4)")
    p0, r0 = metric(at, "precision"), metric(at, "recall")
    slider = next(s for s in at.slider if s.key and s.key.startswith("thr-"))
    lo, hi = slider.min, slider.max
    slider.set_value(lo + 0.9 * (hi - lo)).run()
    no_errors(at)
    p1, r1 = metric(at, "precision"), metric(at, "recall")
    assert (p1, r1) != (p0, r0)
    assert float(r1) <= float(r0)  # a higher threshold flags fewer samples
    open_tab(at, "roc", "ROC curves")
    at.radio(key="roc_score").set_value("l2").run()
    no_errors(at)
    open_tab(at, "roc", "Threshold and samples (Fig. 4)")
    assert float(metric(at, "recall")) == float(r1)  # the threshold kept while its tab was closed
    at.radio(key="gal_how").set_value("most surprising").run()
    no_errors(at)


# ------------------------------------------------------------------ score your data


def _digit_pngs(n=4):
    from core.data import load_dataset

    from app.shared import images

    ds = load_dataset("digits")
    return [(f"digit{i}.png", images.png_bytes(images.to_uint8_image(ds.X_test[i], (0, 16))), "image/png") for i in range(n)]


def test_score_page_ranks_uploaded_images_and_a_zip():
    at = run_app("score")
    no_errors(at)
    pngs = _digit_pngs(4)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data, _ in pngs[:2]:
            zf.writestr(f"inner/{name}", data)
    at.file_uploader(key="score_files").set_value(pngs + [("more.zip", buf.getvalue(), "application/zip")]).run()
    no_errors(at)
    res = at.session_state["score_result"]
    assert len(res) == 6 and (np.diff(res["score"].to_numpy()) <= 0).all()  # ranked, highest first
    assert any(b.label.startswith("Download results") for b in at.get("download_button"))


def test_score_page_scores_the_good_files_of_a_batch_and_lists_the_bad_ones():
    at = run_app("score")
    buf = io.BytesIO()
    np.save(buf, np.zeros((3, 3, 8, 8), dtype=np.float32))
    hot = io.BytesIO()
    np.save(hot, np.full((2, 1, 8, 8), 40.0, dtype=np.float32))
    at.file_uploader(key="score_files").set_value(_digit_pngs(2) + [
        ("broken.png", b"not an image", "image/png"), ("rgb.npy", buf.getvalue(), "application/octet-stream"),
        ("hot.npy", hot.getvalue(), "application/octet-stream")]).run()
    assert not at.exception
    assert len(at.session_state["score_result"]) == 4  # the two digits and hot.npy's two samples
    errors = " ".join(e.value for e in at.error)  # in plain view, each with its reason
    assert "`broken.png`: not an image" in errors and "`rgb.npy`: expected images of shape (N, 1, 8, 8)" in errors
    assert "`hot.npy`" in " ".join(w.value for w in at.warning) and "outside the model's input range" in \
        " ".join(w.value for w in at.warning)
    for text in errors.split():
        assert "0x" not in text and "/" not in text.strip("`*")
    at.file_uploader(key="score_files").set_value([("broken.png", b"not an image", "image/png")]).run()
    assert not at.exception and "score_result" in at.session_state
    assert any("broken.png" in e.value for e in at.error) and any("Nothing could be scored" in i.value for i in at.info)
