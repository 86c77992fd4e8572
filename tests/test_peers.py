"""The PyOD peers, the sanity rows and the method names (fast: small synthetic sets, one real-data check)."""
import random

import numpy as np
import pytest
import torch

from core.data.subsets import seeded_subset
from core.evaluation.baselines import OCSVM, L2Autoencoder, MaesiDetector, MeanDistance, make_method
from core.evaluation.methods import ABLATIONS, ALIASES, BASELINES, MAESI_SCORES, l2_twin, parse_method
from core.evaluation.peers import DEEP_PEERS, PEERS, PYOD_VERSION, PyODPeer
from core.evaluation.preprocess import Preprocess


@pytest.fixture(scope="module")
def synthetic():
    """Gaussian inliers with features on different scales (the min-max scaling matters), and a test set whose
    last row is an obvious outlier."""
    rng = np.random.default_rng(0)
    scale, shift = np.array([1.0, 10.0, 100.0, 0.1, 5.0]), np.array([0.0, -5.0, 50.0, 1.0, 2.0])
    X_train = rng.normal(size=(160, 5)) * scale + shift
    X_test = np.vstack([rng.normal(size=(15, 5)) * scale + shift, shift + 8 * scale])
    return X_train, X_test


def _fit_score(name, X_train, X_test, seed=0, **kw):
    est = make_method(name, preset="thyroid", seed=seed, **kw).fit(X_train)
    return est, est.decision_function(X_test)


@pytest.mark.parametrize("name", PEERS)
def test_peer_scores_the_outlier_highest_and_repeats_for_a_seed(name, synthetic):
    X_train, X_test = synthetic
    np.random.seed(7)
    caller_state = (random.getstate(), np.random.get_state()[1].copy(), torch.random.get_rng_state())
    est, scores = _fit_score(name, X_train, X_test, seed=3)
    assert isinstance(est, PyODPeer) and est.n_fit_ == len(X_train)
    assert scores.shape == (len(X_test),) and np.isfinite(scores).all()
    assert scores.argmax() == len(X_test) - 1, "higher must mean more anomalous"
    # the caller's random streams are neither used nor disturbed
    assert random.getstate() == caller_state[0] and np.array_equal(np.random.get_state()[1], caller_state[1])
    assert torch.equal(torch.random.get_rng_state(), caller_state[2])
    # the same seed repeats exactly, whatever the global generators hold (PyOD's deep models draw from them)
    torch.rand(3), np.random.rand(3), random.random()
    _, again = _fit_score(name, X_train, X_test, seed=3)
    assert np.array_equal(scores, again)
    assert np.array_equal(est.decision_function(X_test), scores)  # scoring twice too (PyOD's VAE samples z)


@pytest.mark.parametrize("name", DEEP_PEERS)
def test_deep_peers_respect_the_training_cap_with_a_seeded_subset(name, synthetic):
    X_train, X_test = synthetic
    est, scores = _fit_score(name, X_train, X_test, seed=1, pyod_cap=64)
    assert est.n_fit_ == 64 and est.train_cap == 64
    n_seen = est.detector_.n_samples_ if name == "pyod-deepsvdd" else est.detector_.data_num  # PyOD's own record
    assert n_seen == 64
    assert not np.array_equal(scores, _fit_score(name, X_train, X_test, seed=1)[1])  # the cap changed the fit
    # a cap above the training size is no cap
    assert _fit_score(name, X_train, X_test, seed=1, pyod_cap=10_000)[0].n_fit_ == len(X_train)


def test_the_cap_bounds_the_neighbour_peers_and_leaves_the_others_on_all_rows(synthetic):
    X_train, _ = synthetic
    for name in ("pyod-iforest", "pyod-ecod"):
        assert make_method(name, preset="thyroid", pyod_cap=50).fit(X_train).n_fit_ == len(X_train)
    for name in ("pyod-knn", "pyod-lof"):
        assert make_method(name, preset="thyroid", pyod_cap=50).fit(X_train).n_fit_ == 50


