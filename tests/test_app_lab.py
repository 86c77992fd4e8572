"""The lab's pure helpers, without Streamlit, fast: app/shared (analysis, figures, labels, images, jobs),
app/simplex (weights, readout, figures), app/latent_map/timeline.py and app/roc/figures.py. The Score page's
reader is core.data.readers.read_samples (tests/test_hostile_files.py, tests/test_app_models.py)."""
import math

import numpy as np
import pytest

from app.latent_map import timeline
from app.roc import figures as roc_figures
from app.shared import analysis, figures, images, jobs, labels
from app.simplex import figures as simplex_figures, readout, weights


def test_normalise_and_rebalance_stay_on_the_simplex():
    assert np.allclose(weights.normalise([0, 0, 0]), [1 / 3] * 3)
    w = weights.normalise([2, 1, 1])
    assert np.isclose(w.sum(), 1) and np.allclose(w, [0.5, 0.25, 0.25])
    r = weights.rebalance([0.5, 0.3, 0.2], 0, 0.8)
    assert np.isclose(r.sum(), 1) and np.isclose(r[0], 0.8)
    assert np.isclose(r[1] / r[2], 0.3 / 0.2)  # the others keep their proportions
    r = weights.rebalance([1.0, 0.0, 0.0], 0, 0.4)  # others all zero: shared equally
    assert np.allclose(r, [0.4, 0.3, 0.3])
    assert np.allclose(weights.rebalance([0.5, 0.5], 1, 1.7), [0, 1])  # clipped
    assert (weights.rebalance([0.2, 0.3, 0.5], 2, 0.0) >= 0).all()


def test_barycentric_grid_and_selection_to_weights():
    g = weights.barycentric_grid(0.25)
    assert len(g) == 15 and np.allclose(g.sum(axis=1), 1) and (g >= 0).all()
    # what st.plotly_chart returns for a click on the ternary grid (typed arrays arrive as dicts)
    sel = {"selection": {"points": [{"a": 0, "b": 0.25, "c": 0.75, "customdata": {"0": 0, "1": 0.25, "2": 0.75}}]}}
    assert np.allclose(weights.weights_from_selection(sel), [0, 0.25, 0.75])
    sel = {"selection": {"points": [{"customdata": [0.5, 0.5, 0.0]}]}}
    assert np.allclose(weights.weights_from_selection(sel), [0.5, 0.5, 0])
    assert weights.weights_from_selection({"selection": {"points": []}}) is None
    assert weights.weights_from_selection(None) is None


def test_mix_latents_mixes_cached_latents():
    Z = np.eye(3, 4)
    assert np.allclose(weights.mix_latents(Z, [0.2, 0.3, 0.5]), [[0.2, 0.3, 0.5, 0]])
    assert weights.mix_latents(Z[:2], weights.line_weights(5)).shape == (5, 4)


def test_projections_and_exact_pca_placement():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(60, 5))
    p = analysis.project(Z, "PCA")
    assert p["xy"].shape == (60, 2)
    assert np.allclose(analysis.pca_place(p, Z[:3]), p["xy"][:3])  # a new latent lands exactly where PCA puts it
    with pytest.raises(ValueError, match="unknown projection"):
        analysis.project(Z, "MDS")


def test_separation_figures():
    rng = np.random.default_rng(0)
    Z_train = rng.normal(size=(200, 4))
    Z_test = np.r_[rng.normal(size=(50, 4)), rng.normal(size=(10, 4)) + 6]
    y = np.r_[np.zeros(50), np.ones(10)]
    sep = analysis.separation(Z_train, Z_test, y, k=5)
    assert sep["knn_auc"] > 0.99 and sep["silhouette"] > 0.3
    mixed = analysis.separation(Z_train, rng.normal(size=(60, 4)), y, k=5)
    assert 0.2 < mixed["knn_auc"] < 0.8 and mixed["silhouette"] < 0.2
    assert math.isnan(analysis.separation(Z_train, Z_test, np.zeros(60))["knn_auc"])


def test_the_maps_sample_keeps_the_anomalies_share():
    # the latent maps and the training timelines draw their test samples with the library's one subset rule
    from core.data.subsets import seeded_indices

    y = np.r_[np.zeros(990), np.ones(10)]
    idx = seeded_indices(1000, 100, 0, stratify=y)
    assert len(idx) == 100 and int(y[idx].sum()) == 1 and (np.diff(idx) > 0).all()
    assert np.array_equal(idx, seeded_indices(1000, 100, 0, stratify=y))  # seeded: the same maps every time
    assert np.array_equal(seeded_indices(50, 100, 0), np.arange(50))


