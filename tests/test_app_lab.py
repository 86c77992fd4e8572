"""The lab's pure helpers (app/analysis.py, app/simplex_weights.py, app/images.py, app/jobs.py): no Streamlit, fast.
The Score page's reader is core.data.readers.read_samples (tests/test_hostile.py, tests/test_app_models.py)."""
import math

import numpy as np
import pytest

from app import analysis, figures, images, jobs, simplex_weights


def test_normalise_and_rebalance_stay_on_the_simplex():
    assert np.allclose(simplex_weights.normalise([0, 0, 0]), [1 / 3] * 3)
    w = simplex_weights.normalise([2, 1, 1])
    assert np.isclose(w.sum(), 1) and np.allclose(w, [0.5, 0.25, 0.25])
    r = simplex_weights.rebalance([0.5, 0.3, 0.2], 0, 0.8)
    assert np.isclose(r.sum(), 1) and np.isclose(r[0], 0.8)
    assert np.isclose(r[1] / r[2], 0.3 / 0.2)  # the others keep their proportions
    r = simplex_weights.rebalance([1.0, 0.0, 0.0], 0, 0.4)  # others all zero: shared equally
    assert np.allclose(r, [0.4, 0.3, 0.3])
    assert np.allclose(simplex_weights.rebalance([0.5, 0.5], 1, 1.7), [0, 1])  # clipped
    assert (simplex_weights.rebalance([0.2, 0.3, 0.5], 2, 0.0) >= 0).all()


def test_barycentric_grid_and_selection_to_weights():
    g = simplex_weights.barycentric_grid(0.25)
    assert len(g) == 15 and np.allclose(g.sum(axis=1), 1) and (g >= 0).all()
    # what st.plotly_chart returns for a click on the ternary grid (typed arrays arrive as dicts)
    sel = {"selection": {"points": [{"a": 0, "b": 0.25, "c": 0.75, "customdata": {"0": 0, "1": 0.25, "2": 0.75}}]}}
    assert np.allclose(simplex_weights.weights_from_selection(sel), [0, 0.25, 0.75])
    sel = {"selection": {"points": [{"customdata": [0.5, 0.5, 0.0]}]}}
    assert np.allclose(simplex_weights.weights_from_selection(sel), [0.5, 0.5, 0])
    assert simplex_weights.weights_from_selection({"selection": {"points": []}}) is None
    assert simplex_weights.weights_from_selection(None) is None


def test_mix_latents_mixes_cached_latents():
    Z = np.eye(3, 4)
    assert np.allclose(simplex_weights.mix_latents(Z, [0.2, 0.3, 0.5]), [[0.2, 0.3, 0.5, 0]])
    assert simplex_weights.mix_latents(Z[:2], simplex_weights.line_weights(5)).shape == (5, 4)


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


def test_subsample_keeps_anomalies():
    y = np.r_[np.zeros(990), np.ones(10)]
    idx = analysis.subsample(1000, 100, stratify=y)
    assert 90 <= len(idx) <= 102 and y[idx].sum() >= 1 and (np.diff(idx) > 0).all()
    assert len(analysis.subsample(50, 100)) == 50


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


def test_figures_build():
    rng = np.random.default_rng(0)
    xy, y = rng.normal(size=(20, 2)), np.r_[np.zeros(15), np.ones(5)]
    fig = figures.latent_figure(xy, y, np.array(list("0123456789") * 2), rng.random(20), np.arange(20), "class",
                            extra_points=[{"xy": xy[:2], "name": "anchors"}])
    assert len(fig.data) == 11
    assert figures.ternary_figure([0.2, 0.3, 0.5]).data[1].a[0] == pytest.approx(0.2)
    assert "AUC 0.900" in figures.roc_figure([{"name": "m", "fpr": [0, 1], "tpr": [0, 1], "auc": 0.9}]).data[1].name
    figures.score_histogram(rng.random(20), y, 0.5)
    figures.loss_figure({"critic": [1.0, 0.5], "loss_feat": [None, 0.3]})


def test_job_spec_command_reproduces_the_run(tmp_path):
    spec = jobs.JobSpec(dataset="digits", anomaly_class=3, interpolation=2, lam=0.5, epochs=4)
    cmd = spec.command(tmp_path / "run")
    assert cmd.startswith("python -m core train --dataset digits --interpolation 2 --anomaly-class 3")
    assert "--epochs 4" in cmd and "--lam 0.5" in cmd
    assert jobs.fmt_seconds(75) == "1:15" and jobs.fmt_seconds(None) == "–"