def test_iforest_is_an_alias_of_pyod_iforest_with_the_same_forest(synthetic):
    from sklearn.ensemble import IsolationForest

    X_train, X_test = synthetic
    assert ALIASES["iforest"] == "pyod-iforest"
    assert parse_method("iforest") == ("pyod-iforest", {})
    peer, scores = _fit_score("iforest", X_train, X_test, seed=5)
    assert peer.detector == "pyod-iforest"
    # the hand-written row it replaced: scikit-learn's forest with the same seed, score -score_samples
    pre = Preprocess().fit(X_train)
    ours = -IsolationForest(n_estimators=100, random_state=5).fit(pre.transform(X_train)).score_samples(
        pre.transform(X_test))
    shift = scores - ours
    assert np.allclose(shift, shift[0], rtol=0, atol=1e-12)  # PyOD's score = ours + its offset_
    assert np.array_equal(np.argsort(scores, kind="stable"), np.argsort(ours, kind="stable"))


def test_mean_distance_is_the_distance_to_the_training_mean_in_the_models_scaling(synthetic):
    X_train, X_test = synthetic
    est, scores = _fit_score("mean-distance", X_train, X_test)
    assert isinstance(est, MeanDistance)
    low, span = X_train.min(axis=0), X_train.max(axis=0) - X_train.min(axis=0)
    mean = ((X_train - low) / span).mean(axis=0)
    by_hand = np.sqrt((((X_test - low) / span - mean) ** 2).sum(axis=1))
    np.testing.assert_allclose(scores, by_hand, rtol=1e-6)  # the model's scaler rounds inputs to float32

    images = np.random.default_rng(1).integers(0, 256, size=(20, 1, 4, 4)).astype(np.uint8)
    est = make_method("mean-distance", preset="mnist", input_range=(0, 255)).fit(images[:15])
    pixels = images.reshape(20, -1) / 255.0 * 2 - 1  # the model's [-1, 1]
    np.testing.assert_allclose(est.decision_function(images[15:]),
                               np.linalg.norm(pixels[15:] - pixels[:15].mean(axis=0), axis=1), rtol=1e-6)


def test_method_names_old_and_new_resolve():
    for name in BASELINES + ABLATIONS + ("iforest", "ocsvm", "pca", "ae-l2", "mean-distance"):
        parse_method(name)
    assert set(PEERS) <= set(BASELINES) and "iforest" not in BASELINES  # an alias is not a second row
    with pytest.raises(ValueError):
        parse_method("pyod-knn@score=l2")  # settings are for maesi rows only
    with pytest.raises(ValueError):
        parse_method("maesi-3pt@score=l1")
    from core.estimator import SCORES

    assert MAESI_SCORES == SCORES  # the name check's copy of the model's scores


def test_every_feature_scored_maesi_row_has_an_l2_twin_and_make_method_scores_it_by_l2():
    assert l2_twin("maesi-3pt") == "maesi-3pt@score=l2"
    assert l2_twin("maesi-2pt-noreg@lr=0.002") == "maesi-2pt-noreg@lr=0.002@score=l2"
    # a row scored otherwise, by L2 already or by the latent norm, has no twin; nor has a row that is not maesi
    assert l2_twin("maesi-3pt@score=l2") is None and l2_twin("maesi-3pt@score=latent_norm@epochs=5") is None
    assert l2_twin("pyod-ecod") is None and l2_twin("mean-distance") is None
    for row in ABLATIONS:
        assert parse_method(l2_twin(row)) == (row, {"score": "l2"})
    est = make_method("maesi-3pt@lr=0.002@score=l2", preset="thyroid", seed=0, epochs=1)
    assert isinstance(est, MaesiDetector) and est.score == "l2" and est.model.lr == 0.002