def test_threshold_table():
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.6, 0.5, 0.9])
    assert analysis.threshold_table(y, s, 0.55)["precision"] == 0.5
    assert analysis.threshold_table(y, s, 0.4)["recall"] == 1.0


def test_images_and_grid():
    x = np.arange(64, dtype=np.float32).reshape(1, 8, 8) / 4  # 0..15.75 in digits units
    img = images.to_uint8_image(x, (0, 16))
    assert img.dtype == np.uint8 and img.shape == (8, 8) and img.max() <= 255
    assert images.upscale(img, 64).shape == (64, 64)
    g = images.image_grid([[x, x], [x]], (0, 16), cell=32, pad=2)
    assert g.shape == (2 * 34 + 2, 2 * 34 + 2)
    assert images.png_bytes(img)[:4] == b"\x89PNG"
    rgb = images.to_uint8_image(np.zeros((3, 4, 5)), (0, 255))
    assert rgb.shape == (4, 5, 3)


def test_latent_map_groups_points_by_class_and_draws_extra_points_on_top():
    rng = np.random.default_rng(0)
    xy, y = rng.normal(size=(20, 2)), np.r_[np.zeros(15), np.ones(5)]
    classes = np.array(list("0123456789") * 2)
    fig = figures.latent_figure(xy, y, classes, rng.random(20), np.arange(20), "class",
                                extra_points=[{"xy": xy[:2], "name": "anchors"}])
    assert [t.name for t in fig.data] == list("0123456789") + ["anchors"]  # classes in natural order, then extras
    assert np.allclose(fig.data[3].x, xy[classes == "3", 0]) and list(fig.data[3].customdata[:, 0]) == [3, 13]
    by_label = figures.latent_figure(xy, y, classes, rng.random(20), np.arange(20))
    assert [t.name for t in by_label.data] == ["normal", "anomaly"] and len(by_label.data[1].x) == 5


def test_roc_figures_show_the_curves_and_the_scores_they_were_given():
    rng = np.random.default_rng(0)
    roc = roc_figures.roc_figure([{"name": "m", "fpr": [0, 0.5, 1], "tpr": [0, 0.9, 1], "auc": 0.9}])
    assert roc.data[0].name == "chance (0.5)" and roc.data[1].name == "m (AUC 0.900)"
    assert list(roc.data[1].y) == [0, 0.9, 1]
    scores, y = rng.random(20), np.r_[np.zeros(15), np.ones(5)]
    hist = roc_figures.score_histogram(scores, y, 0.5, bins=10)
    assert [t.name for t in hist.data] == ["normal (15)", "anomaly (5)"]
    assert np.allclose(hist.data[0].x, scores[:15]) and np.allclose(hist.data[1].x, scores[15:])
    for trace in hist.data:  # both on the same bins, spanning every score
        assert trace.xbins.start == pytest.approx(scores.min()) and trace.xbins.end == pytest.approx(scores.max())
        assert trace.xbins.size == pytest.approx((scores.max() - scores.min()) / 10)
    assert hist.layout.shapes[0].x0 == 0.5 and "threshold 0.500" in hist.layout.annotations[0].text
    import pandas as pd

    table = pd.DataFrame({"class": [0, 1], "none": [0.6, 0.7], "3-point": [0.9, 0.95], "paper 3-point": [np.nan] * 2})
    bars = roc_figures.auc_bars(table, ["none", "3-point", "paper 3-point"], "AUC")
    assert [t.name for t in bars.data] == ["none", "3-point"]  # a column without any value is left out
    assert list(bars.data[1].y) == [0.9, 0.95] and bars.data[1].marker.color == labels.INTERPOLATION_COLOURS[3]


def test_labels_name_interpolations_and_order_classes_naturally():
    assert labels.interpolation_label(3) == "3-point simplex" and labels.interpolation_label("acai") == "ACAI"
    assert labels.interpolation_label(4) == "4-point simplex"
    assert sorted(["10", "2", "normal", "-1"], key=labels.natural_key) == ["-1", "2", "10", "normal"]


