"""The estimator contract, checkpoints (untrusted input), input validation and the CLI."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from core import MirroredAE
from core.checkpoints.store import CheckpointError, checkpoint_paths, load_bytes_checkpoint
from core.method.config import PRESETS, make_config
from core.method.networks import build_networks, count_parameters


@pytest.fixture(scope="module")
def digits_split():
    from core.data import load_dataset
    from core.evaluation.protocols import leave_one_out

    return leave_one_out(load_dataset("digits"), 7)


@pytest.fixture(scope="module")
def tiny_model(digits_split):
    return MirroredAE(preset="digits", interpolation=3, epochs=2, seed=0, device="cpu").fit(digits_split.X_train[:256])


# ------------------------------------------------------------------ architectures of the tables

@pytest.mark.parametrize("preset,shape,latent,feat", [
    ("cifar10", (3, 32, 32), 128, 128), ("mnist", (1, 28, 28), 64, 1024), ("mnist_small", (1, 28, 28), 32, 128),
    ("digits", (1, 8, 8), 16, 256), ("kdd99", (118,), 32, 25), ("arrhythmia", (274,), 64, 32), ("thyroid", (6,), 4, 4),
])
def test_every_preset_builds_and_maps_shapes(preset, shape, latent, feat):
    cfg = make_config(preset, interpolation=3)
    nets = build_networks(cfg, shape)
    nets.train(False)
    x = torch.rand((3,) + shape) * 2 - 1
    with torch.no_grad():
        z = nets.encoder(x)
        x_hat = nets.generator(z)
        assert z.shape == (3, latent)
        assert x_hat.shape == x.shape
        assert nets.d_recon.features(x, x_hat).shape == (3, feat)  # the penultimate layer f of Section 5.2
        assert nets.d_recon(x, x_hat).shape == (3,)
        assert nets.d_inter(x, x_hat).shape == (3,)


def test_table_hyper_parameters():
    t = PRESETS["thyroid"]
    assert (t.opt_encoder.name, t.opt_encoder.lr, t.opt_encoder.momentum, t.batch_size, t.epochs, t.lam) == \
        ("sgd", 2e-5, 0.5, 64, 100, 1.2)
    c = PRESETS["cifar10"]
    assert c.opt_encoder.betas == (0.5, 0.999) and c.opt_generator.betas == (0.0, 0.999) and c.opt_critic.lr == 3e-4
    assert c.uses_spectral_norm  # Table 1: spectral norm in D_recon
    assert PRESETS["kdd99"].opt_critic.betas == (0.0, 0.5) and PRESETS["arrhythmia"].batch_size == 32
    # Table 2's dense layers: about 20M parameters over the four networks
    nets = build_networks(make_config("mnist"), (1, 28, 28))
    total = sum(count_parameters(m) for m in nets.modules().values())
    assert 19e6 < total < 30e6


def test_spectral_norm_keeps_d_recon_near_1_lipschitz():
    cfg = make_config("kdd99", lipschitz="hinge-sn")
    nets = build_networks(cfg, (10,))
    for _ in range(20):  # power iterations converge in training mode
        nets.d_recon(torch.randn(64, 10), torch.randn(64, 10))
    nets.train(False)
    x = torch.randn(256, 20, requires_grad=True)
    nets.d_recon.head(nets.d_recon.body(x)).sum().backward()
    assert x.grad.norm(dim=1).max() <= 1.05


def test_unknown_options_are_rejected():
    with pytest.raises(ValueError, match="unknown preset"):
        make_config("nope")
    with pytest.raises(ValueError, match="lipschitz"):
        make_config("digits", lipschitz="clip")
    with pytest.raises(ValueError, match="interpolation"):
        make_config("digits", interpolation=1)


# ------------------------------------------------------------------ estimator contract

def test_estimator_contract(tiny_model, digits_split):
    m = tiny_model
    assert m.n_features_in_ == 64 and m.input_shape_ == (1, 8, 8)
    assert m.decision_scores_.shape == (256,) and np.isfinite(m.decision_scores_).all()
    assert m.labels_.mean() == pytest.approx(0.1, abs=0.02)  # contamination 0.1
    s = m.decision_function(digits_split.X_test)
    assert s.shape == (len(digits_split.X_test),)
    assert set(np.unique(m.predict(digits_split.X_test))) <= {0, 1}
    assert m.get_params()["interpolation"] == 3
    z = m.encode(digits_split.X_test[:5])
    assert z.shape == (5, 16)
    rec = m.reconstruct(digits_split.X_test[:5])
    assert rec.shape == (5, 1, 8, 8) and rec.min() >= -1e-3 and rec.max() <= 16 + 1e-3  # raw pixel units
    for score in ("l2", "latent_norm"):
        assert m.decision_function(digits_split.X_test[:5], score=score).shape == (5,)


def test_interpolate_decodes_the_latent_mixture(tiny_model, digits_split):
    anchors = digits_split.X_test[:3]
    out = tiny_model.interpolate(anchors, [0.2, 0.3, 0.5])
    z = tiny_model.encode(anchors)
    assert np.allclose(out, tiny_model.decode(0.2 * z[0] + 0.3 * z[1] + 0.5 * z[2]), atol=1e-5)
    assert np.allclose(tiny_model.interpolate(anchors, [1, 0, 0]), tiny_model.reconstruct(anchors[:1]), atol=1e-5)
    with pytest.raises(ValueError, match="simplex"):
        tiny_model.interpolate(anchors, [0.5, 0.5, 0.5])
    d = tiny_model.inter_critic(anchors, out)
    assert d.shape == (3, 1)


def test_fit_validates_input():
    m = MirroredAE(preset="digits", epochs=1)
    with pytest.raises(ValueError, match="images"):
        m.fit(np.zeros((10, 64)))
    with pytest.raises(ValueError, match="NaN"):
        m.fit(np.full((10, 1, 8, 8), np.nan))
    with pytest.raises(ValueError, match="numeric"):
        m.fit(np.array([["a"] * 6] * 4))
    with pytest.raises(ValueError, match="tabular"):
        MirroredAE(preset="thyroid").fit(np.zeros((10, 1, 8, 8)))
    with pytest.raises(RuntimeError, match="not fitted"):
        m.decision_function(np.zeros((2, 1, 8, 8)))


def test_scoring_checks_the_fitted_shape(tiny_model):
    with pytest.raises(ValueError, match=r"fitted on \(1, 8, 8\)"):
        tiny_model.decision_function(np.zeros((2, 1, 28, 28)))


# ------------------------------------------------------------------ checkpoints

def test_save_then_load_gives_identical_scores(tiny_model, digits_split, tmp_path):
    X = digits_split.X_test
    path = tiny_model.save(tmp_path / "m", metrics={"auc": 0.5})
    loaded = MirroredAE.load(path, device="cpu")
    assert np.array_equal(loaded.decision_function(X), tiny_model.decision_function(X))
    assert loaded.threshold_ == tiny_model.threshold_ and loaded.metrics_["auc"] == 0.5
    assert loaded.config_ == tiny_model.config_
    half = MirroredAE.load(tiny_model.save(tmp_path / "h", half=True), device="cpu")
    assert np.allclose(half.decision_function(X), tiny_model.decision_function(X), rtol=0.05, atol=0.05)
    assert (tmp_path / "h.safetensors").stat().st_size < (tmp_path / "m.safetensors").stat().st_size * 0.6


def test_corrupt_truncated_and_foreign_checkpoints_give_clear_errors(tiny_model, tmp_path):
    weights = tiny_model.save(tmp_path / "m")
    _, sidecar = checkpoint_paths(weights)
    blob = weights.read_bytes()

    weights.write_bytes(blob[: len(blob) // 2])  # truncated
    with pytest.raises(CheckpointError, match="sha256"):
        MirroredAE.load(weights)

    meta = json.loads(sidecar.read_text())
    meta.pop("weights_sha256")
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        MirroredAE.load(weights)

    sidecar.write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        MirroredAE.load(weights)

    sidecar.write_text(json.dumps({"some": "other tool"}))
    with pytest.raises(CheckpointError, match="not a maesi checkpoint"):
        MirroredAE.load(weights)

    (tmp_path / "pickle.safetensors").write_bytes(b"\x80\x04\x95" + b"\x00" * 64)  # a pickle is never executed
    with pytest.raises(CheckpointError, match="sidecar is missing"):
        MirroredAE.load(tmp_path / "pickle.safetensors")


def test_weights_of_another_preset_are_rejected(tiny_model, tmp_path):
    weights = tiny_model.save(tmp_path / "m")
    _, sidecar = checkpoint_paths(weights)
    meta = json.loads(sidecar.read_text())
    meta["config"] = make_config("digits", interpolation=3).to_dict() | {"arch": make_config("mnist_small").arch.__dict__}
    meta.pop("weights_sha256")
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="do not fit preset"):
        MirroredAE.load(weights)


def test_uploaded_pair_is_validated_and_nothing_bad_is_kept(tiny_model, tmp_path):
    weights = tiny_model.save(tmp_path / "src" / "m")
    _, sidecar = checkpoint_paths(weights)
    stored = load_bytes_checkpoint(weights.read_bytes(), sidecar.read_bytes(), tmp_path / "uploads")
    assert MirroredAE.load(stored).input_shape_ == (1, 8, 8)
    with pytest.raises(CheckpointError):
        load_bytes_checkpoint(b"garbage", sidecar.read_bytes(), tmp_path / "bad")
    assert not list((tmp_path / "bad").glob("*.safetensors"))


def test_atomic_save_leaves_no_partial_file(tiny_model, tmp_path, monkeypatch):
    from core.checkpoints import store

    def boom(*a, **k):
        raise OSError("disk full")

    tiny_model.save(tmp_path / "m")
    before = (tmp_path / "m.safetensors").read_bytes()
    monkeypatch.setattr(store.os, "replace", boom)
    with pytest.raises(OSError):
        tiny_model.save(tmp_path / "m")
    assert (tmp_path / "m.safetensors").read_bytes() == before
    assert not list(tmp_path.glob("*.tmp"))


def test_upload_never_overwrites_an_existing_run(tiny_model, tmp_path):
    weights = tiny_model.save(tmp_path / "src" / "m")
    _, sidecar = checkpoint_paths(weights)
    first = load_bytes_checkpoint(weights.read_bytes(), sidecar.read_bytes(), tmp_path / "runs")
    second = load_bytes_checkpoint(weights.read_bytes(), sidecar.read_bytes(), tmp_path / "runs")
    assert first != second and first.exists() and second.exists()
    assert MirroredAE.load(second).input_shape_ == (1, 8, 8)


SHIPPED = Path(__file__).resolve().parents[1] / "checkpoints"
LEGACY = Path(__file__).resolve().parent / "fixtures" / "legacy_checkpoints"  # shipped once, in earlier formats


def test_a_shipped_checkpoint_written_with_tfd_loads_with_critic_steps():
    meta = json.loads((LEGACY / "arrhythmia-call-m2.json").read_text())
    assert meta["config"]["tfd"] == 5 and "critic_steps" not in meta["config"]  # written before the rename
    model = MirroredAE.load(LEGACY / "arrhythmia-call-m2", device="cpu")
    assert model.config_.critic_steps == 5
    assert model.make_config().critic_steps == 5


def test_a_sidecar_with_tfd_loads_as_critic_steps_and_new_ones_write_critic_steps(tiny_model, tmp_path):
    from core.checkpoints.sidecar import validate_config
    from core.method.config import Config

    weights = tiny_model.save(tmp_path / "m")
    _, sidecar = checkpoint_paths(weights)
    meta = json.loads(sidecar.read_text())
    assert "critic_steps" in meta["config"] and "tfd" not in meta["config"] and "tfd" not in meta["params"]
    meta["config"]["tfd"] = 5
    del meta["config"]["critic_steps"]
    meta["params"]["tfd"] = 5
    del meta["params"]["critic_steps"]
    sidecar.write_text(json.dumps(meta))
    model = MirroredAE.load(weights, device="cpu")
    assert model.config_.critic_steps == 5 and model.critic_steps == 5
    assert validate_config(meta["config"]).critic_steps == 5
    assert Config.from_dict(meta["config"]).critic_steps == 5
    with pytest.raises(ValueError, match="tfd"):  # both names, disagreeing: refused rather than guessed
        validate_config(dict(meta["config"], critic_steps=1))


def test_mix_latents_checks_the_simplex():
    Z = np.eye(3, 4, dtype=np.float32)
    assert np.allclose(MirroredAE.mix_latents(Z, [0.5, 0.25, 0.25]), [[0.5, 0.25, 0.25, 0.0]])
    with pytest.raises(ValueError, match="one entry per anchor"):
        MirroredAE.mix_latents(Z, [0.5, 0.5])
    with pytest.raises(ValueError, match="simplex"):
        MirroredAE.mix_latents(Z, [1.5, -0.25, -0.25])


def test_threads_apply_to_training_only(digits_split):
    before = torch.get_num_threads()
    seen = []

    from core.training.trainer import Callback

    class Probe(Callback):
        def on_step(self, info):
            seen.append(torch.get_num_threads())

    MirroredAE(preset="digits", epochs=1, threads=1, device="cpu").fit(digits_split.X_train[:128], callbacks=[Probe()])
    assert set(seen) == {1} and torch.get_num_threads() == before


@pytest.mark.parametrize("scaling", ["minmax", "zscore", "none"])
def test_every_tabular_scaling_saves_loads_and_scores_identically(scaling, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(5.0, 3.0, size=(80, 6)).astype(np.float32)
    model = MirroredAE(preset="thyroid", epochs=1, scaling=scaling, device="cpu").fit(X)
    model.save(tmp_path / "t")
    loaded = MirroredAE.load(tmp_path / "t", device="cpu")
    assert loaded.config_.scaling == scaling and loaded.scaler_.kind == {"minmax": "minmax", "zscore": "zscore",
                                                                        "none": "identity"}[scaling]
    np.testing.assert_allclose(loaded.decision_function(X), model.decision_function(X), rtol=1e-5)
    if scaling == "zscore":  # the scaled training data is standardised
        Xs = model.scaler_.transform(X)
        np.testing.assert_allclose(Xs.mean(0), 0, atol=1e-4)
        np.testing.assert_allclose(Xs.std(0), 1, atol=1e-3)


# ------------------------------------------------------------------ a sample's score is its own

_PRESET_SHAPES = {"digits": (1, 8, 8), "mnist": (1, 28, 28), "mnist_small": (1, 28, 28),
                  "fashion_mnist": (1, 28, 28), "cifar10": (3, 32, 32), "cifar10_small": (3, 32, 32),
                  "kdd99": (118,), "arrhythmia": (274,), "thyroid": (6,)}


def test_every_preset_has_a_batch_independence_case():
    assert set(_PRESET_SHAPES) == set(PRESETS)


@pytest.mark.parametrize("preset", sorted(_PRESET_SHAPES))
def test_a_samples_score_does_not_depend_on_the_rest_of_its_batch(preset):
    """Batch norm must run in eval mode when scoring (a known leak in GANomaly-style code): the score of a sample
    scored alone equals its score inside a batch of very different samples, whatever mode the networks were in."""
    from core.method.scoring import SCORES, anomaly_scores, encode

    torch.manual_seed(0)
    shape = _PRESET_SHAPES[preset]
    nets = build_networks(make_config(preset, interpolation=3), shape)
    nets.train(True)
    with torch.no_grad():  # move the batch-norm running statistics away from their initial values
        for _ in range(3):
            z = nets.encoder(torch.rand((8,) + shape) * 2 - 1)
            nets.d_recon.features(nets.generator(z), nets.generator(z))
    X = torch.cat([torch.rand((1,) + shape) * 2 - 1, torch.rand((5,) + shape) * 4 + 3])  # sample 0 + outliers
    for score in SCORES:
        together = anomaly_scores(nets, X, score)[0]
        alone = anomaly_scores(nets, X[:1], score)[0]
        torch.testing.assert_close(alone, together, rtol=1e-4, atol=1e-5, msg=f"{preset} {score}")
    torch.testing.assert_close(encode(nets, X[:1])[0], encode(nets, X)[0], rtol=1e-4, atol=1e-5)
    assert all(m.training for m in nets.modules().values())  # the caller's mode is given back
    if any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in nets.encoder.modules()):
        with torch.no_grad():  # the probe can fail: in training mode the same sample's latent does depend on its batch
            assert not torch.allclose(nets.encoder(X)[0], nets.encoder(torch.cat([X[:1], X[:1]]))[0], atol=1e-4)


def test_the_cli_sets_threads_for_its_process_and_the_library_does_not(tmp_path):
    from core.cli import main as cli_main

    before = torch.get_num_threads()
    wanted = 2 if before != 2 else 1
    try:
        assert cli_main(["train", "--dataset", "digits", "--anomaly-class", "1", "--epochs", "1", "--max-train", "96",
                         "--threads", str(wanted), "--score", "l2", "--out", str(tmp_path / "m")]) == 0
        assert torch.get_num_threads() == wanted  # the CLI owns its process
    finally:
        torch.set_num_threads(before)
    sidecar = json.loads((tmp_path / "m.json").read_text())
    assert sidecar["params"]["score_kind"] == "l2" and "score" not in sidecar["params"]
    assert MirroredAE.load(tmp_path / "m", device="cpu").score_kind == "l2"