def test_pyod_iforest_on_thyroid_is_near_the_issues_figure(shared_data):
    """Issue 8 measured 0.716 for IForest on Thyroid (5-seed mean). Over split seeds 0-4 our per-seed F1 spans
    0.64-0.74 (sd 0.045) with k = round-half-even(0.0247 x 1886) = 46; the issue's 0.716 used k = 47. One seed may
    sit anywhere in that spread: the band is the mean +- 3 sd, so it catches a broken score or scaling, not noise."""
    from core.data import load_dataset
    from core.evaluation.metrics import evaluate
    from core.evaluation.protocols import tabular_split

    ds = load_dataset("thyroid", data_dir=shared_data)
    split = tabular_split(ds, seed=0)
    est = make_method("pyod-iforest", preset="thyroid", seed=0).fit(split.X_train)
    f1 = evaluate(split.y_test, est.decision_function(split.X_test), ds.anomaly_fraction)["f1"]
    assert 0.58 < f1 < 0.85


def test_the_grids_auto_device_reaches_pyod_as_a_torch_device(synthetic):
    X_train, X_test = synthetic
    for name in ("pyod-autoencoder", "pyod-vae"):
        est = make_method(name, preset="thyroid", device="auto", pyod_cap=64)
        assert est.fit(X_train).decision_function(X_test).shape == (len(X_test),)


def test_a_chosen_row_already_scored_by_l2_has_no_twin(monkeypatch):
    import core.evaluation.methods as methods

    chosen = {"thyroid": "profile=authors@scaling=zscore@score=l2", "arrhythmia": "profile=authors@score=feature"}
    monkeypatch.setattr(methods, "chosen_settings", lambda dataset, *a: chosen[dataset])
    assert l2_twin("maesi-3pt@chosen", "thyroid") is None  # its own score is L2: a twin would repeat it
    assert l2_twin("maesi-3pt@chosen", "arrhythmia") == "maesi-3pt@chosen@score=l2"
    assert l2_twin("maesi-none@chosen@epochs=30", "thyroid") is None


def test_the_pinned_pyod_is_the_one_whose_defaults_are_recorded():
    from importlib.metadata import version

    assert version("pyod") == PYOD_VERSION  # peers.py's table of defaults is read from this version


def test_the_baselines_input_is_min_max_in_float64_and_pixels_over_their_range(synthetic):
    X_train, X_test = synthetic
    low, span = X_train.min(axis=0), X_train.max(axis=0) - X_train.min(axis=0)
    pre = Preprocess().fit(X_train)
    np.testing.assert_array_equal(pre.transform(X_test), (X_test - low) / span)  # bit for bit: float64 throughout
    constant = np.hstack([X_train, np.ones((len(X_train), 1))])
    assert (Preprocess().fit(constant).transform(constant)[:, -1] == 0).all()  # a constant column maps to 0
    images = np.random.default_rng(2).integers(0, 17, size=(6, 1, 8, 8)).astype(np.uint8)
    scaled = Preprocess((0, 16)).fit(images).transform(images)
    np.testing.assert_array_equal(scaled, images.reshape(6, -1) / 16.0)


def test_ocsvm_fits_on_the_harness_subset_of_its_cap(synthetic):
    from sklearn.svm import OneClassSVM

    X_train, X_test = synthetic
    est = make_method("ocsvm", preset="thyroid", seed=4, ocsvm_cap=50).fit(X_train)
    assert isinstance(est, OCSVM) and est.n_fit_ == 50
    pre = Preprocess().fit(X_train)  # the scaling sees the whole training split, the SVM the subset
    by_hand = OneClassSVM(kernel="rbf", gamma="scale", nu=0.1).fit(pre.transform(seeded_subset(X_train, 50, 4)))
    np.testing.assert_array_equal(est.decision_function(X_test), -by_hand.decision_function(pre.transform(X_test)))


def test_the_l2_autoencoder_scales_its_input_as_told(synthetic):
    X_train, _ = synthetic
    default = L2Autoencoder("thyroid", epochs=1).fit(X_train)
    assert default.scaler_.kind == "minmax"  # the preset's scaling
    zscored = L2Autoencoder("thyroid", epochs=1, scaling="zscore").fit(X_train)
    assert zscored.scaler_.kind == "zscore"
    np.testing.assert_allclose(zscored.scaler_.transform(X_train).mean(axis=0), 0, atol=1e-5)
    assert zscored.config_.scaling == "zscore"