def test_feature_paths_draw_lines_for_few_features_and_a_heat_map_for_many():
    t = np.linspace(0, 1, 5)
    few = simplex_figures.feature_paths(["a", "b"], t, np.c_[t, 2 * t], "weight")
    assert [trace.name for trace in few.data] == ["a", "b"] and np.allclose(few.data[1].y, 2 * t)
    values = np.outer(t, np.arange(1, 21))
    many = simplex_figures.feature_paths([f"f{j}" for j in range(20)], t, values, "weight")
    assert len(many.data) == 1 and many.data[0].type == "heatmap"
    assert np.allclose(many.data[0].z, np.tile(t, (20, 1)))  # each feature (a row) scaled to its own range


def test_job_spec_command_reproduces_the_run(tmp_path):
    spec = jobs.JobSpec(dataset="digits", anomaly_class=3, interpolation=2, lam=0.5, epochs=4)
    cmd = spec.command(tmp_path / "run")
    assert cmd.startswith("python -m core train --dataset digits --interpolation 2 --anomaly-class 3")
    assert "--epochs 4" in cmd and "--lam 0.5" in cmd
    assert jobs.fmt_seconds(75) == "1:15" and jobs.fmt_seconds(None) == "–"


# ------------------------------------------------------------------ round 2: the whole simplex, timelines


def test_the_preview_and_triangular_grids_stay_on_the_simplex():
    # the drag component's preview grid: 231 points at 1/20 for m = 3, 21 for m = 2, each a multiple of 1/20
    for m, count in ((3, 231), (2, 21)):
        G = weights.preview_grid(m)
        assert G.shape == (count, m) and np.allclose(G.sum(axis=1), 1) and (G >= 0).all()
        assert np.allclose(G * 20, np.rint(G * 20)) and len({tuple(np.rint(g * 20)) for g in G}) == count
    with pytest.raises(ValueError):
        weights.preview_grid(4)
    # what the draggable simplex sends on release, read back by the page; anything else is ignored
    from app.simplex import drag_component

    assert drag_component.sent_weights({"weights": {"w": [0.2, 0.3, 0.5], "nonce": 1.5}}) == [0.2, 0.3, 0.5]
    assert all(drag_component.sent_weights(v) is None for v in (None, {}, {"weights": None}, {"weights": [1, 0]}))
    W = weights.triangle_weights(8)
    assert W.shape == (36, 3) and np.allclose(W.sum(axis=1), 1) and (W >= 0).all()
    assert np.allclose(W[0], [1, 0, 0]) and np.allclose(W[-8], [0, 1, 0]) and np.allclose(W[-1], [0, 0, 1])
    assert np.allclose(W[1:3, 0], 6 / 7)  # row 1: one step from vertex 1, toward vertex 2 then vertex 3
    with pytest.raises(ValueError):
        weights.triangle_weights(1)
    # a click on the segment's profile: two weights as customdata
    assert np.allclose(weights.weights_from_selection({"selection": {"points": [{"customdata": [0.3, 0.7]}]}}),
                       [0.3, 0.7])


def test_the_triangular_mosaic_places_each_tile_under_its_weights():
    x = np.ones((1, 8, 8)) * 8
    img, centres = images.triangle_mosaic([x] * 10, 4, (0, 16), cell=16, pad=2)
    assert img.shape == (4 * 18 + 2, 4 * 18 + 2) and centres.shape == (10, 2)
    assert centres[0, 0] == pytest.approx(img.shape[1] / 2, abs=1)  # vertex 1: top, centred
    assert centres[6, 0] < centres[9, 0] and centres[6, 1] == centres[9, 1]  # the last row: vertex 2 left of 3
    with pytest.raises(ValueError, match="has 10 tiles"):
        images.triangle_mosaic([x] * 9, 4, (0, 16))


def _shipped(name):
    from pathlib import Path

    from core import MirroredAE

    path = Path(__file__).resolve().parents[1] / "checkpoints" / f"{name}.safetensors"
    if not path.exists():
        pytest.skip(f"{path.name} is not shipped")
    return MirroredAE.load(path, device="cpu")


def test_readout_decodes_scores_and_reads_the_critic_through_the_model():
    import torch

    from core.evaluation.protocols import split_for
    from core.method.losses import simplex_generator_loss

    torch.set_num_threads(1)
    m3, m0 = _shipped("digits-c0-m3"), _shipped("digits-c0-m0")
    X = split_for("digits", 0, 0).X_test[:3]
    Z = m3.encode(X)
    W = np.array([[1, 0, 0], [0.2, 0.3, 0.5]])
    r = readout.readout(m3, X, Z, W)
    assert r["decoded"].shape == (2, 1, 8, 8) and r["d_inter"].shape == (3, 2)
    assert np.allclose(r["decoded"][0], m3.reconstruct(X[:1])[0], atol=1e-5)  # a vertex: the anchor's G(E(x))
    assert np.allclose(r["score"], m3.decision_function(r["decoded"]))
    expected = float(simplex_generator_loss(torch.as_tensor(r["d_inter"][:, 1:]), torch.as_tensor(W[1:]), 1.0))
    assert r["realism"][1] == pytest.approx(expected)
    assert r["critic_error"][1] == pytest.approx(float(((r["d_inter"][:, 1] - (1 - W[1])) ** 2).sum()))
    assert readout.has_simplex_critic(m3) and not readout.has_simplex_critic(m0)
    r0 = readout.readout(m0, X, m0.encode(X), W)
    assert r0["d_inter"] is None and readout.field_values(r0, "realism") is None


def test_simplex_figures_carry_the_weights_of_each_clickable_point():
    grid = weights.barycentric_grid(0.1)
    values = grid[:, 0]
    fig = simplex_figures.ternary_heatmap(grid, values, [0.2, 0.3, 0.5], flagged=values > 0.5,
                                          extra_hover={"anomaly score": values})
    assert np.allclose(fig.data[0].customdata, grid) and fig.data[-1].a[0] == pytest.approx(0.2)  # the star
    assert len(fig.data[1].a) == int((values > 0.5).sum()) and fig.data[1].hoverinfo == "skip"  # red outlines
    assert fig.layout.clickmode == "event+select"
    assert simplex_figures.ternary_heatmap(grid, None, [1, 0, 0]).data[0].marker.color == "#d5dce8"
    W = weights.triangle_weights(4)
    mosaic = simplex_figures.mosaic_figure("data:image/png;base64,", (80, 80), np.zeros((10, 2)), W)
    assert np.allclose(mosaic.data[1].customdata, W) and mosaic.layout.yaxis.range == (80, 0)
    line = weights.line_weights(5)
    prof = simplex_figures.segment_profile(line, np.arange(5.0), 2.0, [0.5, 0.5], realism=np.ones(5))
    assert len(prof.data) == 2 and np.allclose(prof.data[0].customdata, line)


def test_latent_map_axes_and_legend():
    rng = np.random.default_rng(0)
    proj = analysis.project(rng.normal(size=(50, 4)), "PCA")
    x_title, y_title = figures.axis_titles(proj)
    assert x_title.startswith("PC1 (") and x_title.endswith("%)") and y_title.startswith("PC2 (")
    assert figures.axis_titles({"method": "UMAP"}) == ("UMAP 1", "UMAP 2")
    fig = figures.latent_figure(proj["xy"], np.r_[np.zeros(40), np.ones(10)], np.array(["a"] * 50), np.zeros(50),
                                np.arange(50), axis_titles=(x_title, y_title))
    assert fig.layout.xaxis.title.text == x_title and fig.layout.legend.yref == "container"


def test_timeline_layout_shares_the_last_snapshots_axes():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(30), np.ones(10)]
    Z = np.stack([rng.normal(size=(40, 5)) * s + y[:, None] * 3 * s for s in (0.1, 0.5, 1.0)])
    lay = timeline.timeline_layout(np.array([0, 4, 9]), Z, np.arange(40), y)
    assert lay["xy"].shape == (3, 40, 2) and lay["silhouette"].shape == (3,)
    assert np.allclose(lay["xy"][-1], analysis.project(Z[-1], "PCA")["xy"])  # the last snapshot's own PCA
    assert np.allclose(lay["xy"][0], analysis.pca_place(analysis.project(Z[-1], "PCA"), Z[0]))  # same axes
    fig = timeline.timeline_figure(lay)
    assert [f.name for f in fig.frames] == ["1", "5", "10"] and len(fig.layout.sliders[0].steps) == 3
    silhouette = timeline.timeline_silhouette(lay)
    assert list(silhouette.data[0].x) == [1, 5, 10] and np.allclose(silhouette.data[0].y, lay["silhouette"])
    assert (lay["silhouette"] > 0.3).all()  # the anomalies sit 3 spreads away from the normals in every snapshot
